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
    """Fibonacci hashing of the key's bits, reduced to a bucket."""
    mixed = np.uint64(key) * MULTIPLIER
    mixed ^= mixed >> np.uint64(29)
    return np.int64(mixed % np.uint64(buckets))


@njit(nogil=True, cache=True, inline="always")
def find(table, start, buckets, key):  # pragma: no cover - jitted
    """Slot (relative to `start`) of `key` in the table starting at entry `start`, or -1."""
    slot = _home(key, buckets)
    while True:
        found = table[3 * (start + slot)]
        if found == key:
            return slot
        if found == EMPTY:
            return -1
        slot += 1
        if slot == buckets:
            slot = 0


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


@njit(nogil=True, cache=True)
def score(stream, bos, order, vocab_size, uni_logprob, uni_backoff, table, ftable, starts, buckets,
          logp, lengths):  # pragma: no cover - jitted
    """log10 p of each token of `stream` and the length of the n-gram it was found as (KenLM's query):
    the longest n-gram's probability plus the back-offs of the longer contexts. `<s>` starts a
    sentence and scores 0; a negative id (no <unk> in the model) scores -99 with length 0."""
    previous = np.full(max(order, 1), -1, dtype=np.int64)  # row of the k-gram ending one token back
    current = np.full(max(order, 1), -1, dtype=np.int64)
    for t in range(len(stream)):
        w = stream[t]
        if w == bos:
            previous[0] = w
            previous[1:] = -1
            logp[t] = 0.0
            lengths[t] = 1
            continue
        if w < 0:
            best = 0
            p = np.nan
            current[:] = -1
        else:
            current[0] = w
            best = 1
            p = uni_logprob[w]
            for n in range(2, order + 1):
                context = previous[n - 2]
                row = -1
                if context >= 0:
                    row = find(table, starts[n], buckets[n], context * vocab_size + w)
                current[n - 1] = row
                if row >= 0:
                    best = n
                    p = ftable[3 * (starts[n] + row) + 1]
        for k in range(1, order):
            context = previous[k - 1]
            if context >= 0 and best <= k:
                if k == 1:
                    p += uni_backoff[context]
                else:
                    p += ftable[3 * (starts[k] + context) + 2]
        if np.isnan(p):
            p = -99.0
        logp[t] = p
        lengths[t] = best
        previous[:] = current
