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

    def scores(self, input_rows: np.ndarray, output_rows: np.ndarray, tree, pooling: str, first: int = 0,
               end: int | None = None) -> np.ndarray:
        """[lines, labels] scores of lines `first`..`end` (all by default), ordered as the model's
        probabilities are (logits; log-probabilities for hs)."""
        end = len(self) if end is None else end
        zero = np.zeros((1, input_rows.shape[1]), np.float32)
        offsets = self.offsets[first:end + 1]
        block = self.rows[offsets[0]:offsets[-1]]
        rows = np.where(block >= 0, block, len(input_rows))
        gathered = np.concatenate([input_rows, zero])[rows] if (block < 0).any() else input_rows[rows]
        sums = np.add.reduceat(gathered.astype(np.float64), offsets[:-1] - offsets[0], axis=0)
        hidden = sums / pool_divisors(np.diff(offsets), pooling)[:, None]
        scores = hidden @ output_rows.T.astype(np.float64)
        if tree is not None:  # a label's log-probability is the sum over its path
            right = -np.logaddexp(0.0, -scores)
            wrong = -np.logaddexp(0.0, scores)
            taken = np.where(tree.codes == 0, right[:, tree.points], wrong[:, tree.points])
            scores = np.add.reduceat(taken, tree.offsets[:-1], axis=1)
        return scores

    def top_labels(self, input_rows: np.ndarray, output_rows: np.ndarray, tree, pooling: str, k: int) -> np.ndarray:
        """`top_k` of `scores`, a block of lines at a time: a block's scores and gathered rows stay within
        BLOCK_CELLS numbers each, whatever the number of lines and labels."""
        n, labels, dim = len(self), len(output_rows) if tree is None else len(tree.offsets) - 1, input_rows.shape[1]
        top = np.empty((n, min(k, labels)), dtype=np.int64)
        first = 0
        while first < n:
            by_rows = int(np.searchsorted(self.offsets, self.offsets[first] + BLOCK_CELLS // dim, side="right")) - 1
            end = min(n, max(first + 1, min(first + BLOCK_CELLS // max(labels, 1), by_rows)))
            top[first:end] = top_k(self.scores(input_rows, output_rows, tree, pooling, first, end), k)
            first = end
        return top


BLOCK_CELLS = 1 << 22  # numbers in one block's scores or gathered rows: 32 MiB of float64


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
    # (line, label) pairs as numbers, compared sorted: no [lines, labels] table, whatever the label count
    gold = np.repeat(np.arange(n, dtype=np.int64), np.diff(label_offsets)) * n_labels + labels
    hits = np.isin(np.arange(n, dtype=np.int64)[:, None] * n_labels + top, gold)
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
