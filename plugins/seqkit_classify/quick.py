"""Features and hidden vectors of a small block of lines in NumPy alone, so a short `seqkit predict` never
loads Numba (whose import and first kernel call cost about 0.45 s, more than predicting a thousand lines).

The features are the training kernel's (`kernels.line_features`), in its order: each word's id if the
model knows it, `</s>` (id 0), then the hashed word n-grams of each start word, shorter first; a line's
hidden vector is the float64 sum of its rows in that order over its feature count (or its square root),
rounded to float32, as `kernels.pooled_rows` computes it. Models with character n-grams always take the
compiled path.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from seqkit.classifier import line_tokens
from seqkit.subword import fnv1a
from seqkit_classify.data import pool_divisors

QUICK_BYTES = 1 << 20  # text predicted this way at most, per model: past it, Numba's start-up pays off
NGRAM_MULTIPLIER = 116049371  # seqkit.hashing's constant


def fits(model, lines: Sequence[str]) -> bool:
    """Whether this block takes the NumPy path (and counts it against the model's QUICK_BYTES)."""
    if model.settings.maxn > 0:
        return False
    size = sum(len(line) for line in lines)
    if model.quick_bytes + size > QUICK_BYTES:
        return False
    model.quick_bytes += size
    return True


def features(model, lines: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, offsets, which lines are non-blank) of a block's non-blank lines, label tokens skipped."""
    index, prefix, known = model.word_index, model.label_prefix, model.dictionary.word_hashes
    unknown: dict[str, int] = model.quick_hashes
    ids: list[int] = []
    hashes: list[int] = []
    words_per_line: list[int] = []
    filled = np.zeros(len(lines), dtype=bool)
    for n, line in enumerate(lines):
        tokens = line_tokens(line)
        if not tokens:
            continue
        filled[n] = True
        count = 0
        for token in tokens:
            if token.startswith(prefix):
                continue
            wid = index.get(token, -1)
            if wid >= 0:
                ids.append(wid)
                hashes.append(int(known[wid]))
            else:
                ids.append(-1)
                h = unknown.get(token)
                if h is None:
                    h = unknown[token] = int(np.uint32(fnv1a(token.encode("utf-8", "surrogateescape"))).view(np.int32))
                hashes.append(h)
            count += 1
        ids.append(0)  # </s>
        hashes.append(int(known[0]))
        words_per_line.append(count + 1)
    ids_a = np.array(ids, dtype=np.int64)
    line_of = np.repeat(np.arange(len(words_per_line)), words_per_line)
    word_feats, word_line = ids_a[ids_a >= 0], line_of[ids_a >= 0]
    gram_feats, gram_line = _word_ngrams(np.array(hashes, dtype=np.int32), line_of, model)
    # each line's words then its n-grams: a stable sort by line keeps both in their order
    line = np.concatenate([word_line, gram_line])
    order = np.argsort(line, kind="stable")
    feats = np.concatenate([word_feats, gram_feats])[order]
    offsets = np.zeros(len(words_per_line) + 1, dtype=np.int64)
    np.cumsum(np.bincount(line, minlength=len(words_per_line)), out=offsets[1:])
    return feats, offsets, filled


def _word_ngrams(hashes: np.ndarray, line_of: np.ndarray, model) -> tuple[np.ndarray, np.ndarray]:
    """Features n_words + bucket of the word n-grams, ordered by start position then length, and their line."""
    s = model.settings
    if s.word_ngrams <= 1 or s.buckets <= 0 or not len(hashes):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    extended = hashes.astype(np.int64).view(np.uint64)  # sign-extended, as the kernels combine them
    h = extended.copy()
    grams = np.zeros((len(hashes), s.word_ngrams - 1), dtype=np.int64)
    valid = np.zeros(grams.shape, dtype=bool)
    with np.errstate(over="ignore"):
        for k in range(1, s.word_ngrams):
            nxt = np.zeros_like(h)
            nxt[:-k] = extended[k:]
            h = h * np.uint64(NGRAM_MULTIPLIER) + nxt
            same = np.zeros(len(hashes), dtype=bool)
            same[:-k] = line_of[k:] == line_of[:-k]
            grams[:, k - 1] = (h % np.uint64(s.buckets)).astype(np.int64)
            valid[:, k - 1] = same
    starts = np.repeat(np.arange(len(hashes))[:, None], s.word_ngrams - 1, axis=1)
    return model.n_words + grams[valid], line_of[starts[valid]]


def hidden(model, feats: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """[lines, dim] float32 pooled input rows of each line (a row training never saw counts as zero)."""
    rows = model.row_of_feature()[feats]
    seen = rows >= 0
    line = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    sums = np.zeros((len(offsets) - 1, model.input.shape[1]), dtype=np.float64)
    np.add.at(sums, line[seen], model.input[rows[seen]].astype(np.float64))  # in feature order, as the kernel
    return (sums / pool_divisors(np.diff(offsets), model.settings.pooling)[:, None]).astype(np.float32)
