"""Numba kernels of `seqkit.reader`: split bytes into whitespace tokens and number them in one pass.

The table is open addressing with linear probing over `slots` (type ids, -1 for empty); a type's bytes
live in `arena` at `starts[t]`, `lengths[t]`. Tokens are FNV-1a hashed as they are scanned, so each
byte is read once for splitting and hashing together.
"""

from __future__ import annotations

import numpy as np
from numba import njit

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)

# state[] fields, shared with seqkit.reader
N_TYPES, ARENA_USED, PIECE_LEN, LINE_SPLIT, LINES, TOKENS, SPLIT_LINES, N_IDS, N_LENGTHS = range(9)
STATE_SIZE = 9


@njit(inline="always")
def _is_space(byte):
    # exactly bytes.split()'s whitespace: \t \n \v \f \r and space
    return byte == 32 or (9 <= byte <= 13)


@njit(nogil=True, cache=True)
def encode_block(data, pos, state, slots, hashes, starts, lengths, counts, arena, ids_out, lengths_out,
                 max_len):  # pragma: no cover - jitted
    """Scan data[pos:] from `pos` (a token boundary): number each token (a new one gets the next id),
    count it, append its id to ids_out, and the length of each finished sentence piece to lengths_out.

    A newline ends a line; a line's tokens are cut into pieces of at most `max_len` (a piece is emitted
    only once a further token or the line's end shows it is complete, so a line of exactly max_len
    tokens is not "split"). The piece in progress survives between calls in `state`.
    Returns where it stopped: len(data) when done, earlier when the type arrays, the slots (kept at
    most half full) or the arena need to grow; the caller grows them and calls again from there.
    ids_out and lengths_out must hold a token per two bytes of data (plus one).
    """
    n = len(data)
    mask = np.uint64(len(slots) - 1)
    n_types = state[N_TYPES]
    used = state[ARENA_USED]
    piece = state[PIECE_LEN]
    n_ids = state[N_IDS]
    n_lengths = state[N_LENGTHS]
    tokens = state[TOKENS]
    i = pos
    while i < n:
        byte = data[i]
        if byte == 10:
            state[LINES] += 1
            if piece > 0:
                lengths_out[n_lengths] = piece
                n_lengths += 1
                piece = 0
            state[LINE_SPLIT] = 0
            i += 1
            continue
        if _is_space(byte):
            i += 1
            continue
        j = i
        h = FNV_OFFSET
        while j < n and not _is_space(data[j]):
            h = (h ^ np.uint64(data[j])) * FNV_PRIME
            j += 1
        size = j - i
        slot = h & mask
        found = -1
        while slots[slot] >= 0:
            t = slots[slot]
            if hashes[t] == h and lengths[t] == size:
                start = starts[t]
                same = True
                for k in range(size):
                    if arena[start + k] != data[i + k]:
                        same = False
                        break
                if same:
                    found = t
                    break
            slot = (slot + np.uint64(1)) & mask
        if found < 0:
            if n_types >= len(hashes) or 2 * (n_types + 1) > len(slots) or used + size > len(arena):
                break  # grow and come back to this token
            found = n_types
            n_types += 1
            slots[slot] = found
            hashes[found] = h
            starts[found] = used
            lengths[found] = size
            counts[found] = 0
            for k in range(size):
                arena[used + k] = data[i + k]
            used += size
        counts[found] += 1
        if piece == max_len:
            lengths_out[n_lengths] = piece
            n_lengths += 1
            piece = 0
            if state[LINE_SPLIT] == 0:
                state[LINE_SPLIT] = 1
                state[SPLIT_LINES] += 1
        ids_out[n_ids] = found
        n_ids += 1
        piece += 1
        tokens += 1
        i = j
    state[N_TYPES] = n_types
    state[ARENA_USED] = used
    state[PIECE_LEN] = piece
    state[N_IDS] = n_ids
    state[N_LENGTHS] = n_lengths
    state[TOKENS] = tokens
    return i


@njit(nogil=True, cache=True)
def rehash(slots, hashes, n_types):  # pragma: no cover - jitted
    """Insert types 0..n_types-1 into the empty (all -1) `slots` by their stored hashes."""
    mask = np.uint64(len(slots) - 1)
    for t in range(n_types):
        slot = hashes[t] & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = t
