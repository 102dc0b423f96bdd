"""Numba kernel that writes vectors as word2vec text, byte for byte what Python's `'%.6g' % value` gives.

Formatting the eight million floats of an 80k x 100 table through Python's `%` takes over two seconds
of every training run; this kernel takes a fifth of that and prints the same digits. A float32 value x
with 1e-7 <= |x| < 1e6 is m * 2**q with m < 2**24, so x * 10**k for k <= 12 is m * 5**k * 2**(q + k)
with m * 5**k < 2**53: exact in float64. Rounding that to an integer half-to-even (`rint`) therefore
gives the correctly rounded six-digit mantissa CPython's dtoa prints, ties included. A row holding any
other value (nan, inf, |x| < 1e-7, or one that rounds to 1e6 or more) is left out and flagged; the
caller formats it with Python.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from seqkit._vector_text_parser import POWERS_OF_TEN  # exact powers of ten, 10**0 .. 10**22
from seqkit.vector_text import text_line

DIGITS = 6  # '%.6g'
MAX_VALUE_BYTES = 12  # '-0.000123456' and '-1.23456e-07' are the longest


@njit(nogil=True, cache=True)
def format_rows(matrix, words, word_offsets, out, row_end, slow):  # pragma: no cover - jitted
    """Write row i as `word v1 ... vD\\n` into `out` (words[word_offsets[i]:word_offsets[i + 1]] is its word).

    row_end[i] is where row i's bytes end; a row the exact path cannot format writes nothing and gets
    slow[i] = 1. `out` must hold the words plus (MAX_VALUE_BYTES + 1) * D + 1 bytes per row (a space
    before each value, the newline). Returns the number of bytes written.
    """
    p = 0
    digits = np.empty(DIGITS, dtype=np.uint8)
    for i in range(matrix.shape[0]):
        start = p
        for b in range(word_offsets[i], word_offsets[i + 1]):
            out[p] = words[b]
            p += 1
        slow[i] = 0
        for j in range(matrix.shape[1]):
            out[p] = 32  # ' '
            p = _write_value(np.float64(matrix[i, j]), out, p + 1, digits)
            if p < 0:
                break
        if p < 0:
            slow[i] = 1
            p = start
        else:
            out[p] = 10  # '\n'
            p += 1
        row_end[i] = p
    return p


@njit(nogil=True, inline="always")
def _write_value(x, out, p, digits):  # pragma: no cover - jitted
    """Write '%.6g' of x at out[p:], return the position after it, or -1 if x is outside the exact path.

    `digits` is scratch space for the DIGITS digits of the mantissa.
    """
    if x == 0.0:
        if math.copysign(1.0, x) < 0:
            out[p] = 45  # '-'
            p += 1
        out[p] = 48
        return p + 1
    a = abs(x)
    if not (1e-7 <= a < 1e6):  # nan and inf fail this too
        return -1
    exp, last = _decimal_digits(a, digits)
    if exp > 5:  # rounded up to 1e6: Python prints '1e+06'
        return -1
    if x < 0:
        out[p] = 45
        p += 1
    if exp >= -4:  # '%g' prints fixed-point from 1e-4 up to 10 ** DIGITS
        return _write_fixed(digits, last, exp, out, p)
    return _write_exponent(digits, last, exp, out, p)


@njit(nogil=True, inline="always")
def _decimal_digits(a, digits):  # pragma: no cover - jitted
    """a (1e-7 <= a < 1e6) rounded to DIGITS significant digits: fills `digits` (ASCII), returns
    (decimal exponent of the first digit, index of the last nonzero digit)."""
    exp = 5  # the largest exp with a * 10**(5 - exp) >= 1e5: exact products, so exact comparisons
    scaled = a
    while scaled < 1e5:
        exp -= 1
        scaled = a * POWERS_OF_TEN[5 - exp]
    mantissa = np.int64(np.rint(scaled))  # exact product, so this is the correctly rounded mantissa
    if mantissa == 1000000:  # 9.999995 -> 10.0000: '%g' decides its notation on the rounded exponent
        mantissa = 100000
        exp += 1
    last = -1  # '%g' drops trailing zeros
    for k in range(DIGITS - 1, -1, -1):
        digit = mantissa % 10
        mantissa //= 10
        digits[k] = 48 + digit
        if digit != 0 and last < 0:
            last = k
    return exp, last


@njit(nogil=True, inline="always")
def _write_fixed(digits, last, exp, out, p):  # pragma: no cover - jitted
    """'ddd.ddd' (exp >= 0) or '0.000ddd' (exp < 0) without trailing zeros."""
    if exp >= 0:
        for k in range(exp + 1):
            out[p] = digits[k]
            p += 1
        if last > exp:
            out[p] = 46  # '.'
            p += 1
            for k in range(exp + 1, last + 1):
                out[p] = digits[k]
                p += 1
        return p
    out[p] = 48
    out[p + 1] = 46
    p += 2
    for _ in range(-exp - 1):
        out[p] = 48
        p += 1
    for k in range(last + 1):
        out[p] = digits[k]
        p += 1
    return p


@njit(nogil=True, inline="always")
def _write_exponent(digits, last, exp, out, p):  # pragma: no cover - jitted
    """'d.dddde-05' for exp in -7..-5 (the only exponents the exact path leaves to this form)."""
    out[p] = digits[0]
    p += 1
    if last > 0:
        out[p] = 46
        p += 1
        for k in range(1, last + 1):
            out[p] = digits[k]
            p += 1
    out[p] = 101  # 'e'
    out[p + 1] = 45
    out[p + 2] = 48
    out[p + 3] = 48 - exp
    return p + 4


def vector_lines(words: list[str], matrix: np.ndarray) -> bytes:
    """`word v1 ... vD` lines of word2vec text for these rows, '%.6g' numbers, as UTF-8 bytes."""
    if len(words) != len(matrix):
        raise ValueError(f"{len(words)} words for {len(matrix)} rows")
    encoded = [word.encode("utf-8") for word in words]
    word_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(word) for word in encoded], out=word_offsets[1:])
    word_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    rows = np.ascontiguousarray(matrix, dtype=np.float32)
    per_row = (MAX_VALUE_BYTES + 1) * rows.shape[1] + 1  # a space and a value per column, the newline
    out = np.empty(int(word_offsets[-1]) + rows.shape[0] * per_row, np.uint8)
    row_end = np.empty(rows.shape[0], dtype=np.int64)
    slow = np.empty(rows.shape[0], dtype=np.uint8)
    size = format_rows(rows, word_bytes, word_offsets, out, row_end, slow)
    if not slow.any():
        return out[:size].tobytes()
    pieces, done = [], 0
    for i in np.flatnonzero(slow).tolist():  # nan, inf, tiny or huge values
        pieces.append(out[done:row_end[i]].tobytes())
        pieces.append(text_line(words[i], rows[i]).encode("utf-8"))
        done = int(row_end[i])
    pieces.append(out[done:size].tobytes())
    return b"".join(pieces)
