"""fastText's `.bin` model file (fastText 0.9: magic 793712314, version 12; version 11 is read as fastText does).

Layout, little-endian, as `FastText::saveModel` writes it:

    int32 magic, int32 version
    args      12 int32 (dim, ws, epoch, minCount, neg, wordNgrams, loss, model, bucket, minn, maxn,
              lrUpdateRate) and a float64 t
    dict      int32 size, nwords, nlabels; int64 ntokens, pruneidx_size (-1: not pruned); then per entry
              the UTF-8 word, a NUL, int64 count, int8 type (0 word, 1 label); then pruneidx_size pairs
              of int32 (n-gram bucket, row)
    input     uint8 quantized flag; int64 rows, int64 cols; rows x cols float32 (rows = nwords + buckets)
    output    uint8 quantized flag; int64 rows, int64 cols; rows x cols float32 (rows = nwords or nlabels)

Reading maps the file and checks every count against the bytes that are left before touching a matrix,
so a damaged file is one `DataError` naming it and the byte where it goes wrong, never a huge allocation.
NumPy only: vector queries on a `.bin` do not import numba.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Sequence

import numpy as np

from seqkit.errors import DataError, SeqkitError

MAGIC = 793712314
VERSION = 12
READABLE_VERSIONS = (11, 12)
EOS = "</s>"
LOSSES = {1: "hs", 2: "ns", 3: "softmax", 4: "ova"}
MODELS = {1: "cbow", 2: "sg", 3: "sup"}
_ARGS = struct.Struct("<12id")
_DICT = struct.Struct("<3i2q")
_ENTRY_TAIL = struct.Struct("<qb")
_MATRIX = struct.Struct("<qq")
_MAX_DIM = 1 << 20  # no real model has wider vectors; a larger header value is damage


@dataclass
class FastTextArgs:
    """The training settings stored in a `.bin` (fastText's `Args::save` order)."""

    dim: int = 100
    ws: int = 5
    epoch: int = 5
    min_count: int = 5
    neg: int = 5
    word_ngrams: int = 1
    loss: str = "ns"
    model: str = "sg"
    bucket: int = 2000000
    minn: int = 3
    maxn: int = 6
    lr_update_rate: int = 100
    t: float = 1e-4


@dataclass
class FastTextModel:
    """A fastText model's parts; `words` holds the words, then the labels (fastText's entry order)."""

    args: FastTextArgs
    words: list[str]
    counts: np.ndarray               # int64 per entry
    nwords: int
    input_matrix: np.ndarray         # (nwords + buckets) x dim float32 (memory-mapped when read)
    output_matrix: np.ndarray        # (nwords or nlabels) x dim float32
    ntokens: int = 0
    pruneidx: dict[int, int] | None = None   # None: not pruned (every bucket has its row)
    version: int = VERSION
    _index: dict[str, int] | None = field(default=None, repr=False)

    @property
    def nlabels(self) -> int:
        return len(self.words) - self.nwords

    @property
    def labels(self) -> list[str]:
        return self.words[self.nwords:]

    @property
    def supervised(self) -> bool:
        return self.args.model == "sup"

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {}
            for i, word in enumerate(self.words):
                self._index.setdefault(word, i)
        return self._index


def is_fasttext_bin(head: bytes) -> bool:
    """Whether the first bytes carry fastText's magic number (any version)."""
    return len(head) >= 4 and struct.unpack_from("<i", head)[0] == MAGIC


def _head(path: str) -> bytes:
    """The magic, version and settings (b"" when the file cannot be read)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(8 + _ARGS.size)
    except OSError:
        return b""


def _unsupervised(head: bytes) -> bool:
    return len(head) == 8 + _ARGS.size and MODELS.get(_ARGS.unpack_from(head, 8)[7]) in ("cbow", "sg")


def sniff(path: str) -> bool:
    return is_fasttext_bin(_head(path))


def sniff_unsupervised(path: str) -> bool:
    """Whether `path` is a fastText `.bin` whose settings say cbow or skip-gram (read from the header
    alone: a caller choosing a reader need not parse a dictionary of millions of words)."""
    head = _head(path)
    return is_fasttext_bin(head) and _unsupervised(head)


def sniff_classifier(path: str) -> bool:
    """Whether a classifier reader should claim `path`: a fastText `.bin` not marked unsupervised (a
    damaged header is claimed, so that loading it names the damage)."""
    head = _head(path)
    return is_fasttext_bin(head) and not _unsupervised(head)


class _Cursor:
    """Reads fields from a buffer, naming the byte offset in every error."""

    def __init__(self, buffer, path: str):
        self.buffer, self.path, self.pos = buffer, path, 0

    def fail(self, message: str, at: int | None = None) -> DataError:
        return DataError(f"{message} (at byte {self.pos if at is None else at:,}; a damaged fastText .bin?)",
                         self.path)

    @property
    def left(self) -> int:
        return len(self.buffer) - self.pos

    def unpack(self, fmt: struct.Struct, what: str) -> tuple:
        if self.left < fmt.size:
            raise self.fail(f"file ends inside the {what}")
        values = fmt.unpack_from(self.buffer, self.pos)
        self.pos += fmt.size
        return values

    def flag(self, what: str) -> int:
        (value,) = self.unpack(struct.Struct("<B"), what)
        if value > 1:
            raise self.fail(f"the {what} flag is {value}, not 0 or 1", self.pos - 1)
        return value

    def matrix(self, what: str, rows: int, cols: int) -> np.ndarray:
        at = self.pos
        if self.flag(f"{what} matrix's quantization"):
            raise DataError("a quantized fastText model (.ftz) is not supported; use the unquantized .bin "
                            "(fastText's `quantize` keeps it)", self.path)
        m, n = self.unpack(_MATRIX, f"{what} matrix's size")
        if (m, n) != (rows, cols):
            raise self.fail(f"the {what} matrix is {m:,} x {n:,}, but the header implies {rows:,} x {cols:,}", at)
        if m * n * 4 > self.left:
            raise self.fail(f"the {what} matrix needs {m * n * 4:,} bytes, only {self.left:,} are left")
        values = np.frombuffer(self.buffer, dtype="<f4", count=m * n, offset=self.pos).reshape(m, n)
        self.pos += m * n * 4
        return values


def read(path: str) -> FastTextModel:
    """Read a fastText `.bin` (memory-mapped, so the matrices stay on disk until used)."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            buffer = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", path) from None
    return parse(buffer, path)


def parse(buffer, path: str) -> FastTextModel:
    """A model from the bytes of a `.bin` file (any buffer: bytes or a mapping)."""
    cur = _Cursor(buffer, path)
    if len(buffer) < 8:
        raise DataError(f"{len(buffer)} bytes is too short for a fastText model", path)
    magic, version = struct.unpack_from("<ii", buffer)
    if magic != MAGIC:
        raise DataError(f"not a fastText model: magic number {magic}, expected {MAGIC}", path)
    if version not in READABLE_VERSIONS:
        raise DataError(f"fastText format version {version}; only versions 11 and 12 (fastText 0.9) are "
                        f"read", path)
    cur.pos = 8
    args = _read_args(cur, version)
    words, counts, nwords, ntokens, pruneidx = _read_dictionary(cur)
    if pruneidx is not None and cur.left and not cur.buffer[cur.pos]:
        raise cur.fail("a pruned dictionary with a dense input matrix (fastText refuses it too)")
    input_matrix = cur.matrix("input", nwords + args.bucket, args.dim)
    outputs = len(words) - nwords if args.model == "sup" else nwords
    output_matrix = cur.matrix("output", outputs, args.dim)
    if cur.left:
        raise cur.fail(f"{cur.left:,} unexpected bytes after the output matrix")
    return FastTextModel(args, words, counts, nwords, input_matrix, output_matrix, ntokens, pruneidx, version)


def _read_args(cur: _Cursor, version: int) -> FastTextArgs:
    at = cur.pos
    (dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn, lr_update_rate,
     t) = cur.unpack(_ARGS, "settings (args)")
    if loss not in LOSSES or model not in MODELS:
        raise cur.fail(f"unknown loss {loss} or model {model} in the settings", at)
    if not 0 < dim <= _MAX_DIM or bucket < 0 or minn < 0 or maxn < 0 or word_ngrams < 0:
        raise cur.fail(f"impossible settings: dim {dim}, bucket {bucket}, minn {minn}, maxn {maxn}", at)
    if version == 11 and MODELS[model] == "sup":
        maxn = 0  # fastText's rule for old supervised models: they had no character n-grams
    return FastTextArgs(dim, ws, epoch, min_count, neg, word_ngrams, LOSSES[loss], MODELS[model], bucket,
                        minn, maxn, lr_update_rate, t)


def _read_dictionary(cur: _Cursor):
    at = cur.pos
    size, nwords, nlabels, ntokens, prune_size = cur.unpack(_DICT, "dictionary header")
    if size < 0 or nwords < 0 or nlabels < 0 or nwords + nlabels != size:
        raise cur.fail(f"dictionary of {size:,} entries cannot hold {nwords:,} words and {nlabels:,} labels", at)
    if size * (1 + _ENTRY_TAIL.size) > cur.left:  # each entry takes at least a NUL, a count and a type
        raise cur.fail(f"{size:,} dictionary entries cannot fit in the {cur.left:,} bytes left", at)
    if prune_size < -1:
        raise cur.fail(f"pruned n-gram count {prune_size}", at)
    buffer, words, counts = cur.buffer, [], np.empty(size, dtype=np.int64)
    for i in range(size):
        end = buffer.find(b"\0", cur.pos)
        if end < 0:
            raise cur.fail(f"dictionary entry {i + 1:,} of {size:,} has no end")
        start, cur.pos = cur.pos, end + 1
        count, kind = cur.unpack(_ENTRY_TAIL, f"dictionary entry {i + 1:,}")
        if kind != (0 if i < nwords else 1) or count < 0:
            raise cur.fail(f"dictionary entry {i + 1:,} has type {kind} and count {count}; words must come "
                           f"first, then {nlabels:,} labels", start)
        words.append(bytes(buffer[start:end]).decode("utf-8", "surrogateescape"))
        counts[i] = count
    pruneidx = None
    if prune_size >= 0:
        if prune_size * 8 > cur.left:
            raise cur.fail(f"{prune_size:,} pruned n-grams cannot fit in the {cur.left:,} bytes left")
        pairs = np.frombuffer(cur.buffer, dtype="<i4", count=2 * prune_size, offset=cur.pos).reshape(-1, 2)
        cur.pos += prune_size * 8
        pruneidx = {int(a): int(b) for a, b in pairs.tolist()}
        if pruneidx and (min(pruneidx.values()) < 0 or max(pruneidx.values()) >= prune_size):
            raise cur.fail("a pruned n-gram points outside the input matrix")
    return words, counts, nwords, ntokens, pruneidx


def write(out: BinaryIO, model: FastTextModel) -> None:
    """Write `model` as fastText 0.9 writes it (version 12, dense matrices)."""
    a = model.args
    codes = {name: code for code, name in LOSSES.items()}, {name: code for code, name in MODELS.items()}
    out.write(struct.pack("<ii", MAGIC, VERSION))
    out.write(_ARGS.pack(a.dim, a.ws, a.epoch, a.min_count, a.neg, a.word_ngrams, codes[0][a.loss],
                         codes[1][a.model], a.bucket, a.minn, a.maxn, a.lr_update_rate, a.t))
    prune = -1 if model.pruneidx is None else len(model.pruneidx)
    out.write(_DICT.pack(len(model.words), model.nwords, model.nlabels, model.ntokens, prune))
    for i, word in enumerate(model.words):
        data = word.encode("utf-8", "surrogateescape")
        if b"\0" in data:
            raise SeqkitError(f"the word {word!r} holds a NUL byte, which fastText's .bin cannot store")
        out.write(data + b"\0" + _ENTRY_TAIL.pack(int(model.counts[i]), 0 if i < model.nwords else 1))
    for key, row in (model.pruneidx or {}).items():
        out.write(struct.pack("<ii", key, row))
    for matrix in (model.input_matrix, model.output_matrix):
        out.write(b"\0" + _MATRIX.pack(*matrix.shape))
        _write_rows(out, matrix)


def _write_rows(out: BinaryIO, matrix: np.ndarray, block: int = 65536) -> None:
    for lo in range(0, matrix.shape[0], block):  # a block at a time: no second copy of a large matrix
        out.write(np.ascontiguousarray(matrix[lo:lo + block], dtype="<f4").tobytes())


def unsupervised(words: Sequence[str], counts: Sequence[int], input_matrix: np.ndarray,
                 output_matrix: np.ndarray, args: FastTextArgs) -> FastTextModel:
    """A word-vector model as seqkit trains it, ready for `write`."""
    counts = np.asarray(counts, dtype=np.int64)
    return FastTextModel(args, list(words), counts, len(words), input_matrix, output_matrix,
                         int(counts.sum()), None)
