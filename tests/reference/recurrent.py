"""Slow NumPy recurrent cells (one example, one step at a time) to check the fused kernels and layers.

Same conventions as `seqkit.recurrent.layers`: weights `Wx{tag}` [input, G*H], `Wh{tag}` [H, G*H],
`b{tag}` and (GRU) `bh{tag}`; LSTM gates i, f, g, o; GRU gates r, z, n as in PyTorch; a reverse layer
reads the sequence from the end with outputs aligned to the inputs; with `lengths`, steps past a
sequence's length keep its state and output that state.
"""

from __future__ import annotations

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm_step(params, tag, x, h, c):
    H = h.shape[0]
    z = x @ params[f"Wx{tag}"] + h @ params[f"Wh{tag}"] + params[f"b{tag}"]
    i, f, g, o = sigmoid(z[:H]), sigmoid(z[H:2 * H]), np.tanh(z[2 * H:3 * H]), sigmoid(z[3 * H:])
    c = f * c + i * g
    return o * np.tanh(c), c


def gru_step(params, tag, x, h):
    H = h.shape[0]
    xs = x @ params[f"Wx{tag}"] + params[f"b{tag}"]
    hs = h @ params[f"Wh{tag}"] + params[f"bh{tag}"]
    r = sigmoid(xs[:H] + hs[:H])
    z = sigmoid(xs[H:2 * H] + hs[H:2 * H])
    n = np.tanh(xs[2 * H:] + r * hs[2 * H:])
    return (1 - z) * n + z * h


def rnn_step(params, tag, x, h):
    return np.tanh(x @ params[f"Wx{tag}"] + h @ params[f"Wh{tag}"] + params[f"b{tag}"])


def layer_forward(cell, params, tag, x, state=None, reverse=False, lengths=None):
    """outputs [T, B, H] and the final state (a tuple like the layers') of one layer over x [T, B, in]."""
    T, B, _ = x.shape
    H = params[f"Wh{tag}"].shape[0]
    outputs = np.zeros((T, B, H))
    finals_h, finals_c = np.zeros((B, H)), np.zeros((B, H))
    for b in range(B):
        h = np.zeros(H) if state is None else np.array(state[0][b], dtype=np.float64)
        c = np.zeros(H) if state is None or cell != "lstm" else np.array(state[1][b], dtype=np.float64)
        length = T if lengths is None else int(lengths[b])
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            if t < length:
                if cell == "lstm":
                    h, c = lstm_step(params, tag, x[t, b], h, c)
                elif cell == "gru":
                    h = gru_step(params, tag, x[t, b], h)
                else:
                    h = rnn_step(params, tag, x[t, b], h)
            outputs[t, b] = h
        finals_h[b], finals_c[b] = h, c
    return outputs, ((finals_h, finals_c) if cell == "lstm" else (finals_h,))


def language_model_logits(cell, params, ids, layers):
    """[T*B, V] logits of the rnnlm network (embedding, `layers` layers tagged 0.., output) from zero state."""
    x = params["embed"][ids]
    for layer in range(layers):
        x, _ = layer_forward(cell, params, str(layer), x)
    weight = params["Wout"] if "Wout" in params else params["embed"].T
    return (x @ weight + params["bout"]).reshape(ids.size, -1)
