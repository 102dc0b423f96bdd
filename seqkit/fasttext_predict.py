"""A supervised fastText `.bin` as a `seqkit.classifier.Classifier`: fastText's own predictions.

The features of a line are fastText's `Dictionary::getLine` (its words' rows or subwords, `</s>` at the
end, then the word n-gram buckets); the hidden layer is their mean; the output is fastText's for the
model's loss: softmax, a sigmoid per label (ns, ova: fastText's 512-step sigmoid table), or a search of
the Huffman tree of label counts (hs). Scores are ranked as fastText ranks them, `log(p + 1e-5)`, and
reported as exp of that, as `fasttext predict` prints them.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from seqkit import fasttext_bin
from seqkit.errors import DataError
from seqkit.subword import EOS, SubwordModel, fnv1a, word_ngram_buckets

LABEL_PREFIX = "__label__"
_SIGMOID_TABLE_SIZE, _MAX_SIGMOID = 512, 8


def _sigmoid_table() -> np.ndarray:
    x = np.arange(_SIGMOID_TABLE_SIZE + 1, dtype=np.float64) * 2 * _MAX_SIGMOID / _SIGMOID_TABLE_SIZE - _MAX_SIGMOID
    return (1.0 / (1.0 + np.exp(-x.astype(np.float32).astype(np.float64)))).astype(np.float32)


_TABLE = _sigmoid_table()


def _table_sigmoid(x: float) -> float:
    """fastText's `Loss::sigmoid`: a lookup, not the exact function, so probabilities match its own."""
    if x < -_MAX_SIGMOID:
        return 0.0
    if x > _MAX_SIGMOID:
        return 1.0
    x32 = np.float32(x)
    i = int((x32 + np.float32(_MAX_SIGMOID)) * np.float32(_SIGMOID_TABLE_SIZE) / np.float32(_MAX_SIGMOID)
            / np.float32(2))
    return float(_TABLE[i])


def _std_log(x: float) -> float:
    return math.log(x + 1e-5)


TOKEN_CACHE = 1 << 18  # distinct tokens remembered before the memory is emptied


class FastTextClassifier:
    """Predictions of a supervised fastText model (see the module's docstring)."""

    def __init__(self, model: fasttext_bin.FastTextModel, path: str = ""):
        if not model.supervised or model.nlabels == 0:
            raise DataError("a fastText word-vector model, not a classifier (it has no labels); use -m with "
                            "the vector commands", path)
        self.model = model
        self.subwords = SubwordModel.from_fasttext(model)
        self.labels = model.labels
        # what `test` reports labels by; which tokens are labels is fastText's rule (`split_labels`)
        self.label_prefix = LABEL_PREFIX if all(x.startswith(LABEL_PREFIX) for x in self.labels) else \
            _common_prefix(self.labels)
        self._label_set = frozenset(self.labels)
        self._tokens: dict[str, tuple[list[int], int]] = {}
        if model.args.loss == "hs":
            self._tree = _huffman_tree(model.counts[model.nwords:].tolist())

    def is_label(self, token: str) -> bool:
        """fastText's `getLine` on a loaded model: a token in its dictionary has the dictionary's type, any
        other is a label when it starts with fastText's default prefix (a `.bin` does not store the prefix
        it was trained with)."""
        return token in self._label_set or (token.startswith(LABEL_PREFIX) and token not in self.subwords.index)

    def split_labels(self, tokens: Sequence[str]) -> tuple[list[str], list[str]]:
        words, labels = [], []
        for token in tokens:
            (labels if self.is_label(token) else words).append(token)
        return words, labels

    def _token(self, token: str) -> tuple[list[int], int]:
        """(input rows, hash) of a word token, remembered: hashing its character n-grams in Python is the
        cost of a line, and words repeat."""
        known = self._tokens.get(token)
        if known is None:
            a, sub = self.model.args, self.subwords
            own = sub.index.get(token)
            rows = sub.ngram_rows(token) if own is None else [own] if a.maxn <= 0 else sub.rows(token)
            known = (rows, fnv1a(token.encode("utf-8", "surrogateescape")))
            if len(self._tokens) >= TOKEN_CACHE:
                self._tokens.clear()
            self._tokens[token] = known
        return known

    def features(self, tokens: Sequence[str]) -> list[int]:
        """fastText's `getLine` on `tokens` + `</s>`: input rows of words and subwords, then word n-grams."""
        a, sub = self.model.args, self.subwords
        rows, hashes = [], []
        for token in [*tokens, EOS]:
            if self.is_label(token):
                continue
            token_rows, token_hash = self._token(token)
            rows += token_rows
            hashes.append(token_hash)
        if a.word_ngrams > 1 and a.bucket > 0:
            rows += [r for r in (sub.bucket_row(b) for b in word_ngram_buckets(hashes, a.word_ngrams, a.bucket))
                     if r is not None]
        return rows

    def sentence_vector(self, tokens: Sequence[str]) -> np.ndarray:
        rows = self.features(tokens)
        if not rows:
            return np.zeros(self.model.args.dim, dtype=np.float32)
        return (self.model.input_matrix[rows].sum(axis=0, dtype=np.float64) / len(rows)).astype(np.float32)

    def predict(self, tokens: Sequence[str], k: int, threshold: float) -> list[tuple[str, float]]:
        rows = self.features(tokens)
        if not rows:
            return []  # fastText predicts nothing for a line without features
        k = self.model.nlabels if k <= 0 else k
        hidden = self.sentence_vector(tokens).astype(np.float64)
        loss = self.model.args.loss
        if loss == "hs":
            best = self._tree_search(hidden, k, threshold)
        else:
            scores = self.model.output_matrix.astype(np.float64) @ hidden
            if loss == "softmax":
                probs = np.exp(scores - scores.max())
                probs /= probs.sum()
            else:
                probs = np.array([_table_sigmoid(s) for s in scores])
            best = []
            for i, p in enumerate(probs.tolist()):
                if p < threshold or (len(best) == k and _std_log(p) < best[0][0]):
                    continue
                _push(best, (_std_log(p), i), k)
        return [(self.labels[i], math.exp(score)) for score, i in _sort_heap(best)]

    def _tree_search(self, hidden: np.ndarray, k: int, threshold: float) -> list[tuple[float, int]]:
        """fastText's `HierarchicalSoftmaxLoss::dfs`, with its pruning by threshold and by the k-th best."""
        left, right = self._tree
        osz, out, best = self.model.nlabels, self.model.output_matrix, []
        stack = [(2 * osz - 2, 0.0)]
        limit = _std_log(threshold)
        while stack:
            node, score = stack.pop()
            if score < limit or (len(best) == k and score < best[0][0]):
                continue
            if left[node] == -1:
                _push(best, (score, node), k)
                continue
            f = 1.0 / (1.0 + math.exp(-float(out[node - osz].astype(np.float64) @ hidden)))  # exact, as fastText's dfs
            # fastText visits the left child first: push it last
            stack.append((right[node], score + _std_log(f)))
            stack.append((left[node], score + _std_log(1.0 - f)))
        return best


# libstdc++'s push_heap / pop_heap / sort_heap with fastText's `comparePairs` (a min-heap on the score),
# step for step, so that labels with equal scores come out in fastText's order.

def _above(a: tuple[float, int], b: tuple[float, int]) -> bool:
    return a[0] > b[0]


def _sift_up(heap: list, hole: int, top: int, value: tuple) -> None:
    parent = (hole - 1) // 2
    while hole > top and _above(heap[parent], value):
        heap[hole] = heap[parent]
        hole, parent = parent, (parent - 1) // 2
    heap[hole] = value


def _pop_to(heap: list, last: int) -> None:
    """Move the top to `heap[last]` and restore the heap on `heap[:last]` (libstdc++'s __pop_heap)."""
    value, heap[last] = heap[last], heap[0]
    hole, child, length = 0, 0, last
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if _above(heap[child], heap[child - 1]):
            child -= 1
        heap[hole], hole = heap[child], child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        heap[hole], hole = heap[child - 1], child - 1
    _sift_up(heap, hole, 0, value)


def _push(heap: list, item: tuple[float, int], k: int) -> None:
    heap.append(item)
    _sift_up(heap, len(heap) - 1, 0, item)
    if len(heap) > k:
        _pop_to(heap, len(heap) - 1)
        heap.pop()


def _sort_heap(heap: list) -> list:
    for last in range(len(heap) - 1, 0, -1):
        _pop_to(heap, last)
    return heap


def _huffman_tree(counts: list[int]) -> tuple[list[int], list[int]]:
    """fastText's `buildTree` (a two-pointer merge over counts sorted descending): children per node."""
    osz = len(counts)
    size = 2 * osz - 1
    count = [*counts, *([10 ** 15] * (size - osz))]
    left, right = [-1] * size, [-1] * size
    leaf, node = osz - 1, osz
    for i in range(osz, size):
        mini = []
        for _ in range(2):
            if leaf >= 0 and count[leaf] < count[node]:
                mini.append(leaf)
                leaf -= 1
            else:
                mini.append(node)
                node += 1
        left[i], right[i] = mini
        count[i] = count[mini[0]] + count[mini[1]]
    return left, right


def _common_prefix(labels: Sequence[str]) -> str:
    prefix = labels[0] if labels else ""
    for label in labels[1:]:
        while not label.startswith(prefix):
            prefix = prefix[:-1]
    return prefix


class FastTextClassifierFormat:
    """The classifier-registry entry for supervised fastText `.bin` files."""

    name = "fasttext-bin"

    @staticmethod
    def sniff(path: str) -> bool:
        return fasttext_bin.sniff_classifier(path)

    @staticmethod
    def load(path: str) -> FastTextClassifier:
        return FastTextClassifier(fasttext_bin.read(path), path)
