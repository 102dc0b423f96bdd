"""Numba kernels for recurrent language models: fused gate nonlinearities and softmax cross-entropy.

Matrix products go to BLAS through NumPy; what is left per time step is elementwise work on [batch,
gates x hidden] blocks, fused here into one pass each way. The kernels are dtype-generic so the tests
can run them in float64 for finite-difference gradient checks; training uses float32.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_forward(pre, c_prev, c, h, tanh_c):  # pragma: no cover - jitted
    """pre [B, 4H] (i, f, g, o pre-activations) -> activated in place; writes c, h, tanh(c)."""
    batch, four = pre.shape
    hidden = four // 4
    for b in range(batch):
        for k in range(hidden):
            i = _sigmoid(pre[b, k])
            f = _sigmoid(pre[b, hidden + k])
            g = math.tanh(pre[b, 2 * hidden + k])
            o = _sigmoid(pre[b, 3 * hidden + k])
            pre[b, k], pre[b, hidden + k], pre[b, 2 * hidden + k], pre[b, 3 * hidden + k] = i, f, g, o
            cell = f * c_prev[b, k] + i * g
            c[b, k] = cell
            t = math.tanh(cell)
            tanh_c[b, k] = t
            h[b, k] = o * t


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_backward(gates, c_prev, tanh_c, dh, dc, dpre, dc_prev):  # pragma: no cover - jitted
    """Given dL/dh and dL/dc (carried) at a step: dL/dpre [B, 4H] and dL/dc_prev."""
    batch, four = gates.shape
    hidden = four // 4
    for b in range(batch):
        for k in range(hidden):
            i, f = gates[b, k], gates[b, hidden + k]
            g, o = gates[b, 2 * hidden + k], gates[b, 3 * hidden + k]
            t = tanh_c[b, k]
            dcell = dc[b, k] + dh[b, k] * o * (1.0 - t * t)
            dpre[b, k] = dcell * g * i * (1.0 - i)
            dpre[b, hidden + k] = dcell * c_prev[b, k] * f * (1.0 - f)
            dpre[b, 2 * hidden + k] = dcell * i * (1.0 - g * g)
            dpre[b, 3 * hidden + k] = dh[b, k] * t * o * (1.0 - o)
            dc_prev[b, k] = dcell * f


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_forward(xpre, hpre, h_prev, h, gates):  # pragma: no cover - jitted
    """PyTorch's GRU: r, z = sigmoid(x + h parts); n = tanh(x_n + r * h_n); h = (1 - z) n + z h_prev.

    xpre, hpre: [B, 3H] input and recurrent pre-activations (biases included); gates: [B, 4H] stores
    r, z, n and h_n (needed by the backward pass).
    """
    batch, three = xpre.shape
    hidden = three // 3
    for b in range(batch):
        for k in range(hidden):
            r = _sigmoid(xpre[b, k] + hpre[b, k])
            z = _sigmoid(xpre[b, hidden + k] + hpre[b, hidden + k])
            hn = hpre[b, 2 * hidden + k]
            n = math.tanh(xpre[b, 2 * hidden + k] + r * hn)
            gates[b, k], gates[b, hidden + k], gates[b, 2 * hidden + k], gates[b, 3 * hidden + k] = r, z, n, hn
            h[b, k] = (1.0 - z) * n + z * h_prev[b, k]


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_backward(gates, h_prev, dh, dxpre, dhpre, dh_prev_direct):  # pragma: no cover - jitted
    """dL/d(x pre-activations), dL/d(h pre-activations) and the direct dL/dh_prev (through z)."""
    batch, four = gates.shape
    hidden = four // 4
    for b in range(batch):
        for k in range(hidden):
            r, z, n, hn = gates[b, k], gates[b, hidden + k], gates[b, 2 * hidden + k], gates[b, 3 * hidden + k]
            d = dh[b, k]
            dn = d * (1.0 - z) * (1.0 - n * n)
            dz = d * (h_prev[b, k] - n) * z * (1.0 - z)
            dr = dn * hn * r * (1.0 - r)
            dxpre[b, k] = dr
            dxpre[b, hidden + k] = dz
            dxpre[b, 2 * hidden + k] = dn
            dhpre[b, k] = dr
            dhpre[b, hidden + k] = dz
            dhpre[b, 2 * hidden + k] = dn * r
            dh_prev_direct[b, k] = d * z


@njit(nogil=True, cache=True, fastmath=True, parallel=True, error_model="numpy")
def softmax_xent(logits, targets, scale):  # pragma: no cover - jitted
    """Per-row log-softmax loss of the target; logits are replaced by scale * (softmax - onehot).

    Returns the per-row losses (float64).
    """
    rows, vocab = logits.shape
    losses = np.empty(rows, dtype=np.float64)
    for r in prange(rows):
        top = logits[r, 0]
        for v in range(1, vocab):
            if logits[r, v] > top:
                top = logits[r, v]
        total = 0.0
        for v in range(vocab):
            e = math.exp(logits[r, v] - top)
            logits[r, v] = e
            total += e
        target = targets[r]
        losses[r] = -(math.log(logits[r, target] / total))
        inv = scale / total
        for v in range(vocab):
            logits[r, v] *= inv
        logits[r, target] -= scale
    return losses


@njit(nogil=True, cache=True, fastmath=True, parallel=True, error_model="numpy")
def log_softmax_at(logits, targets):  # pragma: no cover - jitted
    """log p(target) per row (no gradient), for scoring."""
    rows, vocab = logits.shape
    out = np.empty(rows, dtype=np.float64)
    for r in prange(rows):
        top = logits[r, 0]
        for v in range(1, vocab):
            if logits[r, v] > top:
                top = logits[r, v]
        total = 0.0
        for v in range(vocab):
            total += math.exp(logits[r, v] - top)
        out[r] = logits[r, targets[r]] - top - math.log(total)
    return out
