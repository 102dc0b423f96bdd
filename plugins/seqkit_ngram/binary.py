"""seqkit's binary n-gram format: the probing hash tables of `probing`, memory-mapped.

Layout (little-endian): a 288-byte header (magic, version, order, vocabulary size and bytes, the ids of
<s>, </s> and <unk>, n-gram counts and table sizes per order, the size of the vocabulary's hash table, a
checksum of the n-gram data, a CRC-32 of the header and vocabulary); the vocabulary (int64 offsets, UTF-8
bytes, then its hash table: int32 word ids by the words' FNV-1a hash, see `probing`); then, 64-byte
aligned and contiguous, the unigram log10 probabilities and back-offs (float64) and every higher order's
table. Values are the ARPA's float64 numbers bit for bit, so converting back gives the same ARPA numbers.

Loading checks the header, the vocabulary's CRC-32 and every size against the file's length before any
array is made, so a truncated file or a damaged header or vocabulary is one error, never a crash; it maps
the tables without reading them (milliseconds whatever the model's size). The tables' own checksum is
checked by `verify` (`seqkit ngram-convert`, which reads every entry anyway, and `--verify`): a damaged
table entry can give a wrong number but never a crash or an endless probe.
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
VERSION = 3
MAX_ORDER = 12
_HEAD = struct.Struct(f"<16sIIQQqqq{MAX_ORDER}Q{MAX_ORDER}QQQ")
_TAIL = struct.Struct("<II")  # header CRC-32, padding
HEADER_BYTES = _HEAD.size + _TAIL.size
ALIGN = 64


def vocab_slot_count(vocab_size: int) -> int:
    """Size of the vocabulary's hash table: a power of two at most half full."""
    return 1 << max(4, (2 * vocab_size).bit_length())


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
    vocab_slots: np.ndarray    # int32, the vocabulary's hash table (`probing.lookup_words`)
    data_sum: int = 0          # checksum of the unigram arrays and the table, as the file's header holds it

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
            gram = [vocab[w] for w in grams[duplicate]]
            from seqkit_ngram.arpa import ngram_line

            line = ngram_line(path, gram) if path is not None and path != "-" and not is_binary(path) else None
            raise DataError(f"the {n}-gram '{' '.join(gram)}' is listed twice", path, line)
    unk = index.get("<unk>", index.get("<UNK>", -1))  # KenLM takes either spelling as the unknown word
    return Tables(order, vocab_offsets, vocab_bytes, index["<s>"], index["</s>"], unk,
                  np.array(counts, dtype=np.int64), bucket_array, starts, uni_logprob, uni_backoff, table,
                  vocab_table(vocab_bytes, vocab_offsets, path))


def vocab_table(vocab_bytes: np.ndarray, vocab_offsets: np.ndarray, path: str | None = None) -> np.ndarray:
    """The vocabulary's hash table (int32 ids, -1 empty) that the binary file stores."""
    from seqkit_ngram.probing import build_vocab_slots

    slots = np.full(vocab_slot_count(len(vocab_offsets) - 1), -1, dtype=np.int32)
    twice = build_vocab_slots(np.ascontiguousarray(vocab_bytes), np.ascontiguousarray(vocab_offsets, dtype=np.int64),
                              slots)
    if twice >= 0:
        word = bytes(vocab_bytes[vocab_offsets[twice]:vocab_offsets[twice + 1]]).decode("utf-8", "replace")
        raise DataError(f"the word '{word}' is listed twice in the unigrams", path)
    return slots


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


def _data_sum(tables: Tables) -> int:
    uni = np.concatenate([np.asarray(tables.uni_logprob).view(np.int64), np.asarray(tables.uni_backoff).view(np.int64)])
    return (_checksum(uni) + _checksum(np.asarray(tables.table))) % (1 << 64)


def _vocab_section(tables: Tables) -> bytes:
    """Offsets, bytes and hash table of the vocabulary, each padded to 8 bytes."""
    raw = tables.vocab_bytes.tobytes()
    return (tables.vocab_offsets.astype("<i8").tobytes() + raw + bytes(-len(raw) % 8)
            + tables.vocab_slots.astype("<i4").tobytes() + bytes(-4 * len(tables.vocab_slots) % 8))


def write_binary(tables: Tables, path: str) -> None:
    """Write `tables` to `path` atomically."""
    V, order = tables.vocab_size, tables.order
    counts = [int(c) for c in tables.counts[1:]] + [0] * (MAX_ORDER - order)
    buckets = [int(b) for b in tables.buckets[1:]] + [0] * (MAX_ORDER - order)
    uni = np.concatenate([tables.uni_logprob.view(np.int64), tables.uni_backoff.view(np.int64)])
    head = _HEAD.pack(MAGIC, VERSION, order, V, len(tables.vocab_bytes), tables.bos, tables.eos, tables.unk,
                      *counts, *buckets, len(tables.vocab_slots), _data_sum(tables))
    vocab = _vocab_section(tables)
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
    """Map a binary model after checking its header, vocabulary and sizes (not the tables: `verify`)."""
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
        n_slots, data_sum = fields[-2:]
        if version != VERSION:
            older = " (written by an older seqkit: convert the ARPA again)" if version < VERSION else ""
            raise DataError(f"binary format version {version}; this seqkit reads version {VERSION}{older}", path)
        if not 1 <= order <= MAX_ORDER or not 3 <= V < (1 << 40) or vocab_bytes >= (1 << 48):
            raise DataError(f"damaged header (order {order}, {V:,} words)", path)
        counts, buckets = [0] + counts[:order], [0, 0] + buckets[1:order]
        if buckets != table_sizes(counts) or counts[1] > V or any(c >= (1 << 40) for c in counts):
            raise DataError("damaged header: n-gram counts and table sizes disagree", path)
        if not all(-1 <= i < V for i in (bos, eos, unk)) or bos < 0 or eos < 0:
            raise DataError("damaged header: <s>, </s> or <unk> outside the vocabulary", path)
        if n_slots != vocab_slot_count(V):
            raise DataError("damaged header: the vocabulary's table size disagrees with its word count", path)
        vocab_length = 8 * (V + 1) + vocab_bytes + (-vocab_bytes % 8) + 4 * n_slots + (-4 * n_slots % 8)
        data_at = _aligned(HEADER_BYTES + vocab_length)
        expected = data_at + 8 * (2 * V + 3 * sum(buckets))
        if size != expected:
            what = "truncated" if size < expected else "longer than its header says"
            raise DataError(f"{what}: {size:,} bytes where the header implies {expected:,}", path)
        vocab = handle.read(vocab_length)
    if zlib.crc32(vocab, zlib.crc32(head[:_HEAD.size])) != crc:
        raise DataError("damaged: the header or vocabulary fails its checksum", path)
    vocab_offsets = np.frombuffer(vocab, dtype="<i8", count=V + 1)
    if vocab_offsets[0] != 0 or vocab_offsets[-1] != vocab_bytes or (np.diff(vocab_offsets) < 0).any():
        raise DataError("damaged vocabulary offsets", path)
    slots = np.frombuffer(vocab, dtype="<i4", count=n_slots, offset=vocab_length - 4 * n_slots - (-4 * n_slots % 8))
    if n_slots and (int(slots.min()) < -1 or int(slots.max()) >= V):
        raise DataError("damaged vocabulary table", path)
    data = np.memmap(path, dtype="<i8", mode="r", offset=data_at, shape=(2 * V + 3 * sum(buckets),))
    bucket_array = np.array(buckets, dtype=np.int64)
    return Tables(order, vocab_offsets, np.frombuffer(vocab, dtype=np.uint8, count=vocab_bytes, offset=8 * (V + 1)),
                  bos, eos, unk, np.array(counts, dtype=np.int64), bucket_array, _starts(buckets),
                  data[:V].view(np.float64), data[V:2 * V].view(np.float64), data[2 * V:], slots, data_sum)


def verify(tables: Tables, path: str) -> None:
    """Check the n-gram data against the header's checksum (one pass over the whole file)."""
    if _data_sum(tables) != tables.data_sum:
        raise DataError("damaged: the n-gram tables fail their checksum", path)
