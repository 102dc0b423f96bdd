"""Held-out lines scored by in-memory weights, and fastText's metrics (`Meter`'s) computed on whole arrays.

Used after every epoch (--valid, --autotune-validation), so it is vectorised: the ranking of the labels
is what fastText's test counts (threshold 0: the top k are all predictions), and the figures equal what
`seqkit.classifier.Meter` gives for the same ranking (a test holds them together).
"""

from __future__ import annotations

from dataclasses import dataclass

import click
import numpy as np

from seqkit_classify.data import Examples, pool_divisors


class Validation:
    """Validation lines as input rows of one model's layout (a bucket training never used is a zero row)."""

    def __init__(self, examples: Examples, bucket_ids: np.ndarray, n_words: int):
        features = examples.features
        grams = features >= n_words
        at = np.searchsorted(bucket_ids, features[grams] - n_words)
        at = np.minimum(at, max(len(bucket_ids) - 1, 0))
        seen = np.zeros(len(features), dtype=bool)
        seen[~grams] = True
        if len(bucket_ids):
            seen[np.flatnonzero(grams)] = bucket_ids[at] == features[grams] - n_words
        rows = features.copy()
        rows[np.flatnonzero(grams)] = n_words + at
        self.rows = np.where(seen, rows, -1)  # -1: counted in the mean as a zero row, as the saved model does
        self.offsets = examples.feat_offsets
        self.labels, self.label_offsets = examples.labels, examples.label_offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def scores(self, input_rows: np.ndarray, output_rows: np.ndarray, tree, pooling: str) -> np.ndarray:
        """[lines, labels] scores ordered as the model's probabilities are (logits; log-probabilities for hs)."""
        table = np.vstack([input_rows, np.zeros((1, input_rows.shape[1]), np.float32)])
        rows = np.where(self.rows >= 0, self.rows, len(table) - 1)
        sums = np.add.reduceat(table[rows].astype(np.float64), self.offsets[:-1], axis=0)
        hidden = sums / pool_divisors(np.diff(self.offsets), pooling)[:, None]
        scores = hidden @ output_rows.T.astype(np.float64)
        if tree is not None:  # a label's log-probability is the sum over its path
            right = -np.logaddexp(0.0, -scores)
            wrong = -np.logaddexp(0.0, scores)
            taken = np.where(tree.codes == 0, right[:, tree.points], wrong[:, tree.points])
            scores = np.add.reduceat(taken, tree.offsets[:-1], axis=1)
        return scores


@dataclass(frozen=True)
class Metric:
    """What the search maximises: `f1` (micro, top 1), `f1` of one label, or P@k / R@k."""

    kind: str        # "f1", "precision" or "recall"
    k: int = 1
    label: int = -1  # with kind "f1": one label's F1 instead of the micro F1
    name: str = "f1"


def parse_metric(spec: str, labels: list[str], prefix: str) -> Metric:
    """fastText's `-autotune-metric` spellings: f1, f1:LABEL, precision@K, recall@K (a bare LABEL gets the prefix)."""
    if spec == "f1":
        return Metric("f1", 1, -1, "f1")
    if spec.startswith("f1:"):
        label = spec[3:]
        for name in (label, prefix + label):
            if name in labels:
                return Metric("f1", 1, labels.index(name), f"f1:{name}")
        raise click.UsageError(f"--autotune-metric {spec}: {label!r} is not a label of the training data "
                          f"(labels: {', '.join(labels[:8])}{', ...' if len(labels) > 8 else ''})")
    for kind in ("precision", "recall"):
        if spec.startswith(kind + "@"):
            try:
                k = int(spec[len(kind) + 1:])
            except ValueError:
                k = 0
            if k < 1:
                raise click.UsageError(f"--autotune-metric {spec}: K must be a whole number >= 1")
            return Metric(kind, min(k, len(labels)), -1, f"{kind}@{k}")
    raise click.UsageError(f"--autotune-metric {spec!r}: expected f1, f1:LABEL, precision@K or recall@K")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """[lines, k] label ids, best first (ties to the lower id, as a stable sort of the probabilities)."""
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def measure(metric: Metric, top: np.ndarray, labels: np.ndarray, label_offsets: np.ndarray, n_labels: int) -> float:
    """The metric of predictions `top` against gold labels in CSR form; counts as `Meter` counts."""
    n = len(label_offsets) - 1
    gold = np.zeros((n, n_labels), dtype=bool)
    gold[np.repeat(np.arange(n), np.diff(label_offsets)), labels] = True
    hits = gold[np.arange(n)[:, None], top]
    if metric.label >= 0:
        mine = top == metric.label
        predicted, correct = int(mine.sum()), int((hits & mine).sum())
        relevant = int((labels == metric.label).sum())
    else:
        predicted, correct, relevant = top.size, int(hits.sum()), len(labels)
    precision = correct / predicted if predicted else float("nan")
    recall = correct / relevant if relevant else float("nan")
    if metric.kind == "precision":
        return precision
    if metric.kind == "recall":
        return recall
    if np.isnan(precision) or np.isnan(recall):
        return 0.0  # a label never predicted (or absent) scores as the worst F1 rather than as missing
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
