"""Kernels around recurrent layers: the embedding lookup and its gradients, and the softmax output layer's
loss, gradient and scores, shared by every network built on `seqkit.recurrent`.

Every kernel is single-threaded and `nogil`: a network splits work into row ranges and runs them on its
own threads (`seqkit.recurrent.pool`). They are dtype-generic, so tests can run them in float64; in
float32 the exponential is `seqkit.recurrent.fastmath.fexp`, which LLVM can vectorise (a softmax needs V
of them per token).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from seqkit.recurrent.fastmath import fexp, like


def add_bias_max(row, bias):  # pragma: no cover - replaced by the overload inside jitted code
    """row += bias; returns the row's maximum (only callable from jitted code)."""
    row += bias
    return row.max()


@overload(add_bias_max, jit_options={"fastmath": True, "error_model": "numpy"})
def _add_bias_max_impl(row, bias):
    if isinstance(row.dtype, types.Float) and row.dtype.bitwidth == 32:
        return _add_bias_max_f32
    return _add_bias_max_generic


def _add_bias_max_generic(row, bias):
    top = row[0] + bias[0]
    for v in range(row.shape[0]):
        x = row[v] + bias[v]
        row[v] = x
        top = max(top, x)
    return top


_LOW31 = np.int32(0x7FFFFFFF)
_SIGN_SHIFT = np.int32(31)


def _add_bias_max_f32(row, bias):
    # LLVM leaves a float max reduction scalar (Numba does not mark functions no-NaN); mapping each
    # float to an int32 that orders the same way (sign bit set: the other bits flipped) makes it an
    # integer max, which it vectorises: about 3x faster on a 10k-word row
    best = np.int32(-2147483647)
    for v in range(row.shape[0]):
        x = row[v] + bias[v]
        row[v] = x
        bits = np.float32(x).view(np.int32)
        best = max(best, np.int32(bits ^ ((bits >> _SIGN_SHIFT) & _LOW31)))
    return np.int32(best ^ ((best >> _SIGN_SHIFT) & _LOW31)).view(np.float32)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def softmax_xent(logits, bias, targets, scale, losses, dbias):  # pragma: no cover - jitted
    """Per row: loss = -log softmax(logits + bias)[target] into `losses` (float64); logits are replaced by
    scale * (softmax - onehot), the gradient of scale * loss, and that gradient's column sums are added to
    `dbias` (the bias gradient), while each row is still in cache. A row whose target is -1 is padding:
    loss 0 and a zero gradient.

    Three vectorisable passes per row (bias and max, exp and sum, scale) over a row that stays in L1/L2.
    """
    rows, vocab = logits.shape
    for r in range(rows):
        row = logits[r]
        if targets[r] < 0:
            losses[r] = 0.0
            row[:] = 0
            continue
        top = add_bias_max(row, bias)
        target = targets[r]
        shifted_target = row[target] - top
        total = like(0.0, top)
        for v in range(vocab):
            e = fexp(row[v] - top)
            row[v] = e
            total += e
        losses[r] = math.log(total) - shifted_target
        inv = like(scale, top) / total
        step = like(scale, top)
        for v in range(vocab):
            d = row[v] * inv
            row[v] = d
            dbias[v] += d
        row[target] -= step
        dbias[target] -= step


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def log_softmax_at(logits, bias, targets, out):  # pragma: no cover - jitted
    """out[r] = log softmax(logits[r] + bias)[targets[r]] (no gradient; logits are left unchanged)."""
    rows, vocab = logits.shape
    for r in range(rows):
        row = logits[r]
        top = row[0] + bias[0]
        for v in range(vocab):
            top = max(top, row[v] + bias[v])
        total = like(0.0, top)
        for v in range(vocab):
            total += fexp(row[v] + bias[v] - top)
        target = targets[r]
        out[r] = row[target] + bias[target] - top - math.log(total)


@njit(nogil=True, cache=True, error_model="numpy")
def gather_rows(table, ids, out):  # pragma: no cover - jitted
    """out[i] = table[ids[i]] (an embedding lookup into a preallocated buffer)."""
    for i in range(ids.shape[0]):
        out[i] = table[ids[i]]


@njit(nogil=True, cache=True, error_model="numpy")
def scatter_add_rows(ids, rows, out):  # pragma: no cover - jitted
    """out[ids[i]] += rows[i]: the embedding gradient, summing repeated ids."""
    for i in range(ids.shape[0]):
        out[ids[i]] += rows[i]


@njit(nogil=True, cache=True, error_model="numpy")
def subtract_rows(table, ids, rows, coef):  # pragma: no cover - jitted
    """table[ids[i]] -= coef * rows[i] for distinct ids: the SGD step of a sparse embedding gradient."""
    c = like(coef, table[0, 0])
    for i in range(ids.shape[0]):
        target = table[ids[i]]
        row = rows[i]
        for k in range(row.shape[0]):
            target[k] -= c * row[k]
