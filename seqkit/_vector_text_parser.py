"""Numba kernel that parses word2vec-style text vector lines straight from the file's bytes.

Parsing ten million decimal numbers through Python objects takes seconds; this kernel walks the buffer
once. Numbers take Clinger's fast path (an exact integer mantissa scaled by an exact power of ten, one
correctly rounded float64 operation), which gives the same float64 as Python's `float()` and so the
same float32 as gensim after the cast. Anything outside that path (more than 18 digits, huge exponents,
`nan`, `inf`) is flagged per line so the caller parses just those lines with Python's `float`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

OK, BAD_COUNT = 0, 1

POWERS_OF_TEN = np.array([10.0 ** k for k in range(23)], dtype=np.float64)


@njit(nogil=True, cache=True)
def parse_vector_lines(buf, start, n_rows, dim, out, word_start, word_end, needs_exact):  # pragma: no cover
    """Fill `out[i]` and the word span of line i for up to n_rows lines beginning at `start`.

    Lines end with '\\n' (an optional '\\r' and trailing spaces are ignored); the word is everything
    before the first space, fields are separated by single spaces. A line holding a number the fast
    path cannot parse exactly is flagged in `needs_exact` (the caller parses it with Python's float).
    Returns (status, rows_done, fields_found_on_bad_line, position): status OK or BAD_COUNT.
    """
    n = buf.shape[0]
    pos = start
    row = 0
    while row < n_rows and pos < n:
        line_end = pos
        while line_end < n and buf[line_end] != 10:
            line_end += 1
        end = line_end
        while end > pos and (buf[end - 1] == 13 or buf[end - 1] == 32):
            end -= 1
        if end == pos:  # blank line
            pos = line_end + 1
            continue
        w = pos
        while w < end and buf[w] != 32:
            w += 1
        word_start[row] = pos
        word_end[row] = w
        needs_exact[row] = 0
        field = 0
        slow = False
        p = w + 1
        while p <= end and w < end and not slow:
            if field >= dim:
                extra = 1  # count what is left, for the message
                for q in range(p, end):
                    if buf[q] == 32:
                        extra += 1
                return BAD_COUNT, row, dim + extra, pos
            value, p, slow = _parse_number(buf, p, end)
            if not slow:
                out[row, field] = value
                field += 1
                p += 1  # skip the separating space
        if slow:
            needs_exact[row] = 1
        elif field != dim:
            return BAD_COUNT, row, field, pos
        row += 1
        pos = line_end + 1
    return OK, row, 0, pos


@njit(nogil=True, cache=True)
def _parse_number(buf, p, end):  # pragma: no cover - jitted
    """(value, position after the number, True if the fast path cannot parse it exactly)."""
    negative = False
    if p < end and (buf[p] == 45 or buf[p] == 43):
        negative = buf[p] == 45
        p += 1
    mantissa = 0
    digits = 0
    scale = 0
    seen_digit = False
    while p < end and 48 <= buf[p] <= 57:
        if digits >= 18:
            return 0.0, p, True
        mantissa = mantissa * 10 + (buf[p] - 48)
        if mantissa > 0:
            digits += 1
        seen_digit = True
        p += 1
    if p < end and buf[p] == 46:
        p += 1
        while p < end and 48 <= buf[p] <= 57:
            if digits >= 18:
                return 0.0, p, True
            mantissa = mantissa * 10 + (buf[p] - 48)
            if mantissa > 0:
                digits += 1
            scale -= 1
            seen_digit = True
            p += 1
    if not seen_digit:
        return 0.0, p, True
    if p < end and (buf[p] == 101 or buf[p] == 69):
        p += 1
        exp_negative = False
        if p < end and (buf[p] == 45 or buf[p] == 43):
            exp_negative = buf[p] == 45
            p += 1
        exponent = 0
        exp_digits = 0
        while p < end and 48 <= buf[p] <= 57:
            if exponent < 100000:
                exponent = exponent * 10 + (buf[p] - 48)
            exp_digits += 1
            p += 1
        if exp_digits == 0:
            return 0.0, p, True
        scale += -exponent if exp_negative else exponent
    if p < end and buf[p] != 32:
        return 0.0, p, True
    value = float(mantissa)
    if mantissa != 0:
        if scale < -22 or scale > 22:
            return 0.0, p, True
        if scale < 0:
            value = value / POWERS_OF_TEN[-scale]
        elif scale > 0:
            value = value * POWERS_OF_TEN[scale]
    if negative:
        value = -value
    return value, p, False
