"""After the autotune search: the finalists compared by cross-validation, and the winner trained on all lines.

On the small sets classification is used on, the validation lines are few (959 for rt-polarity's 90/10
split), so the best of many runs on them is partly luck: runs within a point of each other differ by
noise, and the maximum favours a lucky one. The finalists are therefore the default configuration (what
`seqkit classify` trains without autotune) and the best configurations of the search's highest rungs
(fully trained runs), compared again by stratified k-fold cross-validation over the training and
validation lines together, which scores each on every line once, when the budget allows (a line inside
another line, such as a duplicate or a phrase of a sentence, is held out with it: `line_groups`); the
default is kept unless beaten by more than one standard error (see `choose`). The winner is then trained
on all of those lines. Scikit-learn's `GridSearchCV(refit=True)` ends the same way.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seqkit.errors import TrainingDiverged
from seqkit.sampling import huffman_tree
from seqkit_classify.data import Dictionary, Examples, Lines, Settings, featurise, take_examples
from seqkit_classify.scoring import Metric, Validation, measure
from seqkit_classify.search import Params, Trial
from seqkit_classify.train import Config, Weights, compact, init_weights, load_kernels, train

FINALISTS = 5       # configurations compared after the search: the default and the best 4 of the top rungs
FOLDS = 3           # each line is still scored once; 3 folds cost half the training of 5
FINAL_SHARE = 0.25  # of the time budget kept for the finalists and the refit (at least the default's refit)
MAX_SPAN_STEPS = 100_000_000  # word runs hashed to find the lines inside others: about a second


@dataclass
class Finalist:
    trial: Trial                  # the configuration's best search run
    epochs: int                   # what the folds and the refit train for: the default's full epochs, else
    default: bool = False         # that run's best epoch
    folds: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def cv(self) -> float:
        return float(np.mean(self.folds)) if self.folds else -math.inf

    def as_dict(self) -> dict:
        return {"trial": self.trial.number, "config": self.trial.config, "default": self.default,
                "rung": self.trial.rung + 1, "epochs": self.epochs, "search_metric": self.trial.metric,
                "cv_metric": None if not self.folds else self.cv, "folds": self.folds,
                "seconds": round(self.seconds, 3)}


def finalists(trials: list[Trial], count: int = FINALISTS) -> list[Finalist]:
    """The default run (rung -1) first, then the best run of each of the `count - 1` best configurations
    among the runs finished at the two highest rungs reached (never the first rung once a higher one is
    reached): a short run with a large step can top the validation lines by luck and generalise worse."""
    found = [Finalist(t, t.epochs, default=True) for t in trials if t.rung < 0 and t.best_epoch][:1]
    done = [t for t in trials if t.rung >= 0 and t.finished and t.best_epoch]
    top = max((t.rung for t in done), default=0)
    lowest = max(top - 1, min(top, 1))
    best: dict[Params, Trial] = {}
    for t in done:
        if t.rung >= lowest and (t.params not in best or t.metric > best[t.params].metric):
            best[t.params] = t
    ranked = sorted(best.values(), key=lambda t: (-t.metric, t.number))
    return found + [Finalist(t, t.best_epoch) for t in ranked[:count - len(found)]]


def plan(candidates: list[Finalist], cv_cost: Callable[[Finalist], float], fit_cost: Callable[[Finalist], float],
         seconds: float) -> list[Finalist]:
    """The finalists to cross-validate in `seconds`, in order, keeping time for the refit of any of them: none
    unless the default (the first) and at least one other fit, since a comparison needs two."""
    chosen: list[Finalist] = []
    spent = 0.0
    for f in candidates:
        if spent + cv_cost(f) + max(fit_cost(g) for g in chosen + [f]) <= seconds:
            chosen.append(f)
            spent += cv_cost(f)
    return chosen if len(chosen) >= 2 and chosen[0] is candidates[0] else []


def standard_error(value: float, lines: int) -> float:
    """A metric's standard error over `lines` scored lines, as for a proportion (exact for accuracy)."""
    v = min(max(value, 0.0), 1.0)
    return math.sqrt(v * (1.0 - v) / max(lines, 1))


def choose(candidates: list[Finalist], cv_lines: int, valid_lines: int) -> tuple[Finalist, str, float]:
    """(winner, basis, margin). `cv_lines` counts the lines cross-validation scored independently (a group
    of lines held out together once). The basis is the cross-validated means when the default and another
    finalist were cross-validated, else the search's validation values. The winner is the finalist with
    the best value, except that the default is kept unless it is beaten by more than one standard error
    (the one-standard-error rule): the best of several noisy estimates is biased upwards, and the defaults
    are known to generalise, so a small lead is more likely luck than a better model. Ties go to the
    earlier."""
    scored = [f for f in candidates if f.folds]
    by_cv = len(scored) >= 2 and candidates[0].default and bool(candidates[0].folds)
    pool, lines = (scored, cv_lines) if by_cv else (candidates, valid_lines)
    value = (lambda f: f.cv) if by_cv else (lambda f: f.trial.metric)
    best = max(pool, key=lambda f: (value(f), -pool.index(f)))
    default = next((f for f in pool if f.default), None)
    if default is None:
        return best, "cross-validation" if by_cv else "validation", 0.0
    margin = standard_error(value(default), lines)
    winner = best if value(best) - value(default) > margin else default
    return winner, "cross-validation" if by_cv else "validation", margin


def folds(examples: Examples, count: int = FOLDS, groups: np.ndarray | None = None) -> np.ndarray:
    """Each line's fold: the groups (`line_groups`; each line its own when None), in order of the lines
    they are numbered by, dealt round-robin per (first) label of that line, so that every fold has each
    label's share of the lines (stratified; a fold without a rare label scores it as noise) and a group
    stays in one fold."""
    n = len(examples)
    groups = np.arange(n) if groups is None else groups
    heads = np.flatnonzero(groups == np.arange(n))  # a group is numbered by one of its lines
    first = examples.labels[examples.label_offsets[:-1]]
    order = heads[np.argsort(first[heads], kind="stable")]
    fold_of_head = np.empty(n, dtype=np.int64)
    fold_of_head[order] = np.arange(len(order)) % count
    return fold_of_head[groups]


def line_groups(examples: Examples, n_words: int, max_steps: int = MAX_SPAN_STEPS) -> tuple[np.ndarray, bool]:
    """(each line's group, whether the step budget sufficed) for cross-validation: a line joins the
    longest line whose words contain its words as a run (a duplicate, or a phrase of a parsed sentence:
    SST's lines are the phrases of its sentences), and the group is numbered by that line. Held out apart
    from the sentence it comes from, a phrase is scored by a model that trained on it inside that
    sentence, and every configuration scores alike (SST-2: 0.916 for each; grouped, 0.79-0.80, and they
    differ). Words are the in-vocabulary word ids; a line without any stays alone. Past the budget,
    lines are still grouped with their duplicates."""
    from seqkit_classify.containment import contained_groups

    group = np.empty(len(examples), dtype=np.int64)
    finished = contained_groups(examples.features, examples.feat_offsets, n_words, max_steps, group)
    examples.release()
    return group, bool(finished)


class Refit:
    """Cross-validation and the final training over `lines` (training and validation lines together)."""

    def __init__(self, lines: Lines, dictionary: Dictionary, metric: Metric, class_weight: np.ndarray,
                 base: Config, label_prefix: str):
        self.lines, self.dictionary, self.metric, self.class_weight = lines, dictionary, metric, class_weight
        self.base, self.prefix = base, label_prefix
        self._features: dict[tuple, Examples] = {}
        self._groups: np.ndarray | None = None
        self.grouped_fully = True

    def groups(self, examples: Examples) -> np.ndarray:
        """The lines' cross-validation groups (the same words, so the same groups, under every setting)."""
        if self._groups is None:
            n_words = len(self.dictionary.words)
            self._groups, self.grouped_fully = line_groups(examples, n_words, MAX_SPAN_STEPS)
        return self._groups

    def joined(self) -> int | None:
        """How many lines cross-validation holds out with another line they are part of (None: not yet
        grouped)."""
        return None if self._groups is None else int(len(self._groups) - np.count_nonzero(
            self._groups == np.arange(len(self._groups))))

    def settings(self, p: Params) -> Settings:
        return p.settings(self.prefix)

    def examples(self, p: Params) -> Examples:
        settings = self.settings(p)
        key = (settings.word_ngrams, settings.buckets, settings.minn, settings.maxn)
        if key not in self._features:
            self._features[key] = featurise(self.lines, settings, self.dictionary)
        return self._features[key]

    def config(self, p: Params, epochs: int) -> Config:
        return Config(loss=p.loss, dim=p.dim, lr=p.lr, epochs=epochs, negative=self.base.negative,
                      threads=self.base.threads, seed=self.base.seed, pooling=p.pooling)

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
        fold = folds(examples, FOLDS, self.groups(examples))
        if np.bincount(fold, minlength=FOLDS).min() == 0:
            return  # fewer groups than folds (a handful of lines, or all alike): nothing to compare on
        tree = huffman_tree(self.dictionary.label_counts) if p.loss == "hs" else None
        for k in range(FOLDS):
            if deadline is not None and finalist.folds and time.perf_counter() > deadline:
                finalist.folds = []  # a partial mean would not compare with the others'
                break
            try:
                weights = self.fit(p, finalist.epochs, fold != k)
            except TrainingDiverged:  # this finalist is out of the comparison; the others still compare
                finalist.folds = []
                break
            held_out = take_examples(examples, fold == k)
            validation = Validation(held_out, weights.bucket_ids, len(self.dictionary.words))
            top = validation.top_labels(weights.input, weights.output, tree, p.pooling, self.metric.k)
            finalist.folds.append(measure(self.metric, top, validation.labels, validation.label_offsets,
                                          len(self.dictionary.labels)))
        finalist.seconds = time.perf_counter() - started
