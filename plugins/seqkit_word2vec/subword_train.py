"""The driver for subword training (`--minn/--maxn`): the n-gram table, the weights, the model files.

Only the buckets that some vocabulary word uses get a row while training (`SubwordTable.bucket_ids`),
so memory follows the vocabulary, not `--buckets`; the model files still hold every bucket, as
fastText's do: the unused ones keep their initial values, which depend only on the seed and the row
(`initial_rows`), and are generated block by block while writing (`FullInput`), never all at once.
"""

from __future__ import annotations

import json
import threading
import zipfile
from dataclasses import dataclass, replace

import numpy as np

from seqkit.encoded import DiskCorpus, EncodedCorpus
from seqkit.errors import TrainingDiverged
from seqkit.vocabulary import Vocabulary
from seqkit_word2vec.train import (Config, TrainStats, chunk_seed, chunk_stretches, kernel_settings, kernel_tables,
                                   make_chunks, padded_zeros, run_epochs)

INIT_BLOCK = 4096  # rows per block of the initial values' random stream
# With several threads, each trains the HOT_ROWS most used input rows (common n-grams, frequent words) in a
# replica of its own, merged every SYNC_POSITIONS positions (`subword_kernels.HotRows`)
HOT_ROWS = 256
SYNC_POSITIONS = 200
EOS = "</s>"


@dataclass
class SubwordTable:
    """Each word's input rows (its own, then its n-grams' in fastText's order) over the compact matrix."""

    offsets: np.ndarray     # int64[words + 1]
    rows: np.ndarray        # int32 rows of the compact matrix: words first, then the used buckets
    shift: np.ndarray       # float32[words] (`subword_kernels.Subwords`)
    bucket_ids: np.ndarray  # int64: the bucket of compact row words + i (in order of first use)
    minn: int
    maxn: int
    buckets: int

    @property
    def nwords(self) -> int:
        return len(self.offsets) - 1

    @property
    def compact_rows(self) -> int:
        return self.nwords + len(self.bucket_ids)

    def kernel_form(self):
        from seqkit_word2vec.subword_kernels import Subwords

        return Subwords(self.offsets, self.rows, self.shift)


def subword_table(words: list[str], minn: int, maxn: int, buckets: int) -> SubwordTable:
    """Hash every word's character n-grams once (`subword_kernels.subword_buckets`) and number the buckets used."""
    from seqkit_word2vec.subword_kernels import mean_shifts, subword_buckets

    encoded = [w.encode("utf-8", "surrogateescape") for w in words]
    starts = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=starts[1:])
    data = np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8)
    eos = words.index(EOS) if EOS in words else -1
    gram_offsets, grams = subword_buckets(data, starts, minn, maxn, buckets, eos)
    # buckets numbered in order of first use, words most frequent first: a word's n-gram rows mostly sit
    # together, and the frequent words' rows at the start, which the memory caches reward
    unique, first_use, inverse = np.unique(grams, return_index=True, return_inverse=True)
    order = np.argsort(first_use, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    bucket_ids, compact = unique[order], rank[inverse.reshape(-1)]
    nwords = len(words)
    offsets = gram_offsets + np.arange(nwords + 1, dtype=np.int64)  # one more row per word: its own, first
    rows = np.empty(int(offsets[-1]), dtype=np.int32)
    own = offsets[:-1]
    rows[own] = np.arange(nwords, dtype=np.int32)
    mask = np.ones(len(rows), dtype=bool)
    mask[own] = False
    rows[mask] = (nwords + compact.reshape(-1)).astype(np.int32)
    return SubwordTable(offsets, rows, mean_shifts(offsets, rows), bucket_ids.astype(np.int64), minn, maxn, buckets)


def load_subword_kernels(config: Config, minn: int, maxn: int) -> None:
    """`train.load_kernels` for the subword path: a run on a three-word corpus loads every kernel it calls."""
    from seqkit.memory import release_compiler_pages
    from seqkit.progress import Reporter
    from seqkit.reader import load_kernels as load_reader_kernels
    from seqkit.vectors import load_kernels as load_vector_kernels

    tiny = Vocabulary(["a", "b", "c"], [3, 2, 1])
    corpus = EncodedCorpus(np.array([0, 1, 2, 0, 1, 0], np.int32), np.array([0, 6], np.int64))
    table = subword_table(tiny.words, minn, maxn, 16)
    compact, _, _ = train_subword(tiny, corpus, replace(config, epochs=1, threads=1, lr=0.025, min_lr=0.0001),
                                  table, Reporter(quiet=True))
    word_vectors(compact, table)
    load_reader_kernels()
    load_vector_kernels()
    release_compiler_pages()


def _init_block(seed: int, block: int, dim: int) -> np.ndarray:
    """Initial values of rows [block * INIT_BLOCK, (block + 1) * INIT_BLOCK) of the full input matrix:
    uniform in [-1/dim, 1/dim), fastText's range for words and buckets alike."""
    values = np.random.default_rng([seed, block]).random((INIT_BLOCK, dim), dtype=np.float32)
    values *= 2
    values -= 1
    values /= dim
    return values


def initial_rows(seed: int, full_rows: np.ndarray, dim: int) -> np.ndarray:
    """The initial values of the given rows (ascending) of the full input matrix (words, then buckets)."""
    out = np.empty((len(full_rows), dim), dtype=np.float32)
    blocks = full_rows // INIT_BLOCK
    bounds = np.flatnonzero(np.diff(blocks)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, len(full_rows)]):
        block = int(blocks[lo])
        out[lo:hi] = _init_block(seed, block, dim)[full_rows[lo:hi] - block * INIT_BLOCK]
    return out


class FullInput:
    """The full (words + buckets) x dim input matrix, made a block at a time from the compact one.

    It has `shape`, `ndim`, `dtype` and row slicing: what `fasttext_bin.write` and `write_npz` read.
    """

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, compact: np.ndarray, table: SubwordTable, seed: int):
        self.compact, self.table, self.seed = compact, table, seed
        self.shape = (table.nwords + table.buckets, compact.shape[1])
        self._order = np.argsort(table.bucket_ids)
        self._full_rows = table.nwords + table.bucket_ids[self._order]  # the used buckets' full rows, ascending

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("FullInput takes row slices only")
        lo, hi, _ = index.indices(self.shape[0])
        hi = max(hi, lo)
        nwords, dim = self.table.nwords, self.shape[1]
        out = np.empty((hi - lo, dim), dtype=np.float32)
        for block in range(lo // INIT_BLOCK, -(-hi // INIT_BLOCK)):
            a, b = max(lo, block * INIT_BLOCK), min(hi, (block + 1) * INIT_BLOCK)
            out[a - lo:b - lo] = _init_block(self.seed, block, dim)[a - block * INIT_BLOCK:b - block * INIT_BLOCK]
        words_hi = min(hi, nwords)
        if lo < words_hi:
            out[:words_hi - lo] = self.compact[lo:words_hi]
        first, last = np.searchsorted(self._full_rows, [lo, hi])
        out[self._full_rows[first:last] - lo] = self.compact[nwords + self._order[first:last]]
        return out


def train_subword(vocab: Vocabulary, corpus: EncodedCorpus | DiskCorpus, config: Config, table: SubwordTable,
                  reporter) -> tuple[np.ndarray, np.ndarray, TrainStats]:
    """Train and return (the compact input matrix, the output matrix: noise rows, else tree nodes, stats)."""
    from seqkit_word2vec import kernels
    from seqkit_word2vec.subword_kernels import NO_HOT_ROWS, HotRows, Subwords, train_chunk_subword

    dim = config.dim
    n_hot = min(HOT_ROWS, table.compact_rows) if config.threads > 1 else 0
    hot_ids = hot_rows(vocab, table, n_hot)
    order = np.argsort(table.bucket_ids)
    # rows padded to whole cache lines, as plain word2vec's: a row then spans the fewest lines (the padding
    # costs 12 % at dim 100 of a matrix that holds only the buckets in use)
    start = padded_zeros(table.compact_rows + n_hot * config.threads, dim)  # then the threads' replicas
    start[:len(vocab), :dim] = initial_rows(config.seed, np.arange(len(vocab), dtype=np.int64), dim)
    for lo in range(0, len(order), 65536):  # in pieces: no second copy of the bucket rows at the peak
        piece = order[lo:lo + 65536]
        start[len(vocab) + piece, :dim] = initial_rows(config.seed, len(vocab) + table.bucket_ids[piece], dim)
    weights = kernels.Weights(start,
                              padded_zeros(len(vocab) if config.negative else 1, dim),
                              padded_zeros(max(len(vocab) - 1, 1) if config.hs else 1, dim))
    tables = kernel_tables(vocab, config)
    subwords = table.kernel_form()
    worker = threading.local()
    workers = iter(range(config.threads))
    slot = np.full(table.compact_rows, -1, dtype=np.int64)
    slot[hot_ids] = np.arange(n_hot)
    hot_uses = slot[table.rows] >= 0
    chunks = make_chunks(corpus.offsets, chunk_stretches(config))
    corpus_words = int(corpus.offsets[-1])
    total = float(corpus_words * config.epochs)
    settings = kernel_settings(config, total)

    def run(epoch: int, index: int):
        first, end, before = chunks[index]
        ids, offsets = corpus.slice(first, end)
        chunk = kernels.Chunk(ids, offsets, epoch * corpus_words + before, chunk_seed(config.seed, epoch, index))
        if not hasattr(worker, "hot"):  # each pool thread takes the next replica, once, and its rows table
            first_row = table.compact_rows + n_hot * next(workers)
            rows = table.rows.copy()
            rows[hot_uses] = (first_row + slot[table.rows[hot_uses]]).astype(np.int32)
            worker.hot = HotRows(hot_ids, first_row, SYNC_POSITIONS) if n_hot else NO_HOT_ROWS
            worker.subwords = Subwords(subwords.offsets, rows, subwords.shift) if n_hot else subwords
        return train_chunk_subword(chunk, weights, tables, settings, worker.subwords, worker.hot)

    stats = TrainStats()
    run_epochs(run, len(chunks), total, config, stats, reporter)
    vectors = weights.input[:table.compact_rows, :dim]  # views without the replicas and the padding
    if not np.isfinite(vectors.sum(dtype=np.float64)):
        raise TrainingDiverged(f"the vectors became non-finite; lower --lr (now {config.lr:g})")
    output = weights.output if config.negative else weights.nodes
    return vectors, output[:, :dim], stats


def hot_rows(vocab: Vocabulary, table: SubwordTable, n: int) -> np.ndarray:
    """The `n` input rows written most often: each word's rows weighted by its expected kept count."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    counts = vocab.counts.astype(np.float64)
    per_row = np.repeat(counts, np.diff(table.offsets))
    uses = np.bincount(table.rows, weights=per_row, minlength=table.compact_rows)
    return np.sort(np.argsort(-uses, kind="stable")[:n]).astype(np.int64)


def word_vectors(compact: np.ndarray, table: SubwordTable) -> np.ndarray:
    """Every vocabulary word's vector: the mean of its own row and its n-gram rows (fastText's `.vec`)."""
    from seqkit_word2vec.subword_kernels import compose

    out = np.empty((table.nwords, compact.shape[1]), dtype=np.float32)
    compose(compact, table.offsets, table.rows, compact.shape[1], out)
    return out


def output_rows(output: np.ndarray, nwords: int) -> np.ndarray:
    """The output matrix with a row per word, as both model files store it (hs has one node fewer)."""
    if len(output) == nwords:
        return output
    padded = np.zeros((nwords, output.shape[1]), dtype=np.float32)
    rows = min(len(output), nwords)
    padded[:rows] = output[:rows]
    return padded


def write_npz(out, words: list[str], counts: np.ndarray, full: FullInput, output: np.ndarray,
              settings: dict) -> None:
    """seqkit's "seqkit-subword" `.npz` (`seqkit.subword.SubwordModel.save`'s members), the input matrix
    streamed a block at a time so the full matrix never sits in memory."""
    from seqkit.subword import FORMAT, VERSION

    meta = {"format": FORMAT, "version": VERSION, "minn": full.table.minn, "maxn": full.table.maxn,
            "buckets": full.table.buckets, "dim": full.shape[1], "words": list(words), "settings": settings}
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        def member(name: str, array) -> None:
            with archive.open(name + ".npy", "w", force_zip64=True) as handle:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(array.dtype)), "fortran_order": False,
                          "shape": tuple(array.shape)}
                np.lib.format.write_array_header_2_0(handle, header)
                for lo in range(0, array.shape[0], 65536):
                    handle.write(np.ascontiguousarray(array[lo:lo + 65536]).tobytes())

        member("input", full)
        member("counts", np.asarray(counts, dtype=np.int64))
        member("meta", np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
        member("output", np.ascontiguousarray(output, dtype=np.float32))
