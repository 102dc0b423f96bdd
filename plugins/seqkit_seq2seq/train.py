"""Training the attention model: Adam, global-norm clipping, teacher forcing with a ratio, batches
bucketed by length, per-epoch validation (perplexity and BLEU) and a checkpoint after every epoch."""

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

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Progress:
    epoch: int = 0
    adam_step: int = 0
    best_bleu: float = -1.0
    best_ppl: float = float("inf")
    history: list = field(default_factory=list)
    rng_state: dict | None = None


class Adam:
    def __init__(self, params: dict[str, np.ndarray], state: dict[str, np.ndarray] | None = None):
        self.m = {k: (state or {}).get(f"m/{k}", np.zeros_like(v)) for k, v in params.items()}
        self.v = {k: (state or {}).get(f"v/{k}", np.zeros_like(v)) for k, v in params.items()}

    def state(self) -> dict[str, np.ndarray]:
        return {**{f"m/{k}": v for k, v in self.m.items()}, **{f"v/{k}": v for k, v in self.v.items()}}

    def step(self, params, grads, lr: float, t: int, factor: float, skip=()) -> None:
        b1, b2, eps = 0.9, 0.999, 1e-8
        rate = np.float32(lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t))
        for name, g in grads.items():
            if name in skip:
                continue
            if factor != 1.0:
                g *= np.float32(factor)
            m, v = self.m[name], self.v[name]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            params[name] -= rate * m / (np.sqrt(v) + eps)


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
          reporter, progress: Progress, optimizer_state, interrupted, threads: int = 1) -> Progress:
    """`save(params, optimizer_state, progress, best)` writes the model file; `bleu_of(params)` is the
    validation BLEU (None when unavailable)."""
    rng = np.random.default_rng(schedule.seed)
    if progress.rng_state is not None:
        rng.bit_generator.state = progress.rng_state
    adam = Adam(params, optimizer_state)
    src_len, tgt_len = pairs.lengths()
    max_src, max_tgt = int(src_len.max()), int(tgt_len.max()) + 1
    if valid is not None:
        max_src, max_tgt = max(max_src, int(valid.lengths()[0].max())), max(max_tgt, int(valid.lengths()[1].max()) + 1)
    started = time.perf_counter()
    with Pool(threads) as pool, np.errstate(over="ignore", invalid="ignore"):
        network = Network(config, params, batch=schedule.batch, max_src=max_src, max_tgt=max_tgt, pool=pool)
        while progress.epoch < schedule.epochs:
            epoch = progress.epoch + 1
            epoch_start = time.perf_counter()
            loss_sum, count, tokens = 0.0, 0, 0
            batches = buckets(pairs, schedule.batch, rng)
            with reporter.task(f"epoch {epoch}/{schedule.epochs}", total=len(batches), unit="batches") as task:
                for index in batches:
                    if interrupted():
                        raise Interrupted(f"interrupted in epoch {epoch}; {save.path} holds the last completed "
                                          "epoch (continue with --resume)")
                    src, s_len, tgt_in, tgt_out, t_len, n_tokens = make_batch(pairs, index, schedule.batch, BOS, EOS,
                                                                              PAD)
                    state = network.encode(src, s_len, train=True, rng=rng)
                    if schedule.teacher_forcing >= 1.0 or rng.random() < schedule.teacher_forcing:
                        network.decode_teacher(tgt_in, t_len, state)
                    else:
                        network.decode_free(tgt_in.shape[0], t_len, state)
                    loss, n, grads = network.loss_and_backward(tgt_out)
                    if not math.isfinite(loss):
                        raise TrainingDiverged(f"the loss became {loss} in epoch {epoch}; the last good model is in "
                                               f"{save.path} (if any); lower --lr or --clip")
                    for name in schedule.freeze:
                        grads.pop(name, None)
                    norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads.values()))
                    factor = schedule.clip / norm if schedule.clip > 0 and norm > schedule.clip else 1.0
                    progress.adam_step += 1
                    adam.step(params, grads, schedule.lr, progress.adam_step, factor)
                    loss_sum, count, tokens = loss_sum + loss, count + n, tokens + n_tokens
                    task.update(1, loss=f"{loss_sum / count:.3f}")
            seconds = time.perf_counter() - epoch_start
            record = {"epoch": epoch, "train_ppl": math.exp(min(loss_sum / max(count, 1), 700)), "seconds": seconds,
                      "tokens_per_s": tokens / seconds}
            message = f"epoch {epoch}: train ppl {record['train_ppl']:.2f}"
            improved = valid is None
            if valid is not None:
                record["valid_ppl"] = validation_loss(network, valid, schedule.batch)
                message += f", valid ppl {record['valid_ppl']:.2f}"
                score = bleu_of(params)
                if score is not None:
                    record["valid_bleu"] = score
                    message += f", valid BLEU {score:.2f}"
                    improved = score > progress.best_bleu
                    progress.best_bleu = max(progress.best_bleu, score)
                else:
                    improved = record["valid_ppl"] < progress.best_ppl
                progress.best_ppl = min(progress.best_ppl, record["valid_ppl"])
            progress.epoch = epoch
            progress.history.append(record)
            progress.rng_state = rng.bit_generator.state
            reporter.info(f"{message}, {record['tokens_per_s']:,.0f} tokens/s")
            save(params, adam.state(), progress, improved)
    progress.history.append({"total_seconds": time.perf_counter() - started})
    return progress
