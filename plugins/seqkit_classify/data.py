"""Labelled lines in fastText's format -> a vocabulary, labels and every line's input features.

(Numba loads only when features are computed: a model file is read without it.) The core reader splits
and numbers the tokens in one compiled pass; a token starting with the label
prefix, anywhere on the line, is a label. Features are computed once (fastText recomputes them every
epoch): word ids, then `n_words + bucket` for hashed character and word n-grams, `</s>` ending each line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from seqkit.corpus import CorpusStats, locate_line, materialize_stdin
from seqkit.errors import DataError, SeqkitError, display_path
from seqkit.vocabulary import read_corpus
from seqkit_classify.store import FeatureStore, wants_store

EOS = "</s>"
FEATURE_DTYPE = np.int32  # half the memory of int64; int64 only when n_words + buckets reach 2^31
WHOLE_LINES = 1 << 62  # a line is one example, however long: never cut it into pieces


POOLINGS = ("mean", "sqrt")
# Dividing a line's sum by sqrt(count) instead of count makes its hidden vector and the output layer's steps
# sqrt(count) times larger: with lines of 10-40 features a tenth of the mean's learning rate suits it.
POOLING_LR = {"mean": 1.0, "sqrt": 0.1}


@dataclass
class Settings:
    """What decides the features of a line and how they make its vector (saved in the model file)."""

    label_prefix: str = "__label__"
    word_ngrams: int = 1
    buckets: int = 2_000_000
    minn: int = 0
    maxn: int = 0
    pooling: str = "mean"  # the hidden layer: the mean of the feature rows (fastText's), or sum / sqrt(count)


def model_settings(label_prefix: str, word_ngrams: int, buckets: int, minn: int, maxn: int,
                   pooling: str) -> Settings:
    """The settings of a model trained with these options: no buckets without n-grams to hash."""
    return Settings(label_prefix=label_prefix, word_ngrams=word_ngrams, minn=minn, maxn=maxn,
                    buckets=buckets if (word_ngrams > 1 or maxn > 0) else 0, pooling=pooling)


def pool_divisors(counts, pooling: str) -> np.ndarray:
    """What the sum of each line's feature rows is divided by (float64; a line without features: 1)."""
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 1.0)
    return np.sqrt(counts) if pooling == "sqrt" else counts


@dataclass
class Examples:
    """The labelled lines, as CSR arrays: line e's features are `features[feat_offsets[e]:feat_offsets[e+1]]`."""

    features: np.ndarray       # int32 (see feature_dtype): word id, or n_words + bucket
    feat_offsets: np.ndarray   # int64[n + 1]
    labels: np.ndarray         # int32 label ids
    label_offsets: np.ndarray  # int64[n + 1]
    tokens: np.ndarray         # float64: tokens per line (words and labels), for the lr schedule
    unlabelled: int = 0        # lines skipped for having no (known) label
    first_unlabelled: int = -1  # index, among non-empty lines, of the first of those
    store: FeatureStore | None = None  # where a large `features` lives (see seqkit_classify.store)

    def __len__(self) -> int:
        return len(self.feat_offsets) - 1

    def release(self) -> None:
        """Hand the pages of stored features back (after a pass over them); nothing for in-memory ones."""
        if self.store is not None:
            self.store.release()


@dataclass
class Dictionary:
    """Words (`</s>` first) and labels with their counts, each most frequent first."""

    words: list[str]
    word_counts: np.ndarray
    labels: list[str]
    label_counts: np.ndarray
    word_hashes: np.ndarray = field(default=None)  # int32, fastText's hash of each word

    def __post_init__(self) -> None:
        if self.word_hashes is None:
            from seqkit.hashing import word_hash

            self.word_hashes = np.array([word_hash(w) for w in self.words], dtype=np.uint32).view(np.int32)


@dataclass
class Lines:
    """The token types and id sequences of labelled lines, read once; features are computed per Settings."""

    types: list[str]
    is_label: np.ndarray  # bool per type
    counts: np.ndarray
    ids: np.ndarray
    offsets: np.ndarray


def read_lines(paths: list[str], label_prefix: str, *, errors: str = "strict",
               stats: CorpusStats | None = None) -> Lines:
    vocab, _, corpus = read_corpus(paths, min_count=1, order="first-seen", errors=errors,
                                   max_sentence_len=WHOLE_LINES, stats=stats, in_memory=True)
    is_label = np.array([w.startswith(label_prefix) for w in vocab.words], dtype=bool)
    return Lines(vocab.words, is_label, vocab.counts, corpus.ids, corpus.offsets)


def build_dictionary(lines: Lines, min_count: int = 1, min_count_label: int = 1) -> Dictionary:
    return _build_dictionary(lines.types, lines.counts, lines.is_label, min_count, min_count_label,
                             len(lines.offsets) - 1)


def lines_from_tokens(token_lists: Sequence[Sequence[str]], label_prefix: str) -> Lines:
    """Lines already split into tokens (a block of text to predict), in the form `featurise` takes."""
    index: dict[str, int] = {}
    ids: list[int] = []
    offsets = np.zeros(len(token_lists) + 1, dtype=np.int64)
    for n, tokens in enumerate(token_lists):
        for token in tokens:
            at = index.get(token)
            if at is None:
                at = index[token] = len(index)
            ids.append(at)
        offsets[n + 1] = len(ids)
    types = list(index)
    is_label = np.array([t.startswith(label_prefix) for t in types], dtype=bool)
    return Lines(types, is_label, np.zeros(len(types), dtype=np.int64), np.array(ids, dtype=np.int32), offsets)


def featurise(lines: Lines, settings: Settings, dictionary: Dictionary, keep_unlabelled: bool = False) -> Examples:
    """Every line's features under `settings`, numbered by `dictionary`; lines without a known label are
    dropped (counted in `unlabelled`) unless `keep_unlabelled` (prediction, where labels are ignored)."""
    types, is_label = lines.types, lines.is_label
    word_index = {w: i for i, w in enumerate(dictionary.words)}
    label_index = {w: i for i, w in enumerate(dictionary.labels)}
    type_word = np.array([-1 if lab else word_index.get(w, -1) for w, lab in zip(types, is_label)], dtype=np.int32)
    type_label = np.array([label_index.get(w, -2) if lab else -1 for w, lab in zip(types, is_label)], dtype=np.int32)
    from seqkit.hashing import word_hash

    known_hashes = dictionary.word_hashes.view(np.uint32).tolist()
    type_hash = np.array([0 if lab else known_hashes[i] if i >= 0 else word_hash(w)
                          for w, lab, i in zip(types, is_label, type_word.tolist())], dtype=np.uint32).view(np.int32)
    sub_offsets, sub_buckets = subword_table(types, is_label, settings)
    return _features(lines.ids, lines.offsets, type_word, type_label, type_hash, sub_offsets, sub_buckets,
                     dictionary, settings, keep_unlabelled)


def read_examples(paths: list[str], settings: Settings, *, min_count: int = 1, min_count_label: int = 1,
                  errors: str = "strict", stats: CorpusStats | None = None,
                  dictionary: Dictionary | None = None) -> tuple[Dictionary, Examples]:
    """Read labelled lines; build the dictionary from them unless one is given (validation data)."""
    lines = read_lines(paths, settings.label_prefix, errors=errors, stats=stats)
    if dictionary is None:
        try:
            dictionary = build_dictionary(lines, min_count, min_count_label)
        except SeqkitError as exc:  # named by the files it is about
            raise SeqkitError(f"{', '.join(map(display_path, paths))}: {exc}") from None
    return dictionary, featurise(lines, settings, dictionary)


def _build_dictionary(types: list[str], counts: np.ndarray, is_label: np.ndarray, min_count: int,
                      min_count_label: int, n_lines: int) -> Dictionary:
    def kept(mask: np.ndarray, least: int) -> tuple[list[str], np.ndarray]:
        chosen = np.flatnonzero(mask & (counts >= least))
        chosen = chosen[np.argsort(-counts[chosen], kind="stable")]  # most frequent first, then first seen
        return [types[i] for i in chosen], counts[chosen].astype(np.int64)

    words, word_counts = kept(~is_label & (np.array([w != EOS for w in types], dtype=bool)), min_count)
    labels, label_counts = kept(is_label, min_count_label)
    if not labels:
        seen = int(is_label.sum())
        raise SeqkitError(f"no labels to learn: {seen} label types seen (tokens starting with the label "
                          f"prefix, e.g. `__label__x words ...`; see --label-prefix), {seen and 'none'} occurring "
                          f">= {min_count_label} times")
    if len(labels) == 1:
        raise SeqkitError(f"only one label ({labels[0]}) in the training data: a classifier needs two or more")
    return Dictionary([EOS] + words, np.concatenate([[n_lines], word_counts]), labels, label_counts)


def subword_table(types: list[str], is_label: np.ndarray, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """Each word type's character n-gram buckets (CSR), or none when `maxn` is 0."""
    offsets = np.zeros(len(types) + 1, dtype=np.int64)
    if settings.maxn <= 0 or settings.buckets <= 0:
        return offsets, np.zeros(0, dtype=np.int64)
    from seqkit_classify import kernels

    parts = []
    scratch = np.empty(16, dtype=np.int64)
    for t, (word, label) in enumerate(zip(types, is_label)):
        if label or word == EOS:
            offsets[t + 1] = offsets[t]
            continue
        data = np.frombuffer(("<" + word + ">").encode("utf-8"), dtype=np.uint8)
        if len(scratch) < len(data) * settings.maxn:
            scratch = np.empty(2 * len(data) * settings.maxn, dtype=np.int64)
        n = kernels.char_ngram_buckets(data, settings.minn, settings.maxn, settings.buckets, scratch)
        parts.append(scratch[:n].copy())
        offsets[t + 1] = offsets[t] + n
    return offsets, (np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64))


def _features(ids, offsets, type_word, type_label, type_hash, sub_offsets, sub_buckets, dictionary: Dictionary,
              settings: Settings, keep_unlabelled: bool = False) -> Examples:
    from seqkit_classify import kernels

    n = len(offsets) - 1
    feat_offsets = np.zeros(n + 1, dtype=np.int64)
    label_offsets = np.zeros(n + 1, dtype=np.int64)
    args = (ids, offsets, type_word, type_label, type_hash, sub_offsets, sub_buckets, 0,
            int(dictionary.word_hashes[0]), settings.word_ngrams, settings.buckets, len(dictionary.words))
    dtype = feature_dtype(len(dictionary.words), settings.buckets)
    kernels.line_features(*args, False, feat_offsets, np.empty(0, dtype), label_offsets, np.empty(0, np.int32))
    count = int(feat_offsets[-1])
    store = FeatureStore(count, dtype) if wants_store(count, dtype) and not keep_unlabelled else None
    features = store.array if store is not None else np.empty(count, dtype=dtype)
    labels = np.empty(label_offsets[-1], dtype=np.int32)
    kernels.line_features(*args, True, feat_offsets, features, label_offsets, labels)
    has_label = np.diff(label_offsets) > 0
    unlabelled = int(n - has_label.sum())
    first = int(np.argmin(has_label)) if unlabelled else -1
    tokens = np.diff(offsets).astype(np.float64) + 1.0  # words, labels and the line's </s>
    if unlabelled and not keep_unlabelled:  # drop them, keeping the CSR arrays consistent
        keep = np.flatnonzero(has_label)
        if store is not None:  # in place: a copy would bring the features back into memory
            kept_offsets = np.empty(len(keep) + 1, dtype=np.int64)
            kernels.keep_lines(features, feat_offsets, keep, kept_offsets)
            features, feat_offsets = features[:kept_offsets[-1]], kept_offsets
        else:
            features, feat_offsets = _take(features, feat_offsets, keep)
        labels, label_offsets = _take(labels, label_offsets, keep)
        tokens = tokens[keep]
    examples = Examples(features, feat_offsets, labels, label_offsets, tokens, unlabelled, first, store)
    examples.release()
    return examples


def feature_dtype(n_words: int, buckets: int) -> type:
    """The narrowest type that holds every feature: int32 unless n_words + buckets reach 2^31."""
    return FEATURE_DTYPE if n_words + max(buckets, 0) < np.iinfo(FEATURE_DTYPE).max else np.int64


def take_examples(examples: Examples, keep: np.ndarray) -> Examples:
    """The examples a boolean mask selects, in new arrays (training may renumber their features)."""
    index = np.flatnonzero(keep)
    features, feat_offsets = _take(examples.features, examples.feat_offsets, index)
    labels, label_offsets = _take(examples.labels, examples.label_offsets, index)
    return Examples(features, feat_offsets, labels, label_offsets, examples.tokens[index])


def join_lines(first: Lines, second: Lines) -> Lines:
    """`first`'s lines then `second`'s, with one numbering of their token types (first seen, first)."""
    index = {t: i for i, t in enumerate(first.types)}
    types = list(first.types)
    remap = np.empty(len(second.types), dtype=np.int64)
    for j, t in enumerate(second.types):
        remap[j] = index.setdefault(t, len(types))
        if remap[j] == len(types):
            types.append(t)
    counts = np.zeros(len(types), dtype=np.int64)
    counts[:len(first.types)] = first.counts
    np.add.at(counts, remap, second.counts)
    is_label = np.zeros(len(types), dtype=bool)
    is_label[:len(first.types)] = first.is_label
    is_label[remap] = second.is_label
    ids = np.concatenate([first.ids, remap[second.ids].astype(first.ids.dtype)])
    offsets = np.concatenate([first.offsets, second.offsets[1:] + first.offsets[-1]])
    return Lines(types, is_label, counts, ids, offsets)


def _take(values: np.ndarray, offsets: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.diff(offsets)[keep]
    new_offsets = np.zeros(len(keep) + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_offsets[1:])
    index = np.repeat(offsets[:-1][keep] - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
    return values[index], new_offsets


def check_unlabelled(examples: "Examples", paths: list[str], label_prefix: str, strict: bool, errors: str,
                     reporter) -> None:
    """Lines without a label are skipped and counted; with `--strict` the first one is an error naming it."""
    if not examples.unlabelled:
        return
    if strict:
        path, line = locate_line(paths, examples.first_unlabelled)
        raise DataError(f"no label (no token starting with {label_prefix!r}; --strict)", path, line)
    reporter.warn(f"skipped {examples.unlabelled:,} lines without a label")


def spooled(paths: list[str], reporter=None) -> list[str]:
    """`paths` with stdin saved to a file, for when a line must be found again."""
    return materialize_stdin(paths, reporter)
