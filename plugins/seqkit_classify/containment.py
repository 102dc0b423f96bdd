"""Which training lines are parts of others (a duplicate, a phrase of a sentence), for cross-validation
folds that keep them together (`seqkit_classify.refit.line_groups`): a compiled pass over the features
that hashes runs of consecutive word ids and looks them up among the lines' own hashes."""

from __future__ import annotations

import numpy as np
from numba import njit


# Odd 64-bit constants with no structure (FNV's prime, 2^40 + 435, makes 3-word runs collide by design).
SPAN_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)
FILTER_MIXER = np.uint64(0xD6E8FEB86659FD93)


@njit(nogil=True, cache=True, inline="always")
def _line_words(features, start, end, n_words, out):  # pragma: no cover - jitted
    """The line's word ids (0 < id < n_words: not `</s>`, not a hashed n-gram) into `out`; their count."""
    k = 0
    for p in range(start, end):
        f = features[p]
        if 0 < f < n_words:
            out[k] = f
            k += 1
    return k


@njit(nogil=True, cache=True, inline="always")
def _filter_slot(h, shift):  # pragma: no cover - jitted
    return (h * FILTER_MIXER) >> np.uint64(shift)  # the well-mixed top bits


@njit(nogil=True, cache=True, inline="always")
def _may_be_a_line(h, shift, table):  # pragma: no cover - jitted
    """False when no line has hash `h` (the bit table); True when one may."""
    slot = _filter_slot(h, shift)
    return bool((table[slot >> np.uint64(6)] >> (slot & np.uint64(63))) & np.uint64(1))


@njit(nogil=True, cache=True)
def _place(h, c, sorted_hashes, by_hash, next_free, lengths, group):  # pragma: no cover - jitted
    """Every line with hash `h` not yet placed (and not empty) joins `c`'s group."""
    first = np.searchsorted(sorted_hashes, h)
    if first == len(sorted_hashes) or sorted_hashes[first] != h:
        return
    k = next_free[first]
    while k < len(sorted_hashes) and sorted_hashes[k] == h:
        j = by_hash[k]
        if group[j] < 0 and lengths[j] > 0:
            group[j] = c
        k += 1
    next_free[first] = k


@njit(nogil=True, cache=True)
def contained_groups(features, feat_offsets, n_words, max_steps, group):  # pragma: no cover - jitted
    """group[i] = the longest line (first of equals) of which line i is a run of consecutive words, itself
    included, so a duplicate or a phrase of a sentence goes with that sentence. Lines are visited longest
    first; a line not yet placed places its duplicates (equal hashes), then hashes its runs as long as a
    shorter line, each looked up among the lines' hashes (a bit table of them first: most runs are no line,
    and the table answers that from cache). Past `max_steps` runs hashed, a line whose runs would pass it
    places only its duplicates; returns whether none did."""
    n = len(feat_offsets) - 1
    lengths = np.zeros(n, dtype=np.int64)
    hashes = np.empty(n, dtype=np.uint64)
    longest_line = 0
    for i in range(n):
        longest_line = max(longest_line, feat_offsets[i + 1] - feat_offsets[i])
    words = np.empty(max(longest_line, 1), dtype=np.int64)
    for i in range(n):
        k = _line_words(features, feat_offsets[i], feat_offsets[i + 1], n_words, words)
        h = np.uint64(0)
        for p in range(k):
            h = h * SPAN_HASH_MULTIPLIER + np.uint64(words[p] + 1)
        lengths[i], hashes[i] = k, h
    bits = 10
    while bits < 30 and (1 << bits) < 16 * n:  # about 1 run in 16 passes the table by chance
        bits += 1
    shift = 64 - bits
    table = np.zeros((1 << bits) // 64, dtype=np.uint64)
    for i in range(n):
        slot = _filter_slot(hashes[i], shift)
        table[slot >> np.uint64(6)] |= np.uint64(1) << (slot & np.uint64(63))
    by_hash = np.argsort(hashes, kind="mergesort")
    sorted_hashes = hashes[by_hash]
    next_free = np.arange(n)  # per run of equal hashes (at its first index): where its unplaced lines begin
    by_length = np.argsort(-lengths, kind="mergesort")
    distinct = np.unique(lengths)
    group[:] = -1
    steps = 0
    finished = True
    for c in by_length:
        if group[c] >= 0:
            continue
        group[c] = c
        length = lengths[c]
        if length == 0:
            continue  # no words: it contains nothing, and equal empty lines are no evidence of a duplicate
        _line_words(features, feat_offsets[c], feat_offsets[c + 1], n_words, words)
        below = np.searchsorted(distinct, length) - 1
        longest = distinct[below] if below >= 0 else 0  # the longest run worth looking up: a shorter line's
        cost = longest * (length + 1) - longest * (longest + 1) // 2
        runs = steps + cost <= max_steps
        if runs:
            steps += cost
        else:
            finished = False
        # its duplicates, then (within the budget) the lines inside it
        _place(hashes[c], c, sorted_hashes, by_hash, next_free, lengths, group)
        if not runs:
            continue
        for a in range(length):
            h = np.uint64(0)
            for b in range(a, min(length, a + longest)):
                h = h * SPAN_HASH_MULTIPLIER + np.uint64(words[b] + 1)
                if _may_be_a_line(h, shift, table):  # the call, with its array arguments, only then
                    _place(h, c, sorted_hashes, by_hash, next_free, lengths, group)
    return finished
