"""seqkit's fast vector format (`.skv`): one file that is memory-mapped, so loading takes milliseconds.

Layout (all integers and floats little-endian; every section starts on a 64-byte boundary so
`np.frombuffer` over the mapping needs no copy):

    header    128 bytes: magic b"\\x89SKV\\r\\n\\x1a\\n", then uint32 version, uint32 value type
              (1 float32, 2 float16), then uint64 rows, dim, duplicates, norms offset, matrix offset,
              word-offsets offset, words offset, words length, file size; zero padding
    norms     rows float32: the length of each row (queries divide by it instead of normalising the matrix)
    matrix    rows x dim values of the value type, row-major
    offsets   rows + 1 int64: where each word starts in the word list (the last is its length)
    words     UTF-8, each word followed by b"\\n" (so a word cannot contain a newline)

The magic's non-text bytes (as PNG's) tell it from any text format and reveal a text-mode copy. The
header and every section's size are checked against the file before it is mapped, and the word list
is checked whole (boundaries, newlines, UTF-8), so a damaged file is one error naming it.
"""

from __future__ import annotations

import mmap
import os
import struct
from typing import BinaryIO, Sequence

import numpy as np

from seqkit.errors import DataError

MAGIC = b"\x89SKV\r\n\x1a\n"
VERSION = 1
SUFFIX = ".skv"
HEADER_SIZE = 128
ALIGN = 64
_FIELDS = struct.Struct("<8sII9Q")  # magic, version, value type, then the nine uint64 fields above
DTYPES = {1: np.dtype("<f4"), 2: np.dtype("<f2")}
DTYPE_CODES = {"float32": 1, "float16": 2}
# Refuse headers claiming more than this many values (as the text reader does) before mapping anything.
MAX_VALUES = 1 << 32


class WordTable:
    """The word list of a mapped file: looked up by a substring search, so no dict of every word is built."""

    def __init__(self, blob: bytes, offsets: np.ndarray):
        self._padded = b"\n" + blob  # "\nword\n" then matches whole words only, the first row first
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def word(self, row: int) -> str:
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        return self._padded[start + 1:end].decode("utf-8")

    def find(self, word: str) -> int | None:
        """The first row holding `word`, or None."""
        try:
            key = b"\n" + word.encode("utf-8") + b"\n"
        except UnicodeEncodeError:  # a lone surrogate (undecodable argv) cannot be in a UTF-8 list
            return None
        pos = self._padded.find(key)
        return None if pos < 0 else int(np.searchsorted(self._offsets, pos))

    def all(self) -> list[str]:
        return self._padded[1:].decode("utf-8").split("\n")[:-1]


class Stored:
    """What a fast file holds: read-only arrays over the mapping plus the word table."""

    def __init__(self, words: WordTable, matrix: np.ndarray, norms: np.ndarray, duplicates: int):
        self.words, self.matrix, self.norms, self.duplicates = words, matrix, norms, duplicates


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def layout(rows: int, dim: int, itemsize: int, words_len: int) -> tuple[int, int, int, int, int]:
    """Offsets of norms, matrix, word offsets and words, and the file size, for these sizes."""
    norms = HEADER_SIZE
    matrix = _aligned(norms + 4 * rows)
    offsets = _aligned(matrix + itemsize * rows * dim)
    words = _aligned(offsets + 8 * (rows + 1))
    return norms, matrix, offsets, words, words + words_len


def write(out: BinaryIO, words: Sequence[str], matrix: np.ndarray, *, dtype: str = "float32",
          duplicates: int = 0, path: str = "") -> None:
    """Write words and matrix in the fast format to an open binary stream."""
    if dtype not in DTYPE_CODES:
        raise ValueError(f"dtype must be one of {tuple(DTYPE_CODES)}, not {dtype!r}")
    rows, dim = matrix.shape
    if rows == 0:
        raise DataError("no vectors to write", path)
    encoded = [w.encode("utf-8") for w in words]
    for i, word in enumerate(encoded):
        if b"\n" in word:
            raise DataError(f"word {i + 1:,} ({word[:40]!r}) contains a newline, which the fast format "
                            "uses to separate words", path)
    blob = b"\n".join(encoded) + b"\n"
    code = DTYPE_CODES[dtype]
    values = np.ascontiguousarray(matrix, dtype=DTYPES[code])
    norms = np.linalg.norm(values.astype(np.float32), axis=1).astype("<f4")  # of the values stored
    starts = np.zeros(rows + 1, dtype="<i8")
    np.cumsum([len(w) + 1 for w in encoded], out=starts[1:])
    norms_at, matrix_at, offsets_at, words_at, size = layout(rows, dim, values.itemsize, len(blob))
    header = _FIELDS.pack(MAGIC, VERSION, code, rows, dim, duplicates, norms_at, matrix_at, offsets_at,
                          words_at, len(blob), size)
    position = 0
    for at, data in ((0, header), (norms_at, norms), (matrix_at, values), (offsets_at, starts), (words_at, blob)):
        out.write(b"\0" * (at - position))
        view = memoryview(data).cast("B")
        out.write(view)
        position = at + len(view)


def is_fast(head: bytes) -> bool:
    return head.startswith(MAGIC)


def map_file(path: str) -> Stored:
    """Check the header against the file's size, then map it (nothing is read but the word list)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        header = handle.read(HEADER_SIZE)
        fields = _check_header(header, size, path)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    return _open(mapped, fields, path)


def from_bytes(data: bytes, path: str) -> Stored:
    """The same from bytes already read (stdin, or a compressed fast file)."""
    return _open(data, _check_header(data[:HEADER_SIZE], len(data), path), path)


def _check_header(header: bytes, size: int, path: str) -> tuple[int, ...]:
    if size == 0:
        raise DataError("empty vector file", path)
    if not header.startswith(MAGIC[:len(header)]):
        raise DataError(f"not a seqkit vector file: it starts with {header[:8]!r}, not {MAGIC!r}", path)
    if len(header) < HEADER_SIZE:
        raise DataError(f"truncated: {size:,} bytes cannot hold the {HEADER_SIZE}-byte header of a seqkit "
                        "vector file", path)
    magic, version, code, rows, dim, duplicates, norms_at, matrix_at, offsets_at, words_at, words_len, total = \
        _FIELDS.unpack_from(header)
    if version != VERSION:
        raise DataError(f"seqkit vector file version {version}; this seqkit reads version {VERSION}", path)
    if code not in DTYPES:
        raise DataError(f"damaged header: unknown value type {code}", path)
    if rows == 0 or dim == 0:
        raise DataError(f"damaged header: {rows:,} vectors of dimension {dim:,}", path)
    if rows * dim > MAX_VALUES:
        raise DataError(f"header claims {rows:,} x {dim:,} values, more than seqkit will map", path)
    expected = layout(rows, dim, DTYPES[code].itemsize, words_len)
    if (norms_at, matrix_at, offsets_at, words_at, total) != expected:
        raise DataError(f"damaged header: its section offsets do not fit {rows:,} vectors of dimension {dim:,}",
                        path)
    if total != size:
        raise DataError(f"truncated or damaged: the header describes {total:,} bytes but the file has {size:,}",
                        path)
    return code, rows, dim, duplicates, norms_at, matrix_at, offsets_at, words_at, words_len


def _open(buffer, fields: tuple[int, ...], path: str) -> Stored:
    code, rows, dim, duplicates, norms_at, matrix_at, offsets_at, words_at, words_len = fields
    norms = np.frombuffer(buffer, dtype="<f4", count=rows, offset=norms_at)
    matrix = np.frombuffer(buffer, dtype=DTYPES[code], count=rows * dim, offset=matrix_at).reshape(rows, dim)
    offsets = np.frombuffer(buffer, dtype="<i8", count=rows + 1, offset=offsets_at)
    blob = bytes(buffer[words_at:words_at + words_len])
    # Every word ends at a newline, there are no others, and the list is UTF-8: lookups rely on all three.
    if offsets[0] != 0 or offsets[-1] != words_len or not np.all(np.diff(offsets) >= 1):
        raise DataError("damaged word list: its offsets are not increasing from 0 to its length", path)
    ends = np.frombuffer(blob, dtype=np.uint8)[offsets[1:] - 1]
    if not np.all(ends == 10) or blob.count(b"\n") != rows:
        raise DataError("damaged word list: words and their offsets disagree", path)
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"damaged word list: invalid UTF-8 at byte {exc.start:,} of the list", path) from None
    if duplicates >= rows:
        raise DataError(f"damaged header: {duplicates:,} duplicate words among {rows:,}", path)
    return Stored(WordTable(blob, offsets), matrix, norms, duplicates)
