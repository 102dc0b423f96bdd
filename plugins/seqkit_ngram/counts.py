"""Counting n-grams with KenLM lmplz's adjusted counts, in chunks that can be spilled to disk and merged.

Counting follows lmplz. Each sentence is `<s> w1 ... wk </s>`; at every token the window of the N words
ending there is counted, except that near the start of a sentence the window is cut to begin at `<s>`
(lmplz pads with N-1 `<s>` and collapses them). These "full windows" (sorted word tuples with their
counts) are all that depends on the corpus: a chunk of sentences gives one sorted table per order, tables
of several chunks are summed by merging, and when they outgrow the memory budget they are written to
temporary `.npy` files and k-way merged at the end. Memory therefore grows with the number of distinct
n-grams, not with the corpus.

Everything else is derived from the merged full windows (`build_orders`): the N-grams are the full
windows of length N; the (n-1)-grams are the suffixes of the n-grams plus the full windows of length n-1
(which begin with `<s>`). A `<s>`-initial n-gram keeps its raw count (nothing can precede `<s>`); every
other lower-order n-gram gets the Kneser-Ney continuation count, the number of distinct words preceding
it. Raw occurrence counts (for Witten-Bell, add-k and `--prune`) are carried down the same way.

Tuples are sorted lexicographically by word id. Packing as many words as fit into one int64 (and ranking
that key when the next word would not fit) turns each sort into NumPy's fast integer argsort.

The module is longer than 400 lines because counting, merging its spilled runs and deriving the orders
all rest on the tuple sorting above and are best read together.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field

import numpy as np

BOS, EOS, UNK = "<s>", "</s>", "<unk>"
BOS_ID = 1
KEY_BITS = 62
MERGE_OVERHEAD = 5  # peak memory of merging tables / the tables' own size


@dataclass
class Order:
    """The n-grams of one order: `words[:, j]` is the j-th word id, rows sorted lexicographically."""

    words: np.ndarray        # int32[count, n]
    prefix: np.ndarray       # int64[count]: row of the first n-1 words at order n-1 (-1 for unigrams)
    suffix: np.ndarray       # int64[count]: row of the last n-1 words at order n-1 (-1 for unigrams)
    count: np.ndarray        # int64[count]: adjusted count (raw at the top order and for <s>-initial n-grams)
    raw: np.ndarray          # int64[count]: raw occurrences (Witten-Bell, add-k, --prune thresholds)
    bos: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # starts with <s>

    def __len__(self) -> int:
        return len(self.count)


@dataclass
class Counts:
    vocab: list[str]         # id -> word; ids 0, 1, 2 are <unk>, <s>, </s>
    orders: list[Order]
    tokens: int
    sentences: int


Table = tuple[np.ndarray, np.ndarray]  # (int32[k, n] sorted unique word tuples, int64[k] counts)


# --- sorting word tuples ------------------------------------------------------------------------

def _bits(values: int) -> int:
    return max(1, int(values - 1).bit_length())


def _lex_key(words: np.ndarray, radix: int) -> np.ndarray:
    """An int64 per row that sorts like the row's word tuple (rows are ranked when they do not fit)."""
    bits = _bits(radix)
    key = words[:, 0].astype(np.int64)
    width = bits
    for c in range(1, words.shape[1]):
        if width + bits > KEY_BITS:
            order = np.argsort(key, kind="stable")  # never slower; fast on concatenated sorted runs
            sorted_key = key[order]
            new = np.empty(len(key), dtype=bool)
            new[:1] = True
            np.not_equal(sorted_key[1:], sorted_key[:-1], out=new[1:])
            ranks = np.cumsum(new) - 1
            key = np.empty(len(key), dtype=np.int64)
            key[order] = ranks
            width = _bits(int(ranks[-1]) + 1 if len(ranks) else 1)
        key <<= bits
        key |= words[:, c]
        width += bits
    return key


def _fits(n: int, radix: int) -> bool:
    return n * _bits(radix) <= KEY_BITS


def _pack(words: np.ndarray, radix: int) -> np.ndarray:
    """The n words of each row in one int64 (only when `_fits`): sorts like the tuples and unpacks."""
    bits = _bits(radix)
    key = words[:, 0].astype(np.int64)
    for c in range(1, words.shape[1]):
        key <<= bits
        key |= words[:, c]
    return key


def _unpack(keys: np.ndarray, n: int, radix: int) -> np.ndarray:
    bits = _bits(radix)
    words = np.empty((len(keys), n), dtype=np.int32)
    mask = (1 << bits) - 1
    for c in range(n):
        words[:, c] = (keys >> (bits * (n - 1 - c))) & mask
    return words


def _sorted_groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(argsort of key, start of each run of equal keys in sorted order, 'first of its run' flags)."""
    order = np.argsort(key, kind="stable")  # never slower; fast on concatenated sorted runs
    sorted_key = key[order]
    new = np.empty(len(key), dtype=bool)
    new[:1] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=new[1:])
    return order, np.flatnonzero(new), new


def unique_rows(words: np.ndarray, counts: np.ndarray | None, radix: int, *, inverse: bool = False):
    """Sorted distinct rows of `words` with summed `counts` (1 each if None), and optionally each input
    row's position among them."""
    n = words.shape[1]
    if len(words) == 0:
        empty = (np.zeros((0, n), dtype=np.int32), np.zeros(0, dtype=np.int64))
        return (*empty, np.zeros(0, dtype=np.int64)) if inverse else empty
    packed = _fits(n, radix)
    key = _pack(words, radix) if packed else _lex_key(words, radix)
    order, starts, new = _sorted_groups(key)
    rows = _unpack(key[order[starts]], n, radix) if packed else words[order[starts]]
    if counts is None:
        summed = np.diff(np.append(starts, len(key))).astype(np.int64)
    else:
        summed = np.add.reduceat(counts[order].astype(np.int64), starts)
    if not inverse:
        return rows, summed
    inv = np.empty(len(key), dtype=np.int64)
    inv[order] = np.cumsum(new) - 1
    return rows, summed, inv


# --- counting one chunk ---------------------------------------------------------------------------

def window_tables(ids: np.ndarray, lengths: np.ndarray, order: int, radix: int) -> list[Table]:
    """lmplz's full windows of a chunk: table n-1 holds the counted n-grams of natural order n (for n < N
    the windows that begin with <s>; order N every window of N words)."""
    n_sent = len(lengths)
    stream = np.empty(len(ids) + n_sent, dtype=np.int32)  # <s> before every sentence
    starts = np.cumsum(lengths + 1) - (lengths + 1)
    is_bos = np.zeros(len(stream), dtype=bool)
    is_bos[starts] = True
    stream[is_bos] = BOS_ID
    stream[~is_bos] = ids
    within = np.arange(len(stream)) - np.repeat(starts, lengths + 1) - 1  # index of the token in its sentence
    tables: list[Table] = []
    for n in range(1, order + 1):
        if n == order:
            pos = np.flatnonzero(within >= n - 2) if n > 1 else np.flatnonzero(within >= 0)
        else:
            pos = np.flatnonzero(within == n - 2) if n > 1 else np.zeros(0, dtype=np.int64)
        words = np.empty((len(pos), n), dtype=np.int32)
        for j in range(n):
            words[:, j] = stream[pos - (n - 1 - j)]
        tables.append(unique_rows(words, None, radix))
    return tables


def merge_tables(parts: list[Table], n: int, radix: int) -> Table:
    """Several sorted tables of order n summed into one."""
    parts = [p for p in parts if len(p[1])]
    if not parts:
        return np.zeros((0, n), dtype=np.int32), np.zeros(0, dtype=np.int64)
    if len(parts) == 1:
        return parts[0]
    return unique_rows(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), radix)


def table_bytes(tables: list[Table]) -> int:
    return sum(w.nbytes + c.nbytes for w, c in tables)


# --- chunked counting with spills -----------------------------------------------------------------

class NgramCounter:
    """Sums the full-window tables of successive chunks within a memory budget.

    Tables stay in memory while they fit in `memory` bytes; past that they are merged and written as one
    sorted run of `.npy` files under a private temporary directory, and `finish()` k-way merges the runs.
    Use it as a context manager: the directory is removed on success, error or Ctrl-C alike.
    """

    def __init__(self, order: int, memory: int, temp_dir: str | None = None):
        self.order, self.memory, self.temp_dir = order, max(int(memory), 1), temp_dir
        self.pending: list[list[Table]] = []
        self.runs: list[str] = []
        self.directory: str | None = None
        self.tokens = 0
        self.sentences = 0

    def __enter__(self) -> "NgramCounter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None

    @property
    def spills(self) -> int:
        return len(self.runs)

    def held_bytes(self) -> int:
        """How many bytes of tables may wait in memory before they are merged. Merging copies them
        again with sort keys, the argsort and the summed result (about MERGE_OVERHEAD times their
        size, measured), so this share of the budget keeps the merge itself within it."""
        return max(1, self.memory // MERGE_OVERHEAD)

    def chunk_tokens(self) -> int:
        """Tokens per chunk so that counting one chunk (~100 bytes a token) stays within the budget."""
        return max(256, self.held_bytes() // (8 * self.order + 96))

    def add(self, ids: np.ndarray, lengths: np.ndarray, radix: int) -> None:
        """Count one chunk of sentences (ids with </s>, lengths including </s>)."""
        if len(lengths) == 0:
            return
        self.tokens += len(ids)
        self.sentences += len(lengths)
        self.pending.append(window_tables(ids, lengths, self.order, radix))
        if sum(table_bytes(t) for t in self.pending) > self.held_bytes():
            merged = self._merge_pending(radix)
            if table_bytes(merged) > self.held_bytes() // 2:
                self._spill(merged)
            else:
                self.pending = [merged]

    def finish(self, radix: int) -> list[Table]:
        """The summed tables of everything added."""
        merged = self._merge_pending(radix)
        if not self.runs:
            return merged
        self._spill(merged)
        return [self._merge_runs(n, radix) for n in range(1, self.order + 1)]

    def _merge_pending(self, radix: int) -> list[Table]:
        merged = [merge_tables([t[n - 1] for t in self.pending], n, radix) for n in range(1, self.order + 1)]
        self.pending = []
        return merged

    def _spill(self, tables: list[Table]) -> None:
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="seqkit-ngram-", dir=self.temp_dir)
        run = os.path.join(self.directory, f"run{len(self.runs)}")
        for n, (words, counts) in enumerate(tables, 1):
            np.save(f"{run}-{n}-words.npy", np.ascontiguousarray(words.reshape(len(counts), n).T))
            np.save(f"{run}-{n}-counts.npy", counts)
        self.runs.append(run)

    def finish_blocks(self, radix: int):
        """`finish` with the top order as an iterator of sorted blocks (the lower orders, only the windows
        that begin with <s>, are small): so the caller can write it to disk without holding it."""
        merged = self._merge_pending(radix)
        if not self.runs:
            return merged[:-1], iter([merged[-1]] if len(merged[-1][1]) else [])
        self._spill(merged)
        lower = [self._merge_runs(n, radix) for n in range(1, self.order)]
        return lower, self._merged_blocks(self.order, radix)

    def _merge_runs(self, n: int, radix: int) -> Table:
        """k-way merge of the sorted runs of order n, a range of first words at a time."""
        blocks = list(self._merged_blocks(n, radix))
        if not blocks:
            return np.zeros((0, n), dtype=np.int32), np.zeros(0, dtype=np.int64)
        return np.concatenate([w for w, _ in blocks]), np.concatenate([c for _, c in blocks])

    def _merged_blocks(self, n: int, radix: int):
        runs = [(np.load(f"{r}-{n}-words.npy", mmap_mode="r"), np.load(f"{r}-{n}-counts.npy", mmap_mode="r"))
                for r in self.runs]
        runs = [(w, c) for w, c in runs if len(c)]
        if not runs:
            return
        block_rows = max(64, self.memory // (2 * MERGE_OVERHEAD * (4 * n + 8)))
        pos = [0] * len(runs)
        start_word = 0
        while any(p < len(c) for p, (_, c) in zip(pos, runs)):
            end_word = _block_end(runs, pos, start_word, radix, block_rows)
            parts = []
            for i, (w, c) in enumerate(runs):
                stop = _rows_before(w[0], end_word)
                if stop > pos[i]:
                    parts.append((np.ascontiguousarray(w[:, pos[i]:stop].T), np.asarray(c[pos[i]:stop])))
                pos[i] = stop
            merged = merge_tables(parts, n, radix)
            del parts
            for w, c in runs:  # what was read stays cached by the kernel, not counted as this process's memory
                _release(w)
                _release(c)
            yield merged
            start_word = end_word


def _release(array: np.ndarray) -> None:
    """Drop the resident pages of a memory-mapped array (they are re-read from the page cache if needed)."""
    import mmap

    handle = getattr(array, "_mmap", None)
    if handle is not None and hasattr(mmap, "MADV_DONTNEED"):
        handle.madvise(mmap.MADV_DONTNEED)


def _rows_before(firsts: np.ndarray, word: int) -> int:
    """Rows of a run whose first word is below `word`. The word is cast to the column's type: given a
    Python int, np.searchsorted converts the whole int32 column to int64 first (a copy per search)."""
    return int(np.searchsorted(firsts, firsts.dtype.type(word)))


def _block_end(runs, pos, start_word: int, radix: int, block_rows: int) -> int:
    """The largest first word id `end` (> start) whose rows [start, end) across runs fit in a block."""

    def rows_below(end: int) -> int:
        return sum(_rows_before(w[0], end) - p for p, (w, _) in zip(pos, runs))

    lo, hi = start_word + 1, radix + 1
    if rows_below(lo) >= block_rows:
        return lo  # one first word alone fills the block: take it whole
    while lo < hi:  # rows_below(lo) < block_rows; find the largest end with rows_below(end) <= block_rows
        mid = (lo + hi + 1) // 2
        if rows_below(mid) <= block_rows:
            lo = mid
        else:
            hi = mid - 1
    return lo


# --- from full windows to every order --------------------------------------------------------------

def build_orders(tables: list[Table], order: int, vocab_size: int) -> list[Order]:
    """Every order's n-grams with adjusted and raw counts, prefix and suffix rows (see module doc)."""
    V = vocab_size
    words, counts = tables[order - 1]
    words = words.reshape(len(counts), order)
    upper = Order(words, np.zeros(0, np.int64), np.zeros(0, np.int64), counts.astype(np.int64),
                  counts.astype(np.int64), bos=words[:, 0] == BOS_ID)
    orders: list[Order] = [upper]
    for n in range(order - 1, 0, -1):
        orders.insert(0, _lower_order(orders[0], tables[n - 1], n, V))
    if order == 1:
        orders = [_unigrams_from_windows(tables[0], V)]
    orders[0].prefix = np.full(len(orders[0]), -1, dtype=np.int64)
    orders[0].suffix = np.full(len(orders[0]), -1, dtype=np.int64)
    return orders


def _lower_order(upper: Order, bos_table: Table, n: int, V: int) -> Order:
    """Order n from the n+1-grams: their suffixes plus the <s> windows; sets the n+1-grams' suffix and
    prefix rows (every prefix is among those n-grams)."""
    if n == 1:
        return _unigrams(upper, bos_table, V)
    k = len(upper)
    bos_words, bos_counts = bos_table
    bos_words = bos_words.reshape(len(bos_counts), n)
    if _fits(n, V):
        # one sort of the suffixes; the prefixes come sorted (the n+1-grams are), so a merge finds them
        keys = np.concatenate([_pack(upper.words[:, 1:], V), _pack(bos_words, V)])
        order, starts, new = _sorted_groups(keys)
        unique_keys = keys[order[starts]]
        words = _unpack(unique_keys, n, V)
        inv = np.empty(len(keys), dtype=np.int64)
        inv[order] = np.cumsum(new) - 1
        prefix_keys = _pack(upper.words[:, :-1], V)
        upper.prefix = np.minimum(np.searchsorted(unique_keys, prefix_keys), len(unique_keys) - 1)
        if (unique_keys[upper.prefix] != prefix_keys).any():  # pragma: no cover - invariant of the windows
            raise AssertionError(f"order {n}: an n-gram's prefix is not among the suffixes or <s> windows")
    else:
        candidates = np.concatenate([upper.words[:, 1:], bos_words, upper.words[:, :-1]])
        words, _, inv = unique_rows(candidates, None, V, inverse=True)
        upper.prefix = inv[k + len(bos_counts):]
    size = len(words)
    upper.suffix = inv[:k]
    bos_rows = inv[k:k + len(bos_counts)]
    continuation = np.bincount(upper.suffix, minlength=size).astype(np.int64)
    from_bos = np.zeros(size, dtype=np.int64)
    from_bos[bos_rows] = bos_counts
    raw = np.bincount(upper.suffix, weights=upper.raw, minlength=size).astype(np.int64) + from_bos
    count = np.where(from_bos > 0, from_bos, continuation)
    if (count == 0).any() or (upper.prefix >= size).any():  # pragma: no cover - invariant of the windows
        raise AssertionError(f"order {n}: an n-gram's prefix is not among the suffixes or <s> windows")
    return Order(words, np.zeros(0, np.int64), np.zeros(0, np.int64), count, raw, bos=words[:, 0] == BOS_ID)


def _unigrams(upper: Order, bos_table: Table, V: int) -> Order:
    """Unigrams from the bigrams (ids index directly); <unk>, <s>, </s> are always listed."""
    continuation = np.bincount(upper.words[:, 1], minlength=V).astype(np.int64)
    raw = np.bincount(upper.words[:, 1], weights=upper.raw, minlength=V).astype(np.int64)
    present = continuation > 0
    present[upper.words[:, 0]] = True
    present[:3] = True
    ids = np.flatnonzero(present)
    row_of = np.full(V, -1, dtype=np.int64)
    row_of[ids] = np.arange(len(ids))
    upper.suffix = row_of[upper.words[:, 1]]
    upper.prefix = row_of[upper.words[:, 0]]
    words = ids.astype(np.int32)[:, None]
    return Order(words, np.zeros(0), np.zeros(0), continuation[ids], raw[ids], bos=ids == BOS_ID)


def _unigrams_from_windows(table: Table, V: int) -> Order:
    """A unigram model: the windows are the tokens themselves."""
    words, counts = table
    c = np.zeros(V, dtype=np.int64)
    c[words.reshape(-1)] = counts
    present = c > 0
    present[:3] = True
    ids = np.flatnonzero(present)
    return Order(ids.astype(np.int32)[:, None], np.zeros(0), np.zeros(0), c[ids], c[ids].copy(), bos=ids == BOS_ID)


# --- the in-memory entry point (small corpora, tests) ------------------------------------------------------------

def count_ngrams(ids: np.ndarray, lengths: np.ndarray, order: int, vocab: list[str]) -> Counts:
    """All orders' n-grams with lmplz's counts, from token ids (with </s>) and sentence lengths."""
    tables = window_tables(ids, np.asarray(lengths, dtype=np.int64), order, len(vocab))
    return Counts(vocab=vocab, orders=build_orders(tables, order, len(vocab)), tokens=len(ids),
                  sentences=len(lengths))
