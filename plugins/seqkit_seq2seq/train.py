"""Training the attention model: Adam, global-norm clipping, teacher forcing with a ratio, batches
bucketed by length, per-epoch validation (perplexity and BLEU), the best epoch kept, early stopping, a
checkpoint after every epoch and at Ctrl-C, and exact resume (also from the middle of an epoch)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from seqkit.errors import Interrupted, TrainingDiverged
from seqkit.recurrent.pool import Pool
from seqkit_seq2seq.network import EOS, PAD, BOS, Config, Network
from seqkit_seq2seq.text import Pairs, buckets, make_batch


@dataclass
class Schedule:
    lr: float = 0.001
    clip: float = 1.0
    epochs: int = 10
    batch: int = 64
    teacher_forcing: float = 1.0
    seed: int = 1
    freeze: list = field(default_factory=list)   # parameters kept fixed (a frozen -v embedding)
    patience: int = 0          # with validation: stop after this many epochs without improvement (0: never)

    def as_dict(self) -> dict:
        return asdict(self)


# A mean loss per token beyond this (perplexity past float range, as rnnlm's check) is divergence.
DIVERGED_NATS = 709.0


@dataclass
class Progress:
    epoch: int = 0
    adam_step: int = 0
    best_bleu: float = -1.0
    best_ppl: float = float("inf")
    best_bleu_ppl: float = float("inf")  # the validation perplexity of the best-BLEU epoch: breaks BLEU ties
    history: list = field(default_factory=list)
    rng_state: dict | None = None  # the generator when the checkpoint was taken
    best_epoch: int = 0            # the epoch whose parameters the file's model holds (0: no validation)
    bad_epochs: int = 0            # epochs since the best one
    batch: int = 0                 # batches done in epoch `epoch + 1` (a checkpoint taken mid-epoch)
    epoch_rng: dict | None = None  # the generator at that epoch's start, which drew its batch order
    epoch_loss: float = 0.0        # that epoch's summed loss, target tokens and all tokens so far
    epoch_count: int = 0
    epoch_tokens: int = 0

    UNSET = ("best_ppl", "best_bleu_ppl")  # infinite until validated; JSON has no Infinity, so null

    def as_json(self) -> dict:
        return {k: None if k in self.UNSET and not math.isfinite(v) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, saved: dict) -> "Progress":
        return cls(**{k: float("inf") if k in cls.UNSET and v is None else v for k, v in saved.items()})


class Adam:
    """Adam with bias correction; each step is one fused pass per parameter (`kernels.adam_flat`), cut into
    one share of all the parameters' elements per pool thread (elementwise, so threads never change the
    numbers)."""

    def __init__(self, params: dict[str, np.ndarray], state: dict[str, np.ndarray] | None = None):
        self.m = {k: np.ascontiguousarray((state or {}).get(f"m/{k}", np.zeros_like(v))) for k, v in params.items()}
        self.v = {k: np.ascontiguousarray((state or {}).get(f"v/{k}", np.zeros_like(v))) for k, v in params.items()}

    def state(self) -> dict[str, np.ndarray]:
        return {**{f"m/{k}": v for k, v in self.m.items()}, **{f"v/{k}": v for k, v in self.v.items()}}

    def step(self, params, grads, lr: float, t: int, factor: float, skip=(), pool: Pool | None = None) -> None:
        from seqkit_seq2seq.kernels import adam_flat

        b1, b2, eps = 0.9, 0.999, 1e-8
        rate = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        names = [name for name in grads if name not in skip]
        flat = {name: (params[name].reshape(-1), np.ascontiguousarray(grads[name]).reshape(-1),
                       self.m[name].reshape(-1), self.v[name].reshape(-1)) for name in names}

        def share(pieces: list[tuple[str, int, int]]) -> None:
            for name, lo, hi in pieces:
                adam_flat(*flat[name], rate, factor, b1, b2, eps, lo, hi)

        threads = 1 if pool is None else pool.size
        shares = _shares([(name, params[name].size) for name in names], threads)
        if threads == 1:
            share(shares[0])
        else:
            pool.run([lambda pieces=pieces: share(pieces) for pieces in shares])


def _shares(sizes: list[tuple[str, int]], count: int) -> list[list[tuple[str, int, int]]]:
    """The elements of all the arrays, in order, cut into `count` runs of near-equal length: per run, the
    (name, start, stop) pieces it covers."""
    total = sum(size for _, size in sizes)
    cuts = [total * i // count for i in range(count + 1)]
    shares: list[list[tuple[str, int, int]]] = [[] for _ in range(count)]
    offset = 0
    for name, size in sizes:
        for i in range(count):
            lo, hi = max(cuts[i], offset), min(cuts[i + 1], offset + size)
            if lo < hi:
                shares[i].append((name, lo - offset, hi - offset))
        offset += size
    return shares


def validation_loss(network: Network, pairs: Pairs, batch: int) -> float:
    """Perplexity of the reference translations (teacher forcing)."""
    total, count = 0.0, 0
    order = np.argsort(pairs.lengths()[0], kind="stable")
    for i in range(0, len(order), batch):
        src, src_len, tgt_in, tgt_out, tgt_len, _ = make_batch(pairs, order[i:i + batch], batch, BOS, EOS, PAD)
        state = network.encode(src, src_len)
        network.decode_teacher(tgt_in, tgt_len, state)
        loss, n = network.target_logprobs_sum(tgt_out)
        total, count = total + loss, count + n
    return math.exp(min(total / max(count, 1), 700))


def train(*, params, config: Config, schedule: Schedule, pairs: Pairs, valid: Pairs | None, save, bleu_of,
          reporter, progress: Progress, optimizer_state, interrupted, threads: int = 1,
          best: dict[str, np.ndarray] | None = None) -> Progress:
    """`save(params, optimizer_state, progress, best)` writes the model file (`best`: the best-validation
    parameters when they differ from `params`, else None); `bleu_of(params)` is the validation BLEU (None
    when unavailable); `best` on entry is the best epoch's parameters of a resumed run, if kept apart."""
    rng = np.random.default_rng(schedule.seed)
    if progress.rng_state is not None:
        rng.bit_generator.state = progress.rng_state
    adam = Adam(params, optimizer_state)
    src_len, tgt_len = pairs.lengths()
    max_src, max_tgt = int(src_len.max()), int(tgt_len.max()) + 1
    if valid is not None:
        max_src, max_tgt = max(max_src, int(valid.lengths()[0].max())), max(max_tgt, int(valid.lengths()[1].max()) + 1)
    started = time.perf_counter()
    tokens_done = 0

    def checkpoint(current_is_best: bool) -> None:
        progress.rng_state = rng.bit_generator.state
        save(params, adam.state(), progress, None if current_is_best or best is None else best)

    with Pool(threads) as pool, np.errstate(over="ignore", invalid="ignore"):
        network = Network(config, params, batch=schedule.batch, max_src=max_src, max_tgt=max_tgt, pool=pool)
        try:
            while progress.epoch < schedule.epochs:
                epoch = progress.epoch + 1
                if progress.epoch_rng is not None:  # resumed in the middle of this epoch: the same batches
                    rng.bit_generator.state = progress.epoch_rng
                progress.epoch_rng = rng.bit_generator.state
                batches = buckets(pairs, schedule.batch, rng)
                if progress.batch:
                    rng.bit_generator.state = progress.rng_state
                    reporter.info(f"resuming epoch {epoch} at batch {progress.batch + 1} of {len(batches)}")
                loss_sum, count, tokens = progress.epoch_loss, progress.epoch_count, progress.epoch_tokens
                resumed_tokens = tokens
                epoch_start = time.perf_counter()
                with reporter.task(f"epoch {epoch}/{schedule.epochs}", total=len(batches), unit="batches") as task:
                    task.update(progress.batch)
                    for position in range(progress.batch, len(batches)):
                        if interrupted():
                            checkpoint(False)
                            raise Interrupted(f"interrupted in epoch {epoch} after batch {position} of {len(batches)}; "
                                              f"checkpoint saved to {save.path} (--resume continues from the next "
                                              "batch)")
                        index = batches[position]
                        src, s_len, tgt_in, tgt_out, t_len, n_tokens = make_batch(pairs, index, schedule.batch, BOS,
                                                                                  EOS, PAD)
                        state = network.encode(src, s_len, train=True, rng=rng)
                        if schedule.teacher_forcing >= 1.0 or rng.random() < schedule.teacher_forcing:
                            network.decode_teacher(tgt_in, t_len, state)
                        else:
                            network.decode_free(tgt_in.shape[0], t_len, state)
                        loss, n, grads = network.loss_and_backward(tgt_out)
                        if not math.isfinite(loss) or loss > DIVERGED_NATS * max(n, 1):
                            kept = TrainingDiverged.kept(save.path, progress.epoch)
                            raise TrainingDiverged(f"the loss became {loss:.4g} in epoch {epoch}; {kept}; "
                                                   + TrainingDiverged.remedy(schedule.clip))
                        for name in schedule.freeze:
                            grads.pop(name, None)
                        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
                        factor = schedule.clip / norm if schedule.clip > 0 and norm > schedule.clip else 1.0
                        progress.adam_step += 1
                        adam.step(params, grads, schedule.lr, progress.adam_step, factor, pool=pool)
                        loss_sum, count, tokens = loss_sum + loss, count + n, tokens + n_tokens
                        progress.batch = position + 1
                        progress.epoch_loss, progress.epoch_count, progress.epoch_tokens = loss_sum, count, tokens
                        task.update(1, loss=f"{loss_sum / count:.3f}")
                if not all(np.isfinite(value).all() for value in params.values()):
                    raise TrainingDiverged(f"the parameters became non-finite in epoch {epoch}; "
                                           f"{TrainingDiverged.kept(save.path, progress.epoch)}; "
                                           + TrainingDiverged.remedy(schedule.clip))
                seconds = time.perf_counter() - epoch_start
                tokens_done += tokens - resumed_tokens
                record = {"epoch": epoch, "train_ppl": math.exp(min(loss_sum / max(count, 1), 700)),
                          "seconds": seconds, "tokens_per_s": (tokens - resumed_tokens) / max(seconds, 1e-9)}
                message = f"epoch {epoch}: train ppl {record['train_ppl']:.2f}"
                progress.epoch, progress.epoch_rng, progress.batch = epoch, None, 0
                progress.epoch_loss, progress.epoch_count, progress.epoch_tokens = 0.0, 0, 0
                improved = valid is None  # without validation the file holds the last epoch
                if valid is not None:
                    record["valid_ppl"] = validation_loss(network, valid, schedule.batch)
                    message += f", valid ppl {record['valid_ppl']:.2f}"
                    score = bleu_of(params)
                    if score is not None:
                        record["valid_bleu"] = score
                        message += f", valid BLEU {score:.2f}"
                        # BLEU ties (0.00 early on, from few validation lines) go to the lower perplexity
                        improved = (score, -record["valid_ppl"]) > (progress.best_bleu, -progress.best_bleu_ppl)
                        if improved:
                            progress.best_bleu, progress.best_bleu_ppl = score, record["valid_ppl"]
                    else:
                        improved = record["valid_ppl"] < progress.best_ppl
                    progress.best_ppl = min(progress.best_ppl, record["valid_ppl"])
                    if improved:
                        progress.best_epoch, progress.bad_epochs = epoch, 0
                        best = {k: v.copy() for k, v in params.items()}  # later batches change params in place
                    else:
                        progress.bad_epochs += 1
                progress.history.append(record)
                reporter.info(f"{message}, {record['tokens_per_s']:,.0f} tokens/s")
                checkpoint(improved)
                if valid is not None and schedule.patience and progress.bad_epochs >= schedule.patience:
                    reporter.info(f"stopping early: no validation improvement for {schedule.patience} epochs")
                    break
                if interrupted() and epoch < schedule.epochs:
                    raise Interrupted(f"interrupted after epoch {epoch}; checkpoint saved to {save.path} "
                                      "(continue with --resume)")
        except KeyboardInterrupt:  # a second Ctrl-C, while the first one's checkpoint was pending
            raise Interrupted(f"interrupted again; {save.path} holds the last checkpoint saved, if any") from None
    progress.history.append({"total_seconds": time.perf_counter() - started, "tokens": tokens_done})
    return progress
