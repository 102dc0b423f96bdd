"""The classifier, slowly and obviously: fastText's `getLine` features, each loss's value, one SGD step
as the exact gradient, and fastText's `Meter` (P@k, R@k), transcribed from its C++ (0.9.2)."""

from __future__ import annotations

import numpy as np

from tests.reference.hashing import fasttext_hash, word_ngram_buckets

EOS = "</s>"


def char_ngram_buckets(word: str, minn: int, maxn: int, buckets: int) -> list[int]:
    """`computeSubwords` on `<word>`: n-grams of minn..maxn characters, a bare `<` or `>` left out."""
    text = "<" + word + ">"
    out = []
    for i in range(len(text)):
        for n in range(minn, maxn + 1):
            if i + n > len(text):
                break
            if n == 1 and (i == 0 or i + n == len(text)):
                continue
            out.append(fasttext_hash(text[i:i + n].encode()) % buckets)
    return out


def line_features(tokens: list[str], words: list[str], prefix: str, word_ngrams: int, buckets: int,
                  minn: int, maxn: int) -> tuple[list[int], list[str]]:
    """(features, labels) of one line: in-vocabulary word ids each followed by their character n-gram
    buckets (OOV words: the buckets only), `</s>`, then the word n-grams of every word's hash, `</s>`'s
    included; a bucket b is the feature len(words) + b, as fastText numbers them."""
    index = {w: i for i, w in enumerate(words)}
    features, labels, hashed = [], [], []
    for token in tokens + [EOS]:
        if token.startswith(prefix):
            labels.append(token)
            continue
        if token in index:
            features.append(index[token])
        if maxn > 0 and token != EOS:
            features.extend(len(words) + b for b in char_ngram_buckets(token, minn, maxn, buckets))
        hashed.append(token)
    if word_ngrams > 1:
        features.extend(len(words) + b for b in word_ngram_buckets(hashed, word_ngrams, buckets))
    return features, labels


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + np.exp(-x))


def loss_value(wi: np.ndarray, wo: np.ndarray, features: list[int], loss: str, target: int,
               positives: set[int] = frozenset(), negatives: list[int] = (), codes=None, points=None,
               pooling: str = "mean") -> float:
    """The example's loss as fastText defines it (or with the rows' sum / sqrt(count)), for finite differences."""
    hidden = wi[features].sum(axis=0) / (np.sqrt(len(features)) if pooling == "sqrt" else len(features))
    scores = wo @ hidden
    if loss == "softmax":
        top = scores.max()
        return float(-(scores[target] - top - np.log(np.exp(scores - top).sum())))
    if loss == "ns":
        return float(-np.log(sigmoid(scores[target])) - sum(np.log(1 - sigmoid(scores[n])) for n in negatives))
    if loss == "hs":
        return float(-sum(np.log(sigmoid(scores[p]) if c == 0 else 1 - sigmoid(scores[p])) for c, p in zip(codes, points)))
    if loss == "ova":
        return float(-sum(np.log(sigmoid(scores[i]) if i in positives else 1 - sigmoid(scores[i]))
                          for i in range(len(wo))))
    raise ValueError(loss)


def numeric_gradients(wi: np.ndarray, wo: np.ndarray, value, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of `value(wi, wo)` for every weight (float64)."""
    grads = []
    for matrix in (wi, wo):
        grad = np.zeros_like(matrix)
        for index in np.ndindex(matrix.shape):
            keep = matrix[index]
            matrix[index] = keep + eps
            up = value(wi, wo)
            matrix[index] = keep - eps
            down = value(wi, wo)
            matrix[index] = keep
            grad[index] = (up - down) / (2 * eps)
        grads.append(grad)
    return grads[0], grads[1]


def fasttext_meter(gold: list[list[str]], predicted: list[list[str]], known: set[str]) -> tuple[int, float, float]:
    """fastText's `test`: (N, P@k, R@k). A line counts if it has a label the model knows; precision is
    correct predictions over all predictions, recall correct predictions over all (known) gold labels."""
    n = n_gold = n_predicted = n_correct = 0
    for labels, predictions in zip(gold, predicted):
        labels = [label for label in labels if label in known]
        if not labels:
            continue
        n += 1
        n_gold += len(labels)
        n_predicted += len(predictions)
        n_correct += sum(p in labels for p in predictions)
    return n, n_correct / n_predicted if n_predicted else float("nan"), n_correct / n_gold
