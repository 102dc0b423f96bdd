"""Reading well-formed ARPA text fast, with NumPy over the whole byte buffer.

The line-by-line reader in `arpa.py` takes ~11 s for a 2.3M-n-gram PTB 5-gram model. This one finds
line ends, tabs and token boundaries with array operations, parses the numbers with a vectorised
decimal parser (Clinger's fast path, so each value is the same float64 Python's `float()` gives) and maps
words to ids with one dictionary lookup per token. It accepts only files whose every line is exactly
`prob<TAB>w1 ... wn[<TAB>backoff]` with sane values; on anything else it returns None and the caller
runs the line-by-line reader, which names the offending line. So both readers accept the same files and
all error messages come from one place.
"""

from __future__ import annotations

import re

import numpy as np

_SPACE = np.zeros(256, dtype=bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True
_COUNT_LINE = re.compile(rb"^ngram\s+(\d+)\s*=\s*(\d+)\s*$")
_POW10 = 10.0 ** np.arange(23)
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
MAX_NUMBER_BYTES = 24


class WordIndex:
    """Word bytes -> id for millions of tokens at once: a token of up to 16 bytes is two little-endian
    uint64 (read in place from the file's bytes) and its length; their hash is looked up among the
    vocabulary's sorted hashes and the match is then checked exactly. Longer tokens use a dictionary."""

    K1, K2 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F)

    def __init__(self, vocab: list[bytes]):
        self.dict = {w: i for i, w in enumerate(vocab)}
        if len(self.dict) != len(vocab):  # duplicate unigrams
            raise Unusual
        padded = np.frombuffer(b"".join(w[:16].ljust(16, b"\x00") for w in vocab), dtype="<u8").reshape(-1, 2)
        self.lo, self.hi = padded[:, 0].copy(), padded[:, 1].copy()
        self.length = np.fromiter(map(len, vocab), dtype=np.int64, count=len(vocab))
        # only tokens of up to 16 bytes are found by hash: longer ones sharing their first 16 bytes and
        # their length (`internationalized`, `internationalizes`) would collide, and use the dict anyway
        short = np.flatnonzero(self.length <= 16)
        if len(short) == 0:
            raise Unusual
        hashes = self._hash(self.lo[short], self.hi[short], self.length[short])
        by_hash = np.argsort(hashes)
        self.order = short[by_hash]
        self.sorted = hashes[by_hash]
        if (self.sorted[1:] == self.sorted[:-1]).any():  # pragma: no cover - a 64-bit hash collision
            raise Unusual

    @classmethod
    def _hash(cls, lo, hi, length):
        return lo * cls.K1 + hi * cls.K2 + length.astype(np.uint64)

    def lookup(self, data: bytes, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """int32 ids of data[starts[i]:ends[i]]; Unusual if any is not a unigram."""
        length = ends - starts
        padded = np.frombuffer(data[int(starts.min()):int(ends.max())] + bytes(16), dtype=np.uint8)
        offset = int(starts.min())
        view = np.ndarray(shape=(len(padded) - 7,), dtype="<u8", buffer=padded, strides=(1,))
        lo = view[starts - offset] & _MASKS[np.minimum(length, 8)]
        hi = view[starts - offset + 8] & _MASKS[np.clip(length - 8, 0, 8)]
        pos = np.minimum(np.searchsorted(self.sorted, self._hash(lo, hi, length)), len(self.sorted) - 1)
        ids = self.order[pos]
        short = length <= 16
        good = (self.lo[ids] == lo) & (self.hi[ids] == hi) & (self.length[ids] == length)
        if not good[short].all():
            raise Unusual  # a word missing from the unigrams: the careful reader names it
        long = np.flatnonzero(~short)
        if len(long):
            found = [self.dict.get(data[a:b], -1) for a, b in zip(starts[long].tolist(), ends[long].tolist())]
            ids[long] = found
            if min(found) < 0:
                raise Unusual
        return ids.astype(np.int32)


class Unusual(Exception):
    """Not the plain layout the fast reader handles: use the line-by-line reader."""


def read_fast(data: bytes, max_ngrams: int):
    """(vocab, words, logprob, backoff) per order, or None when the careful reader must decide."""
    try:
        return _Reader(data, max_ngrams).read()
    except (Unusual, UnicodeDecodeError, ValueError, IndexError):
        return None


class _Reader:
    def __init__(self, data: bytes, max_ngrams: int):
        self.data = data
        self.buf = np.frombuffer(data, dtype=np.uint8)
        self.max_ngrams = max_ngrams
        self.pos = 0

    def read(self):
        declared = self._header()
        top = len(declared)
        vocab_bytes: list[bytes] = []
        index = None
        words_by_order, logprob_by_order, backoff_by_order = [], [], []
        for n, count in enumerate(declared, 1):
            self._expect_line(b"\\%d-grams:" % n)
            start = self.pos
            line_ends = self._next_line_ends(count)
            self.pos = int(line_ends[-1]) + 1 if count else start
            self._after_section()
            (word_starts, word_ends), backoff_rows, has_backoff = self._tokens(start, line_ends, n, n < top)
            logprob = self._numbers(start, line_ends, firsts_only=True)
            if np.isnan(logprob).any() or (logprob > 0).any():
                raise Unusual
            backoff = np.zeros(count, dtype=np.float64)
            if has_backoff.any():
                backoff[has_backoff] = self._numbers(start, line_ends, rows=backoff_rows)
                if not np.isfinite(backoff).all():  # the careful reader names the line
                    raise Unusual
            if n == 1:
                data = self.data
                vocab_bytes = [data[a:b] for a, b in zip(word_starts[:, 0].tolist(), word_ends[:, 0].tolist())]
                index = WordIndex(vocab_bytes)
                words = np.arange(count, dtype=np.int32)[:, None]
            else:
                words = index.lookup(self.data, word_starts.reshape(-1), word_ends.reshape(-1)).reshape(count, n)
            words_by_order.append(words)
            logprob_by_order.append(logprob)
            backoff_by_order.append(backoff)
        self._expect_line(b"\\end\\")
        if self.data[self.pos:].strip():
            raise Unusual
        vocab = [w.decode("utf-8") for w in vocab_bytes]
        if "<s>" not in vocab or "</s>" not in vocab:
            raise Unusual
        return vocab, words_by_order, logprob_by_order, backoff_by_order

    # --- structure ---------------------------------------------------------------------------------

    def _line(self) -> bytes | None:
        end = self.data.find(b"\n", self.pos)
        end = len(self.data) if end < 0 else end
        if self.pos > len(self.data):
            return None
        line = self.data[self.pos:end]
        self.pos = end + 1
        return line

    def _header(self) -> list[int]:
        line = self._line()
        while line is not None and (not line.strip() or line.startswith(b"#")):
            line = self._line()
        if line is None or line.strip() != b"\\data\\":
            raise Unusual
        declared = []
        line = self._line()
        while line is not None and line.strip():
            match = _COUNT_LINE.match(line.strip())
            if not match or int(match.group(1)) != len(declared) + 1 or int(match.group(2)) > self.max_ngrams:
                raise Unusual
            declared.append(int(match.group(2)))
            line = self._line()
        if not declared:
            raise Unusual
        return declared

    def _expect_line(self, wanted: bytes) -> None:
        line = self._line()
        while line is not None and not line.strip():
            line = self._line()
        if line is None or line.strip() != wanted:
            raise Unusual

    def _next_line_ends(self, count: int) -> np.ndarray:
        """Positions of the newlines ending the next `count` lines (all must exist and be non-blank)."""
        if count == 0:
            return np.zeros(0, dtype=np.int64)
        guess = self.pos + count * 16
        while True:
            newlines = np.flatnonzero(self.buf[self.pos:guess] == 10)
            if len(newlines) >= count or guess >= len(self.buf):
                break
            guess = self.pos + (guess - self.pos) * 2
        if len(newlines) < count:
            raise Unusual
        ends = newlines[:count] + self.pos
        starts = np.concatenate([[self.pos], ends[:-1] + 1])
        if (ends - starts < 3).any() or (self.buf[starts] == 92).any() or _SPACE[self.buf[starts]].any():
            raise Unusual  # blank, too short, a section line, or leading whitespace
        return ends

    def _after_section(self) -> None:
        """The line after a section is blank or starts with a backslash (else the count is wrong)."""
        end = self.data.find(b"\n", self.pos)
        line = self.data[self.pos:len(self.data) if end < 0 else end]
        if line.strip() and not line.startswith(b"\\"):
            raise Unusual

    def _tokens(self, start: int, ends: np.ndarray, n: int, may_backoff: bool):
        """The section's tokens, index of each line's first token, and which lines carry a back-off."""
        count = len(ends)
        if count == 0:
            raise Unusual  # an empty section: leave it to the careful reader
        stop = int(ends[-1])
        body = self.buf[start:stop + 1]
        line_starts = np.concatenate([[0], ends[:-1] + 1 - start])
        bounds = np.append(line_starts, len(body))
        tabs = np.flatnonzero(body == 9)
        tabs_per_line = np.diff(np.searchsorted(tabs, bounds))
        if (tabs_per_line < 1).any() or (tabs_per_line > (2 if may_backoff else 1)).any():
            raise Unusual
        space = _SPACE[body]
        token_start = ~space
        token_start[1:] &= space[:-1]
        token_starts = np.flatnonzero(token_start)
        per_line = np.diff(np.searchsorted(token_starts, bounds))
        has_backoff = tabs_per_line == 2
        if (per_line != 1 + n + has_backoff).any():
            raise Unusual
        # the first tab ends the probability, a second one starts the back-off: no spaces across them
        first_index = np.concatenate([[0], np.cumsum(tabs_per_line)[:-1]])
        first_tab = tabs[first_index]
        second_tab = tabs[first_index[has_backoff] + 1]
        if (np.searchsorted(token_starts, first_tab) - np.searchsorted(token_starts, line_starts) != 1).any():
            raise Unusual  # the probability is one token, right before the first tab
        line_ends = (ends - start)[has_backoff]
        if (np.searchsorted(token_starts, line_ends) - np.searchsorted(token_starts, second_tab) != 1).any():
            raise Unusual  # the back-off is one token, after the second tab
        firsts = np.concatenate([[0], np.cumsum(per_line)[:-1]]).astype(np.int64)
        self._first_tab, self._second_tab = first_tab + start, second_tab + start
        token_end = ~space
        token_end[:-1] &= space[1:]
        word = firsts[:, None] + 1 + np.arange(n)  # token numbers of each line's words
        spans = (token_starts[word] + start, np.flatnonzero(token_end)[word] + 1 + start)
        return spans, np.flatnonzero(has_backoff), has_backoff

    # --- numbers -------------------------------------------------------------------------------------

    def _numbers(self, start: int, ends: np.ndarray, *, firsts_only: bool = False, rows=None) -> np.ndarray:
        if firsts_only:
            line_starts = np.concatenate([[start], ends[:-1] + 1]) if len(ends) else np.zeros(0, np.int64)
            return parse_decimals(self.buf, line_starts, self._first_tab)
        return parse_decimals(self.buf, self._second_tab + 1, ends[rows])


def parse_decimals(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """float64 of the decimal numbers buf[starts:ends] (a trailing \\r ignored), equal to Python's
    `float()`: an exact integer mantissa divided by an exact power of ten is one correctly rounded
    operation. Anything else (exponents, nan, more than 15 digits) goes through `float()`."""
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    k = len(starts)
    if k == 0:
        return np.zeros(0, dtype=np.float64)
    widths = ends - starts
    if (widths <= 0).any() or widths.max() > MAX_NUMBER_BYTES:
        raise Unusual
    W = int(widths.max())
    if int(starts.max()) + W <= len(buf):  # rows of W bytes from each start, without an index matrix
        chars = np.lib.stride_tricks.as_strided(buf, shape=(len(buf) - W + 1, W), strides=(1, 1))[starts]
    else:
        chars = buf[np.minimum(starts[:, None] + np.arange(W), len(buf) - 1)]
    negative = chars[:, 0] == 45
    skip = negative | (chars[:, 0] == 43)
    mantissa = np.zeros(k, dtype=np.int64)
    digits = np.zeros(k, dtype=np.int64)
    frac = np.zeros(k, dtype=np.int64)
    seen_dot = np.zeros(k, dtype=bool)
    odd = np.zeros(k, dtype=bool)
    for j in range(W):
        inside = widths > j
        if j == 0:
            inside &= ~skip
        c = chars[:, j]
        d = c - np.uint8(48)
        is_digit = (d < 10) & inside
        is_dot = (c == 46) & inside
        odd |= inside & ~is_digit & ~is_dot & ~((c == 13) & (widths == j + 1))  # only a final \r may follow
        odd |= is_dot & seen_dot
        seen_dot |= is_dot
        mantissa = np.where(is_digit, mantissa * 10 + d, mantissa)
        digits += is_digit
        frac += is_digit & seen_dot
    odd |= (digits == 0) | (digits > 15)
    value = mantissa / _POW10[np.minimum(frac, 22)]
    np.negative(value, out=value, where=negative)
    if odd.any():  # rare spellings: exact Python parsing for those
        rows = np.flatnonzero(odd)
        value[rows] = [float(bytes(buf[s:e])) for s, e in zip(starts[rows].tolist(), ends[rows].tolist())]
    return value
