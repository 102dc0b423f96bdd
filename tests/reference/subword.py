"""Slow, obviously-correct subword vectors: fastText's rule written from its description, on strings."""

from __future__ import annotations

import numpy as np


def fnv1a_signed_bytes(data: bytes) -> int:
    """FNV-1a in which each byte is first read as a signed char and widened to 32 bits (fastText's quirk)."""
    h = 2166136261
    for byte in data:
        widened = int(np.int8(np.uint8(byte)).astype(np.int32).view(np.uint32))
        h = ((h ^ widened) * 16777619) % 2 ** 32
    return h


def char_ngrams(word: str, minn: int, maxn: int) -> list[str]:
    text = "<" + word + ">"
    return [text[i:i + n] for i in range(len(text)) for n in range(minn, maxn + 1)
            if i + n <= len(text) and not (n == 1 and (i == 0 or i == len(text) - 1))]


def word_vector(words: list[str], matrix: np.ndarray, word: str, minn: int, maxn: int, buckets: int) -> np.ndarray:
    rows = [words.index(word)] if word in words else []
    if word != "</s>" and buckets:
        rows += [len(words) + fnv1a_signed_bytes(g.encode()) % buckets for g in char_ngrams(word, minn, maxn)]
    if not rows:
        return np.zeros(matrix.shape[1])
    return np.mean([matrix[r].astype(np.float64) for r in rows], axis=0)
