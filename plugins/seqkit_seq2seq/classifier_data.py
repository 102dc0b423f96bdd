"""Labelled lines (fastText's format) -> word ids ending in `</s>` and one label id per line.

The core reader splits and numbers the tokens in one compiled pass; a token starting with the label prefix,
anywhere on the line, is a label. The recurrent classifier is single-label (a softmax): a line with two
different labels is refused, naming it, and `--model bow --loss ova` suggested instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqkit.corpus import CorpusStats, locate_line
from seqkit.errors import DataError, SeqkitError
from seqkit.vocabulary import read_corpus
from seqkit_seq2seq.classifier_network import EOS, SPECIALS, UNK

WHOLE_LINES = 1 << 62  # a line is one example, however long


@dataclass
class Lines:
    """Token types (words and labels) and every non-empty line's type ids, read once."""

    paths: list[str]
    types: list[str]
    is_label: np.ndarray
    counts: np.ndarray
    ids: np.ndarray
    offsets: np.ndarray


@dataclass
class Examples:
    """Line e's word ids are `ids[offsets[e]:offsets[e + 1]]` (`</s>` last); its label is `labels[e]`."""

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    skipped: int = 0          # lines without a (known) label
    first_skipped: int = -1   # non-empty line index of the first of them

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def read_lines(paths: list[str], label_prefix: str, errors: str, stats: CorpusStats | None = None) -> Lines:
    vocab, _, corpus = read_corpus(paths, min_count=1, order="first-seen", errors=errors,
                                   max_sentence_len=WHOLE_LINES, stats=stats, in_memory=True)
    is_label = np.array([w.startswith(label_prefix) for w in vocab.words], dtype=bool)
    return Lines(list(paths), list(vocab.words), is_label, vocab.counts, corpus.ids.astype(np.int64),
                 corpus.offsets.astype(np.int64))


def vocabulary(lines: Lines, min_count: int) -> tuple[list[str], list[str]]:
    """(words: the specials, then words seen >= min_count times; labels), each most frequent first."""
    order = np.argsort(-lines.counts, kind="stable")
    words = [lines.types[i] for i in order if not lines.is_label[i] and lines.counts[i] >= min_count
             and lines.types[i] not in SPECIALS]
    labels = [lines.types[i] for i in order if lines.is_label[i]]
    if len(labels) < 2:
        raise SeqkitError(f"{len(labels)} label types in the training data (tokens starting with the label "
                          "prefix): a classifier needs two or more")
    return list(SPECIALS) + words, labels


def encode(lines: Lines, words: list[str], labels: list[str], errors: str) -> Examples:
    """Every line with one known label as word ids + `</s>`; lines with none are counted, two are an error."""
    word_index = {w: i for i, w in enumerate(words)}
    label_index = {w: i for i, w in enumerate(labels)}
    type_word = np.array([word_index.get(t, UNK) for t in lines.types], dtype=np.int64)
    type_label = np.array([label_index.get(t, -1) if lab else -1 for t, lab in zip(lines.types, lines.is_label)],
                          dtype=np.int64)
    n = len(lines.offsets) - 1
    line_of = np.repeat(np.arange(n), np.diff(lines.offsets))
    labelled = lines.is_label[lines.ids]
    pairs = np.unique(np.stack([line_of[labelled], lines.ids[labelled]]), axis=1)  # distinct (line, label type)
    per_line = np.bincount(pairs[0], minlength=n)
    if (per_line > 1).any():
        path, number = locate_line(lines.paths, int(np.argmax(per_line > 1)))
        raise DataError("two different labels: --model birnn is single-label (softmax); use --model bow "
                        "--loss ova for multi-label data", path, number)
    label = np.full(n, -1, dtype=np.int64)
    label[pairs[0]] = type_label[pairs[1]]
    keep = label >= 0
    words_mask = ~labelled & keep[line_of]
    kept_line = (np.cumsum(keep) - 1)[line_of[words_mask]]
    sizes = np.bincount(kept_line, minlength=int(keep.sum())) + 1  # + </s>
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    ids = np.full(offsets[-1], EOS, dtype=np.int64)
    starts = offsets[:-1] - np.arange(len(sizes))  # where each line's words begin among the kept words
    rank = np.arange(len(kept_line)) - starts[kept_line]
    ids[offsets[kept_line] + rank] = type_word[lines.ids[words_mask]]
    skipped = int(n - keep.sum())
    return Examples(ids, offsets, label[keep], skipped, int(np.argmin(keep)) if skipped else -1)


def clip(examples: Examples, max_length: int) -> int:
    """Cut, in place, every line longer than `max_length` tokens to its first `max_length - 1` words and
    `</s>` (a batch's buffers grow with its longest line); returns how many were cut."""
    lengths = examples.lengths()
    long = lengths > max_length
    if not long.any():
        return 0
    kept = np.minimum(lengths, max_length)
    offsets = np.zeros(len(kept) + 1, dtype=np.int64)
    np.cumsum(kept, out=offsets[1:])
    source = np.repeat(examples.offsets[:-1] - offsets[:-1], kept) + np.arange(offsets[-1])
    ids = examples.ids[source]
    ids[offsets[1:][long] - 1] = EOS
    examples.ids, examples.offsets = ids, offsets
    return int(long.sum())
