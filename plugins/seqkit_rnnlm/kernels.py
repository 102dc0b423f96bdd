"""Numba kernels for recurrent language models: fused gate nonlinearities and softmax cross-entropy.

Matrix products go to BLAS through NumPy; what is left is elementwise work, fused here into one pass
each way. Every kernel is single-threaded and `nogil`: the network splits work into row ranges and runs
them on its own threads (`seqkit_rnnlm.pool`), so Numba's and OpenBLAS's thread pools never compete
for the same cores.

The kernels are dtype-generic so the tests can run them in float64 for finite-difference gradient
checks. In float32 (training) `exp`, `sigmoid` and `tanh` use a polynomial exp that LLVM can vectorise
(libm's `expf` is a scalar call, and the softmax alone needs V exponentials per token); in float64 they
are the exact `math` functions.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

_F32 = np.float32
_EXP_LO, _EXP_HI = _F32(-87.3), _F32(88.3)     # keeps 2**n a normal float32
_LOG2E, _LN2_HI, _LN2_LO = _F32(1.44269504), _F32(0.693359375), _F32(-2.12194440e-4)
_P0, _P1, _P2 = _F32(1.9875691500e-4), _F32(1.3981999507e-3), _F32(8.3334519073e-3)
_P3, _P4, _P5 = _F32(4.1665795894e-2), _F32(1.6666665459e-1), _F32(5.0000001201e-1)
_ONE, _TWO, _HALF = _F32(1.0), _F32(2.0), _F32(0.5)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy", inline="always")
def _exp_f32(x):
    """Cephes' expf (about 1 ulp): range reduction by ln 2, a degree-7 polynomial, 2**n from the bits."""
    x = min(max(x, _EXP_LO), _EXP_HI)
    n = np.floor(x * _LOG2E + _HALF)
    r = x - n * _LN2_HI - n * _LN2_LO
    p = ((((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * r * r + r) + _ONE
    scale = np.int32((np.int32(n) + np.int32(127)) << np.int32(23)).view(np.float32)
    return p * scale


def fexp(x):  # pragma: no cover - replaced by the overload inside jitted code
    """exp(x): vectorisable in float32, exact `math.exp` otherwise (only callable from jitted code)."""
    return math.exp(x)


@overload(fexp, jit_options={"fastmath": True, "error_model": "numpy"})
def _fexp_impl(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _exp_f32(x)
    return lambda x: math.exp(x)


def ftanh(x):  # pragma: no cover - replaced by the overload inside jitted code
    """tanh(x) via one exponential in float32 (absolute error ~1e-7), exact `math.tanh` otherwise."""
    return math.tanh(x)


@overload(ftanh, jit_options={"fastmath": True, "error_model": "numpy"})
def _ftanh_impl(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        return lambda x: _ONE - _TWO / (_exp_f32(_TWO * x) + _ONE)
    return lambda x: math.tanh(x)


def like(value, ref):  # pragma: no cover - replaced by the overload inside jitted code
    """`value` as a scalar of `ref`'s float type: NumPy's promotion rules would otherwise turn every
    float32 expression with a Python literal (`1 - x`) into float64."""
    return value


@overload(like)
def _like_impl(value, ref):
    if isinstance(ref, types.Float) and ref.bitwidth == 32:
        return lambda value, ref: np.float32(value)
    return lambda value, ref: np.float64(value)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy", inline="always")
def _sigmoid(x):
    one = like(1.0, x)
    return one / (one + fexp(-x))


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def exp_array(x, out):  # pragma: no cover - jitted
    """out = fexp(x) elementwise (for the accuracy test of the float32 exponential)."""
    flat_in, flat_out = x.ravel(), out.ravel()
    for i in range(flat_in.size):
        flat_out[i] = fexp(flat_in[i])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_forward(xpre, hpre, bias, c_prev, c, h, tanh_c):  # pragma: no cover - jitted
    """One LSTM step. xpre [B, 4H] (input side, i f g o) + hpre [B, 4H] (recurrent side) + bias are the
    pre-activations; xpre is overwritten with the activated gates; writes c, h and tanh(c).

    Two loops per row, each over few arrays, so that LLVM vectorises both (one loop touching seven
    arrays is left scalar for want of alias checks)."""
    batch, four = xpre.shape
    hidden = four // 4
    for b in range(batch):
        gates, hp = xpre[b], hpre[b]
        for j in range(2 * hidden):
            gates[j] = _sigmoid(gates[j] + hp[j] + bias[j])
        for j in range(2 * hidden, 3 * hidden):
            gates[j] = ftanh(gates[j] + hp[j] + bias[j])
        for j in range(3 * hidden, four):
            gates[j] = _sigmoid(gates[j] + hp[j] + bias[j])
        _lstm_cell(gates, c_prev[b], c[b], h[b], tanh_c[b], hidden)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy", inline="always")
def _lstm_cell(gates, c_prev, c, h, tanh_c, hidden):
    for k in range(hidden):
        cell = gates[hidden + k] * c_prev[k] + gates[k] * gates[2 * hidden + k]
        c[k] = cell
        t = ftanh(cell)
        tanh_c[k] = t
        h[k] = gates[3 * hidden + k] * t


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def lstm_backward(gates, c_prev, tanh_c, dout, dh, dc, dpre):  # pragma: no cover - jitted
    """One LSTM step back. dL/dh = dout + dh (from above and from the next step); dc (carried dL/dc) is
    replaced by dL/dc_prev; writes dL/dpre [B, 4H]."""
    batch, four = gates.shape
    hidden = four // 4
    one = like(1.0, gates[0, 0])
    for b in range(batch):
        for k in range(hidden):
            i, f = gates[b, k], gates[b, hidden + k]
            g, o = gates[b, 2 * hidden + k], gates[b, 3 * hidden + k]
            t = tanh_c[b, k]
            d = dout[b, k] + dh[b, k]
            dcell = dc[b, k] + d * o * (one - t * t)
            dpre[b, k] = dcell * g * i * (one - i)
            dpre[b, hidden + k] = dcell * c_prev[b, k] * f * (one - f)
            dpre[b, 2 * hidden + k] = dcell * i * (one - g * g)
            dpre[b, 3 * hidden + k] = d * t * o * (one - o)
            dc[b, k] = dcell * f


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def rnn_forward(xpre, hpre, bias, h):  # pragma: no cover - jitted
    """One tanh-RNN step: h = tanh(xpre + hpre + bias)."""
    batch, hidden = xpre.shape
    for b in range(batch):
        for k in range(hidden):
            h[b, k] = ftanh(xpre[b, k] + hpre[b, k] + bias[k])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def rnn_backward(h, dout, dh, dpre):  # pragma: no cover - jitted
    """One tanh-RNN step back: dpre = (dout + dh) * (1 - h^2)."""
    batch, hidden = h.shape
    one = like(1.0, h[0, 0])
    for b in range(batch):
        for k in range(hidden):
            dpre[b, k] = (dout[b, k] + dh[b, k]) * (one - h[b, k] * h[b, k])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_forward(xpre, hpre, bias, bias_h, h_prev, h, gates):  # pragma: no cover - jitted
    """PyTorch's GRU: r, z = sigmoid(x + h parts); n = tanh(x_n + r * h_n); h = (1 - z) n + z h_prev.

    xpre, hpre: [B, 3H] input and recurrent products (biases `bias`, `bias_h` added here); gates:
    [B, 4H] stores r, z, n and h_n (needed by the backward pass).
    """
    batch, three = xpre.shape
    hidden = three // 3
    one = like(1.0, xpre[0, 0])
    for b in range(batch):
        for k in range(hidden):
            r = _sigmoid(xpre[b, k] + bias[k] + hpre[b, k] + bias_h[k])
            z = _sigmoid(xpre[b, hidden + k] + bias[hidden + k] + hpre[b, hidden + k] + bias_h[hidden + k])
            hn = hpre[b, 2 * hidden + k] + bias_h[2 * hidden + k]
            n = ftanh(xpre[b, 2 * hidden + k] + bias[2 * hidden + k] + r * hn)
            gates[b, k], gates[b, hidden + k], gates[b, 2 * hidden + k], gates[b, 3 * hidden + k] = r, z, n, hn
            h[b, k] = (one - z) * n + z * h_prev[b, k]


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def gru_backward(gates, h_prev, dout, dh, dxpre, dhpre, dh_prev_direct):  # pragma: no cover - jitted
    """dL/d(x pre-activations), dL/d(h pre-activations) and the direct dL/dh_prev (through z), given
    dL/dh = dout + dh."""
    batch, four = gates.shape
    hidden = four // 4
    one = like(1.0, gates[0, 0])
    for b in range(batch):
        for k in range(hidden):
            r, z, n, hn = gates[b, k], gates[b, hidden + k], gates[b, 2 * hidden + k], gates[b, 3 * hidden + k]
            d = dout[b, k] + dh[b, k]
            dn = d * (one - z) * (one - n * n)
            dz = d * (h_prev[b, k] - n) * z * (one - z)
            dr = dn * hn * r * (one - r)
            dxpre[b, k] = dr
            dxpre[b, hidden + k] = dz
            dxpre[b, 2 * hidden + k] = dn
            dhpre[b, k] = dr
            dhpre[b, hidden + k] = dz
            dhpre[b, 2 * hidden + k] = dn * r
            dh_prev_direct[b, k] = d * z


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def softmax_xent(logits, bias, targets, scale, losses, dbias):  # pragma: no cover - jitted
    """Per row: loss = -log softmax(logits + bias)[target] into `losses` (float64); logits are replaced by
    scale * (softmax - onehot), the gradient of scale * loss, and that gradient's column sums are added to
    `dbias` (the bias gradient), while each row is still in cache.

    Three vectorisable passes per row (bias and max, exp and sum, scale) over a row that stays in L1/L2.
    """
    rows, vocab = logits.shape
    for r in range(rows):
        row = logits[r]
        top = row[0] + bias[0]
        for v in range(vocab):
            x = row[v] + bias[v]
            row[v] = x
            top = max(top, x)
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
