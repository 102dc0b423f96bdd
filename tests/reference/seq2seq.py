"""Slow, obviously-correct NumPy versions of the seq2seq plugin's kernels and the CTC loss."""

from __future__ import annotations

import itertools

import numpy as np


def attention(queries, keys, enc, lengths, v=None):
    """Per (t, b): scores over the first lengths[b] source positions (additive with `v`, else dot),
    softmax, context. Returns (weights [T, B, S], context [T, B, C])."""
    T, B = queries.shape[:2]
    S = keys.shape[0]
    weights = np.zeros((T, B, S))
    context = np.zeros((T, B, enc.shape[2]))
    for t in range(T):
        for b in range(B):
            n = lengths[b]
            if v is None:
                scores = np.array([queries[t, b] @ keys[j, b] for j in range(n)])
            else:
                scores = np.array([v @ np.tanh(keys[j, b] + queries[t, b]) for j in range(n)])
            e = np.exp(scores - scores.max())
            weights[t, b, :n] = e / e.sum()
            context[t, b] = sum(weights[t, b, j] * enc[j, b] for j in range(n))
    return weights, context


def ctc_brute_force(logprobs: np.ndarray, labels: list[int], blank: int = 0) -> float:
    """-log of the summed probability of every frame labelling that collapses (merge repeats, drop
    blanks) to `labels`: the definition of the CTC loss, by enumeration."""
    T, V = logprobs.shape
    total = -np.inf
    for path in itertools.product(range(V), repeat=T):
        collapsed = [k for i, k in enumerate(path) if k != blank and (i == 0 or path[i - 1] != k)]
        if collapsed == list(labels):
            total = np.logaddexp(total, sum(logprobs[t, k] for t, k in enumerate(path)))
    return -total


def log_softmax(x: np.ndarray) -> np.ndarray:
    top = x.max(axis=-1, keepdims=True)
    return x - top - np.log(np.exp(x - top).sum(axis=-1, keepdims=True))
