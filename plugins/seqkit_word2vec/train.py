"""The word2vec training driver: vocabulary, encoding, tables, threads, schedule, divergence guard.

Plain Python around the Numba kernel: the corpus is encoded once to int32 ids (in memory or in a
temporary file), each epoch is cut into chunks of about 10k words that worker threads read and train on
concurrently (the kernel releases the GIL), and the main thread only collects per-chunk loss and
progress.
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from seqkit.encoded import DiskCorpus, EncodedCorpus, sentence_runs
from seqkit.errors import Interrupted, TrainingDiverged
from seqkit.memory import release_compiler_pages
from seqkit.progress import Reporter
from seqkit.reader import load_kernels as load_reader_kernels
from seqkit.sampling import alias_table, huffman_tree, keep_probabilities
from seqkit.vectors import load_kernels as load_vector_kernels
from seqkit.vocabulary import Vocabulary

CHUNK_WORDS = 10_000
# With several threads, each thread trains the rows of the REPLICA_ROWS most frequent words (and with hs
# the REPLICA_ROWS tree nodes nearest the root) in a replica of its own, merged every SYNC_POSITIONS
# positions: every thread writes those rows all the time, and cores writing the same cache lines wait on
# each other; more rows or more frequent merges cost more in merging than they save.
REPLICA_ROWS = 64
SYNC_POSITIONS = 200
# With replicas and negative sampling, each running chunk draws its noise words from a share of the other
# rows that no other running chunk holds (`NoiseShares`): noise rows are most of what a thread writes.
NOISE_SHARES = True
# Weight rows are padded to whole cache lines and start on one, so two threads writing neighbouring rows
# (words of similar frequency) never write the same line; it costs 12 % more weight memory at dim 100.
CACHE_LINE = 64
ROW_ALIGN_BYTES = CACHE_LINE


@dataclass
class Config:
    skip_gram: bool = True
    hs: bool = False
    negative: int = 5
    ns_exponent: float = 0.75  # noise distribution: counts ** ns_exponent (the command uses 0.5 for cbow)
    dim: int = 100
    window: int = 5
    sample: float = 1e-3
    epochs: int = 5
    lr: float = 0.025
    min_lr: float = 0.0001
    cbow_mean: bool = True
    batch_negatives: bool = False  # sg + ns only: negatives shared across a window (Ji et al.)
    threads: int = 1
    seed: int = 1


@dataclass
class TrainStats:
    seconds: float = 0.0
    raw_words: int = 0
    trained_words: int = 0
    loss: float = float("nan")

    @property
    def words_per_second(self) -> float:
        return self.raw_words / self.seconds if self.seconds > 0 else float("nan")


class NoiseShares:
    """Hands each running chunk a share of the noise rows that no other running chunk holds.

    There is one share more than threads, so a thread that finishes a chunk can always choose, and it
    takes the free share that has served the fewest words: every share then serves about as many words
    as the others, whatever the threads' speeds or the number of chunks, which keeps each row's rate as
    a noise word at the mean of its round of blocks (a share tied to a thread would starve its rows when
    that thread runs slowly, or never runs, on a corpus of one chunk).
    """

    def __init__(self, threads: int) -> None:
        self.count = threads + 1
        self._words = [0] * self.count
        self._free = set(range(self.count))
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            share = min(self._free, key=lambda s: (self._words[s], s))
            self._free.remove(share)
            return share

    def give_back(self, share: int, words: int) -> None:
        with self._lock:
            self._words[share] += words
            self._free.add(share)

    @property
    def words(self) -> list[int]:
        return list(self._words)


def make_chunks(offsets: np.ndarray, stretches: int = 1, chunk_words: int = CHUNK_WORDS) -> list[tuple[int, int, int]]:
    """(first sentence, end sentence, words trained before it in an epoch) for runs of sentences of about
    chunk_words words, in training order.

    The runs are dealt in turn from `stretches` equal stretches of the corpus, so that threads training side
    by side read distant text, as word2vec.c's and fastText's threads do (each reads its own part of the
    file); `chunk_stretches` says when. One stretch is the corpus order.
    """
    runs = sentence_runs(offsets, chunk_words)
    stride = -(-len(runs) // max(stretches, 1))
    chunks, before = [], 0
    for i in (i for k in range(stride) for i in range(k, len(runs), stride)):
        first, end = runs[i]
        chunks.append((first, end, before))
        before += int(offsets[end] - offsets[first])
    return chunks


def chunk_stretches(config: Config) -> int:
    """How many distant stretches of the corpus `make_chunks` deals from: one per thread with negative
    sampling, which learned more so; hierarchical softmax learned less and keeps the corpus order
    (measured in docs/design.md)."""
    return 1 if config.hs else config.threads


def chunk_seed(seed: int, epoch: int, chunk: int) -> int:
    """A well-mixed 63-bit seed for one chunk of one epoch (splitmix64-style)."""
    x = (seed * 0x9E3779B97F4A7C15 + epoch * 0xBF58476D1CE4E5B9 + chunk * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    x = (x * 0xD6E8FEB86659FD93) & (2**64 - 1)
    return x >> 1


def row_width(dim: int) -> int:
    """The float32s a weight row takes: `dim` rounded up to whole ROW_ALIGN_BYTES."""
    per_unit = ROW_ALIGN_BYTES // 4
    return -(-dim // per_unit) * per_unit


def padded_zeros(rows: int, dim: int) -> np.ndarray:
    """A C-contiguous float32 zero matrix of `rows` rows of `row_width(dim)`, starting on a ROW_ALIGN_BYTES
    boundary. The kernels use the first `dim` columns; the padding stays zero and is never read.
    """
    width = row_width(dim)
    flat = np.zeros(rows * width + ROW_ALIGN_BYTES // 4, dtype=np.float32)
    start = (-flat.ctypes.data % ROW_ALIGN_BYTES) // 4
    return flat[start:start + rows * width].reshape(rows, width)


def initial_weights(vocab_size: int, config: Config, extra_rows: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """syn0 uniform in [-1, 1)/dim; output layers at zero; absent layers one-row stand-ins.

    gensim's and fastText's range: word2vec.c's [-0.5, 0.5)/dim learns more slowly from the start.
    syn0, syn1neg and syn1 (with hs) get `extra_rows` more rows after their own, for the threads'
    replicas. Rows are padded (`padded_zeros`): the vectors are `[:, :config.dim]`.
    """
    rng = np.random.default_rng(config.seed)
    syn0 = padded_zeros(vocab_size + extra_rows, config.dim)
    block = np.empty((max(min(vocab_size, 4096), 1), config.dim), dtype=np.float32)
    for first in range(0, vocab_size, len(block)):  # the same stream as rng.random((vocab_size, dim))
        rows = block[:min(len(block), vocab_size - first)]
        rng.random(out=rows, dtype=np.float32)
        rows *= 2  # the same float32 operations as on the whole matrix, so the same values
        rows -= 1
        rows /= config.dim
        syn0[first:first + len(rows), :config.dim] = rows
    syn1neg = padded_zeros(vocab_size + extra_rows if config.negative else 1, config.dim)
    syn1 = padded_zeros(max(vocab_size - 1, 1) + extra_rows if config.hs else 1, config.dim)
    return syn0, syn1neg, syn1


def load_kernels(config: Config) -> None:
    """Load (or compile) every kernel a word2vec run calls (the corpus reader's, `train`'s with this config,
    the text vectors writer's), then release the compiler's pages.

    A run on a three-word corpus makes Numba load exactly the specialisations the real run needs. Doing
    it before the corpus is read means LLVM's resident pages and the model's arrays never coexist, which
    keeps the peak memory of a run about 100 MB lower (see `seqkit.memory`).
    """
    tiny = Vocabulary(["a", "b", "c"], [3, 2, 1])
    corpus = EncodedCorpus(np.array([0, 1, 2, 0, 1, 0], np.int32), np.array([0, 6], np.int64))
    # a tame learning rate: a run meant to diverge (a huge --lr) must do so in the real run, not here
    train(tiny, corpus, replace(config, epochs=1, threads=1, lr=0.025, min_lr=0.0001), Reporter(quiet=True))
    load_reader_kernels()
    load_vector_kernels()  # loaded after the release, the writer pulled 30 MB back
    release_compiler_pages()


def kernel_tables(vocab: Vocabulary, config: Config):
    """The kernels' `Tables`: subsampling, the noise alias table, the Huffman tree (hs) and the sigmoid."""
    from seqkit_word2vec.kernels import Tables, sigmoid_tables

    prob, alias = alias_table(vocab.counts, config.ns_exponent)
    if config.hs:
        tree = huffman_tree(vocab.counts)
        codes, points, code_offsets = tree.codes, tree.points, tree.offsets
    else:
        codes, points = np.zeros(1, np.uint8), np.zeros(1, np.int32)
        code_offsets = np.zeros(len(vocab) + 1, np.int64)
    return Tables(keep_probabilities(vocab.counts, config.sample), prob, alias, codes, points, code_offsets,
                  *sigmoid_tables())


def kernel_settings(config: Config, total_words: float):
    """The kernels' `Settings`, with the types fixed so that every run uses one compiled specialisation."""
    from seqkit_word2vec.kernels import Settings

    return Settings(bool(config.skip_gram), bool(config.hs), int(config.negative), bool(config.cbow_mean),
                    int(config.window), int(config.dim), float(config.lr), float(config.min_lr), float(total_words))


def train(vocab: Vocabulary, corpus: EncodedCorpus | DiskCorpus, config: Config, reporter) -> tuple[np.ndarray, TrainStats]:
    """Train and return the word vectors: syn0's vocabulary rows without the padding, C-contiguous."""
    from seqkit_word2vec import kernels

    # replicas only where they can help: several threads, per-pair updates (the batch kernel has none)
    hot = min(REPLICA_ROWS, len(vocab)) if config.threads > 1 and not config.batch_negatives else 0
    shares = NoiseShares(config.threads) if hot and config.negative and NOISE_SHARES else None
    # thread t's replica starts at row len(vocab) + gap + t * stride. Rows padded to whole lines never share
    # one; rows that are not (ROW_ALIGN_BYTES below CACHE_LINE) get `gap` spare rows, at least a line,
    # before each replica, so no line holds rows of two threads (or of a thread and the vocabulary)
    row_bytes = 4 * row_width(config.dim)
    gap = 0 if row_bytes % CACHE_LINE == 0 else -(-CACHE_LINE // row_bytes)
    stride = hot + gap
    weights = kernels.Weights(*initial_weights(len(vocab), config, extra_rows=stride * config.threads if hot else 0))
    worker = threading.local()
    workers = iter(range(config.threads))
    tables = kernel_tables(vocab, config)
    chunks = make_chunks(corpus.offsets, chunk_stretches(config))
    corpus_words = int(corpus.offsets[-1])
    total = float(corpus_words * config.epochs)
    settings = kernel_settings(config, total)
    stats = TrainStats()

    def run(epoch: int, index: int):
        first, end, before = chunks[index]
        ids, offsets = corpus.slice(first, end)
        chunk = kernels.Chunk(ids, offsets, epoch * corpus_words + before, chunk_seed(config.seed, epoch, index))
        if config.batch_negatives:
            return kernels.train_chunk_sg_batch(chunk, weights, tables, settings)
        if not hasattr(worker, "replica"):  # each pool thread takes the next replica, once
            worker.replica = len(vocab) + gap + stride * next(workers)  # syn1's (hs) at one row less
        share = shares.take() if shares else 0
        try:
            replicas = kernels.Replicas(hot, worker.replica, SYNC_POSITIONS, share, shares.count if shares else 1)
            return kernels.train_chunk(chunk, weights, tables, settings, replicas)
        finally:
            if shares:
                shares.give_back(share, int(offsets[-1] - offsets[0]))

    run_epochs(run, len(chunks), total, config, stats, reporter)
    # one non-finite value makes the float64 sum non-finite (finite float32s cannot overflow it), and
    # unlike isfinite(syn0) the sum allocates no array the size of the vectors at the run's peak
    vectors = weights.input[:len(vocab), :config.dim]  # without the replicas' rows and the padding
    if not np.isfinite(vectors.sum(dtype=np.float64)):
        raise TrainingDiverged(f"the vectors became non-finite; lower --lr (now {config.lr:g})")
    weights = None  # freed before the unpadded copy, which then adds nothing to the run's peak
    return np.ascontiguousarray(vectors), stats


def run_epochs(run, n_chunks: int, total: float, config: Config, stats: TrainStats, reporter) -> None:
    """Every epoch's chunks through `run(epoch, chunk)` on `config.threads` threads, in order of submission;
    progress, the divergence guard and Ctrl-C here. Fills `stats` (time, words, the last epoch's mean loss)."""
    loss_sum, loss_terms = 0.0, 0
    started = time.perf_counter()
    with reporter.task("word2vec", total=total, unit="words") as task, \
            ThreadPoolExecutor(max_workers=config.threads, thread_name_prefix="w2v") as pool:
        try:
            for epoch in range(config.epochs):
                epoch_loss, epoch_terms = 0.0, 0
                window = 4 * config.threads  # chunks in flight: enough to keep every thread busy
                pending = []
                next_chunk = 0
                while next_chunk < n_chunks or pending:
                    while next_chunk < n_chunks and len(pending) < window:
                        pending.append(pool.submit(run, epoch, next_chunk))
                        next_chunk += 1
                    loss, terms, raw, trained = pending.pop(0).result()
                    if not math.isfinite(loss):
                        for future in pending:
                            future.cancel()
                        raise TrainingDiverged(
                            f"the loss became {loss} in epoch {epoch + 1}; lower --lr (now {config.lr:g})")
                    epoch_loss += loss
                    epoch_terms += terms
                    stats.raw_words += raw
                    stats.trained_words += trained
                    done = stats.raw_words / total
                    task.update(raw, epoch=f"{epoch + 1}/{config.epochs}",
                                lr=max(config.lr - (config.lr - config.min_lr) * done, config.min_lr),
                                loss=epoch_loss / max(epoch_terms, 1),
                                **{"words/s": f"{stats.raw_words / max(time.perf_counter() - started, 1e-9):,.0f}"})
                loss_sum, loss_terms = epoch_loss, epoch_terms
        except KeyboardInterrupt:
            pool.shutdown(wait=True, cancel_futures=True)  # running chunks finish; nothing half-written
            raise Interrupted("interrupted; no vectors were written") from None
    stats.seconds = time.perf_counter() - started
    stats.loss = loss_sum / max(loss_terms, 1)
