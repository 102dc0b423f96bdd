"""Numba kernels for fastText-style subword training: skip-gram and CBOW over character n-gram rows.

The input side is fastText's (Bojanowski et al. 2017; `FastText::skipgram`, `FastText::cbow`,
`Model::update`): a word's input is the mean of its `Subwords` rows (its own row, then its n-gram bucket
rows), and the hidden vector's gradient is added, unscaled, to every one of those rows (fastText scales
it by 1/rows only for supervised models). Skip-gram feeds the centre word's rows and predicts each
context word, as fastText does (word2vec.c feeds the context word); CBOW's hidden vector is the mean
over the concatenated rows of every context word. The output side, the random stream, the shrunk
window, subsampling and the learning-rate schedule are seqkit word2vec's (`kernels.train_chunk`), but
for one rule of fastText's: a hierarchical-softmax node far on the wrong side gets the full step.

Skip-gram does what fastText does for each (centre, context) pair with one gather and one scatter per
centre word: after a pair adds gradient g to each of the centre's rows, their mean moves by
`shift * g` (`shift` = sum of squared multiplicities / rows, 1 without repeated rows), so the hidden
vector is moved by that instead of re-read, and the summed gradient is written once at the end of
the window. With one thread this equals fastText's per-pair recomputation up to float rounding.

The small helpers are copies of `kernels`' because Numba's on-disk cache is invalidated only when the
file of the cached kernel changes, not a file it inlines from; for the same reason the module is
longer than 400 lines: the kernels and every helper they inline live in this one file.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from seqkit.hashing import fnv1a

MAX_EXP = 6.0
TABLE_SIZE = 1000
LCG_MUL = np.uint64(25214903917)
LCG_ADD = np.uint64(11)
FASTMATH = True


class Subwords(NamedTuple):
    """Each vocabulary word's input rows in CSR form (built once, so the kernels never hash)."""

    offsets: np.ndarray  # int64[words + 1]: word w's rows are rows[offsets[w]:offsets[w + 1]]
    rows: np.ndarray     # int32 input rows: the word's own, then its n-grams' in fastText's order
    shift: np.ndarray    # float32[words]: the mean's move per unit of gradient added to every row


class HotRows(NamedTuple):
    """The thread's replica of the most used input rows (`NO_HOT_ROWS`: none).

    With several threads, every thread writes the rows of common n-grams (`ing>`, `<th`) all the time,
    and cores writing the same cache lines wait on each other; so each thread trains them in rows of its
    own (its `Subwords.rows` already point there) and adds its change to the shared rows every
    `sync_every` positions, as `kernels.Replicas` does for plain word2vec.
    """

    ids: np.ndarray  # int64: the shared rows replicated; replica row `first + k` mirrors row ids[k]
    first: int
    sync_every: int


NO_HOT_ROWS = HotRows(np.zeros(0, np.int64), 0, 1)


@njit(fastmath=FASTMATH, inline="always")
def _merge_hot(win, ids, first, base, dim, opening):  # pragma: no cover - jitted
    """Opening: copy the shared rows to the replica and `base`. Else add the replica's change since `base`
    to the shared rows (the other threads' changes meanwhile are kept) and restart from them."""
    for k in range(ids.shape[0]):
        r = ids[k]
        for d in range(dim):
            value = win[r, d] if opening else win[r, d] + (win[first + k, d] - base[k, d])
            win[r, d] = value
            win[first + k, d] = value
            base[k, d] = value


@njit(inline="always")
def _next(state):
    return state * LCG_MUL + LCG_ADD


@njit(inline="always")
def _start_state(seed):
    return np.uint64(seed) * np.uint64(2862933555777941757) + np.uint64(3037000493)


@njit(inline="always")
def _below(state, n):
    return np.int64(((state >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(inline="always")
def _table_index(x):
    return int((x + MAX_EXP) * (TABLE_SIZE / MAX_EXP / 2.0))


@intrinsic
def _prefetch(typingctx, array, row, col):
    """Start loading the cache line of `array[row, col]`, to be written (llvm.prefetch; a hint only)."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, value, kind, types.intp) for value, kind in zip(args[1:], signature.args[1:])]
        pointer = cgutils.get_item_pointer(context, builder, array_type, data, index, wraparound=False)
        i32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(prefetch, [pointer, ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, row, col), codegen


@njit(inline="always")
def _prefetch_row(weights, row, dim):
    for col in range(0, dim, 16):  # 16 float32 = one 64-byte line
        _prefetch(weights, row, col)
    _prefetch(weights, row, dim - 1)  # rows are not aligned: the last line may be one more


@njit(inline="always")
def _prefetch_word(weights, offsets, rows, word, dim):
    for j in range(offsets[word], offsets[word + 1]):
        _prefetch_row(weights, rows[j], dim)


@njit(fastmath=FASTMATH, inline="always")
def _logistic(f, label, lr, sig, logsig, tree_node):  # pragma: no cover - jitted
    """`kernels._logistic`, word2vec.c's binary-logistic unit (gradient scale, loss), except that a tree
    node far on the wrong side gets the full step, as in fastText's hierarchical softmax."""
    sign = 1.0 if label else -1.0
    z = sign * f
    if z > MAX_EXP:
        return np.float32(0.0), 0.0
    if z >= -MAX_EXP:
        index = _table_index(z)
        if tree_node:
            g = np.float32(((1.0 if label else 0.0) - sig[_table_index(f)]) * lr)
        else:
            g = np.float32(sign * (1.0 - sig[index]) * lr)
        return g, -logsig[index]
    # far on the wrong side: the full step, for tree nodes too (fastText's sigmoid is 0 or 1 there;
    # word2vec.c skips such a tree node)
    return np.float32(sign * lr), -z


@njit(fastmath=FASTMATH, inline="always")
def _unit(hidden, target, label, out, grad, lr, sig, logsig, tree_node, dim):  # pragma: no cover - jitted
    f = np.float32(0.0)
    for d in range(dim):
        f += hidden[d] * out[target, d]
    g, loss = _logistic(f, label, lr, sig, logsig, tree_node)
    if g != 0.0:
        for d in range(dim):
            grad[d] += g * out[target, d]
        for d in range(dim):
            out[target, d] += g * hidden[d]
    return loss


@njit(fastmath=FASTMATH, inline="always")
def _outputs(hidden, target, grad, lr, output, nodes, prob, alias, codes, points, code_offsets, sig, logsig,
             negative, use_hs, noise, state, dim):  # pragma: no cover - jitted
    """Every output unit of one example (`kernels.train_chunk`'s order: the Huffman path, then the true
    word and the noise words, drawn before any update). Returns (loss, terms, state)."""
    loss = 0.0
    terms = 0
    if use_hs:
        for j in range(code_offsets[target], code_offsets[target + 1]):
            loss += _unit(hidden, points[j], codes[j] == 0, nodes, grad, lr, sig, logsig, True, dim)
        terms += code_offsets[target + 1] - code_offsets[target]
    if negative > 0:
        vocab = prob.shape[0]
        drawn = 0
        for _ in range(negative):
            state = _next(state)
            i = _below(state, vocab)
            u = np.float32((state >> np.uint64(11)) & np.uint64(0x1FFFFF)) * np.float32(1.0 / 2097152.0)
            t = i if u < prob[i] else np.int64(alias[i])
            if t != target:
                noise[drawn] = t
                drawn += 1
                _prefetch_row(output, t, dim)
        loss += _unit(hidden, target, True, output, grad, lr, sig, logsig, False, dim)
        for k in range(drawn):
            loss += _unit(hidden, noise[k], False, output, grad, lr, sig, logsig, False, dim)
        terms += drawn + 1
    return loss, terms, state


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def train_chunk_subword(chunk, weights, tables, settings, subwords, hot):  # pragma: no cover - jitted
    """Train on every sentence of `chunk` with subword inputs (see the module's docstring).

    `weights.input` has a row per word, then a row per n-gram bucket in use; `subwords` maps each word to
    its rows. Returns (loss_sum, loss_terms, raw_words, trained_words), as `kernels.train_chunk` does.
    """
    ids, offsets = chunk.ids, chunk.offsets
    win, output, nodes = weights
    keep, prob, alias, codes, points, code_offsets, sig, logsig = tables  # out of the group once (shared refcounts)
    sub_offsets, sub_rows, shift = subwords
    negative, use_hs, window, dim = settings.negative, settings.hs, settings.window, settings.dim
    if dim > win.shape[1] or (negative > 0 and dim > output.shape[1]) or (use_hs and dim > nodes.shape[1]):
        raise ValueError("dim is wider than a weight row")
    if sub_offsets.shape[0] != keep.shape[0] + 1 or sub_offsets[-1] > sub_rows.shape[0]:
        raise ValueError("the subword table does not fit the vocabulary")
    for j in range(sub_offsets[-1]):
        if not 0 <= sub_rows[j] < win.shape[0]:
            raise ValueError("a subword row is outside the input matrix")  # no bounds checks below
    hot_ids, hot_first, sync_every = hot.ids, hot.first, hot.sync_every
    n_hot = hot_ids.shape[0]
    for k in range(n_hot):
        if not (0 <= hot_ids[k] < win.shape[0] and hot_first + k < win.shape[0]):
            raise ValueError("a replicated row is outside the input matrix")
    base = np.empty((n_hot, dim), dtype=np.float32)
    _merge_hot(win, hot_ids, hot_first, base, dim, True)
    since_merge = 0
    state = _start_state(chunk.seed)
    hidden = np.zeros(dim, dtype=np.float32)
    grad = np.zeros(dim, dtype=np.float32)
    total = np.zeros(dim, dtype=np.float32)
    noise = np.empty(max(negative, 1), dtype=np.int64)
    longest = 0
    for s in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[s + 1] - offsets[s])
    sentence = np.empty(longest, dtype=np.int32)
    loss_sum = 0.0
    loss_terms = 0
    raw = 0
    trained = 0
    for s in range(offsets.shape[0] - 1):
        progress = (chunk.words_before + raw) / settings.total_words
        lr = max(settings.lr_start - (settings.lr_start - settings.lr_end) * progress, settings.lr_end)
        n = 0
        for k in range(offsets[s], offsets[s + 1]):  # subsampling, as `kernels._subsample`
            w = ids[k]
            state = _next(state)
            if keep[w] < 1.0:
                u = np.float64(state >> np.uint64(11)) * (1.0 / 9007199254740992.0)
                if keep[w] < u:
                    continue
            sentence[n] = w
            n += 1
        raw += offsets[s + 1] - offsets[s]
        trained += n
        if n > 0:
            _prefetch_word(win, sub_offsets, sub_rows, sentence[0], dim)
        for pos in range(n):
            if n_hot > 0:
                since_merge += 1
                if since_merge == sync_every:
                    since_merge = 0
                    _merge_hot(win, hot_ids, hot_first, base, dim, False)
            word = sentence[pos]
            state = _next(state)
            b = _below(state, window)
            lo = max(pos - window + b, 0)
            hi = min(pos + window - b + 1, n)
            if settings.skip_gram:
                if pos + 1 < n:  # the next centre's rows load while this one trains
                    _prefetch_word(win, sub_offsets, sub_rows, sentence[pos + 1], dim)
                if hi - lo < 2:
                    continue
                first, end = sub_offsets[word], sub_offsets[word + 1]
                for d in range(dim):
                    hidden[d] = 0.0
                    total[d] = 0.0
                for j in range(first, end):
                    r = sub_rows[j]
                    for d in range(dim):
                        hidden[d] += win[r, d]
                inv = np.float32(1.0 / (end - first))
                for d in range(dim):
                    hidden[d] *= inv
                move = shift[word]
                for c in range(lo, hi):
                    if c == pos:
                        continue
                    for d in range(dim):
                        grad[d] = 0.0
                    loss, terms, state = _outputs(hidden, sentence[c], grad, lr, output, nodes, prob, alias, codes,
                                                  points, code_offsets, sig, logsig, negative, use_hs, noise,
                                                  state, dim)
                    loss_sum += loss
                    loss_terms += terms
                    for d in range(dim):  # fastText re-reads the rows it just moved; the mean moved so
                        hidden[d] += move * grad[d]
                        total[d] += grad[d]
                for j in range(first, end):
                    r = sub_rows[j]
                    for d in range(dim):
                        win[r, d] += total[d]
            else:
                ahead = pos + window + 1
                if ahead < n:  # the word that enters the widest window next
                    _prefetch_word(win, sub_offsets, sub_rows, sentence[ahead], dim)
                for d in range(dim):
                    hidden[d] = 0.0
                    grad[d] = 0.0
                count = 0
                for c in range(lo, hi):
                    if c == pos:
                        continue
                    context = sentence[c]
                    for j in range(sub_offsets[context], sub_offsets[context + 1]):
                        r = sub_rows[j]
                        for d in range(dim):
                            hidden[d] += win[r, d]
                    count += sub_offsets[context + 1] - sub_offsets[context]
                if count == 0:
                    continue
                if settings.cbow_mean:
                    inv = np.float32(1.0 / count)
                    for d in range(dim):
                        hidden[d] *= inv
                loss, terms, state = _outputs(hidden, word, grad, lr, output, nodes, prob, alias, codes, points,
                                              code_offsets, sig, logsig, negative, use_hs, noise, state, dim)
                loss_sum += loss
                loss_terms += terms
                for c in range(lo, hi):
                    if c == pos:
                        continue
                    context = sentence[c]
                    for j in range(sub_offsets[context], sub_offsets[context + 1]):
                        r = sub_rows[j]
                        for d in range(dim):
                            win[r, d] += grad[d]
    _merge_hot(win, hot_ids, hot_first, base, dim, False)
    return loss_sum, loss_terms, raw, trained


@njit(nogil=True, cache=True)
def subword_buckets(data, starts, minn, maxn, buckets, eos):  # pragma: no cover - jitted
    """Each word's character n-gram buckets, fastText's `computeSubwords` over `<word>` in UTF-8.

    Word w is data[starts[w]:starts[w + 1]] (UTF-8, without `<` `>`); word `eos` (-1: none) has no
    n-grams. Returns CSR (offsets int64[words + 1], buckets int64) in fastText's order.
    """
    words = starts.shape[0] - 1
    offsets = np.zeros(words + 1, dtype=np.int64)
    longest = 0
    for w in range(words):
        longest = max(longest, starts[w + 1] - starts[w])
    text = np.empty(longest + 2, dtype=np.uint8)
    out = np.empty(16, dtype=np.int64)
    count = 0
    for w in range(words):
        if w != eos:
            size = starts[w + 1] - starts[w] + 2
            text[0] = 60  # '<'
            for i in range(size - 2):
                text[i + 1] = data[starts[w] + i]
            text[size - 1] = 62  # '>'
            for i in range(size):
                if text[i] & 0xC0 == 0x80:
                    continue  # not the first byte of a character
                j = i
                for n in range(1, maxn + 1):
                    if j >= size:
                        break
                    j += 1
                    while j < size and text[j] & 0xC0 == 0x80:
                        j += 1
                    if n >= minn and not (n == 1 and (i == 0 or j == size)):
                        if count == out.shape[0]:
                            grown = np.empty(2 * count, dtype=np.int64)
                            grown[:count] = out
                            out = grown
                        out[count] = np.int64(fnv1a(text, i, j)) % buckets
                        count += 1
        offsets[w + 1] = count
    return offsets, out[:count].copy()


@njit(nogil=True, cache=True)
def mean_shifts(offsets, rows):  # pragma: no cover - jitted
    """Per word: sum over its distinct rows of (times the row appears)^2, over its rows (1: no repeats)."""
    words = offsets.shape[0] - 1
    out = np.ones(words, dtype=np.float32)
    for w in range(words):
        first, end = offsets[w], offsets[w + 1]
        if end - first < 2:
            continue
        ordered = np.sort(rows[first:end])  # runs of equal rows, in n log n (a word may be very long)
        total = 0
        run = 1
        for i in range(1, end - first + 1):
            if i < end - first and ordered[i] == ordered[i - 1]:
                run += 1
            else:
                total += run * run
                run = 1
        out[w] = np.float32(total / (end - first))
    return out


@njit(nogil=True, cache=True)
def compose(matrix, offsets, rows, dim, out):  # pragma: no cover - jitted
    """out[w] = the mean of matrix's rows of word w (fastText's `getWordVector`), summed in float64."""
    acc = np.zeros(dim, dtype=np.float64)
    for w in range(offsets.shape[0] - 1):
        acc[:] = 0.0
        first, end = offsets[w], offsets[w + 1]
        for j in range(first, end):
            for d in range(dim):
                acc[d] += matrix[rows[j], d]
        for d in range(dim):
            out[w, d] = np.float32(acc[d] / max(end - first, 1))
