"""The training driver: weights, loss tables, the epoch schedule and the worker threads.

Each epoch the examples are shuffled (a permutation from the seed, so one thread is bit-for-bit
reproducible) and cut into one contiguous share per thread; every thread runs the loss's kernel on its
share, the GIL released, writing the shared weights without locks (Hogwild, as fastText).

The input rows a line uses are few, but softmax writes every output row for every line, so threads
sharing those rows fight over their cache lines (two threads trained slower than one). With several
threads each of them therefore trains a private copy of the output layer and, under a lock, adds what it
learnt to the shared one every SYNC_EXAMPLES lines and takes the others' updates back: a thread's view of
the output layer is at most that many of its lines old. One thread trains the shared rows directly.
One-vs-all writes every row too but trains the shared layer: its sigmoids are independent, so two threads'
stale pushes on the same rows add up instead of being bounded by a softmax, and on cooking (735 labels,
25 epochs) one run in two blew the output rows up to six times their norm.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from seqkit.errors import TrainingDiverged
from seqkit.sampling import alias_table, huffman_tree
from seqkit_classify import kernels
from seqkit_classify.data import FEATURE_DTYPE, Dictionary, Examples
from seqkit_classify.store import example_runs

NOISE_POWER = 0.5  # fastText draws negative labels from counts^0.5
INIT_BLOCK = 1 << 20  # numbers drawn at a time when the weights are initialised
DENSE_OUTPUT_LOSSES = ("softmax",)  # every output row written for every line, trained privately
# Lines a thread trains its private output rows on between merges: a merge is three passes over the output
# rows, a few per cent of 64 lines' training whatever the label count, and 64 lines of staleness left test
# scores where one shared layer had them (cooking, SST-2, TREC).
SYNC_EXAMPLES = 64


@dataclass
class Config:
    loss: str = "softmax"
    dim: int = 100
    lr: float = 0.1
    epochs: int = 5
    negative: int = 5
    threads: int = 1
    seed: int = 0
    shuffle: bool = True
    pooling: str = "mean"  # the model's Settings.pooling


@dataclass
class Weights:
    input: np.ndarray       # float32 [n_words + len(bucket_ids), dim]
    output: np.ndarray      # float32 [labels (labels - 1 for hs), dim]
    bucket_ids: np.ndarray  # int64, sorted: the n-gram bucket of each input row past the words


@dataclass
class Result:
    seconds: float
    tokens: float
    losses: list[float]

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def compact(examples: Examples, n_words: int) -> np.ndarray:
    """Renumber bucket features to rows after the words, in place; returns the buckets used (sorted).

    Two passes over the features and one flag per bucket: no copy of the features (on a large input
    they are hundreds of MB, and a sort of them would need several copies)."""
    features = examples.features
    top = int(features.max()) if len(features) else -1
    used = np.zeros(max(top - n_words + 1, 0), dtype=bool)
    kernels.mark_buckets(features, n_words, used)
    bucket_ids = np.flatnonzero(used)
    row_of_bucket = np.cumsum(used, dtype=features.dtype) - 1
    del used
    kernels.renumber_buckets(features, n_words, row_of_bucket)
    examples.release()
    return bucket_ids.astype(np.int64, copy=False)


def init_weights(dictionary: Dictionary, bucket_ids: np.ndarray, config: Config) -> Weights:
    """fastText's initialisation: input rows uniform in +-1/dim, output rows zero.

    The float64 draws are made a block of rows at a time (the same stream as one draw of them all): a
    whole float64 matrix would be twice the model's size."""
    rng = np.random.default_rng(config.seed)
    rows = len(dictionary.words) + len(bucket_ids)
    bound = 1.0 / config.dim
    input_rows = np.empty((rows, config.dim), dtype=np.float32)
    step = max(1, INIT_BLOCK // config.dim)
    for start in range(0, rows, step):
        stop = min(rows, start + step)
        input_rows[start:stop] = rng.uniform(-bound, bound, size=(stop - start, config.dim))
    n_output = len(dictionary.labels) - 1 if config.loss == "hs" else len(dictionary.labels)
    return Weights(input_rows, np.zeros((n_output, config.dim), dtype=np.float32), bucket_ids)


def loss_step(config: Config, dictionary: Dictionary) -> Callable:
    """kernel(order, ..., rng, hidden, grad) for the configured loss, its tables bound."""
    n_labels = len(dictionary.labels)
    if config.loss == "softmax":
        return lambda *args: kernels.train_softmax(*args, np.zeros(n_labels, dtype=np.float32))
    if config.loss == "ns":
        prob, alias = alias_table(dictionary.label_counts, power=NOISE_POWER)
        return lambda *args: kernels.train_ns(*args, config.negative, prob, alias)
    if config.loss == "hs":
        tree = huffman_tree(dictionary.label_counts)
        return lambda *args: kernels.train_hs(*args, tree.codes, tree.points, tree.offsets)
    if config.loss == "ova":
        return kernels.train_ova
    raise ValueError(f"unknown loss {config.loss!r}")


def train(dictionary: Dictionary, examples: Examples, weights: Weights, config: Config,
          class_weight: np.ndarray | None = None,
          on_epoch: Callable[[int, float], bool] | None = None, reporter=None) -> Result:
    """Run `config.epochs` epochs; `on_epoch(epoch, mean loss)` may return False to stop early."""
    step = loss_step(config, dictionary)
    sqrt_pool = config.pooling == "sqrt"
    n = len(examples)
    if class_weight is None:
        class_weight = np.ones(len(dictionary.labels), dtype=np.float64)
    shares = config.threads if n >= 2 * config.threads else 1
    private_output = shares > 1 and config.loss in DENSE_OUTPUT_LOSSES
    merging = threading.Lock()
    losses: list[float] = []
    started = time.perf_counter()
    trained = 0.0
    with ThreadPoolExecutor(max_workers=shares) as pool, _epochs_task(reporter, config.epochs) as task:
        for epoch in range(config.epochs):
            order = (np.random.default_rng([config.seed, epoch]).permutation(n) if config.shuffle
                     else np.arange(n)).astype(np.int64)
            parts = np.array_split(order, shares)

            def run(t: int, parts=parts, epoch=epoch) -> float:
                part = parts[t]
                rng = _rng_state(config.seed, epoch, t)
                hidden = np.zeros(config.dim, dtype=np.float32)
                grad = np.zeros(config.dim, dtype=np.float32)
                progress, span = epoch / config.epochs, 1.0 / config.epochs

                def steps(order: np.ndarray, output: np.ndarray, start: float, length: float) -> float:
                    """The kernel over `order`, the schedule going from `start` to `start + length`."""
                    return step(order, examples.features, examples.feat_offsets, examples.labels,
                                examples.label_offsets, examples.tokens, weights.input, output, class_weight,
                                config.lr, start, length, rng, hidden, grad, sqrt_pool)

                if examples.store is None and not private_output:
                    return steps(part, weights.output, progress, span)
                # the part in runs, each covering its share of the learning-rate schedule: stored features
                # have each run's pages released after it (see seqkit_classify.store); a private output
                # layer is merged after each block of SYNC_EXAMPLES lines
                runs = (example_runs(part, examples.feat_offsets, examples.features.itemsize)
                        if examples.store is not None else [(0, len(part))])
                output = weights.output.copy() if private_output else weights.output
                base = output.copy() if private_output else None
                share = examples.tokens[part]
                total, done, loss = float(share.sum()), 0.0, 0.0
                block = SYNC_EXAMPLES if private_output else len(part)
                for a, b in runs:
                    for c in range(a, b, block):
                        d = min(b, c + block)
                        size = float(share[c:d].sum())
                        loss += steps(part[c:d], output, progress + span * done / total, span * size / total)
                        done += size
                        if private_output:
                            with merging:  # two merges at once could lose one's block of updates
                                kernels.merge_private_rows(weights.output, output, base)
                    examples.release()
                return loss

            total = sum(pool.map(run, range(shares)))
            trained += float(examples.tokens.sum())
            mean = total / max(n, 1)
            if not math.isfinite(mean):
                scaled = " (or the --class-weight weights, which scale it)" if class_weight.max() > 1 else ""
                raise TrainingDiverged(f"the loss became {mean} in epoch {epoch + 1}; lower --lr{scaled}")
            losses.append(mean)
            if task is not None:
                task.update(1, loss=f"{mean:.4f}")
            if on_epoch is not None and on_epoch(epoch, mean) is False:
                break
    return Result(time.perf_counter() - started, trained, losses)


def _epochs_task(reporter, epochs: int):
    """A transient progress bar over the epochs (none without a reporter)."""
    return reporter.task("training", total=epochs, unit="epochs") if reporter is not None else nullcontext()


def _rng_state(seed: int, epoch: int, thread: int) -> np.ndarray:
    """A distinct LCG start for every (seed, epoch, thread), mixed so that nearby seeds differ at once."""
    mixed = np.random.default_rng([seed, epoch, thread]).integers(0, 2**63, dtype=np.int64)
    return np.array([mixed], dtype=np.uint64)


def load_kernels(config: Config) -> None:
    """Compile (or load from the cache) the kernels this run uses, on a tiny input."""
    tiny = Examples(np.array([1, 2], FEATURE_DTYPE), np.array([0, 2], np.int64), np.array([0], np.int32),
                    np.array([0, 1], np.int64), np.ones(1))
    d = Dictionary(["</s>", "a", "b"], np.ones(3, np.int64), ["x", "y"], np.array([2, 1], np.int64),
                   np.zeros(3, np.int32))
    small = Config(loss=config.loss, dim=2, epochs=1, negative=1, threads=1)
    train(d, tiny, init_weights(d, np.zeros(0, np.int64), small), small)
    if config.threads > 1 and config.loss in DENSE_OUTPUT_LOSSES:
        rows = np.zeros((1, 1), np.float32)
        kernels.merge_private_rows(rows, rows.copy(), rows.copy())
