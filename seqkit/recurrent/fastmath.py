"""Scalar maths for float32 kernels: an exponential LLVM can vectorise, and literals that stay float32.

libm's `expf` is a scalar call, so a loop over a row of gates or logits that calls it is not
vectorised; `fexp` and `ftanh` use Cephes' polynomial exp in float32 instead (about 1 ulp). In float64
(the gradient checks) they are the exact `math` functions. Only jitted code can call them.
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
def sigmoid(x):
    one = like(1.0, x)
    return one / (one + fexp(-x))


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def exp_array(x, out):  # pragma: no cover - jitted
    """out = fexp(x) elementwise (for the accuracy test of the float32 exponential)."""
    flat_in, flat_out = x.ravel(), out.ravel()
    for i in range(flat_in.size):
        flat_out[i] = fexp(flat_in[i])


