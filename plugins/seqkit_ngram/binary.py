"""seqkit's binary n-gram format: the probing hash tables of `probing`, memory-mapped.

Layout (little-endian): a 272-byte header (magic, version, order, vocabulary size and bytes, the ids of
<s>, </s> and <unk>, n-gram counts and table sizes per order, a checksum of the data, a CRC-32 of the
header and vocabulary); the vocabulary (int64 offsets, then UTF-8 bytes); then, 64-byte aligned and
contiguous, the unigram log10 probabilities and back-offs (float64) and every higher order's table.
Values are the ARPA's float64 numbers bit for bit, so converting back gives the same ARPA numbers.

Everything the header claims is checked against the file's size and checksums before any array is
made, so a truncated or damaged file is one error, never a crash or wrong probabilities.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

import numpy as np

from seqkit.errors import DataError
from seqkit.textio import atomic_output

MAGIC = b"seqkit ngram bin"
VERSION = 1
MAX_ORDER = 12
_HEAD = struct.Struct(f"<16sIIQQqqq{MAX_ORDER}Q{MAX_ORDER}QQ")
_TAIL = struct.Struct("<II")  # header CRC-32, padding
HEADER_BYTES = _HEAD.size + _TAIL.size
ALIGN = 64


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


@dataclass
class Tables:
    """An n-gram model as probing tables (see `probing`); arrays may be views of a mapped file."""

    order: int
    vocab_offsets: np.ndarray  # int64[V + 1]
    vocab_bytes: np.ndarray    # uint8, the words' UTF-8 back to back
    bos: int
    eos: int
    unk: int                   # -1 when the model has no <unk>
    counts: np.ndarray         # int64[order + 1]: n-grams per order (index 0 unused)
    buckets: np.ndarray        # int64[order + 1]: table sizes (0 and 1 unused)
    starts: np.ndarray         # int64[order + 1]: first entry of each order's table
    uni_logprob: np.ndarray    # float64[V]
    uni_backoff: np.ndarray    # float64[V]
    table: np.ndarray          # int64[3 * sum(buckets)]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab_offsets) - 1

    def words(self) -> list[str]:
        raw = self.vocab_bytes.tobytes()
        offsets = self.vocab_offsets.tolist()
        return [raw[a:b].decode("utf-8") for a, b in zip(offsets, offsets[1:])]


def table_sizes(counts: list[int]) -> list[int]:
    """Buckets per order: 1.5 entries per n-gram, so probes stay short and every probe sequence ends."""
    return [0, 0] + [count + count // 2 + 1 for count in counts[2:]]


def _starts(buckets: list[int]) -> np.ndarray:
    starts = np.zeros(len(buckets), dtype=np.int64)
    np.cumsum(buckets[:-1], out=starts[1:])
    return starts


def build_tables(vocab: list[str], words: list[np.ndarray], logprob: list[np.ndarray], backoff: list[np.ndarray],
                 path: str | None = None) -> Tables:
    """Tables from an ARPA model's arrays (`ArpaData` or an estimated `Model`)."""
    from seqkit_ngram.probing import insert_order, prefix_rows

    order = len(words)
    index = {w: i for i, w in enumerate(vocab)}
    if "<s>" not in index or "</s>" not in index:
        raise DataError("the unigrams lack <s> or </s>", path)
    V = len(vocab)
    encoded = [w.encode("utf-8") for w in vocab]
    vocab_offsets = np.zeros(V + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=V), out=vocab_offsets[1:])
    vocab_bytes = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    uni_logprob = np.full(V, -99.0)
    uni_backoff = np.zeros(V)
    uni_logprob[words[0][:, 0]] = logprob[0]
    uni_backoff[words[0][:, 0]] = backoff[0]
    counts = [0] + [len(w) for w in words]
    buckets = table_sizes(counts)
    starts = _starts(buckets)
    table = np.full(3 * sum(buckets), -1, dtype=np.int64)
    bucket_array = np.array(buckets, dtype=np.int64)
    for n in range(2, order + 1):
        grams = np.ascontiguousarray(words[n - 1], dtype=np.int64)
        prefix = prefix_rows(grams, V, table, starts, bucket_array)
        if (prefix < 0).any():
            bad = int(np.nonzero(prefix < 0)[0][0])
            gram = " ".join(vocab[w] for w in grams[bad])
            raise DataError(f"the {n}-gram '{gram}' has no {n - 1}-gram prefix; seqkit needs every "
                            "n-gram's context listed (as lmplz and SRILM write them)", path)
        keys = prefix * V + grams[:, -1]
        slots = np.empty(len(keys), dtype=np.int64)
        duplicate = insert_order(table, int(starts[n]), buckets[n], keys,
                                 np.ascontiguousarray(logprob[n - 1], dtype=np.float64).view(np.int64),
                                 np.ascontiguousarray(backoff[n - 1], dtype=np.float64).view(np.int64), slots)
        if duplicate >= 0:
            gram = " ".join(vocab[w] for w in grams[duplicate])
            raise DataError(f"the {n}-gram '{gram}' is listed twice", path)
    return Tables(order, vocab_offsets, vocab_bytes, index["<s>"], index["</s>"], index.get("<unk>", -1),
                  np.array(counts, dtype=np.int64), bucket_array, starts, uni_logprob, uni_backoff, table)


def tables_to_arrays(tables: Tables):
    """(vocab, words, logprob, backoff) per order, each order sorted by (prefix, word): what write_arpa takes."""
    V = tables.vocab_size
    words = [np.arange(V, dtype=np.int32)[:, None]]
    logprob = [np.asarray(tables.uni_logprob, dtype=np.float64).copy()]
    backoff = [np.asarray(tables.uni_backoff, dtype=np.float64).copy()]
    by_slot = None  # words of the previous order's n-grams, indexed by slot
    for n in range(2, tables.order + 1):
        start, size = int(tables.starts[n]), int(tables.buckets[n])
        entries = np.asarray(tables.table[3 * start:3 * (start + size)]).reshape(size, 3)
        slots = np.nonzero(entries[:, 0] != -1)[0]
        slots = slots[np.argsort(entries[slots, 0], kind="stable")]
        keys = entries[slots, 0]
        prefix, last = keys // V, keys % V
        grams = np.empty((len(slots), n), dtype=np.int32)
        grams[:, :-1] = prefix[:, None] if n == 2 else by_slot[prefix]
        grams[:, -1] = last
        words.append(grams)
        logprob.append(entries[slots, 1].view(np.float64).copy())
        backoff.append(entries[slots, 2].view(np.float64).copy() if n < tables.order else np.zeros(len(slots)))
        by_slot = np.zeros((size, n), dtype=np.int32)
        by_slot[slots] = grams
    return tables.words(), words, logprob, backoff


def _checksum(data: np.ndarray) -> int:
    """Wrapping sum of the data's 64-bit words: any damaged byte changes it, at memory speed."""
    return int(np.add.reduce(data.view(np.uint64), dtype=np.uint64)) if len(data) else 0


def write_binary(tables: Tables, path: str) -> None:
    """Write `tables` to `path` atomically."""
    V, order = tables.vocab_size, tables.order
    counts = [int(c) for c in tables.counts[1:]] + [0] * (MAX_ORDER - order)
    buckets = [int(b) for b in tables.buckets[1:]] + [0] * (MAX_ORDER - order)
    uni = np.concatenate([tables.uni_logprob.view(np.int64), tables.uni_backoff.view(np.int64)])
    head = _HEAD.pack(MAGIC, VERSION, order, V, len(tables.vocab_bytes), tables.bos, tables.eos, tables.unk,
                      *counts, *buckets, (_checksum(uni) + _checksum(tables.table)) % (1 << 64))
    vocab = tables.vocab_offsets.astype("<i8").tobytes() + tables.vocab_bytes.tobytes()
    crc = zlib.crc32(vocab, zlib.crc32(head))
    data_at = _aligned(HEADER_BYTES + len(vocab))
    with atomic_output(path, binary=True) as out:
        out.write(head + _TAIL.pack(crc, 0) + vocab + bytes(data_at - HEADER_BYTES - len(vocab)))
        out.write(memoryview(np.ascontiguousarray(uni)).cast("B"))
        out.write(memoryview(np.ascontiguousarray(tables.table)).cast("B"))


def is_binary(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def read_binary(path: str) -> Tables:
    """Map a binary model after checking its header, sizes and checksums."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(HEADER_BYTES)
        if not head.startswith(MAGIC):
            from seqkit.modelfile import describe_file

            raise DataError(f"not a seqkit binary n-gram model: {describe_file(path)}", path)
        if len(head) < HEADER_BYTES:
            raise DataError(f"truncated: {size:,} bytes, shorter than the {HEADER_BYTES}-byte header", path)
        fields = _HEAD.unpack(head[:_HEAD.size])
        crc, _ = _TAIL.unpack(head[_HEAD.size:])
        _, version, order, V, vocab_bytes, bos, eos, unk = fields[:8]
        counts = list(fields[8:8 + MAX_ORDER])
        buckets = list(fields[8 + MAX_ORDER:8 + 2 * MAX_ORDER])
        data_sum = fields[-1]
        if version != VERSION:
            raise DataError(f"binary format version {version}; this seqkit reads version {VERSION}", path)
        if not 1 <= order <= MAX_ORDER or not 3 <= V < (1 << 40) or vocab_bytes >= (1 << 48):
            raise DataError(f"damaged header (order {order}, {V:,} words)", path)
        counts, buckets = [0] + counts[:order], [0, 0] + buckets[1:order]
        if buckets != table_sizes(counts) or counts[1] > V or any(c >= (1 << 40) for c in counts):
            raise DataError("damaged header: n-gram counts and table sizes disagree", path)
        if not all(-1 <= i < V for i in (bos, eos, unk)) or bos < 0 or eos < 0:
            raise DataError("damaged header: <s>, </s> or <unk> outside the vocabulary", path)
        vocab_at = HEADER_BYTES
        data_at = _aligned(vocab_at + 8 * (V + 1) + vocab_bytes)
        expected = data_at + 8 * (2 * V + 3 * sum(buckets))
        if size != expected:
            what = "truncated" if size < expected else "longer than its header says"
            raise DataError(f"{what}: {size:,} bytes where the header implies {expected:,}", path)
        vocab = handle.read(8 * (V + 1) + vocab_bytes)
    if zlib.crc32(vocab, zlib.crc32(head[:_HEAD.size])) != crc:
        raise DataError("damaged: the header or vocabulary fails its checksum", path)
    vocab_offsets = np.frombuffer(vocab, dtype="<i8", count=V + 1)
    if vocab_offsets[0] != 0 or vocab_offsets[-1] != vocab_bytes or (np.diff(vocab_offsets) < 0).any():
        raise DataError("damaged vocabulary offsets", path)
    data = np.memmap(path, dtype="<i8", mode="r", offset=data_at, shape=(2 * V + 3 * sum(buckets),))
    if _checksum(data) != data_sum:
        raise DataError("damaged: the n-gram tables fail their checksum", path)
    bucket_array = np.array(buckets, dtype=np.int64)
    return Tables(order, vocab_offsets, np.frombuffer(vocab, dtype=np.uint8, offset=8 * (V + 1)), bos, eos, unk,
                  np.array(counts, dtype=np.int64), bucket_array, _starts(buckets), data[:V].view(np.float64),
                  data[V:2 * V].view(np.float64), data[2 * V:])
