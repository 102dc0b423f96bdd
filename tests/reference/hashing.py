"""fastText's `Dictionary::hash` and `addWordNgrams` in plain Python, transcribed from its C++."""

from __future__ import annotations

MASK32, MASK64 = (1 << 32) - 1, (1 << 64) - 1


def fasttext_hash(data: bytes) -> int:
    h = 2166136261
    for byte in data:
        signed = byte - 256 if byte >= 128 else byte   # int8_t(str[i])
        h = ((h ^ (signed & MASK32)) * 16777619) & MASK32  # uint32_t(...), then the uint32 product
    return h


def word_ngram_buckets(words: list[str], n: int, buckets: int) -> list[int]:
    as_int32 = [h - (1 << 32) if h >= 1 << 31 else h for h in (fasttext_hash(w.encode()) for w in words)]
    out = []
    for i in range(len(as_int32)):
        h = as_int32[i] & MASK64  # uint64_t h = hashes[i] (sign-extended)
        for j in range(i + 1, min(len(as_int32), i + n)):
            h = (h * 116049371 + (as_int32[j] & MASK64)) & MASK64
            out.append(h % buckets)
    return out
