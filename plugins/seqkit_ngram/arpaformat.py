"""ARPA n-gram lines formatted with NumPy: a fixed-width byte matrix, then the padding deleted.

Formatting millions of lines through Python strings costs seconds, and a Numba kernel costs about a
second of CPU just to import Numba and load the kernel, more than the formatting itself. Here every row
of a block gets the same number of bytes: the probability, each word padded to the longest word, the
back-off. Unused bytes are NUL, and `bytes.translate(None, b"\\0")` deletes them at memory speed. Numbers
come from lookup tables (the six decimals of every fraction, the digits of the whole part), so a block is
a few gathers. Values are log10 with 6 decimals (rounded, trailing zeros trimmed), finer than KenLM's
float32 storage. A vocabulary with NUL bytes or very long words cannot use the trick (`fits` is False);
the caller then uses the Numba kernel.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Iterator

import numpy as np

TAB, SPACE, NEWLINE, MINUS, DOT, ZERO = 9, 32, 10, 45, 46, 48
MAX_WORD_BYTES = 48          # beyond this the padded matrix wastes too much
BLOCK_BYTES = 16 << 20       # size of the reused padded matrix
UNIT = np.dtype("<u4")       # the matrix is filled four bytes at a time


class VocabBytes:
    """The vocabulary as NUL-padded 4-byte units per word, with a leading tab or space (row = word id)."""

    def __init__(self, vocab: list[str]):
        encoded = [w.encode("utf-8") for w in vocab]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        longest = max(1, int(lengths.max(initial=1)))
        self.units = (longest + 1 + 3) // 4
        self.fits = longest <= MAX_WORD_BYTES and not any(b"\x00" in w for w in encoded)
        table = np.zeros((len(encoded), 4 * self.units), dtype=np.uint8)
        if self.fits:
            flat = np.frombuffer(b"".join(encoded), dtype=np.uint8)
            rows = np.repeat(np.arange(len(encoded)), lengths)
            cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
            table[rows, cols] = flat
        table[:, 0] = SPACE
        self.after_space = table.view(UNIT).copy()
        table[:, 0] = TAB
        self.after_tab = table.view(UNIT).copy()


def _unit(char: int) -> np.uint32:
    """One character and three NULs as a 4-byte unit."""
    return np.array([char, 0, 0, 0], dtype=np.uint8).view(UNIT)[0]


TAB_UNIT, NEWLINE_UNIT = _unit(TAB), _unit(NEWLINE)


def micro(values: np.ndarray) -> np.ndarray:
    """log10 values in millionths (what is printed with six decimals)."""
    return np.round(np.asarray(values, dtype=np.float64) * 1e6).astype(np.int64)


def _units(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows, dtype=np.uint8).view(UNIT)[:, 0]


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Four-byte pieces of a number: '-' or NUL then the whole part right-aligned (< 1000); '.' and the
    first three decimals (row + 1000 when the last three are zero: trailing zeros and a bare '.' become
    NUL); the last three decimals, trimmed."""
    t = np.arange(1000, dtype=np.int64)
    digits = np.stack([ZERO + t // 100, ZERO + (t // 10) % 10, ZERO + t % 10], axis=1).astype(np.uint8)
    trimmed = digits.copy()
    trailing = np.ones(len(t), dtype=bool)
    for k in (2, 1, 0):
        trailing &= digits[:, k] == ZERO
        trimmed[trailing, k] = 0
    whole = np.zeros((1000, 4), dtype=np.uint8)
    for k, scale in ((1, 100), (2, 10), (3, 1)):
        whole[:, k] = np.where((t >= scale) | (scale == 1), ZERO + (t // scale) % 10, 0)
    head = np.zeros((2000, 4), dtype=np.uint8)
    head[:1000, 0], head[:1000, 1:] = DOT, digits
    head[1000:, 0], head[1000:, 1:] = np.where(t > 0, DOT, 0), trimmed
    tail = np.zeros((1000, 4), dtype=np.uint8)
    tail[:, :3] = trimmed
    return _units(whole), _unit(MINUS), _units(head), _units(tail)


def _put_numbers(out: np.ndarray, m: np.ndarray) -> None:
    """Write micro values into three 4-byte columns of `out`."""
    whole, minus, head, tail = _tables()
    a = np.abs(m)
    frac = a % 1000000
    high, low = frac // 1000, frac % 1000
    out[:, 0] = whole[a // 1000000] | np.where(m < 0, minus, 0).astype(UNIT)
    out[:, 1] = head[high + 1000 * (low == 0)]
    out[:, 2] = tail[low]


def fits_numbers(*values: np.ndarray) -> bool:
    return all(len(v) == 0 or float(np.abs(v).max()) < 999 for v in values)


def format_lines(words: np.ndarray, prob: np.ndarray, backoff: np.ndarray | None,
                 vocab: VocabBytes) -> Iterator[bytes]:
    """`prob<TAB>w1 ... wn[<TAB>backoff]\\n` for every row (the back-off only where it is non-zero), in
    pieces of a few megabytes."""
    rows, n = words.shape
    U = vocab.units
    width = 3 + n * U + (4 if backoff is not None else 0) + 1
    step = max(1, min(rows, BLOCK_BYTES // (4 * width)))
    matrix = np.empty((step, width), dtype=UNIT)
    for lo in range(0, rows, step):
        hi = min(rows, lo + step)
        block = matrix[:hi - lo]
        _put_numbers(block[:, 0:3], micro(prob[lo:hi]))
        col = 3
        for j in range(n):
            table = vocab.after_tab if j == 0 else vocab.after_space
            np.take(table, words[lo:hi, j], axis=0, out=block[:, col:col + U])
            col += U
        if backoff is not None:
            b = micro(backoff[lo:hi])
            _put_numbers(block[:, col + 1:col + 4], b)
            zero = b == 0  # a zero back-off prints nothing at all, not even its tab
            block[:, col] = np.where(zero, 0, TAB_UNIT)
            block[zero, col + 1:col + 4] = 0
            col += 4
        block[:, col] = NEWLINE_UNIT
        yield block.tobytes().translate(None, b"\x00")
