"""fastText's hashing: words, word n-grams and character n-grams to buckets, bit for bit as fastText does.

fastText hashes a token with a 32-bit FNV-1a in which each byte is first sign-extended (`int8_t`), so
bytes >= 0x80 mix in as 0xFFFFFF80 | byte; a word n-gram's bucket comes from its words' hashes combined
by `h = h * 116049371 + hash` in 64 bits (each hash sign-extended from int32), modulo the bucket count; a
character n-gram (of `<word>`, counted in UTF-8 characters, a lone `<` or `>` left out) goes to
`hash % buckets`. Matching these exactly means a fastText model's buckets mean the same here.

The `@njit` functions work on bytes in NumPy arrays so that kernels can call them; the others are the
Python interface for vocabularies and tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FNV_OFFSET = 2166136261
FNV_PRIME = 16777619
NGRAM_MULTIPLIER = 116049371
BEGIN_OF_WORD, END_OF_WORD = "<", ">"


@njit(nogil=True, cache=True)
def fnv1a(data: np.ndarray, start: int, end: int) -> np.uint32:  # pragma: no cover - jitted
    """fastText's `Dictionary::hash` of data[start:end] (uint8): FNV-1a over sign-extended bytes."""
    h = np.uint64(FNV_OFFSET)
    for i in range(start, end):
        byte = np.uint64(data[i])
        if byte >= 0x80:
            byte |= np.uint64(0xFFFFFF00)
        h = ((h ^ byte) * np.uint64(FNV_PRIME)) & np.uint64(0xFFFFFFFF)
    return np.uint32(h)


@njit(nogil=True, cache=True)
def word_ngram_buckets(hashes: np.ndarray, n: int, buckets: int, out: np.ndarray) -> int:  # pragma: no cover
    """fastText's `addWordNgrams`: the bucket of every n-gram of 2..n consecutive words, in its order
    (for each start word, the longer n-grams after the shorter), written to `out`; returns how many.

    `hashes` holds the line's word hashes as int32 (fastText keeps them so, and sign-extends them)."""
    count = 0
    for i in range(len(hashes)):
        h = np.uint64(np.int64(hashes[i]))
        for j in range(i + 1, min(len(hashes), i + n)):
            h = h * np.uint64(NGRAM_MULTIPLIER) + np.uint64(np.int64(hashes[j]))
            out[count] = np.int64(h % np.uint64(buckets))
            count += 1
    return count


def word_hash(word: str) -> int:
    """fastText's hash of one token, as an unsigned 32-bit integer."""
    data = np.frombuffer(word.encode("utf-8"), dtype=np.uint8)
    return int(fnv1a(data, 0, len(data)))


def word_hashes(words: list[str]) -> np.ndarray:
    """Each word's hash as int32, the form fastText stores and combines into word n-grams."""
    return np.array([word_hash(word) for word in words], dtype=np.uint32).view(np.int32)


def line_ngram_buckets(hashes: np.ndarray, n: int, buckets: int) -> np.ndarray:
    """The word n-gram buckets of one line (hashes as from `word_hashes`), in fastText's order."""
    hashes = np.ascontiguousarray(hashes, dtype=np.int32)
    out = np.empty(max(len(hashes) * (n - 1), 0), dtype=np.int64)
    return out[:word_ngram_buckets(hashes, n, buckets, out)]


def char_ngrams(word: str, minn: int, maxn: int) -> list[str]:
    """The character n-grams of `<word>` that fastText uses, in its order (by start, then length)."""
    if minn < 1 or maxn < minn:
        return []
    text = BEGIN_OF_WORD + word + END_OF_WORD
    grams = []
    for i in range(len(text)):
        for n in range(minn, maxn + 1):
            if i + n > len(text):
                break
            if n == 1 and (i == 0 or i + n == len(text)):
                continue  # the bare `<` and `>` carry nothing
            grams.append(text[i:i + n])
    return grams


def char_ngram_buckets(word: str, minn: int, maxn: int, buckets: int) -> np.ndarray:
    """The buckets of `char_ngrams(word, minn, maxn)`: fastText's `computeSubwords`, without the word's own id."""
    return np.array([word_hash(gram) % buckets for gram in char_ngrams(word, minn, maxn)], dtype=np.int64)
