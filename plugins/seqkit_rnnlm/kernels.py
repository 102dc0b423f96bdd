"""Numba kernels of the language model's SGD updates and gradient norm (the softmax and the embedding
lookup are in `seqkit.recurrent.output`, the recurrent cells in `seqkit.recurrent.cells`).

Every kernel is single-threaded and `nogil`: the network splits work into row ranges and runs them on
its own threads (`seqkit.recurrent.pool`), so Numba's and OpenBLAS's thread pools never compete for
the same cores.
"""

from __future__ import annotations

from numba import njit

from seqkit.recurrent.fastmath import like


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
