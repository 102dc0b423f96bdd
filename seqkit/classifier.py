"""The Classifier protocol, shared by `seqkit predict`, `seqkit test` and `seqkit sentence-vectors`.

Every classifier family (the bag-of-n-grams model, a recurrent one, a third-party plugin) is reached
through a registered `ClassifierFormat`, so the commands and their metrics are written once, here and in
`seqkit.commands`, and mean the same thing for every model.
"""

from __future__ import annotations

import math
import re
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np


_ASCII_SPACE = re.compile(r"[\t\n\v\f\r ]+")


@runtime_checkable
class Classifier(Protocol):
    """What the classification commands need from a model."""

    labels: Sequence[str]   # every label the model can predict, with its prefix (`__label__x`)
    label_prefix: str       # tokens starting with it are labels, not words

    def predict(self, tokens: Sequence[str], k: int, threshold: float) -> list[tuple[str, float]]:
        """The `k` most probable labels (k <= 0: all) with probability >= `threshold`, most probable first.

        `tokens` are the words of one line, labels removed; the model adds its own end-of-line marker."""
        ...

    def sentence_vector(self, tokens: Sequence[str]) -> np.ndarray:
        """The model's representation of one line (float32), as fastText's `print-sentence-vectors`."""
        ...

    # Optional: `predict_lines(lines, k, threshold)`, `predict` for a block of raw lines (label tokens
    # ignored), one list per line; `predict` and `test` then give the model blocks instead of lines.


@runtime_checkable
class ClassifierFormat(Protocol):
    """A file format a plugin can load as a Classifier."""

    name: str

    def sniff(self, path: str) -> bool:
        """Cheap check of the file's first bytes or metadata (never only its suffix); never raises."""
        ...

    def load(self, path: str) -> Classifier:
        ...


@runtime_checkable
class ClassifierTrainer(Protocol):
    """What `seqkit classify --model NAME` trains, registered with `Registry.add_classifier_trainer`.

    `seqkit classify` parses the options every trainer shares (`seqkit.plugins.CLASSIFIER_TRAINING_OPTIONS`:
    train, output, valid, patience, label_prefix, epochs, lr, dim, min_count, pretrained_vectors, as_json,
    strict, threads, seed, errors, quiet; `lr` and `epochs` are None unless given, so each trainer keeps its
    own defaults) and the chosen trainer's own `params`; an option of another trainer given on the command
    line is a usage error. `train` runs in the command's process; it imports its kernels itself.
    """

    name: str                  # the --model value
    help: str                  # one line for `seqkit classify --help`
    params: Sequence[Any]      # its own click.Option objects

    def train(self, **options: Any) -> None:
        ...


def split_labels(tokens: Sequence[str], prefix: str) -> tuple[list[str], list[str]]:
    """(words, labels) of one line: labels are the tokens starting with `prefix`, wherever they are."""
    words, labels = [], []
    for token in tokens:
        (labels if token.startswith(prefix) else words).append(token)
    return words, labels


def model_split_labels(model, tokens: Sequence[str]) -> tuple[list[str], list[str]]:
    """(words, labels) of one line as `model` tells them apart: its own `split_labels` when it has one (a
    fastText `.bin`, which does not store its label prefix), else by its `label_prefix`."""
    own = getattr(model, "split_labels", None)
    return own(tokens) if own is not None else split_labels(tokens, model.label_prefix)


def load_classifier(path: str) -> Classifier:
    """Load `path` with the first registered classifier format whose `sniff` accepts it."""
    from seqkit.plugins import load_model

    return load_model("classifiers", path)


def line_tokens(line: str) -> list[str]:
    """The tokens of one line, split on ASCII whitespace as the corpus reader and fastText split."""
    return [token for token in _ASCII_SPACE.split(line) if token]


class Meter:
    """fastText's `Meter` (P@k, R@k over all predictions, multi-label aware), plus per-label precision,
    recall and F1, micro and macro F1, accuracy and, for single-label data, a confusion matrix.
    Accuracy is the top prediction's on single-label data, whatever k (so `-k 2` does not make every
    line wrong), and subset accuracy (the predicted set equals the gold set) on multi-label data.

    Only lines with at least one label the model knows are counted, as fastText's `test` counts them;
    the others, and the labels only the test data has, are reported apart."""

    def __init__(self, labels: Sequence[str]):
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}
        n = len(self.labels)
        self.examples = self.gold = self.predicted = self.predicted_gold = self.exact = self.top_hits = 0
        self.label_gold = np.zeros(n, dtype=np.int64)
        self.label_predicted = np.zeros(n, dtype=np.int64)
        self.label_predicted_gold = np.zeros(n, dtype=np.int64)
        self.confusion = np.zeros((n, n), dtype=np.int64)  # [gold, top prediction], single-label lines
        self.single_label = True
        self.unlabelled = 0                    # lines with no label at all
        self.unknown_only = 0                  # lines whose labels the model does not know
        self.unknown_labels: dict[str, int] = {}

    def add(self, gold_labels: Sequence[str], predictions: Sequence[tuple[str, float]]) -> bool:
        """Count one line; False when fastText would skip it (no label the model knows)."""
        if not gold_labels:
            self.unlabelled += 1
            return False
        gold = []
        for label in gold_labels:
            if label in self.index:
                gold.append(self.index[label])
            else:
                self.unknown_labels[label] = self.unknown_labels.get(label, 0) + 1
        if not gold:
            self.unknown_only += 1
            return False
        self.examples += 1
        self.gold += len(gold)  # fastText counts a repeated label twice
        predicted = [self.index[label] for label, _ in predictions]
        self.predicted += len(predicted)
        gold_set = set(gold)
        for p in predicted:
            self.label_predicted[p] += 1
            if p in gold_set:
                self.label_predicted_gold[p] += 1
                self.predicted_gold += 1
        for g in gold:
            self.label_gold[g] += 1
        self.exact += set(predicted) == gold_set
        self.top_hits += bool(predicted) and predicted[0] in gold_set
        if len(gold_set) == 1 and self.single_label:
            if predicted:
                self.confusion[gold[0], predicted[0]] += 1
        else:
            self.single_label = False
        return True

    @property
    def precision(self) -> float:
        return self.predicted_gold / self.predicted if self.predicted else float("nan")

    @property
    def recall(self) -> float:
        return self.predicted_gold / self.gold if self.gold else float("nan")

    def per_label(self) -> list[dict]:
        rows = []
        for i, label in enumerate(self.labels):
            g, p, pg = int(self.label_gold[i]), int(self.label_predicted[i]), int(self.label_predicted_gold[i])
            if g == 0 and p == 0:
                continue
            precision = pg / p if p else float("nan")
            recall = pg / g if g else float("nan")
            rows.append({"label": label, "precision": precision, "recall": recall, "f1": _f1(precision, recall),
                         "gold": g, "predicted": p})
        return rows

    def summary(self, k: int) -> dict:
        """Every figure, by name (fastText's are `N`, `P@k`, `R@k`)."""
        rows = self.per_label()
        macro = [0.0 if math.isnan(r["f1"]) else r["f1"] for r in rows]
        result = {"N": self.examples, f"P@{k}": self.precision, f"R@{k}": self.recall,
                  "f1_micro": _f1(self.precision, self.recall),
                  "f1_macro": float(np.mean(macro)) if macro else float("nan"),
                  "accuracy": ((self.top_hits if self.single_label else self.exact) / self.examples
                               if self.examples else float("nan")),
                  "skipped_unlabelled": self.unlabelled, "skipped_unknown_labels": self.unknown_only,
                  "unknown_labels": dict(sorted(self.unknown_labels.items()))}
        result["per_label"] = rows
        if self.single_label and self.examples:
            result["confusion"] = {"labels": self.labels, "matrix": self.confusion.tolist()}
        return result


def _f1(precision: float, recall: float) -> float:
    if math.isnan(precision) or math.isnan(recall) or precision + recall == 0:
        return float("nan") if math.isnan(precision) or math.isnan(recall) else 0.0
    return 2 * precision * recall / (precision + recall)
