"""Kernels of the recurrent classifier: max-pooling over time with its gradient, and the sparse (lazy)
Adam and SGD steps for the embedding rows a batch used. Dtype-generic, so tests run them in float64."""

from __future__ import annotations

import math

from numba import njit


@njit(nogil=True, cache=True, error_model="numpy")
def max_pool(outputs, lengths, pooled, argmax):  # pragma: no cover - jitted
    """pooled[b, c] = max over t < lengths[b] of outputs[t, b, c]; argmax[b, c] is that t (padding never wins)."""
    T, B, C = outputs.shape
    for b in range(B):
        for c in range(C):
            best, at = outputs[0, b, c], 0
            for t in range(1, lengths[b]):
                if outputs[t, b, c] > best:
                    best, at = outputs[t, b, c], t
            pooled[b, c] = best
            argmax[b, c] = at


@njit(nogil=True, cache=True, error_model="numpy")
def max_pool_backward(dpooled, argmax, doutputs):  # pragma: no cover - jitted
    """doutputs (zeroed here) gets dpooled at each maximum's step."""
    doutputs[:] = 0
    B, C = dpooled.shape
    for b in range(B):
        for c in range(C):
            doutputs[argmax[b, c], b, c] = dpooled[b, c]


@njit(nogil=True, cache=True, error_model="numpy")
def adam_rows(table, m, v, rows, grads, rate, factor, b1, b2, eps):  # pragma: no cover - jitted
    """Adam on the rows a batch used only (lazy Adam): table[rows[i]] from grads[i] * factor, with the
    moments of those rows; `rate` already carries the bias correction of the global step."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(table.shape[1]):
            g = grads[i, k] * factor
            m[r, k] = b1 * m[r, k] + (1 - b1) * g
            v[r, k] = b2 * v[r, k] + (1 - b2) * g * g
            table[r, k] -= rate * m[r, k] / (math.sqrt(v[r, k]) + eps)


@njit(nogil=True, cache=True, error_model="numpy")
def sgd_rows(table, rows, grads, rate):  # pragma: no cover - jitted
    """table[rows[i]] -= rate * grads[i] (rate includes the clipping factor)."""
    for i in range(rows.shape[0]):
        r = rows[i]
        for k in range(table.shape[1]):
            table[r, k] -= rate * grads[i, k]
