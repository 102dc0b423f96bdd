"""Numba kernels of the language model's training softmax, SGD updates and gradient norm (the scoring
softmax and the embedding lookup are in `seqkit.recurrent.output`, the recurrent cells in
`seqkit.recurrent.cells`).

Every kernel is single-threaded and `nogil`: the network splits work into row ranges and runs them on
its own threads (`seqkit.recurrent.pool`), so Numba's and OpenBLAS's thread pools never compete for
the same cores.
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
def softmax_xent_grad(logits, bias, targets, scale, losses, dbias):  # pragma: no cover - jitted
    """`seqkit.recurrent.output.softmax_xent` with a vectorised first pass (bias and max): per row,
    loss = -log softmax(logits + bias)[target] into `losses` (float64); logits are replaced by
    scale * (softmax - onehot), and its column sums are added to `dbias`. A row whose target is -1 is
    padding: loss 0 and a zero gradient."""
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
def sum_squares(matrix, lo, hi):  # pragma: no cover - jitted
    """Sum of squares of columns [lo, hi) of a C-contiguous 2-D array, accumulated in float64 per row.

    Takes the whole array and the column range rather than a strided view: indexing a contiguous array
    lets LLVM vectorise the inner loop, which it will not do for a view of unknown strides."""
    total = 0.0
    for r in range(matrix.shape[0]):
        acc = like(0.0, matrix[0, 0])
        for v in range(lo, hi):
            acc += matrix[r, v] * matrix[r, v]
        total += acc
    return total


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def scaled_subtract(param, grad, coef):  # pragma: no cover - jitted
    """param -= coef * grad over 1-D views (the SGD step, without NumPy's temporary for coef * grad)."""
    c = like(coef, param[0])
    for i in range(param.shape[0]):
        param[i] -= c * grad[i]
