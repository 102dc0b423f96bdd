"""Numba kernels that build the probing hash tables that hold an n-gram model (KenLM's `probing` structure).

Order 1 is two arrays indexed by word id. Each higher order n is one open-addressing table of
`buckets[n]` entries of three int64 words: the key, the log10 probability and the log10 back-off (the
two floats stored bit for bit, so a cache line holds everything a probe needs). An n-gram's key is
`row(prefix) * V + last word`, where row(prefix) is the prefix's word id (n = 2) or its slot in the
(n-1)-gram table, so keys are exact (no hash collisions can merge two n-grams) and the slot of an
n-gram is its row. An empty slot holds key -1; tables are at most 2/3 full, so probing always ends.
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY = -1
MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@njit(nogil=True, cache=True, inline="always")
def _home(key, buckets):  # pragma: no cover - jitted
    """Fibonacci hashing of the key's bits, reduced to a bucket by a multiply and shift of the high 32 bits
    (no division, which costs more than the rest of a probe) for tables below 2^32 buckets."""
    mixed = np.uint64(key) * MULTIPLIER
    mixed ^= mixed >> np.uint64(29)
    if buckets < (1 << 32):
        return np.int64(((mixed >> np.uint64(32)) * np.uint64(buckets)) >> np.uint64(32))
    return np.int64(mixed % np.uint64(buckets))


@njit(nogil=True, cache=True, inline="always")
def find(table, start, buckets, key):  # pragma: no cover - jitted
    """Slot (relative to `start`) of `key` in the table starting at entry `start`, or -1."""
    return find_from(table, start, buckets, key, _home(key, buckets))


@njit(nogil=True, cache=True, inline="always")
def find_from(table, start, buckets, key, slot):  # pragma: no cover - jitted
    """`find` given the key's home slot. At most `buckets` probes, so a damaged file's table (no empty slot
    left) cannot loop forever."""
    for _ in range(buckets):
        found = table[3 * (start + slot)]
        if found == key:
            return slot
        if found == EMPTY:
            return -1
        slot += 1
        if slot == buckets:
            slot = 0
    return -1


@njit(nogil=True, cache=True)
def insert_order(table, start, buckets, keys, logprob_bits, backoff_bits, slots):  # pragma: no cover - jitted
    """Insert every key with its two values; each one's slot goes to `slots`. Returns the index of the
    first key already present (a duplicate n-gram), or -1."""
    for i in range(len(keys)):
        key = keys[i]
        slot = _home(key, buckets)
        while True:
            at = 3 * (start + slot)
            found = table[at]
            if found == key:
                return i
            if found == EMPTY:
                table[at] = key
                table[at + 1] = logprob_bits[i]
                table[at + 2] = backoff_bits[i]
                slots[i] = slot
                break
            slot += 1
            if slot == buckets:
                slot = 0
    return -1


@njit(nogil=True, cache=True)
def prefix_rows(words, vocab_size, table, starts, buckets):  # pragma: no cover - jitted
    """Row of each n-gram's (n-1)-word prefix (-1 where some prefix is not in the model)."""
    count, n = words.shape
    rows = np.empty(count, dtype=np.int64)
    for i in range(count):
        row = np.int64(words[i, 0])
        for j in range(1, n - 1):
            if row < 0:
                break
            row = find(table, starts[j + 1], buckets[j + 1], row * vocab_size + words[i, j])
        rows[i] = row
    return rows


# The vocabulary's table: word id by the FNV-1a hash of the word's UTF-8 bytes (the core reader's hash),
# int32 slots (-1 empty), a power of two at most half full, stored in the binary file so that loading a
# model builds no word dictionary.
FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)


@njit(nogil=True, cache=True, inline="always")
def _word_hash(data, start, end):  # pragma: no cover - jitted
    h = FNV_OFFSET
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * FNV_PRIME
    return h


@njit(nogil=True, cache=True, inline="always")
def _same_word(vocab_bytes, vocab_offsets, word, data, start, end):  # pragma: no cover - jitted
    at = vocab_offsets[word]
    if vocab_offsets[word + 1] - at != end - start:
        return False
    for i in range(end - start):
        if vocab_bytes[at + i] != data[start + i]:
            return False
    return True


@njit(nogil=True, cache=True)
def build_vocab_slots(vocab_bytes, vocab_offsets, slots):  # pragma: no cover - jitted
    """Fill the empty (all -1) `slots` with every word's id; returns the first duplicate word's id, or -1."""
    mask = np.uint64(len(slots) - 1)
    for w in range(len(vocab_offsets) - 1):
        slot = _word_hash(vocab_bytes, vocab_offsets[w], vocab_offsets[w + 1]) & mask
        while slots[slot] >= 0:
            if _same_word(vocab_bytes, vocab_offsets, slots[slot], vocab_bytes, vocab_offsets[w],
                          vocab_offsets[w + 1]):
                return w
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = w
    return -1


@njit(nogil=True, cache=True)
def lookup_words(vocab_bytes, vocab_offsets, slots, data, offsets, out):  # pragma: no cover - jitted
    """Id of each word data[offsets[i]:offsets[i + 1]] in the vocabulary, -1 when absent. The probe count
    is capped by the table's size, so a damaged table cannot loop forever."""
    mask = np.uint64(len(slots) - 1)
    for i in range(len(offsets) - 1):
        start, end = offsets[i], offsets[i + 1]
        slot = _word_hash(data, start, end) & mask
        out[i] = -1
        for _ in range(len(slots)):
            word = slots[slot]
            if word < 0:
                break
            if _same_word(vocab_bytes, vocab_offsets, word, data, start, end):
                out[i] = word
                break
            slot = (slot + np.uint64(1)) & mask
