"""Numba kernels of estimation: finding sorted keys (`find_keys`, for `streaming`'s row index) and
formatting ARPA n-gram lines straight into a byte buffer.

The formatter is only the fallback of `arpaformat` (vocabularies with NUL bytes or words over 48 bytes, log values
beyond -999): importing Numba and loading a kernel costs about a second of CPU, more than NumPy needs to
format a PTB 5-gram model. Log10 values are written with 6 decimals (rounded), as `arpaformat` does.
"""

from __future__ import annotations

from numba import njit


@njit(nogil=True, cache=True)
def find_keys(keys, queries, out):  # pragma: no cover - jitted
    """Row of each query among the sorted `keys` (-1 if absent) into `out`. Each search gallops forward
    from the previous query's row, so ascending queries walk the keys once (2.4x faster than
    np.searchsorted's independent bisections); a query below the previous one starts again from row 0."""
    n = len(keys)
    pos = 0
    for i in range(len(queries)):
        q = queries[i]
        if i and q < queries[i - 1]:
            pos = 0
        lo = pos
        if lo < n and keys[lo] < q:  # keys[lo] < q: double the step until a key >= q, then bisect
            step = 1
            hi = lo + 1
            while hi < n and keys[hi] < q:
                lo = hi
                step *= 2
                hi = lo + step
            if hi > n:
                hi = n
            lo += 1
            while lo < hi:
                mid = (lo + hi) >> 1
                if keys[mid] < q:
                    lo = mid + 1
                else:
                    hi = mid
        pos = lo
        out[i] = lo if lo < n and keys[lo] == q else -1


@njit(nogil=True, cache=True)
def _put_fixed6(out, pos, micro):  # pragma: no cover - jitted
    """Write micro/1e6 with exactly six decimals (trailing zeros trimmed, at least one digit)."""
    if micro < 0:
        out[pos] = 45  # '-'
        pos += 1
        micro = -micro
    whole = micro // 1000000
    frac = micro % 1000000
    k = 1
    scale = 10
    while whole >= scale:
        k += 1
        scale *= 10
    for j in range(k - 1, -1, -1):
        out[pos + j] = 48 + whole % 10
        whole //= 10
    pos += k
    if frac:
        out[pos] = 46  # '.'
        pos += 1
        width = 6
        while frac % 10 == 0:
            frac //= 10
            width -= 1
        for j in range(width - 1, -1, -1):
            out[pos + j] = 48 + frac % 10
            frac //= 10
        pos += width
    return pos


@njit(nogil=True, cache=True)
def format_ngram_lines(words, prob_micro, backoff_micro, with_backoff, vocab_bytes, vocab_offsets, out):  # pragma: no cover
    """`prob<TAB>w1 ... wn[<TAB>backoff]\\n` for every row; returns the number of bytes written."""
    pos = 0
    rows, n = words.shape
    for r in range(rows):
        pos = _put_fixed6(out, pos, prob_micro[r])
        out[pos] = 9
        pos += 1
        for j in range(n):
            if j:
                out[pos] = 32
                pos += 1
            w = words[r, j]
            for b in range(vocab_offsets[w], vocab_offsets[w + 1]):
                out[pos] = vocab_bytes[b]
                pos += 1
        if with_backoff and backoff_micro[r] != 0:
            out[pos] = 9
            pos += 1
            pos = _put_fixed6(out, pos, backoff_micro[r])
        out[pos] = 10
        pos += 1
    return pos

