"""The classifier's Numba kernels: input features of a line, and one SGD kernel per loss.

The model is fastText's: the hidden layer is the mean of the input rows of a line's features (word ids,
then hashed character and word n-grams), or with `sqrt_pool` their sum / sqrt(count); the output is a
linear layer scored by the loss. Each kernel walks its examples in the order given, draws from its own
LCG state (`rng[0]`), decays the learning rate linearly to 0 over the whole run, and writes the shared
weights without locks (Hogwild). As in fastText, the hidden layer's gradient is applied whole (times the
pooling's scale) to every input row.
Kernels take arrays and scalars only: validation and messages live in the Python driver.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from seqkit.hashing import NGRAM_MULTIPLIER, fnv1a

LCG_MULTIPLIER = np.uint64(6364136223846793005)
LCG_INCREMENT = np.uint64(1442695040888963407)
EPSILON = 1e-12  # keeps -log p finite for a probability rounded to 0


@njit(nogil=True, cache=True)
def lcg_next(rng: np.ndarray) -> np.uint64:  # pragma: no cover - jitted
    """Advance the 64-bit LCG in rng[0] and return its high 31 bits (the well-mixed ones)."""
    rng[0] = rng[0] * LCG_MULTIPLIER + LCG_INCREMENT
    return rng[0] >> np.uint64(33)


@njit(nogil=True, cache=True)
def char_ngram_buckets(word: np.ndarray, minn: int, maxn: int, buckets: int, out: np.ndarray) -> int:  # pragma: no cover
    """fastText's `computeSubwords` over the UTF-8 bytes of `<word>`: buckets of its character n-grams
    (n counted in characters, a bare `<` or `>` left out) written to `out`; returns how many."""
    count = 0
    size = len(word)
    for i in range(size):
        if (word[i] & 0xC0) == 0x80:
            continue
        j = i
        n = 1
        while j < size and n <= maxn:
            j += 1
            while j < size and (word[j] & 0xC0) == 0x80:
                j += 1
            if n >= minn and not (n == 1 and (i == 0 or j == size)):
                out[count] = np.int64(fnv1a(word, i, j)) % buckets
                count += 1
            n += 1
    return count


@njit(nogil=True, cache=True)
def line_features(ids: np.ndarray, offsets: np.ndarray, type_word: np.ndarray, type_label: np.ndarray,
                  type_hash: np.ndarray, sub_offsets: np.ndarray, sub_buckets: np.ndarray, eos: int,
                  eos_hash: int, word_ngrams: int, buckets: int, n_words: int, fill: bool,
                  feat_offsets: np.ndarray, features: np.ndarray, label_offsets: np.ndarray,
                  labels: np.ndarray) -> None:  # pragma: no cover - jitted
    """fastText's `getLine` for every line: features (word ids; n_words + bucket for hashed n-grams) and
    label ids. With `fill` false only the offsets are computed (the sizes to allocate).

    Per word token: its id if it is in the vocabulary, then its character n-grams (`sub_*`, by type);
    its hash joins the word n-grams whether or not it is in the vocabulary; `</s>` ends every line."""
    hashes = np.empty(0, dtype=np.int32)
    nf = 0
    nl = 0
    for s in range(len(offsets) - 1):
        start, end = offsets[s], offsets[s + 1]
        if len(hashes) < end - start + 1:
            hashes = np.empty(2 * (end - start + 1), dtype=np.int32)
        nh = 0
        for p in range(start, end):
            t = ids[p]
            if type_label[t] >= 0:
                if fill:
                    labels[nl] = type_label[t]
                nl += 1
                continue
            if type_label[t] == -2:
                continue  # a label below --min-count-label: neither a label nor a word
            if type_word[t] >= 0:
                if fill:
                    features[nf] = type_word[t]
                nf += 1
            for b in range(sub_offsets[t], sub_offsets[t + 1]):
                if fill:
                    features[nf] = n_words + sub_buckets[b]
                nf += 1
            hashes[nh] = type_hash[t]
            nh += 1
        if fill:
            features[nf] = eos
        nf += 1
        hashes[nh] = eos_hash
        nh += 1
        if word_ngrams > 1 and buckets > 0:
            for i in range(nh):
                h = np.uint64(np.int64(hashes[i]))
                for j in range(i + 1, min(nh, i + word_ngrams)):
                    h = h * np.uint64(NGRAM_MULTIPLIER) + np.uint64(np.int64(hashes[j]))
                    if fill:
                        features[nf] = n_words + np.int64(h % np.uint64(buckets))
                    nf += 1
        feat_offsets[s + 1] = nf
        label_offsets[s + 1] = nl


@njit(nogil=True, cache=True, inline="always")
def _pool_scale(count, sqrt_pool):  # pragma: no cover - jitted
    """What the sum of a line's `count` input rows is multiplied by: 1/count (the mean) or 1/sqrt(count)."""
    return 1.0 / math.sqrt(count) if sqrt_pool else 1.0 / count


@njit(nogil=True, cache=True, inline="always")
def _hidden(wi, features, start, end, hidden, scale):  # pragma: no cover - jitted
    hidden[:] = 0.0
    for f in range(start, end):
        row = wi[features[f]]
        for d in range(len(hidden)):
            hidden[d] += row[d]
    for d in range(len(hidden)):
        hidden[d] *= scale


@njit(nogil=True, cache=True, inline="always")
def _backprop(wi, features, start, end, grad, scale):  # pragma: no cover - jitted
    for d in range(len(grad)):
        grad[d] *= scale
    for f in range(start, end):
        row = wi[features[f]]
        for d in range(len(grad)):
            row[d] += grad[d]


@njit(nogil=True, cache=True, inline="always")
def _binary_logistic(wo, node, hidden, grad, positive, lr):  # pragma: no cover - jitted
    """fastText's `Loss::binaryLogistic`: one sigmoid unit, updated; returns its -log likelihood."""
    row = wo[node]
    score = 0.0
    for d in range(len(hidden)):
        score += row[d] * hidden[d]
    # a nan score stays nan (the epoch's loss then stops training); only a very negative one is cut to 0
    p = 0.0 if score <= -30.0 else 1.0 / (1.0 + math.exp(-score))
    label = 1.0 if positive else 0.0
    alpha = lr * (label - p)
    for d in range(len(hidden)):
        grad[d] += alpha * row[d]
        row[d] += alpha * hidden[d]
    return -math.log((p if positive else 1.0 - p) + EPSILON)


@njit(nogil=True, cache=True, inline="always")
def _learning_rate(lr0, progress0, span, done, part):  # pragma: no cover - jitted
    return lr0 * max(1.0 - (progress0 + span * done / part), 0.0)


@njit(nogil=True, cache=True, inline="always")
def _pick_target(labels, lstart, lend, rng):  # pragma: no cover - jitted
    """One of the example's labels, uniformly (fastText trains a multi-label line on one at a time)."""
    n = lend - lstart
    return labels[lstart] if n == 1 else labels[lstart + np.int64(lcg_next(rng) % np.uint64(n))]


@njit(nogil=True, cache=True, inline="always")
def _total_weight(order, weights):  # pragma: no cover - jitted
    """The token count of the examples in `order`: the learning-rate schedule's span within one call."""
    part = 0.0
    for e in order:
        part += weights[e]
    return part


@njit(nogil=True, cache=True, inline="always")
def _start_example(e, features, feat_offsets, wi, hidden, grad, lr0, progress0, span, done, part,
                   sqrt_pool):  # pragma: no cover - jitted
    """Every loss's first steps for example `e`: its features' range, its learning rate, the pooled
    hidden layer with its scale, and a zeroed gradient."""
    start, end = feat_offsets[e], feat_offsets[e + 1]
    lr = _learning_rate(lr0, progress0, span, done, part)
    scale = _pool_scale(end - start, sqrt_pool)
    _hidden(wi, features, start, end, hidden, scale)
    grad[:] = 0.0
    return start, end, lr, scale


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _label_scores(wo, hidden, scores):  # pragma: no cover - jitted
    """scores = wo @ hidden, each sum in float64 and free to reorder so that it vectorises (as fast as
    BLAS's sgemv for one vector, and no BLAS: numba would import scipy.linalg, 13 MiB and 0.3 s, for it)."""
    for i in range(len(scores)):
        row = wo[i]
        total = 0.0
        for d in range(len(hidden)):
            total += row[d] * hidden[d]
        scores[i] = total


@njit(nogil=True, cache=True)
def train_softmax(order, features, feat_offsets, labels, label_offsets, weights, wi, wo, class_weight,
                  lr0, progress0, span, rng, hidden, grad, sqrt_pool, scores):  # pragma: no cover - jitted
    """SGD over examples `order` with the full softmax; returns the summed loss.

    `weights` are the examples' token counts, for the learning-rate schedule: progress goes from
    `progress0` to `progress0 + span` over this call."""
    loss = 0.0
    part = _total_weight(order, weights)
    done = 0.0
    for e in order:
        start, end, lr, scale = _start_example(e, features, feat_offsets, wi, hidden, grad, lr0, progress0, span,
                                               done, part, sqrt_pool)
        done += weights[e]
        target = _pick_target(labels, label_offsets[e], label_offsets[e + 1], rng)
        lr = lr * class_weight[target]
        _label_scores(wo, hidden, scores)
        top = scores.max()
        total = 0.0
        for i in range(len(scores)):
            scores[i] = math.exp(scores[i] - top)
            total += scores[i]
        for i in range(len(scores)):
            scores[i] /= total
        for i in range(len(scores)):
            alpha = np.float32(lr * ((1.0 if i == target else 0.0) - scores[i]))
            row = wo[i]
            for d in range(len(hidden)):
                grad[d] += alpha * row[d]
                row[d] += alpha * hidden[d]
        loss += -math.log(scores[target] + EPSILON)
        _backprop(wi, features, start, end, grad, scale)
    return loss


@njit(nogil=True, cache=True)
def train_ns(order, features, feat_offsets, labels, label_offsets, weights, wi, wo, class_weight,
             lr0, progress0, span, rng, hidden, grad, sqrt_pool, negative, noise_prob, noise_alias):  # pragma: no cover
    """SGD with negative sampling: the target label's unit, then `negative` other labels drawn from
    label counts^0.5 (alias table), as fastText's NegativeSamplingLoss; returns the summed loss."""
    n_labels = len(noise_prob)
    loss = 0.0
    part = _total_weight(order, weights)
    done = 0.0
    for e in order:
        start, end, lr, scale = _start_example(e, features, feat_offsets, wi, hidden, grad, lr0, progress0, span,
                                               done, part, sqrt_pool)
        done += weights[e]
        target = _pick_target(labels, label_offsets[e], label_offsets[e + 1], rng)
        lr = lr * class_weight[target]
        loss += _binary_logistic(wo, target, hidden, grad, True, lr)
        for _ in range(negative):
            while True:
                k = np.int64(lcg_next(rng) % np.uint64(n_labels))
                u = np.float32(lcg_next(rng)) / np.float32(2147483648.0)
                noise = k if u < noise_prob[k] else noise_alias[k]
                if noise != target:
                    break
            loss += _binary_logistic(wo, noise, hidden, grad, False, lr)
        _backprop(wi, features, start, end, grad, scale)
    return loss


@njit(nogil=True, cache=True)
def train_hs(order, features, feat_offsets, labels, label_offsets, weights, wi, wo, class_weight,
             lr0, progress0, span, rng, hidden, grad, sqrt_pool, codes, points, paths):  # pragma: no cover - jitted
    """SGD with hierarchical softmax over a Huffman tree of the labels (bit b of a path is the unit's
    negative class); returns the summed loss."""
    loss = 0.0
    part = _total_weight(order, weights)
    done = 0.0
    for e in order:
        start, end, lr, scale = _start_example(e, features, feat_offsets, wi, hidden, grad, lr0, progress0, span,
                                               done, part, sqrt_pool)
        done += weights[e]
        target = _pick_target(labels, label_offsets[e], label_offsets[e + 1], rng)
        lr = lr * class_weight[target]
        for b in range(paths[target], paths[target + 1]):
            loss += _binary_logistic(wo, points[b], hidden, grad, codes[b] == 0, lr)
        _backprop(wi, features, start, end, grad, scale)
    return loss


@njit(nogil=True, cache=True)
def train_ova(order, features, feat_offsets, labels, label_offsets, weights, wi, wo, class_weight,
              lr0, progress0, span, rng, hidden, grad, sqrt_pool):  # pragma: no cover - jitted
    """SGD with one independent sigmoid per label (one-vs-all: every label of a line is a positive, every
    other a negative), for multi-label data; returns the summed loss."""
    loss = 0.0
    part = _total_weight(order, weights)
    done = 0.0
    for e in order:
        start, end, lr, scale = _start_example(e, features, feat_offsets, wi, hidden, grad, lr0, progress0, span,
                                               done, part, sqrt_pool)
        done += weights[e]
        for i in range(len(wo)):
            positive = False
            for l in range(label_offsets[e], label_offsets[e + 1]):
                if labels[l] == i:
                    positive = True
            loss += _binary_logistic(wo, i, hidden, grad, positive, lr * class_weight[i])
        _backprop(wi, features, start, end, grad, scale)
    return loss


@njit(nogil=True, cache=True)
def pooled_rows(table, row_of_feature, features, offsets, sqrt_pool, out):  # pragma: no cover - jitted
    """out[e] = the float64 sum of the table rows of features[offsets[e]:offsets[e+1]] (row_of_feature: a
    feature's row, -1 for a zero row), divided by their count (or its square root) and rounded to float32,
    as a line's hidden vector is at prediction."""
    dim = table.shape[1]
    acc = np.zeros(dim, dtype=np.float64)
    for e in range(len(offsets) - 1):
        acc[:] = 0.0
        start, end = offsets[e], offsets[e + 1]
        for f in range(start, end):
            r = row_of_feature[features[f]]
            if r >= 0:
                for j in range(dim):
                    acc[j] += table[r, j]
        n = max(end - start, 1)
        divisor = math.sqrt(n) if sqrt_pool else n
        for j in range(dim):
            out[e, j] = np.float32(acc[j] / divisor)


@njit(nogil=True, cache=True)
def merge_private_rows(shared, private, base):  # pragma: no cover - jitted
    """Add a thread's updates since its last merge (private - base) to the shared rows, then start its
    private rows and base again from the shared ones (other threads' updates included)."""
    for i in range(shared.shape[0]):
        for d in range(shared.shape[1]):
            shared[i, d] += private[i, d] - base[i, d]
            private[i, d] = shared[i, d]
            base[i, d] = shared[i, d]


@njit(nogil=True, cache=True)
def mark_buckets(features, n_words, used):  # pragma: no cover - jitted
    """used[b] = True for every bucket feature n_words + b."""
    for f in features:
        if f >= n_words:
            used[f - n_words] = True


@njit(nogil=True, cache=True)
def renumber_buckets(features, n_words, row_of_bucket):  # pragma: no cover - jitted
    """Bucket feature n_words + b becomes n_words + row_of_bucket[b], in place."""
    for i in range(len(features)):
        f = features[i]
        if f >= n_words:
            features[i] = n_words + row_of_bucket[f - n_words]


@njit(nogil=True, cache=True)
def keep_lines(values, offsets, keep, new_offsets):  # pragma: no cover - jitted
    """Move the values of lines `keep` (ascending) to the front of `values`, in place (never over a value
    still to be moved); new_offsets[i] is where kept line i starts."""
    at = 0
    new_offsets[0] = 0
    for i in range(len(keep)):
        e = keep[i]
        for p in range(offsets[e], offsets[e + 1]):
            values[at] = values[p]
            at += 1
        new_offsets[i + 1] = at
