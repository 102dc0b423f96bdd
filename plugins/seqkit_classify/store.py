"""Large feature arrays in an anonymous temporary file, mapped shared, so they are not the process's memory.

The training features of a large input (four bytes per feature, two or more features per token) would
sit beside the weights for the whole run. Here they are pages of a file: the kernels read them through
the map as from an array, and `release` hands the pages back after each run of examples, so they stay in
the page cache (which the kernel can reclaim and which is not part of the process's resident memory) and
are mapped again, without a copy, when next read. The file has no name and vanishes with the process.
"""

from __future__ import annotations

import mmap
import os
import tempfile

import numpy as np

from seqkit.errors import SeqkitError

SPILL_BYTES = 16 << 20  # smaller feature arrays stay in memory (a file would save little)
RUN_BYTES = 4 << 20     # bytes a training run maps between releases, about
FAULT_AROUND = 64 << 10  # what Linux maps on one read fault of a cached file page (its fault_around_bytes)


class FeatureStore:
    """`count` numbers of `dtype` in an anonymous file; `array` is their mapped view."""

    def __init__(self, count: int, dtype, directory: str | None = None):
        dtype = np.dtype(dtype)
        nbytes = max(count * dtype.itemsize, 1)
        where = directory or tempfile.gettempdir()
        self._handle = tempfile.TemporaryFile(dir=directory)
        try:
            os.posix_fallocate(self._handle.fileno(), 0, nbytes)  # a full disk is an error now, not a SIGBUS later
            self._map = mmap.mmap(self._handle.fileno(), nbytes)
        except OSError as exc:
            self._handle.close()
            raise SeqkitError(f"cannot hold the training features in a temporary file in {where}: "
                              f"{exc.strerror or exc}; set TMPDIR to a disk with {nbytes / 2**20:,.0f} MiB free"
                              ) from None
        self._map.madvise(mmap.MADV_RANDOM)  # examples are read in shuffled order: no read-ahead from disk
        self.array = np.frombuffer(self._map, dtype=dtype, count=count)

    def release(self) -> None:
        """Unmap the pages read or written so far (their contents stay in the file and the page cache)."""
        self._map.madvise(mmap.MADV_DONTNEED)


def wants_store(count: int, dtype) -> bool:
    return count * np.dtype(dtype).itemsize > SPILL_BYTES


def example_runs(order: np.ndarray, feat_offsets: np.ndarray, itemsize: int) -> list[tuple[int, int]]:
    """[start, end) ranges of `order` each mapping about RUN_BYTES: an example's features and the
    FAULT_AROUND bytes its first read maps (examples come in shuffled order, so they rarely share pages)."""
    cost = (feat_offsets[order + 1] - feat_offsets[order]) * itemsize + FAULT_AROUND
    ends = np.cumsum(cost)
    cuts = np.searchsorted(ends, np.arange(RUN_BYTES, ends[-1] if len(ends) else 0, RUN_BYTES), side="right")
    bounds = np.unique(np.concatenate([[0], cuts, [len(order)]]))
    return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
