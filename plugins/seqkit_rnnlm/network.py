"""A stacked recurrent language model with a hand-written forward and backward pass.

Shapes are time-major: a segment is [T, B]. Per layer, the input-side products for all T steps are one
GEMM; only the recurrent product runs per step, followed by a fused Numba gate kernel. The output layer
is one [T*B, H] x [H, V] GEMM with softmax and cross-entropy fused in Numba. Dropout (inverted, on the
non-recurrent connections as in Zaremba et al.) applies to each layer's input and to the softmax input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from seqkit_rnnlm.kernels import (gru_backward, gru_forward, log_softmax_at, lstm_backward, lstm_forward,
                                  softmax_xent)

GATES = {"rnn": 1, "gru": 3, "lstm": 4}


@dataclass
class Config:
    cell: str = "lstm"
    layers: int = 2
    embed: int = 200
    hidden: int = 200
    tied: bool = False
    dropout: float = 0.0
    init_scale: float = 0.1
    forget_bias: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def init_params(config: Config, vocab_size: int, rng: np.random.Generator, dtype=np.float32) -> dict[str, np.ndarray]:
    """Uniform(-s, s) everywhere (Zaremba et al.), plus an optional LSTM forget-gate bias."""
    if config.tied and config.embed != config.hidden:
        raise ValueError("tied embeddings need --embed equal to --hidden")
    s = config.init_scale
    gates = GATES[config.cell]
    H = config.hidden

    def uniform(*shape):
        return rng.uniform(-s, s, size=shape).astype(dtype)

    params = {"embed": uniform(vocab_size, config.embed)}
    for layer in range(config.layers):
        inp = config.embed if layer == 0 else H
        params[f"Wx{layer}"] = uniform(inp, gates * H)
        params[f"Wh{layer}"] = uniform(H, gates * H)
        params[f"b{layer}"] = uniform(gates * H)
        if config.cell == "gru":
            params[f"bh{layer}"] = uniform(gates * H)
        if config.cell == "lstm" and config.forget_bias:
            params[f"b{layer}"][H:2 * H] += dtype(config.forget_bias)
    if not config.tied:
        params["Wout"] = uniform(H, vocab_size)
    params["bout"] = uniform(vocab_size)
    return params


def zero_state(config: Config, batch: int, dtype=np.float32) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.zeros((batch, config.hidden), dtype), np.zeros((batch, config.hidden), dtype))
            for _ in range(config.layers)]


class Segment:
    """Forward pass over one [T, B] segment, keeping what the backward pass needs."""

    def __init__(self, config: Config, params: dict, inputs: np.ndarray, state, rng=None, train: bool = False):
        self.config, self.params = config, params
        T, B = inputs.shape
        H = config.hidden
        dtype = params["embed"].dtype
        self.inputs = inputs
        keep = 1.0 - config.dropout if train else 1.0
        self.masks = []
        x = params["embed"][inputs]  # [T, B, E]
        self.layer_inputs, self.caches, new_state = [], [], []
        for layer in range(config.layers):
            mask = None
            if keep < 1.0:
                mask = (rng.random(x.shape) < keep).astype(dtype) * (1.0 / keep)
                x = x * mask
            self.masks.append(mask)
            self.layer_inputs.append(x)
            h0, c0 = state[layer]
            outputs, cache, final = self._layer_forward(layer, x, h0, c0, T, B, H, dtype)
            self.caches.append(cache)
            new_state.append(final)
            x = outputs
        mask = None
        if keep < 1.0:
            mask = (rng.random(x.shape) < keep).astype(dtype) * (1.0 / keep)
            x = x * mask
        self.masks.append(mask)
        self.top = x.reshape(T * B, H)
        out_w = params["embed"].T if config.tied else params["Wout"]
        self.logits = self.top @ out_w + params["bout"]
        self.state = new_state

    def _layer_forward(self, layer, x, h0, c0, T, B, H, dtype):
        p, cell = self.params, self.config.cell
        G = GATES[cell]
        xpre = (x.reshape(T * B, -1) @ p[f"Wx{layer}"] + p[f"b{layer}"]).reshape(T, B, G * H)
        Wh = p[f"Wh{layer}"]
        hs = np.empty((T + 1, B, H), dtype)
        hs[0] = h0
        if cell == "lstm":
            cs = np.empty((T + 1, B, H), dtype)
            cs[0] = c0
            tanh_c = np.empty((T, B, H), dtype)
            for t in range(T):
                pre = xpre[t] + hs[t] @ Wh
                lstm_forward(pre, cs[t], cs[t + 1], hs[t + 1], tanh_c[t])
                xpre[t] = pre  # now the activated gates
            return hs[1:], (xpre, hs, cs, tanh_c), (hs[T].copy(), cs[T].copy())
        if cell == "gru":
            gates = np.empty((T, B, 4 * H), dtype)
            bh = p[f"bh{layer}"]
            for t in range(T):
                gru_forward(xpre[t], hs[t] @ Wh + bh, hs[t], hs[t + 1], gates[t])
            return hs[1:], (gates, hs), (hs[T].copy(), c0)
        for t in range(T):
            hs[t + 1] = np.tanh(xpre[t] + hs[t] @ Wh)
        return hs[1:], (hs,), (hs[T].copy(), c0)

    def loss_and_backward(self, targets: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy over the segment and the gradient of every parameter."""
        config, p = self.config, self.params
        T, B = targets.shape
        H = config.hidden
        dlogits = self.logits  # reused in place: becomes (softmax - onehot) / (T*B)
        losses = softmax_xent(dlogits, targets.reshape(-1), 1.0 / (T * B))
        grads = {name: np.zeros_like(value) for name, value in p.items()}
        grads["bout"] = dlogits.sum(axis=0)
        if config.tied:
            grads["embed"] += dlogits.T @ self.top
            dtop = dlogits @ p["embed"]
        else:
            grads["Wout"] = self.top.T @ dlogits
            dtop = dlogits @ p["Wout"].T
        dx = dtop.reshape(T, B, H)
        if self.masks[-1] is not None:
            dx = dx * self.masks[-1]
        for layer in range(config.layers - 1, -1, -1):
            dx = self._layer_backward(layer, dx, grads, T, B, H)
            if self.masks[layer] is not None:
                dx = dx * self.masks[layer]
        np.add.at(grads["embed"], self.inputs.reshape(-1), dx.reshape(T * B, -1))
        return float(losses.mean()), grads

    def _layer_backward(self, layer, dout, grads, T, B, H):
        p, cell = self.params, self.config.cell
        G = GATES[cell]
        Wh = p[f"Wh{layer}"]
        x = self.layer_inputs[layer]
        dtype = dout.dtype
        dh = np.zeros((B, H), dtype)
        if cell == "lstm":
            gates, hs, cs, tanh_c = self.caches[layer]
            dpre = np.empty((T, B, G * H), dtype)
            dc = np.zeros((B, H), dtype)
            dc_prev = np.empty((B, H), dtype)
            for t in range(T - 1, -1, -1):
                lstm_backward(gates[t], cs[t], tanh_c[t], dout[t] + dh, dc, dpre[t], dc_prev)
                dc, dc_prev = dc_prev, dc
                dh = dpre[t] @ Wh.T
            dx_pre = dh_pre = dpre
        elif cell == "gru":
            gates, hs = self.caches[layer]
            dx_pre = np.empty((T, B, G * H), dtype)
            dh_pre = np.empty((T, B, G * H), dtype)
            direct = np.empty((B, H), dtype)
            for t in range(T - 1, -1, -1):
                gru_backward(gates[t], hs[t], dout[t] + dh, dx_pre[t], dh_pre[t], direct)
                dh = dh_pre[t] @ Wh.T + direct
            grads[f"bh{layer}"] += dh_pre.reshape(T * B, -1).sum(axis=0)
        else:
            (hs,) = self.caches[layer]
            dpre = np.empty((T, B, H), dtype)
            for t in range(T - 1, -1, -1):
                dpre[t] = (dout[t] + dh) * (1.0 - hs[t + 1] * hs[t + 1])
                dh = dpre[t] @ Wh.T
            dx_pre = dh_pre = dpre
        grads[f"Wh{layer}"] += hs[:T].reshape(T * B, H).T @ dh_pre.reshape(T * B, -1)
        flat = dx_pre.reshape(T * B, -1)
        grads[f"Wx{layer}"] += x.reshape(T * B, -1).T @ flat
        grads[f"b{layer}"] += flat.sum(axis=0)
        return (flat @ p[f"Wx{layer}"].T).reshape(T, B, -1)

    def target_logprobs(self, targets: np.ndarray) -> np.ndarray:
        """Natural-log probability of each target, time-major [T, B] flattened (no gradient)."""
        return log_softmax_at(self.logits, targets.reshape(-1))
