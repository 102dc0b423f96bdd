"""Training: truncated BPTT over batched streams, SGD (with decay and plateau halving) or Adam, global-norm
clipping, per-epoch validation and checkpoints, exact resume, and the divergence / Ctrl-C guards."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit.errors import Interrupted, TrainingDiverged
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
    patience: int = 3          # stop after this many epochs without validation improvement

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    epoch: int = 0                 # completed epochs
    lr: float = 1.0
    best_valid: float = float("inf")
    bad_epochs: int = 0
    history: list = field(default_factory=list)
    rng_state: dict | None = None
    adam_step: int = 0


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
        if modelfile.has_latest(output):  # the file's model is an earlier, better epoch: keep it
            best = {k: np.array(v) for k, v in modelfile.load(output)[0].items()}
        elif math.isfinite(progress.best_valid):  # the best epoch is the one resumed from
            best = {k: v.copy() for k, v in params.items()}
        rng.bit_generator.state = progress.rng_state
        reporter.info(f"resuming after epoch {progress.epoch} (lr {progress.lr:g})")
    else:
        params = init_params(config, len(vocab), rng)
        optimizer = {}
        progress = Progress(lr=schedule.lr)
    if schedule.optimizer == "adam" and not optimizer:
        optimizer = {f"m/{k}": np.zeros_like(v) for k, v in params.items()}
        optimizer.update({f"v/{k}": np.zeros_like(v) for k, v in params.items()})
    data = batchify(train_ids, schedule.batch)
    valid = batchify(valid_ids, schedule.batch) if valid_ids is not None and len(valid_ids) > 2 * schedule.batch else None
    segments = range(0, data.shape[0] - 1, schedule.bptt)
    network = Network(config, params, schedule.batch, schedule.bptt, pool)

    def checkpoint(current_is_best: bool = False) -> None:
        """The file's model is the best-validation one; the parameters to resume from go beside it when
        training has moved on from that (a model file is also its own checkpoint)."""
        progress.rng_state = rng.bit_generator.state
        training = {"schedule": schedule.as_dict(), "progress": asdict(progress)}
        if current_is_best or best is None:
            modelfile.save(output, params, vocab, config, training, optimizer)
        else:
            modelfile.save(output, best, vocab, config, training, optimizer, latest=params)

    started = time.perf_counter()
    tokens_done = 0
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is caught by the loss check
        try:
            while progress.epoch < schedule.epochs:
                epoch = progress.epoch + 1
                state = zero_state(config, schedule.batch)
                loss_sum, count = 0.0, 0
                epoch_start = time.perf_counter()
                with reporter.task(f"epoch {epoch}/{schedule.epochs}", total=data.size, unit="tokens") as task:
                    for start in segments:
                        targets = data[start + 1:start + 1 + schedule.bptt]
                        inputs = data[start:start + len(targets)]
                        loss, grads, state = network.train_step(inputs, targets, state, rng)
                        if not math.isfinite(perplexity(loss)):  # NaN, inf, or past e^709 per token
                            raise TrainingDiverged(
                                f"the loss became {loss} in epoch {epoch}; the last good model is in {output} "
                                f"(if any); lower --lr (now {progress.lr:g}) or --clip")
                        # the objective is Zaremba et al.'s: summed over the segment's steps, averaged
                        # over the batch, i.e. `steps` times the per-token mean the network returns
                        steps = targets.shape[0]
                        _step(params, grads, steps * _clip_factor(grads, schedule.clip, steps), optimizer,
                              schedule, progress, pool)
                        loss_sum += loss * targets.size
                        count += targets.size
                        tokens_done += targets.size
                        task.update(targets.size, ppl=perplexity(loss_sum / count), lr=progress.lr,
                                    **{"tok/s": f"{count / max(time.perf_counter() - epoch_start, 1e-9):,.0f}"})
                seconds = time.perf_counter() - epoch_start
                train_ppl = perplexity(loss_sum / max(count, 1))
                valid_ppl = evaluate(network, valid, schedule.bptt) if valid is not None else float("nan")
                progress.epoch = epoch
                progress.history.append({"epoch": epoch, "train_ppl": train_ppl, "valid_ppl": valid_ppl,
                                         "lr": progress.lr, "seconds": seconds, "tokens_per_s": count / seconds})
                reporter.info(f"epoch {epoch}: train ppl {train_ppl:.2f}, valid ppl {valid_ppl:.2f}, lr {progress.lr:g}, "
                              f"{count / seconds:,.0f} tokens/s")
                improved = valid_ppl < progress.best_valid
                if improved:
                    progress.best_valid, progress.bad_epochs = valid_ppl, 0
                    best = {k: v.copy() for k, v in params.items()}  # later epochs change params in place
                else:
                    progress.bad_epochs += 1
                if schedule.optimizer == "sgd":
                    if epoch >= schedule.decay_start:
                        progress.lr *= schedule.decay
                    elif schedule.plateau and not improved and valid is not None:
                        progress.lr *= 0.5
                checkpoint(current_is_best=improved or valid is None)
                if valid is not None and progress.bad_epochs >= schedule.patience:
                    reporter.info(f"stopping early: no validation improvement for {schedule.patience} epochs")
                    break
        except KeyboardInterrupt:
            checkpoint()  # parameters as they are now; --resume restarts the interrupted epoch from them
            raise Interrupted(f"interrupted in epoch {progress.epoch + 1}; checkpoint saved to {output} "
                              "(continue with --resume)") from None
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
