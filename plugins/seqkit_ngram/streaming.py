"""Building, smoothing and writing an n-gram model within a memory budget (`seqkit ngram -S`), on disk.

The in-memory path (`counts.build_orders`, `estimate.estimate`, `arpa.write_arpa`) holds every order's
arrays at once. This one keeps each order's columns in files (`external.Column`: words, counts, context
and suffix rows, probabilities, back-offs) and passes over them a slice at a time, as KenLM's lmplz does:

1. lower orders, top down (`build_lower`): the suffixes of the n-grams, a slice at a time, summed as
   sorted runs merged from disk (`external.RunSorter`), plus the windows that begin with <s>;
2. rows (`RowIndex`): an n-gram is its context's row times V plus its last word, an int64 that sorts like
   the tuple, so its context's and its suffix's rows are searches in the lower orders' keys
   (`kernels.find_keys` gallops through them in query order; 8 bytes a row: with the (n-1)-grams' suffix
   rows, the only index arrays held);
3. with `--prune`, the rows are written as columns first (`index_orders`) and the closure runs top down
   (`prune_orders`): an order's kept rows mark their context and suffix rows at the order below;
4. probabilities, bottom up (`streamestimate.model_sections`), slices cut between contexts, so every
   context's sums are added in the order the in-memory path adds them and every value is the same
   float64; the order below's probabilities (8 bytes a row) are held for the interpolation, and each
   context's back-off goes to the order below's column, whose ARPA section is then written a slice at a
   time (`arpa.write_arpa_blocks`) while the next order's pass has not begun.

What is held beyond a slice is therefore about 8 bytes per lower-order n-gram (keys) plus 16 per (n-1)-gram
(its suffix rows and probabilities) and its share of the counting's runs: the budget's slices shrink to
leave room for them (`_step`).

The output is the in-memory path's byte for byte (tested with budgets that make every stage spill).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqkit_ngram.counts import Table, unique_rows
from seqkit_ngram.external import Column, RunSorter, Spool

MIN_ROWS = 1024


@dataclass
class DiskOrder:
    """One order's columns, rows sorted lexicographically as in `counts.Order`."""

    n: int
    words: Column            # int32[rows, n]
    count: Column            # int64 adjusted counts
    raw: Column              # int64 raw occurrences
    prefix: Column | None = None   # int64 row of the first n-1 words at order n-1
    suffix: Column | None = None   # int64 row of the last n-1 words at order n-1
    keep: Column | None = None     # bool, when pruning
    logprob: Column | None = None  # float64 log10
    backoff: Column | None = None  # float64 log10 (below the top order)

    @property
    def rows(self) -> int:
        return self.count.rows


def _step(memory: int, held: int, bytes_per_row: int) -> int:
    """Rows per slice so that a slice's arrays fit in what the budget leaves beside the held arrays."""
    return max(MIN_ROWS, max(memory - held, memory // 4) // bytes_per_row)


def top_order(blocks, order: int, spool: Spool) -> DiskOrder:
    """The counted N-grams (sorted blocks of words and counts) written to disk."""
    words = spool.column(f"words{order}", np.int32, order)
    count = spool.column(f"count{order}", np.int64)
    for w, c in blocks:
        words.append(w.reshape(len(c), order))
        count.append(c)
    return DiskOrder(order, words, count, count)


def build_lower(upper: DiskOrder, bos_table: Table, V: int, memory: int, spool: Spool) -> DiskOrder:
    """Order n-1 from the n-grams' suffixes and the <s> windows (as `counts._lower_order`)."""
    n = upper.n - 1
    if n == 1:
        return _unigrams(upper, V, memory, spool)
    sorter = RunSorter(n, 3, memory, spool, V)  # values: continuation, raw sum, count of the <s> window
    step = _step(memory, 0, 8 * (4 * n + 64))
    for lo in range(0, upper.rows, step):
        words = upper.words.read(lo, lo + step)
        values = np.zeros((len(words), 3), dtype=np.int64)
        values[:, 0] = 1
        values[:, 1] = upper.raw.read(lo, lo + step)
        sorter.add(*unique_rows(np.ascontiguousarray(words[:, 1:]), values, V))
    bos_words, bos_counts = bos_table
    if len(bos_counts):
        values = np.zeros((len(bos_counts), 3), dtype=np.int64)
        values[:, 2] = bos_counts
        sorter.add(bos_words.reshape(len(bos_counts), n), values)
    out = DiskOrder(n, spool.column(f"words{n}", np.int32, n), spool.column(f"count{n}", np.int64),
                    spool.column(f"raw{n}", np.int64))
    for words, values in sorter.blocks():
        from_bos = values[:, 2]
        out.words.append(words)
        out.count.append(np.where(from_bos > 0, from_bos, values[:, 0]))
        out.raw.append(values[:, 1] + from_bos)
    return out


def _unigrams(upper: DiskOrder, V: int, memory: int, spool: Spool) -> DiskOrder:
    """Unigrams from the bigrams (as `counts._unigrams`): ids index directly."""
    continuation = np.zeros(V, dtype=np.int64)
    raw = np.zeros(V, dtype=np.float64)
    present = np.zeros(V, dtype=bool)
    step = _step(memory, 0, 64)
    for lo in range(0, upper.rows, step):
        words = upper.words.read(lo, lo + step)
        continuation += np.bincount(words[:, 1], minlength=V)
        raw += np.bincount(words[:, 1], weights=upper.raw.read(lo, lo + step), minlength=V)
        present[words[:, 0]] = True
    present |= continuation > 0
    present[:3] = True
    ids = np.flatnonzero(present)
    out = DiskOrder(1, spool.column("words1", np.int32, 1), spool.column("count1", np.int64),
                    spool.column("raw1", np.int64))
    out.words.append(ids.astype(np.int32)[:, None])
    out.count.append(continuation[ids])
    out.raw.append(raw[ids].astype(np.int64))
    return out


class RowIndex:
    """Finds n-grams' context and suffix rows from their words, order by order bottom up: it holds every
    lower order's keys (context row * V + last word, sorted like the tuples) and the suffix rows of the
    order below the one being indexed."""

    def __init__(self, unigram_ids: np.ndarray, V: int):
        self.V = V
        self.row_of = np.full(V, -1, dtype=np.int64)
        self.row_of[unigram_ids] = np.arange(len(unigram_ids))
        self.keys: list[np.ndarray] = [unigram_ids.astype(np.int64)]  # keys[j - 1]: order j
        self.lower_suffix = np.zeros(0, dtype=np.int64)
        self.own_keys = self.own_suffix = np.zeros(0, dtype=np.int64)

    def held_bytes(self) -> int:
        return sum(k.nbytes for k in self.keys) + self.lower_suffix.nbytes + self.own_keys.nbytes + \
            self.own_suffix.nbytes

    def start(self, rows: int, keep_for_next: bool) -> None:
        """Order n begins (its rows' keys and suffixes are kept when order n+1 will need them)."""
        self.own_keys = np.empty(rows if keep_for_next else 0, dtype=np.int64)
        self.own_suffix = np.empty(rows if keep_for_next else 0, dtype=np.int64)

    def rows(self, words: np.ndarray, lo: int) -> tuple[np.ndarray, np.ndarray]:
        """(context rows, suffix rows) of the n-grams `words` (rows lo.. of their order, sorted)."""
        V, n = self.V, words.shape[1]
        words = words.astype(np.int64)
        prefix = self.row_of[words[:, 0]]
        for j in range(1, n - 1):  # down the chain of contexts; the queries come sorted
            prefix = _find(self.keys[j], prefix * V + words[:, j], sort=False)
        if n == 2:
            suffix = self.row_of[words[:, 1]]
        else:
            suffix = _find(self.keys[n - 2], self.lower_suffix[prefix] * V + words[:, n - 1], sort=True)
        if (prefix < 0).any() or (suffix < 0).any():  # pragma: no cover - invariant of the windows
            raise AssertionError(f"order {n}: an n-gram's context or suffix is not an {n - 1}-gram")
        if len(self.own_keys):
            self.own_keys[lo:lo + len(words)] = prefix * V + words[:, n - 1]
            self.own_suffix[lo:lo + len(words)] = suffix
        return prefix, suffix

    def finish(self) -> None:
        """Order n is done: its keys and suffixes serve order n+1."""
        self.keys.append(self.own_keys)
        self.lower_suffix = self.own_suffix
        self.own_keys = self.own_suffix = np.zeros(0, dtype=np.int64)


def index_orders(orders: list[DiskOrder], V: int, memory: int, spool: Spool) -> None:
    """Every n-gram's context (prefix) and suffix rows at the order below, written as columns (for
    `--prune`, whose closure runs top down before the probabilities)."""
    index = RowIndex(orders[0].words.read()[:, 0], V)
    top = len(orders)
    for o in orders[1:]:
        n = o.n
        o.prefix, o.suffix = spool.column(f"prefix{n}", np.int64), spool.column(f"suffix{n}", np.int64)
        index.start(o.rows, n < top)
        step = _step(memory, index.held_bytes(), 12 * (4 * n + 48))
        for lo in range(0, o.rows, step):
            prefix, suffix = index.rows(o.words.read(lo, lo + step), lo)
            o.prefix.append(prefix)
            o.suffix.append(suffix)
        index.finish()


def _find(keys: np.ndarray, queries: np.ndarray, *, sort: bool) -> np.ndarray:
    """Row of each query among the sorted keys (-1 if absent). `find_keys` walks sorted queries through the
    keys in one pass; unsorted ones (suffixes: ascending runs that each span the keys) are sorted first."""
    from seqkit_ngram.kernels import find_keys

    queries = np.ascontiguousarray(queries, dtype=np.int64)
    found = np.empty(len(queries), dtype=np.int64)
    if not sort:
        find_keys(keys, queries, found)
        return found
    order = np.argsort(queries)
    sorted_found = np.empty(len(queries), dtype=np.int64)
    find_keys(keys, queries[order], sorted_found)
    found[order] = sorted_found
    return found


def prune_orders(orders: list[DiskOrder], thresholds, memory: int, spool: Spool) -> None:
    """`estimate.prune_masks` top down: an order's kept rows are over its threshold or marked by the
    order above (as context or suffix of a kept n-gram); unigrams are all kept."""
    marked = None
    for o in reversed(orders[1:]):
        n = o.n
        o.keep = spool.column(f"keep{n}", np.bool_)
        below = np.zeros(orders[n - 2].rows, dtype=bool)
        held = below.nbytes + (marked.nbytes if marked is not None else 0)
        step = _step(memory, held, 64)
        for lo in range(0, o.rows, step):
            raw = o.raw.read(lo, lo + step)
            keep = raw > thresholds[n - 1] if thresholds[n - 1] else np.ones(len(raw), dtype=bool)
            if marked is not None:
                keep |= marked[lo:lo + len(raw)]
            o.keep.append(keep)
            below[o.prefix.read(lo, lo + step)[keep]] = True
            below[o.suffix.read(lo, lo + step)[keep]] = True
        marked = below
    first = orders[0]
    first.keep = spool.column("keep1", np.bool_)
    first.keep.append(np.ones(first.rows, dtype=bool))


def slices(o: DiskOrder, step: int, index: RowIndex | None):
    """(lo, hi, context rows, suffix rows) of slices of about `step` rows cut between contexts (a
    context's rows are contiguous); the rows come from the columns, or from `index` as the slices go."""
    lo = 0
    while lo < o.rows:
        hi = min(lo + step, o.rows)
        while True:
            if index is None:
                prefix, suffix = o.prefix.read(lo, hi), o.suffix.read(lo, hi)
            else:
                prefix, suffix = index.rows(o.words.read(lo, hi), lo)
            if hi == o.rows:
                cut = hi - lo
                break
            cut = int(np.searchsorted(prefix, prefix[-1]))  # first row of the context that may run past hi
            if cut:
                break
            hi = min(hi + step, o.rows)  # one context larger than the slice: take it whole
        yield lo, lo + cut, prefix[:cut], suffix[:cut]
        lo += cut
