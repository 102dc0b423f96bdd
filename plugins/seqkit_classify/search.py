"""The hyper-parameter search, without any training: configurations drawn from a space, and asynchronous
successive halving (ASHA) over epochs deciding what to train next.

fastText's autotune trains one random configuration after another, each for its full number of epochs.
Here the first run is the default configuration (the user's settings, at the epochs `seqkit classify`
would train them for), outside the halving: a baseline every later choice is measured against. Then
most configurations get a short run (the first rung, FIRST_EPOCHS epochs); whenever one is in the
best 1/ETA of the runs finished at its rung it is trained again with ETA times the epochs (the learning
rate decays over the whole run, so a longer run is a new run, not a continuation). The budget thus goes
to the promising configurations, and the search can stop at any moment with the best run so far.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from seqkit_classify.data import POOLING_LR, POOLINGS, Settings, model_settings

ETA = 3           # a run is promoted when in the best third of its rung; the next rung has 3x the epochs
FIRST_EPOCHS = 2  # one epoch ranks configurations mostly by how large their step is
# Learning rates above 1 only win short runs (they rank well at the first rung, then generalise worse)
# and below 0.05 need more epochs than any rung has; dimensions under 32 save little time. Rates are
# drawn as the mean pooling's and scaled by the configuration's POOLING_LR.
LR_RANGE = (0.05, 1.0)
LR_AROUND = (0.125, 2.0)  # random rates lie within these factors of the default's (which is known good)
DIMS = (32, 64, 100, 200)
WORD_NGRAMS = (1, 2, 3)
BUCKETS = (200_000, 1_000_000, 2_000_000)
SUBWORDS = ((0, 0),) * 4 + ((2, 4), (3, 6))  # none twice as likely: character n-grams cost 5-10x the time
MAX_REDRAWS = 50  # then a repeat is accepted (a tiny space can run out of new configurations)
EXPLORE = 0.5     # chance that a new configuration is drawn at random rather than near the best one


@dataclass(frozen=True)
class Params:
    """One configuration (the number of epochs is the rung's)."""

    lr: float
    dim: int
    word_ngrams: int
    buckets: int
    loss: str
    minn: int = 0
    maxn: int = 0
    pooling: str = "mean"

    def settings(self, label_prefix: str) -> Settings:
        return model_settings(label_prefix, self.word_ngrams, self.buckets, self.minn, self.maxn, self.pooling)

    def describe(self) -> str:
        chars = f"char n-grams {self.minn}-{self.maxn}" if self.maxn else "no char n-grams"
        return (f"lr {self.lr:.3g}, dim {self.dim}, word n-grams {self.word_ngrams}, buckets {self.buckets:,}, "
                f"loss {self.loss}, {chars}, {self.pooling} pooling")


@dataclass
class Trial:
    """One training run of configuration `config` at rung `rung` (scheduled for `epochs` epochs); rung -1 is
    the default configuration's run, outside the halving."""

    number: int
    config: int
    params: Params
    rung: int
    epochs: int
    metric: float = -math.inf  # the best epoch's value on the validation lines
    best_epoch: int = 0        # 1-based
    epochs_run: int = 0
    seconds: float = 0.0
    status: str = "done"       # done, stopped (no progress for --patience epochs), cut (budget), diverged
    history: list[dict] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        """Whether the run counts at its rung (a run cut by the budget or diverged does not)."""
        return self.status in ("done", "stopped")

    def as_dict(self) -> dict:
        return {"trial": self.number, "config": self.config, "rung": self.rung + 1, "epochs": self.epochs,
                "epochs_run": self.epochs_run, "best_epoch": self.best_epoch,
                "metric": None if math.isinf(self.metric) else self.metric, "seconds": round(self.seconds, 3),
                "status": self.status, **self.params.__dict__}


def rung_epochs(max_epochs: int) -> list[int]:
    """FIRST_EPOCHS, times ETA while below `max_epochs`, then `max_epochs`: e.g. 2, 6, 18, 50."""
    epochs = [min(FIRST_EPOCHS, max_epochs)]
    while epochs[-1] * ETA < max_epochs:
        epochs.append(epochs[-1] * ETA)
    if epochs[-1] < max_epochs:
        epochs.append(max_epochs)
    return epochs


class Sampler:
    """The first configuration is the user's (the default run); then half at random, half a change of one
    or two settings of the best so far (fastText's autotune also searches near its best)."""

    def __init__(self, start: Params, losses: tuple[str, ...], seed: int):
        self.start, self.losses = start, losses
        self.rng = np.random.default_rng([seed, 0x70E])
        base = start.lr / POOLING_LR[start.pooling]
        low, high = max(LR_RANGE[0], base * LR_AROUND[0]), min(LR_RANGE[1], base * LR_AROUND[1])
        self.lr_range = (low, high) if low < high else LR_RANGE  # a start outside the range: all of it
        self.seen: set[Params] = set()

    def draw(self, best: Params | None) -> Params:
        """A configuration not drawn before (a change near the best can land on one already tried)."""
        params = self.start
        for _ in range(MAX_REDRAWS):
            if params not in self.seen:
                break
            params = self._random() if best is None or self.rng.random() < EXPLORE else self._near(best)
        self.seen.add(params)
        return params

    def _random(self) -> Params:
        minn, maxn = SUBWORDS[self.rng.integers(len(SUBWORDS))]
        lr = math.exp(self.rng.uniform(math.log(self.lr_range[0]), math.log(self.lr_range[1])))
        pooling = str(self.rng.choice(POOLINGS))
        return Params(lr=self._rate(lr, pooling), dim=int(self.rng.choice(DIMS)),
                      word_ngrams=int(self.rng.choice(WORD_NGRAMS)), buckets=int(self.rng.choice(BUCKETS)),
                      loss=str(self.rng.choice(self.losses)), minn=minn, maxn=maxn, pooling=pooling)

    def _rate(self, mean_lr: float, pooling: str) -> float:
        """The learning rate for `pooling` equivalent to `mean_lr` under mean pooling, kept in the range."""
        return round(min(max(mean_lr, self.lr_range[0]), self.lr_range[1]) * POOLING_LR[pooling], 5)

    def _near(self, best: Params) -> Params:
        changes = {}
        mean_lr, pooling = best.lr / POOLING_LR[best.pooling], best.pooling
        for name in self.rng.choice(["lr", "lr", "dim", "word_ngrams", "buckets", "loss", "chars", "pooling"],
                                    size=int(self.rng.integers(1, 3)), replace=False):
            if name == "lr":
                mean_lr *= math.exp(self.rng.normal(0.0, 0.6))
            elif name == "pooling":
                pooling = next(p for p in POOLINGS if p != best.pooling)
            elif name == "dim":
                changes["dim"] = _neighbour(DIMS, best.dim, self.rng)
            elif name == "word_ngrams":
                changes["word_ngrams"] = _neighbour(WORD_NGRAMS, best.word_ngrams, self.rng)
            elif name == "buckets":
                changes["buckets"] = _neighbour(BUCKETS, best.buckets, self.rng)
            elif name == "loss":
                changes["loss"] = str(self.rng.choice(self.losses))
            else:
                changes["minn"], changes["maxn"] = SUBWORDS[self.rng.integers(len(SUBWORDS))]
        if pooling != best.pooling or mean_lr != best.lr / POOLING_LR[best.pooling]:
            changes["pooling"], changes["lr"] = pooling, self._rate(mean_lr, pooling)
        return replace(best, **changes)


def _neighbour(values: tuple[int, ...], current: int, rng: np.random.Generator) -> int:
    """A value next to `current` in `values` (or the nearest one, for a value outside the list)."""
    at = int(np.argmin([abs(v - current) for v in values]))
    step = int(rng.choice([-1, 1]))
    return values[min(max(at + step, 0), len(values) - 1)] if values[at] == current else values[at]


class Halving:
    """ASHA's rule: promote a run in the best 1/ETA of the finished runs at its rung, top rungs first."""

    def __init__(self, epochs: list[int]):
        self.epochs = epochs
        self.promoted: list[set[int]] = [set() for _ in epochs]

    def promotion(self, trials: list[Trial], fits: Callable[[Trial, int], bool] = lambda t, e: True) -> Trial | None:
        """The run whose configuration should go up a rung next (None: draw a new one). `fits(run, epochs)`
        says whether the budget left can take that many epochs of that configuration."""
        for rung in reversed(range(len(self.epochs) - 1)):
            done = sorted((t for t in trials if t.rung == rung and t.finished), key=lambda t: (-t.metric, t.number))
            for trial in done[:len(done) // ETA]:
                if trial.config not in self.promoted[rung] and fits(trial, self.epochs[rung + 1]):
                    self.promoted[rung].add(trial.config)
                    return trial
        return None
