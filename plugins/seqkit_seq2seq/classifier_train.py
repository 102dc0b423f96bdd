"""Training the recurrent classifier: batches of similar lengths, Adam (lazy on the embedding rows a batch
used) or SGD with the learning rate decayed linearly to 0 over the epochs, global-norm clipping, validation accuracy after every epoch with the best epoch kept and
early stopping, and Ctrl-C answered between batches.

Randomness comes from the seed alone: each epoch's batch order from (seed, epoch), dropout from its own
generator; the two directions of the encoder run on separate threads but write separate buffers, so a
seed gives the same model bit for bit with one thread or two (more threads have nothing to do).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit.errors import TrainingDiverged
from seqkit.recurrent.pool import Pool
from seqkit_seq2seq.classifier_data import Examples
from seqkit_seq2seq.classifier_kernels import adam_rows, sgd_rows
from seqkit_seq2seq.classifier_network import PAD, Config, Network

B1, B2, EPS = 0.9, 0.999, 1e-8


@dataclass
class Schedule:
    optimizer: str = "adam"
    lr: float = 0.001
    epochs: int = 5
    batch: int = 64
    clip: float = 5.0
    patience: int = 5
    seed: int = 1
    freeze_embeddings: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Result:
    params: dict                 # the kept parameters: the best epoch's with validation, else the last
    losses: list = field(default_factory=list)
    history: list = field(default_factory=list)
    best_epoch: int = 0          # 1-based; 0 when no epoch finished
    best_accuracy: float = float("nan")
    seconds: float = 0.0         # in the training batches (validation excluded)
    tokens: int = 0
    interrupted: bool = False

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Example indices in batches of similar lengths (ties broken at random), the batches in random order:
    padding stays small, so a batch costs about what its tokens cost."""
    order = np.lexsort((rng.random(len(lengths)), lengths))
    chunks = [order[i:i + batch] for i in range(0, len(order), batch)]
    return [chunks[i] for i in rng.permutation(len(chunks))]


def make_batch(examples: Examples, index: np.ndarray, batch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(ids [T, batch] padded with <pad>, lengths, targets with -1 for the rows that fill a short batch
    (copies of its first example), real tokens)."""
    count = len(index)
    full = np.concatenate([index, np.full(batch - count, index[0])]) if count < batch else index
    starts, lengths = examples.offsets[full], examples.offsets[full + 1] - examples.offsets[full]
    ids = np.full((int(lengths.max()), batch), PAD, dtype=np.int64)
    for b in range(batch):
        ids[:lengths[b], b] = examples.ids[starts[b]:starts[b] + lengths[b]]
    targets = np.full(batch, -1, dtype=np.int64)
    targets[:count] = examples.labels[index]
    return ids, lengths, targets, int(lengths[:count].sum())


def accuracy(network: Network, examples: Examples, batch: int) -> float:
    """Share of the examples whose most probable label is theirs."""
    order = np.argsort(examples.lengths(), kind="stable")
    right = 0
    for i in range(0, len(order), batch):
        index = order[i:i + batch]
        ids, lengths, targets, _ = make_batch(examples, index, batch)
        network.forward(ids, lengths)
        right += int((network.probabilities()[:len(index)].argmax(axis=1) == targets[:len(index)]).sum())
    return right / max(len(examples), 1)


class Optimizer:
    """Adam or SGD: on the dense parameters every row, on the embedding only the rows a batch used (one
    kernel pass per parameter, no temporaries)."""

    def __init__(self, params: dict[str, np.ndarray], schedule: Schedule, total_steps: int):
        self.params, self.schedule, self.step_count, self.total_steps = params, schedule, 0, max(total_steps, 1)
        self.adam = schedule.optimizer == "adam"
        self.m = {name: np.zeros_like(value) for name, value in params.items()} if self.adam else {}
        self.v = {name: np.zeros_like(value) for name, value in params.items()} if self.adam else {}
        self.all_rows = {name: np.arange(value.shape[0] if value.ndim == 2 else 1) for name, value in params.items()}

    def step(self, grads: dict[str, np.ndarray], rows: np.ndarray, row_grads: np.ndarray, factor: float) -> None:
        self.step_count += 1
        for name, g in grads.items():
            self._update(name, self.all_rows[name], g, factor)
        if len(rows):
            self._update("embed", rows, row_grads, factor)

    def _update(self, name: str, rows: np.ndarray, grads: np.ndarray, factor: float) -> None:
        table, grads = _matrix(self.params[name]), _matrix(grads)
        t, kind = self.step_count, table.dtype.type
        lr = self.schedule.lr * (1.0 - (t - 1) / self.total_steps)  # linear decay: the last epochs settle
        if self.adam:
            rate = lr * math.sqrt(1 - B2 ** t) / (1 - B1 ** t)
            adam_rows(table, _matrix(self.m[name]), _matrix(self.v[name]), rows, grads, kind(rate), kind(factor),
                      B1, B2, EPS)
        else:
            sgd_rows(table, rows, grads, kind(lr * factor))


def _matrix(array: np.ndarray) -> np.ndarray:
    """A bias as a one-row matrix (a view), so one kernel updates every parameter."""
    return array.reshape(1, -1) if array.ndim == 1 else array


def train(params: dict[str, np.ndarray], config: Config, schedule: Schedule, examples: Examples,
          valid: Examples | None, *, reporter, interrupted, threads: int = 1) -> Result:
    """Run the epochs; stops early after `patience` epochs without a better validation accuracy."""
    dropout_rng = np.random.default_rng([schedule.seed, 1 << 20])
    lengths = examples.lengths()
    max_steps = int(max(lengths.max(), valid.lengths().max() if valid is not None and len(valid) else 1))
    optimizer = Optimizer(params, schedule, schedule.epochs * -(-len(lengths) // schedule.batch))
    result = Result(params=params)
    best = -1.0
    with Pool(threads) as pool, np.errstate(over="ignore", invalid="ignore"):
        network = Network(config, params, batch=schedule.batch, max_steps=max_steps, pool=pool)
        for epoch in range(1, schedule.epochs + 1):
            order = batches(lengths, schedule.batch, np.random.default_rng([schedule.seed, epoch]))
            loss_sum, seen, tokens = 0.0, 0, 0
            started = time.perf_counter()
            with reporter.task(f"epoch {epoch}/{schedule.epochs}", total=len(order), unit="batches") as task:
                for index in order:
                    if interrupted():
                        result.interrupted = True
                        result.seconds += time.perf_counter() - started
                        return result
                    ids, batch_lengths, targets, n_tokens = make_batch(examples, index, schedule.batch)
                    network.forward(ids, batch_lengths, train=True, rng=dropout_rng)
                    loss, count, grads, rows, row_grads = network.loss_and_backward(targets)
                    if not math.isfinite(loss):
                        raise TrainingDiverged(f"the loss became {loss} in epoch {epoch}; "
                                               + TrainingDiverged.remedy(schedule.clip))
                    if schedule.freeze_embeddings:
                        rows = rows[:0]
                    squares = sum(float(np.vdot(g, g)) for g in grads.values()) + float(np.vdot(row_grads[:len(rows)],
                                                                                             row_grads[:len(rows)]))
                    norm = math.sqrt(squares)
                    factor = schedule.clip / norm if schedule.clip > 0 and norm > schedule.clip else 1.0
                    optimizer.step(grads, rows, row_grads, factor)
                    loss_sum, seen, tokens = loss_sum + loss, seen + count, tokens + n_tokens
                    task.update(1, loss=f"{loss_sum / seen:.4f}")
            seconds = time.perf_counter() - started
            result.seconds += seconds
            result.tokens += tokens
            mean = loss_sum / max(seen, 1)
            result.losses.append(mean)
            record = {"epoch": epoch, "train_loss": mean, "seconds": seconds, "tokens_per_s": tokens / seconds}
            message = f"epoch {epoch}: loss {mean:.4f}"
            if valid is not None:
                record["valid_accuracy"] = value = accuracy(network, valid, schedule.batch)
                message += f", valid accuracy {value:.4f}"
                if value > best:
                    best, result.best_epoch, result.best_accuracy = value, epoch, value
                    result.params = {name: array.copy() for name, array in params.items()}
            else:
                result.best_epoch = epoch
            result.history.append(record)
            reporter.info(f"{message}, {record['tokens_per_s']:,.0f} tokens/s")
            if valid is not None and epoch - result.best_epoch >= schedule.patience:
                reporter.info(f"stopping: no better validation accuracy for {schedule.patience} epochs")
                break
    return result


def load_kernels() -> None:
    """Compile (or load from the cache) the kernels on a tiny problem before allocating the model."""
    from seqkit_seq2seq.classifier_network import init_params

    config = Config(dim=2, hidden=2)
    params = init_params(config, 4, 2, np.random.default_rng(0))
    network = Network(config, params, batch=2, max_steps=2)
    network.forward(np.array([[3, 3], [2, 0]]), np.array([2, 1]), train=True, rng=np.random.default_rng(0))
    _, _, grads, rows, row_grads = network.loss_and_backward(np.array([0, -1]))
    for optimizer in ("adam", "sgd"):
        Optimizer(params, Schedule(optimizer=optimizer), 1).step(grads, rows, row_grads, 1.0)
