"""A trained classifier as a `seqkit.classifier.Classifier`: fastText's features and forward pass in NumPy."""

from __future__ import annotations

from functools import cached_property
from typing import Sequence

import numpy as np

from seqkit_classify import modelfile
from seqkit_classify.data import EOS, pool_divisors


class BagOfNgramsClassifier:
    """Mean (or sum / sqrt(count)) of the input rows of a line's features -> the loss's output probabilities."""

    def __init__(self, path: str):
        meta, self.dictionary, self.settings, arrays = modelfile.load(path)
        self.loss = meta["loss"]
        self.labels = self.dictionary.labels
        self.label_prefix = self.settings.label_prefix
        self.input, self.output = arrays["input"], arrays["output"]
        self._output64 = self.output.astype(np.float64)
        self._blocks = None  # the block predictor, made on first use
        self.quick_bytes = 0  # text predicted without Numba so far (seqkit_classify.quick)
        self.quick_hashes: dict[str, int] = {}
        self._row_of_feature = None
        self.bucket_ids = arrays["bucket_ids"]
        self.n_words = len(self.dictionary.words)
        self._subwords: dict[str, np.ndarray] = {}
        if self.loss == "hs":
            from seqkit.sampling import huffman_tree

            self.tree = huffman_tree(self.dictionary.label_counts)

    @cached_property
    def word_index(self) -> dict[str, int]:
        """Each word's id (made on first use: block prediction does not need it)."""
        return {w: i for i, w in enumerate(self.dictionary.words)}

    def features(self, tokens: Sequence[str]) -> tuple[np.ndarray, int]:
        """(input rows of the features training saw, count of all features): fastText's `getLine`."""
        s = self.settings
        rows: list[int] = []
        hashes: list[int] = []
        buckets: list[np.ndarray] = []
        for token in list(tokens) + [EOS]:
            wid = self.word_index.get(token, -1)
            if wid >= 0:
                rows.append(wid)
                hashes.append(int(self.dictionary.word_hashes[wid]))
            else:
                from seqkit.hashing import word_hash

                hashes.append(np.int32(np.uint32(word_hash(token))).item())
            if s.maxn > 0 and token != EOS:
                buckets.append(self.subwords(token))
        if s.word_ngrams > 1 and s.buckets > 0 and len(hashes) > 1:  # (a blank line: no Numba to load)
            from seqkit.hashing import line_ngram_buckets

            buckets.append(line_ngram_buckets(np.array(hashes, dtype=np.int32), s.word_ngrams, s.buckets))
        grams = np.concatenate(buckets) if buckets else np.zeros(0, dtype=np.int64)
        count = len(rows) + len(grams)
        if len(grams) and len(self.bucket_ids):
            at = np.minimum(np.searchsorted(self.bucket_ids, grams), len(self.bucket_ids) - 1)
            seen = self.bucket_ids[at] == grams  # a bucket training never used is a zero row
            rows.extend((self.n_words + at[seen]).tolist())
        return np.array(rows, dtype=np.int64), count

    def subwords(self, word: str) -> np.ndarray:
        found = self._subwords.get(word)
        if found is None:
            from seqkit_classify import kernels

            data = np.frombuffer(("<" + word + ">").encode("utf-8"), dtype=np.uint8)
            out = np.empty(max(len(data) * self.settings.maxn, 1), dtype=np.int64)
            found = out[:kernels.char_ngram_buckets(data, self.settings.minn, self.settings.maxn,
                                                    self.settings.buckets, out)].copy()
            if len(self._subwords) < 100_000:
                self._subwords[word] = found
        return found

    def sentence_vector(self, tokens: Sequence[str]) -> np.ndarray:
        rows, count = self.features(tokens)
        vector = self.input[rows].sum(axis=0, dtype=np.float64) / pool_divisors(count, self.settings.pooling)
        return vector.astype(np.float32)

    def probabilities(self, tokens: Sequence[str]) -> np.ndarray:
        """Each label's probability (softmax; a sigmoid per label for ns and ova; tree paths for hs)."""
        scores = self.output.astype(np.float64) @ self.sentence_vector(tokens).astype(np.float64)
        if self.loss == "softmax":
            scores = np.exp(scores - scores.max())
            return scores / scores.sum()
        with np.errstate(over="ignore"):
            right = 1.0 / (1.0 + np.exp(-scores))
        if self.loss != "hs":
            return right
        t = self.tree
        taken = np.where(t.codes == 0, right[t.points], 1.0 - right[t.points])
        logs = np.log(np.maximum(taken, 1e-300))
        return np.exp(np.add.reduceat(logs, t.offsets[:-1])) if len(logs) else np.ones(len(self.labels))

    def predict_lines(self, lines: Sequence[str], k: int, threshold: float) -> list[list[tuple[str, float]]]:
        """`predict` for a block of raw lines (label tokens ignored): the same labels and probabilities as
        line by line, from the compiled reader, the training kernel's features and one matrix product (the
        first MiB of text in NumPy alone: see seqkit_classify.quick)."""
        from seqkit_classify import quick

        if quick.fits(self, lines):
            feats, offsets, filled = quick.features(self, lines)
            probs = self.probabilities_of_hidden(quick.hidden(self, feats, offsets))
        else:
            if self._blocks is None:
                from seqkit_classify.predict import BlockFeatures

                self._blocks = BlockFeatures(self)
            examples, filled = self._blocks.examples(lines)
            probs = self.batch_probabilities(examples)
        order = np.argsort(-probs, axis=1, kind="stable")
        if k > 0:
            order = order[:, :k]
        chosen = np.take_along_axis(probs, order, axis=1)
        labels = self.labels
        found = iter([[(labels[i], p) for i, p in zip(row, values) if p >= threshold]
                      for row, values in zip(order.tolist(), chosen.tolist())])
        blank = self.predict([], k, threshold) if not filled.all() else []
        return [next(found) if full else list(blank) for full in filled.tolist()]

    def row_of_feature(self) -> np.ndarray:
        """Every feature's input row, -1 for a bucket training never used (a zero row): one array lookup
        per feature instead of a binary search."""
        if self._row_of_feature is None:
            table = np.full(self.n_words + max(self.settings.buckets, 0), -1, dtype=np.int32)
            table[:self.n_words] = np.arange(self.n_words)
            table[self.n_words + self.bucket_ids] = self.n_words + np.arange(len(self.bucket_ids))
            self._row_of_feature = table
        return self._row_of_feature

    def batch_probabilities(self, examples) -> np.ndarray:
        """[lines, labels] probabilities, computed as `probabilities` computes one line's."""
        from seqkit_classify import kernels

        counts = np.diff(examples.feat_offsets)
        hidden32 = np.empty((len(counts), self.input.shape[1]), dtype=np.float32)
        kernels.pooled_rows(self.input, self.row_of_feature(), examples.features, examples.feat_offsets,
                            self.settings.pooling == "sqrt", hidden32)
        return self.probabilities_of_hidden(hidden32)

    def probabilities_of_hidden(self, hidden32: np.ndarray) -> np.ndarray:
        """[lines, labels] probabilities from the lines' float32 hidden vectors."""
        hidden = hidden32.astype(np.float64)
        scores = hidden @ self._output64.T
        if self.loss == "softmax":
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            return scores / scores.sum(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            right = 1.0 / (1.0 + np.exp(-scores))
        if self.loss != "hs":
            return right
        t = self.tree
        if not len(t.codes):
            return np.ones((len(hidden32), len(self.labels)))
        taken = np.where(t.codes == 0, right[:, t.points], 1.0 - right[:, t.points])
        return np.exp(np.add.reduceat(np.log(np.maximum(taken, 1e-300)), t.offsets[:-1], axis=1))

    def predict(self, tokens: Sequence[str], k: int, threshold: float) -> list[tuple[str, float]]:
        probs = self.probabilities(tokens)
        order = np.argsort(-probs, kind="stable")
        if k > 0:
            order = order[:k]
        return [(self.labels[i], float(probs[i])) for i in order if probs[i] >= threshold]
