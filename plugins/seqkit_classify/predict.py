"""Prediction a block of lines at a time: the core's compiled reader numbers the tokens, each distinct token
is looked up (word id, hash, character n-grams) once per run, and the training kernel builds the features.

Python then touches each block and each new token type, never each token, which is what makes `seqkit
predict` on a large file as fast as fastText's C++ (a line-by-line loop in Python costs tens of
microseconds a line before any arithmetic).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from seqkit.hashing import word_hash
from seqkit.reader import TokenTable
from seqkit_classify.data import _features, subword_table
from seqkit.startup import no_blas_probe

_ASCII_WHITESPACE = " \t\n\v\f\r"  # what the reader splits on (a no-break space is part of a word)


class BlockFeatures:
    """A model's features for blocks of raw lines, with the per-type tables kept across blocks."""

    def __init__(self, model) -> None:
        self.model = model
        self.table = TokenTable(1 << 62)  # a line is one example, however long
        with no_blas_probe():
            TokenTable(1).encode(b"\n")  # the process's first kernel call, made without the probe
        self.type_word = np.zeros(0, dtype=np.int32)
        self.type_label = np.zeros(0, dtype=np.int32)
        self.type_hash = np.zeros(0, dtype=np.int32)
        self.sub_offsets = np.zeros(1, dtype=np.int64)
        self.sub_buckets = np.zeros(0, dtype=np.int64)
        self.seeded = self._seed()

    def _seed(self) -> bool:
        """Give the model's words their own ids as the table's first types, so that a known word costs no
        Python work when a block meets it (only new tokens do); False if a word could not be seeded."""
        words = self.model.dictionary.words
        ids = self.table.seed([w.encode("utf-8", "surrogateescape") for w in words])
        if not np.array_equal(ids, np.arange(len(words))):
            self.table = TokenTable(1 << 62)
            return False
        n = len(words)
        self.type_word = np.arange(n, dtype=np.int32)
        self.type_label = np.full(n, -1, dtype=np.int32)
        self.type_hash = np.ascontiguousarray(self.model.dictionary.word_hashes, dtype=np.int32)
        self.sub_offsets, self.sub_buckets = subword_table(words, np.zeros(n, dtype=bool), self.model.settings)
        return True

    def _add_types(self) -> None:
        known, total = len(self.type_word), len(self.table)
        if total == known:
            return
        prefix = self.model.label_prefix
        words = [self.table.word(i).decode("utf-8", "surrogateescape") for i in range(known, total)]
        is_label = np.array([w.startswith(prefix) for w in words], dtype=bool)
        if self.seeded:  # every word of the model has its type already: these are not words of it
            ids = [-1] * len(words)
            hashes = [0 if label else word_hash(w) for w, label in zip(words, is_label)]
        else:
            index = self.model.word_index
            word_hashes = self.model.dictionary.word_hashes.view(np.uint32)
            ids = [-1 if label else index.get(w, -1) for w, label in zip(words, is_label)]
            hashes = [0 if label else int(word_hashes[i]) if i >= 0 else word_hash(w)
                      for w, label, i in zip(words, is_label, ids)]
        self.type_word = np.concatenate([self.type_word, np.array(ids, dtype=np.int32)])
        # labels play no part in prediction: -2 makes the kernel skip them as labels the model does not know
        self.type_label = np.concatenate([self.type_label, np.where(is_label, -2, -1).astype(np.int32)])
        self.type_hash = np.concatenate([self.type_hash, np.array(hashes, dtype=np.uint32).view(np.int32)])
        offsets, buckets = subword_table(words, is_label, self.model.settings)
        self.sub_offsets = np.concatenate([self.sub_offsets, self.sub_offsets[-1] + offsets[1:]])
        self.sub_buckets = np.concatenate([self.sub_buckets, buckets])

    def examples(self, lines: Sequence[str]):
        """(features of the block's non-blank lines, which lines are non-blank)."""
        data = "".join(lines).encode("utf-8", "surrogateescape")
        if not data.endswith(b"\n"):
            data += b"\n"
        filled = np.array([bool(line.strip(_ASCII_WHITESPACE)) for line in lines], dtype=bool)
        ids, lengths = self.table.encode(data)
        self._add_types()
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        m = self.model
        examples = _features(ids.astype(np.int32, copy=False), offsets, self.type_word, self.type_label,
                             self.type_hash, self.sub_offsets, self.sub_buckets, m.dictionary, m.settings,
                             keep_unlabelled=True)
        return examples, filled
