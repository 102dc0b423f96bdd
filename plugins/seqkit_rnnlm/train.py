"""Training: truncated BPTT over batched streams, SGD (with decay and plateau halving) or Adam, global-norm
clipping, per-epoch validation and checkpoints, exact resume (also from the middle of an epoch), and the
divergence / Ctrl-C guards."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit.errors import DataError, Interrupted, TrainingDiverged
from seqkit.interrupts import deferred_interrupt
from seqkit.lm import perplexity
from seqkit.recurrent.pool import Pool
from seqkit_rnnlm import modelfile
from seqkit_rnnlm.gradients import Gradients
from seqkit_rnnlm.network import Config, Network, init_params, zero_state


@dataclass
class Schedule:
    optimizer: str = "sgd"
    lr: float = 1.0
    decay: float = 0.5
    decay_start: int = 4       # SGD: multiply lr by `decay` after each epoch from this one on
    plateau: bool = True       # also halve lr when validation perplexity does not improve
    clip: float = 5.0
    epochs: int = 13
    batch: int = 20
    bptt: int = 35
    seed: int = 1
    patience: int = 3          # with validation: stop after this many epochs without improvement

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    epoch: int = 0                 # completed epochs
    lr: float = 1.0
    best_valid: float | None = None  # None until validated (JSON, which the metadata is, has no infinity)
    bad_epochs: int = 0
    history: list = field(default_factory=list)
    rng_state: dict | None = None
    adam_step: int = 0
    batch: int = 0                 # segments done in the epoch after `epoch` (a checkpoint taken mid-epoch)
    epoch_loss: float = 0.0        # that epoch's summed training loss and token count so far
    epoch_tokens: int = 0


def batchify(ids: np.ndarray, batch: int) -> np.ndarray:
    """[steps, batch]: the stream cut into `batch` contiguous columns (Zaremba's reader)."""
    steps = len(ids) // batch
    if steps < 2:
        raise ValueError("text too short for this --batch")
    return np.ascontiguousarray(ids[: steps * batch].reshape(batch, steps).T)


def evaluate(network: Network, data: np.ndarray, bptt: int) -> float:
    """Perplexity over batched columns, carrying the state across segments."""
    state = zero_state(network.config, data.shape[1], network.dtype)
    total, count = 0.0, 0
    for start in range(0, data.shape[0] - 1, bptt):
        inputs = data[start:start + bptt]
        targets = data[start + 1:start + 1 + bptt]
        inputs = inputs[: len(targets)]
        state = network.forward(inputs, state)
        total -= float(network.target_logprobs(targets).sum())
        count += targets.size
    return perplexity(total / max(count, 1))


def train(*, train_ids: np.ndarray, valid_ids: np.ndarray | None, vocab: list[str], config: Config,
          schedule: Schedule, output: str, reporter, resume: bool = False, threads: int = 1) -> Progress:
    with Pool(threads) as pool:
        return _train(train_ids, valid_ids, vocab, config, schedule, output, reporter, resume, pool)


def _train(train_ids: np.ndarray, valid_ids: np.ndarray | None, vocab: list[str], config: Config,
           schedule: Schedule, output: str, reporter, resume: bool, pool: Pool) -> Progress:
    rng = np.random.default_rng(schedule.seed)
    best: dict[str, np.ndarray] | None = None  # a copy of the best-validation parameters, once they differ
    if resume:
        params, _, config, training, optimizer = modelfile.load(output, with_optimizer=True)
        params = {k: np.array(v) for k, v in params.items()}
        progress = Progress(**training["progress"])
        if progress.best_valid is not None and not math.isfinite(progress.best_valid):
            progress.best_valid = None  # written as Infinity by earlier versions
        if modelfile.has_latest(output):  # the file's model is an earlier, better epoch: keep it
            best = {k: np.array(v) for k, v in modelfile.load(output)[0].items()}
        elif progress.best_valid is not None:  # the best epoch is the one resumed from
            best = {k: v.copy() for k, v in params.items()}
        rng.bit_generator.state = progress.rng_state
        carried = modelfile.load_carry(output) if progress.batch else None
        expected = [[part.shape for part in layer] for layer in zero_state(config, schedule.batch)]
        if carried is not None and [[part.shape for part in layer] for layer in carried] != expected:
            raise DataError("the recurrent state saved mid-epoch does not match the model's layers and --batch",
                            output)
        if progress.batch:
            reporter.info(f"resuming epoch {progress.epoch + 1} at batch {progress.batch + 1} (lr {progress.lr:g})")
        else:
            reporter.info(f"resuming after epoch {progress.epoch} (lr {progress.lr:g})")
    else:
        params = init_params(config, len(vocab), rng)
        optimizer = {}
        progress = Progress(lr=schedule.lr)
        carried = None
    if schedule.optimizer == "adam" and not optimizer:
        optimizer = {f"m/{k}": np.zeros_like(v) for k, v in params.items()}
        optimizer.update({f"v/{k}": np.zeros_like(v) for k, v in params.items()})
    data = batchify(train_ids, schedule.batch)
    valid = batchify(valid_ids, schedule.batch) if valid_ids is not None and len(valid_ids) > 2 * schedule.batch else None
    segments = range(0, data.shape[0] - 1, schedule.bptt)
    network = Network(config, params, schedule.batch, schedule.bptt, pool)

    def checkpoint(current_is_best: bool = False, carry: list | None = None) -> None:
        """The file's model is the best-validation one; the parameters to resume from go beside it when
        training has moved on from that (a model file is also its own checkpoint). `carry` is the hidden
        state between segments, for a checkpoint taken in the middle of an epoch."""
        progress.rng_state = rng.bit_generator.state
        training = {"schedule": schedule.as_dict(), "progress": asdict(progress), "train_tokens": len(train_ids)}
        if current_is_best or best is None:
            modelfile.save(output, params, vocab, config, training, optimizer, carry=carry)
        else:
            modelfile.save(output, best, vocab, config, training, optimizer, latest=params, carry=carry)

    started = time.perf_counter()
    tokens_done = 0
    # over/invalid: a diverging run is caught by the loss check
    with np.errstate(over="ignore", invalid="ignore"), deferred_interrupt() as interrupted:
        try:
            while progress.epoch < schedule.epochs:
                epoch = progress.epoch + 1
                if progress.batch:  # resumed in the middle of this epoch
                    state, loss_sum, count = carried, progress.epoch_loss, progress.epoch_tokens
                else:
                    state, loss_sum, count = zero_state(config, schedule.batch), 0.0, 0
                resumed_tokens = count
                epoch_start = time.perf_counter()
                with reporter.task(f"epoch {epoch}/{schedule.epochs}", total=data.size, unit="tokens") as task:
                    task.update(count)
                    for position, start in enumerate(segments):
                        if position < progress.batch:
                            continue
                        if interrupted():
                            checkpoint(carry=state if progress.batch else None)
                            raise Interrupted(
                                f"interrupted in epoch {epoch} after batch {progress.batch} of {len(segments)}; "
                                f"checkpoint saved to {output} (--resume continues from the next batch)")
                        targets = data[start + 1:start + 1 + schedule.bptt]
                        inputs = data[start:start + len(targets)]
                        loss, grads, state = network.train_step(inputs, targets, state, rng)
                        if not math.isfinite(perplexity(loss)):  # NaN, inf, or past e^709 per token
                            raise TrainingDiverged(
                                f"the loss became {loss} in epoch {epoch}; "
                                f"{TrainingDiverged.kept(output, progress.epoch)}; "
                                + TrainingDiverged.remedy(schedule.clip, f"--lr (now {progress.lr:g})"))
                        # the objective is Zaremba et al.'s: summed over the segment's steps, averaged
                        # over the batch, i.e. `steps` times the per-token mean the network returns
                        steps = targets.shape[0]
                        _step(params, grads, steps * _clip_factor(grads, schedule.clip, steps), optimizer,
                              schedule, progress, pool)
                        loss_sum += loss * targets.size
                        count += targets.size
                        tokens_done += targets.size
                        progress.batch, progress.epoch_loss, progress.epoch_tokens = position + 1, loss_sum, count
                        speed = (count - resumed_tokens) / max(time.perf_counter() - epoch_start, 1e-9)
                        task.update(targets.size, ppl=perplexity(loss_sum / count), lr=progress.lr,
                                    **{"tok/s": f"{speed:,.0f}"})
                seconds = time.perf_counter() - epoch_start
                train_ppl = perplexity(loss_sum / max(count, 1))
                progress.epoch, progress.batch, progress.epoch_loss, progress.epoch_tokens = epoch, 0, 0.0, 0
                record = {"epoch": epoch, "train_ppl": train_ppl, "lr": progress.lr, "seconds": seconds,
                          "tokens_per_s": (count - resumed_tokens) / seconds}
                message = f"epoch {epoch}: train ppl {train_ppl:.2f}"
                # without validation there is nothing to select or stop on: the file holds the last epoch
                improved = valid is None
                if valid is not None:
                    record["valid_ppl"] = valid_ppl = evaluate(network, valid, schedule.bptt)
                    message += f", valid ppl {valid_ppl:.2f}"
                    improved = progress.best_valid is None or valid_ppl < progress.best_valid
                    if improved:
                        progress.best_valid, progress.bad_epochs = valid_ppl, 0
                        best = {k: v.copy() for k, v in params.items()}  # later epochs change params in place
                    else:
                        progress.bad_epochs += 1
                progress.history.append(record)
                reporter.info(f"{message}, lr {progress.lr:g}, {record['tokens_per_s']:,.0f} tokens/s")
                if schedule.optimizer == "sgd":
                    if epoch >= schedule.decay_start:
                        progress.lr *= schedule.decay
                    elif schedule.plateau and not improved:
                        progress.lr *= 0.5
                checkpoint(current_is_best=improved)
                if valid is not None and progress.bad_epochs >= schedule.patience:
                    reporter.info(f"stopping early: no validation improvement for {schedule.patience} epochs")
                    break
                if interrupted() and epoch < schedule.epochs:
                    raise Interrupted(f"interrupted after epoch {epoch}; checkpoint saved to {output} "
                                      "(continue with --resume)")
        except KeyboardInterrupt:  # a second Ctrl-C, while the first one's checkpoint was pending
            raise Interrupted(f"interrupted again; {output} holds the last checkpoint saved, if any") from None
    progress.history.append({"total_seconds": time.perf_counter() - started, "tokens": tokens_done})
    return progress


def _clip_factor(grads: Gradients, limit: float, scale: float = 1.0) -> float:
    """The factor that brings the global L2 norm of `scale` times the gradients down to `limit` (1 if it
    is within)."""
    if limit <= 0:
        return 1.0
    norm = scale * math.sqrt(grads.squared_norm())
    return limit / norm if norm > limit else 1.0


def _step(params, grads: Gradients, factor: float, optimizer, schedule: Schedule, progress: Progress,
          pool: Pool) -> None:
    """Apply the gradients times `factor` (the objective's scale and the clipping): SGD in place, sparse
    rows for the embedding; Adam on dense gradients."""
    if schedule.optimizer == "sgd":
        grads.sgd_step(params, progress.lr * factor, pool)
        return
    progress.adam_step += 1
    t = progress.adam_step
    b1, b2, eps = 0.9, 0.999, 1e-8
    correction = math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
    for name, g in grads.to_dense(params).items():
        if factor != 1.0:
            g = g * np.float32(factor)
        m, v = optimizer[f"m/{name}"], optimizer[f"v/{name}"]
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * g * g
        params[name] -= np.float32(progress.lr * correction) * m / (np.sqrt(v) + eps)
