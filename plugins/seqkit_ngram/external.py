"""Arrays on disk for the bounded n-gram pipeline: columns read and written a slice at a time, and sorted
runs of word tuples merged from disk.

Columns are plain binary files read with `np.fromfile` at an offset rather than memory-mapped: pages of
a mapping that has been read stay in the process's resident set until the kernel needs them back, so a
mapped pass over a large table would look (and count, for `ru_maxrss`) as if it were held in memory.
"""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np

from seqkit_ngram.counts import MERGE_OVERHEAD, _block_end, _rows_before, merge_tables

MIN_HELD = 1 << 20  # a sorter holds at least this much: tiny budgets would make thousands of runs to merge


class Column:
    """A file of rows of `width` values of `dtype`, appended in order and read back by row range."""

    def __init__(self, path: str, dtype, width: int | None = None):
        self.path, self.dtype, self.width, self.matrix = path, np.dtype(dtype), width or 1, width is not None
        self.rows = 0
        open(path, "wb").close()

    def append(self, values: np.ndarray) -> None:
        values = np.ascontiguousarray(values, dtype=self.dtype)
        with open(self.path, "ab") as out:
            values.tofile(out)
        self.rows += len(values)

    def put(self, start: int, values: np.ndarray, fill=0) -> None:
        """Write `values` at row `start` (>= rows so far), filling the gap with `fill`."""
        if start > self.rows:
            self.append(np.full((start - self.rows, self.width) if self.matrix else start - self.rows, fill,
                                dtype=self.dtype))
        self.append(values)

    def pad_to(self, rows: int, fill=0) -> None:
        if rows > self.rows:
            self.put(rows, np.zeros((0, self.width) if self.matrix else 0, dtype=self.dtype), fill)

    def read(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        hi = self.rows if hi is None else min(hi, self.rows)
        count = max(0, hi - lo)
        if not count:
            return np.zeros((0, self.width) if self.matrix else 0, dtype=self.dtype)
        values = np.fromfile(self.path, dtype=self.dtype, count=count * self.width,
                             offset=lo * self.width * self.dtype.itemsize)
        return values.reshape(count, self.width) if self.matrix else values


class Spool:
    """A private temporary directory holding columns; removed on exit, on error and on Ctrl-C alike."""

    def __init__(self, temp_dir: str | None = None):
        self.directory = tempfile.mkdtemp(prefix="seqkit-ngram-", dir=temp_dir)
        self.made = 0

    def column(self, name: str, dtype, width: int | None = None) -> Column:
        self.made += 1
        return Column(os.path.join(self.directory, f"{self.made}-{name}"), dtype, width)

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class RunSorter:
    """Sorted tables of one order (word tuples with int64 value columns) summed within a memory budget:
    held while they fit, else merged and written as a sorted run; `blocks()` k-way merges the runs."""

    def __init__(self, n: int, values: int, memory: int, spool: Spool, radix: int):
        self.n, self.values, self.spool, self.radix = n, values, spool, radix
        self.memory = max(int(memory), 1)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.runs: list[tuple[Column, Column]] = []

    def held_bytes(self) -> int:
        """Merging copies the held tables with their keys, an argsort and gathered value columns: about
        MERGE_OVERHEAD times their size with one value column, more with three."""
        return max(MIN_HELD, self.memory // (MERGE_OVERHEAD + self.values))

    def add(self, words: np.ndarray, values: np.ndarray) -> None:
        self.pending.append((words, values))
        if sum(w.nbytes + v.nbytes for w, v in self.pending) > self.held_bytes():
            words, values = self._merge_pending()
            if words.nbytes + values.nbytes > self.held_bytes() // 2:
                self._spill(words, values)
            else:
                self.pending = [(words, values)]

    def _merge_pending(self):
        merged = merge_tables(self.pending, self.n, self.radix)
        self.pending = []
        if len(merged[0]) == 0:
            return np.zeros((0, self.n), np.int32), np.zeros((0, self.values), np.int64)
        return merged

    def _spill(self, words: np.ndarray, values: np.ndarray) -> None:
        w = self.spool.column("run-words", np.int32, self.n)
        v = self.spool.column("run-values", np.int64, self.values)
        w.append(words.reshape(-1, self.n))
        v.append(values.reshape(-1, self.values))
        self.runs.append((w, v))

    def _first_words(self, words: Column) -> np.ndarray:
        step = max(1024, self.held_bytes() // (4 * self.n))
        return np.concatenate([words.read(lo, lo + step)[:, 0] for lo in range(0, words.rows, step)] or
                              [np.zeros(0, np.int32)])

    def blocks(self):
        """(words, summed values) in lexicographic order, a range of first words at a time."""
        words, values = self._merge_pending()
        if not self.runs:
            if len(words):
                yield words, values
            return
        if len(words):
            self._spill(words, values)
        # the first word of every row of every run, to cut blocks (4 bytes a row)
        firsts = [self._first_words(w) for w, _ in self.runs]
        runs = [_FirstWords(f) for f in firsts]
        pos = [0] * len(runs)
        block_rows = max(64, self.held_bytes() // (4 * self.n + 8 * self.values))
        start = 0
        while any(p < len(f) for p, f in zip(pos, firsts)):
            end = _block_end(runs, pos, start, self.radix, block_rows)
            parts = []
            for i, ((w, v), f) in enumerate(zip(self.runs, firsts)):
                stop = _rows_before(f, end)
                if stop > pos[i]:
                    parts.append((w.read(pos[i], stop), v.read(pos[i], stop)))
                pos[i] = stop
            merged = merge_tables(parts, self.n, self.radix)
            if len(merged[0]):
                yield merged
            start = end


class _FirstWords(tuple):
    """What `_block_end` reads from a run: (first-word column as row 0 of a 'words' matrix, unused)."""

    def __new__(cls, firsts: np.ndarray):
        return super().__new__(cls, (firsts[None, :], None))
