"""After the autotune search: the finalists compared by cross-validation, and the winner trained on all lines.

On the small sets classification is used on, the validation lines are few (1,066 for rt-polarity), so
the best of many runs on them is partly luck: runs within a point of each other differ by noise, and
the maximum favours a lucky one. The search's best configurations (the finalists) are therefore
compared again by k-fold cross-validation over the training and validation lines together, which
scores each on every line once; the winner is then trained on all of those lines for the number of
epochs at which its search run did best. Scikit-learn's `GridSearchCV(refit=True)` ends the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from seqkit.sampling import huffman_tree
from seqkit_classify.data import Dictionary, Examples, Lines, Settings, featurise, take_examples
from seqkit_classify.scoring import Metric, Validation, measure, top_k
from seqkit_classify.search import Params, Trial
from seqkit_classify.train import Config, Weights, compact, init_weights, load_kernels, train

FINALISTS = 5       # configurations cross-validated after the search
FOLDS = 5
FINAL_SHARE = 0.25  # of the time budget kept for the finalists and the refit


@dataclass
class Finalist:
    trial: Trial                  # the configuration's best search run
    epochs: int                   # that run's best epoch: what the folds and the refit train for
    folds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def cv(self) -> float:
        return float(np.mean(self.folds)) if self.folds else -math.inf

    def as_dict(self) -> dict:
        return {"trial": self.trial.number, "config": self.trial.config, "epochs": self.epochs,
                "search_metric": self.trial.metric, "cv_metric": None if not self.folds else self.cv,
                "folds": self.folds, "seconds": round(self.seconds, 3)}


def finalists(trials: list[Trial], count: int = FINALISTS) -> list[Finalist]:
    """The best run of each configuration, the `count` best configurations first (ties: the earlier run)."""
    best: dict[Params, Trial] = {}
    for t in trials:
        if t.best_epoch and (t.params not in best or t.metric > best[t.params].metric):
            best[t.params] = t
    ranked = sorted(best.values(), key=lambda t: (-t.metric, t.number))
    return [Finalist(t, t.best_epoch) for t in ranked[:count]]


class Refit:
    """Cross-validation and the final training over `lines` (training and validation lines together)."""

    def __init__(self, lines: Lines, dictionary: Dictionary, metric: Metric, class_weight: np.ndarray,
                 base: Config, label_prefix: str):
        self.lines, self.dictionary, self.metric, self.class_weight = lines, dictionary, metric, class_weight
        self.base, self.prefix = base, label_prefix
        self._features: dict[tuple, Examples] = {}

    def settings(self, p: Params) -> Settings:
        return Settings(label_prefix=self.prefix, word_ngrams=p.word_ngrams, minn=p.minn, maxn=p.maxn,
                        buckets=p.buckets if (p.word_ngrams > 1 or p.maxn > 0) else 0)

    def examples(self, p: Params) -> Examples:
        settings = self.settings(p)
        key = (settings.word_ngrams, settings.buckets, settings.minn, settings.maxn)
        if key not in self._features:
            self._features[key] = featurise(self.lines, settings, self.dictionary)
        return self._features[key]

    def config(self, p: Params, epochs: int) -> Config:
        return Config(loss=p.loss, dim=p.dim, lr=p.lr, epochs=epochs, negative=self.base.negative,
                      threads=self.base.threads, seed=self.base.seed)

    def fit(self, p: Params, epochs: int, keep: np.ndarray | None = None) -> Weights:
        """Weights trained on the examples `keep` selects (all when None)."""
        examples = self.examples(p)
        chosen = take_examples(examples, keep if keep is not None else np.ones(len(examples), dtype=bool))
        bucket_ids = compact(chosen, len(self.dictionary.words))
        config = self.config(p, epochs)
        load_kernels(config)
        weights = init_weights(self.dictionary, bucket_ids, config)
        train(self.dictionary, chosen, weights, config, self.class_weight)
        return weights

    def cross_validate(self, finalist: Finalist, deadline: float | None) -> None:
        """Each fold's metric, trained on the other folds; stops early when past `deadline`."""
        started = time.perf_counter()
        p = finalist.trial.params
        examples = self.examples(p)
        fold = np.arange(len(examples)) % FOLDS
        tree = huffman_tree(self.dictionary.label_counts) if p.loss == "hs" else None
        for k in range(FOLDS):
            if deadline is not None and finalist.folds and time.perf_counter() > deadline:
                finalist.folds = []  # a partial mean would not compare with the others'
                break
            weights = self.fit(p, finalist.epochs, fold != k)
            held_out = take_examples(examples, fold == k)
            validation = Validation(held_out, weights.bucket_ids, len(self.dictionary.words))
            top = top_k(validation.scores(weights.input, weights.output, tree), self.metric.k)
            finalist.folds.append(measure(self.metric, top, validation.labels, validation.label_offsets,
                                          len(self.dictionary.labels)))
        finalist.seconds = time.perf_counter() - started


def choose(candidates: list[Finalist]) -> Finalist:
    """The best cross-validated finalist; without any complete cross-validation, the search's best."""
    scored = [f for f in candidates if f.folds]
    if not scored:
        return candidates[0]
    return max(scored, key=lambda f: (f.cv, f.trial.metric, -f.trial.number))
