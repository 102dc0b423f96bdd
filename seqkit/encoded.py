"""An encoded corpus: sentences of int32 word ids, in memory or in an anonymous file on disk.

Both forms answer the same questions (`n_sentences`, `n_tokens`, `slice`), so a trainer takes runs of
whole sentences from either without knowing where they live.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO, Iterator, Sequence

import numpy as np

from seqkit.errors import SeqkitError


class Sentences:
    """What both forms share: sentence s holds ids [offsets[s], offsets[s + 1]); `slice` gives a run of
    whole sentences; `close` (or a `with` block) frees what the form holds."""

    offsets: np.ndarray  # int64[n_sentences + 1]

    @property
    def n_sentences(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def slice(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Sentences [first, end) as (int32 ids, offsets starting at 0)."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class EncodedCorpus(Sentences):
    """A corpus as word ids in memory."""

    def __init__(self, ids: np.ndarray, offsets: np.ndarray):
        self.ids = ids          # int32[n_tokens]
        self.offsets = offsets

    def slice(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        return self.ids[self.offsets[first]:self.offsets[end]], self.offsets[first:end + 1] - self.offsets[first]


class DiskCorpus(Sentences):
    """A corpus as word ids in an anonymous temporary file, read a run of sentences at a time.

    Training memory then stays the same whatever the corpus size: only the sentence offsets (8 bytes
    per sentence) are in memory, and reads come from the page cache, which the kernel can reclaim and
    which is not part of the process's resident memory. The file has no name, so it disappears with
    the process however that ends.
    """

    def __init__(self, handle: IO[bytes], offsets: np.ndarray):
        self._handle = handle
        self.offsets = offsets

    def slice(self, first: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Safe to call from several threads (positioned reads)."""
        start, stop = int(self.offsets[first]), int(self.offsets[end])
        data = os.pread(self._handle.fileno(), 4 * (stop - start), 4 * start)
        if len(data) != 4 * (stop - start):
            raise SeqkitError("the temporary encoded corpus file was truncated")
        return np.frombuffer(data, dtype=np.int32), self.offsets[first:end + 1] - self.offsets[first]

    def in_memory(self) -> EncodedCorpus:
        """The whole corpus as an `EncodedCorpus` (closes this one)."""
        ids, offsets = self.slice(0, self.n_sentences)
        self.close()
        return EncodedCorpus(ids.copy(), offsets)

    def close(self) -> None:
        self._handle.close()


class IdFile:
    """An anonymous temporary file for int32 ids; a failed write says which disk is full, and any
    error closes (so deletes) the file."""

    def __init__(self, directory: str | None = None):
        self.directory = directory or tempfile.gettempdir()
        self.handle = tempfile.TemporaryFile(dir=directory)

    def __enter__(self) -> IO[bytes]:
        return self.handle

    def __exit__(self, kind, exc, tb) -> None:
        if kind is None:
            return
        self.handle.close()
        if isinstance(exc, OSError):
            raise SeqkitError(f"cannot write the encoded corpus to a temporary file in {self.directory}: "
                              f"{exc.strerror or exc}; set TMPDIR to a disk with room (4 bytes per token)"
                              ) from None


def sentence_runs(offsets: np.ndarray, run_tokens: int) -> list[tuple[int, int]]:
    """(first, end) sentence ranges covering the corpus in order, each of about `run_tokens` tokens: a run
    ends at the first sentence boundary at or past that many, so no sentence is ever split."""
    runs = []
    start, n = 0, len(offsets) - 1
    while start < n:
        end = int(np.searchsorted(offsets, offsets[start] + run_tokens, side="left"))
        end = min(max(end, start + 1), n)
        runs.append((start, end))
        start = end
    return runs


def iter_runs(corpus: Sentences,
              run_tokens: int = 1 << 20) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The corpus in runs of whole sentences of about `run_tokens` ids: (ids, offsets from 0).

    4 MiB of ids per run by default: large enough for NumPy to run at full speed, small enough that a
    pass over a corpus on disk does not add to the peak memory."""
    for first, end in sentence_runs(corpus.offsets, run_tokens):
        yield corpus.slice(first, end)


def with_end_marks(ids: np.ndarray, offsets: np.ndarray, end_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Sentences with `end_id` (`</s>`) after each: (ids, lengths including the mark)."""
    lengths = np.diff(offsets)
    ends = np.cumsum(lengths + 1) - 1
    out = np.empty(len(ids) + len(lengths), dtype=ids.dtype)
    is_word = np.ones(len(out), dtype=bool)
    is_word[ends] = False
    out[is_word] = ids
    out[ends] = end_id
    return out, lengths + 1


def offsets_from_lengths(lengths: Sequence[int] | np.ndarray) -> np.ndarray:
    """Sentence offsets (int64, starting at 0) from sentence lengths."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return offsets
