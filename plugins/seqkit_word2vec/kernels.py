"""Numba kernels for word2vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax.

One call trains on one chunk of sentences, updating the shared weight matrices in place without the
GIL (Hogwild, as word2vec.c, gensim and fastText do). Everything random in a chunk comes from its own
LCG state, so one thread with a seed is reproducible bit for bit, and the learning rate at a sentence
depends only on the sentence's place in the global schedule.

Every output unit, a negative-sampling target or a Huffman node, in per-pair or batched training, goes
through one binary-logistic unit (`_logistic`), with word2vec.c's sigmoid table over [-MAX_EXP, MAX_EXP].

The arguments come in groups (`Chunk`, `Weights`, `Tables`, `Settings`, `Replicas`). Weight rows may be
wider than `Settings.dim` (the driver pads them to whole cache lines); only the first `dim` columns are
read or written. With several threads, each thread trains the most frequent words' rows, and with
hierarchical softmax the tree nodes nearest the root, in a replica of its own past the shared rows
(`Replicas`), because every thread writes those rows all the time and cores writing the same cache
lines wait on each other; the replica's changes are added to the shared rows every `sync_every`
positions. Each running chunk also draws its noise words from a share of the other rows that no other
running chunk holds (`group` of `groups`, blocks of 2**NOISE_BLOCK_BITS rows dealt round-robin), since
noise rows are most of what a thread writes.

The module is longer than 400 lines on purpose: Numba's on-disk cache is invalidated only when the file
of the cached kernel changes, so the kernels and every helper they inline live in this one file.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

MAX_EXP = 6.0
TABLE_SIZE = 1000
LCG_MUL = np.uint64(25214903917)
LCG_ADD = np.uint64(11)
FASTMATH = True  # reassociation lets the dot/axpy loops vectorise; no NaN/inf tricks are relied on
# blocks of 16 rows (7 KB at dim 100): whole blocks rather than single rows, since the hardware
# prefetchers pull the lines next to those read, which would be the other share's rows
NOISE_BLOCK_BITS = 4


class Chunk(NamedTuple):
    """Sentences to train on and their place in the run."""

    ids: np.ndarray      # int32 word ids of the chunk's sentences
    offsets: np.ndarray  # int64: sentence s is ids[offsets[s]:offsets[s + 1]]
    words_before: int    # words of the run before this chunk (the learning-rate schedule)
    seed: int            # the chunk's random stream


class Weights(NamedTuple):
    """The float32 weight matrices; an absent layer is a one-row stand-in."""

    input: np.ndarray   # a row per word (the vectors), then the threads' replicas
    output: np.ndarray  # negative sampling's output row per word, then the replicas
    nodes: np.ndarray   # hierarchical softmax's row per inner Huffman node, then the replicas


class Tables(NamedTuple):
    """Read-only tables of the vocabulary and the sigmoid (`sigmoid_tables`)."""

    keep: np.ndarray          # float32 subsampling: the probability of keeping each word
    noise_prob: np.ndarray    # the noise distribution's alias table (`seqkit` `alias_table`)
    noise_alias: np.ndarray
    codes: np.ndarray         # the Huffman tree (`HuffmanTree`): codes, points and each word's offsets
    points: np.ndarray
    code_offsets: np.ndarray
    sig: np.ndarray
    logsig: np.ndarray


class Settings(NamedTuple):
    """The run's scalar settings (the same for every chunk)."""

    skip_gram: bool
    hs: bool
    negative: int       # noise words per positive example; 0: no negative sampling
    cbow_mean: bool
    window: int
    dim: int            # columns in use: the rows may be wider
    lr_start: float
    lr_end: float
    total_words: float  # words over all epochs: the schedule's end


class Replicas(NamedTuple):
    """The thread's replica of the hot rows and the chunk's noise share (`NO_REPLICAS`: none)."""

    hot: int         # words below this id (and as many top tree nodes) are trained in the replica
    replica: int     # the replica's first row in `input` and `output`; in `nodes`, one row before
    sync_every: int  # positions between merges of the replica into the shared rows
    group: int       # this chunk's noise share
    groups: int      # noise shares; 1: every row is a noise candidate


NO_REPLICAS = Replicas(0, 0, 1, 0, 1)


def sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """sigmoid and log-sigmoid at TABLE_SIZE + 1 points spanning [-MAX_EXP, MAX_EXP] (word2vec.c's)."""
    x = (np.arange(TABLE_SIZE + 1) / TABLE_SIZE * 2 - 1) * MAX_EXP
    sig = 1.0 / (1.0 + np.exp(-x))
    return sig.astype(np.float32), np.log(sig).astype(np.float64)


@njit(inline="always")
def _next(state):
    return state * LCG_MUL + LCG_ADD


@njit(inline="always")
def _start_state(seed):
    return np.uint64(seed) * np.uint64(2862933555777941757) + np.uint64(3037000493)


@njit(inline="always")
def _below(state, n):
    """A number in [0, n) from the high 32 bits of the state (multiply-shift, no division)."""
    return np.int64(((state >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@njit(inline="always")
def _table_index(x):
    return int((x + MAX_EXP) * (TABLE_SIZE / MAX_EXP / 2.0))


@intrinsic
def _prefetch_for_write(typingctx, array, row, col):
    """Ask the CPU to start loading the cache line of `array[row, col]`, to be written (llvm.prefetch)."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        index = [context.cast(builder, value, kind, types.intp) for value, kind in zip(args[1:], signature.args[1:])]
        pointer = cgutils.get_item_pointer(context, builder, array_type, data, index, wraparound=False)
        i32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]), "llvm.prefetch.p0")
        # write access, keep in all cache levels, data (not instruction) cache
        builder.call(prefetch, [pointer, ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, row, col), codegen


@njit(inline="always")
def _prefetch_row(weights, row):
    """Prefetch every cache line of one weight row, padding included (a hint: no effect on the results)."""
    width = weights.shape[1]
    for col in range(0, width, 16):  # 16 float32 = one 64-byte line
        _prefetch_for_write(weights, row, col)
    _prefetch_for_write(weights, row, width - 1)  # for rows not padded to whole lines (tests, small dims)


@njit(fastmath=FASTMATH, inline="always")
def _dot(a, row_a, b, row_b, dim):  # pragma: no cover - jitted
    """a[row_a] . b[row_b] over `dim` columns, in float32 (rows indexed, never sliced: a slice would
    touch the array's shared reference count from every thread)."""
    f = np.float32(0.0)
    for d in range(dim):
        f += a[row_a, d] * b[row_b, d]
    return f


@njit(fastmath=FASTMATH, inline="always")
def _axpy(y, row_y, g, x, row_x, dim):  # pragma: no cover - jitted
    """y[row_y] += g * x[row_x] over `dim` columns."""
    for d in range(dim):
        y[row_y, d] += g * x[row_x, d]


@njit(fastmath=FASTMATH, inline="always")
def _logistic(f, label, lr, sig, logsig, tree_node):  # pragma: no cover - jitted
    """The binary-logistic unit: (gradient scale g, loss -log p(label)) for score f; g = 0: no update.

    word2vec.c's two rules. A noise-sampling target reads the table at the signed score z = +-f
    (rounding a noise word's sigmoid up, which gave slightly better analogies than reading at f) and
    takes a full step when badly wrong; a Huffman node (`tree_node`) reads the gradient at f and skips
    the update when saturated. Right beyond MAX_EXP: no update. A NaN score gives a NaN loss, which the
    driver's divergence guard catches.
    """
    sign = 1.0 if label else -1.0
    z = sign * f
    if z > MAX_EXP:
        return np.float32(0.0), 0.0
    if z >= -MAX_EXP:
        index = _table_index(z)
        if tree_node:  # label - sigmoid(f)
            g = np.float32(((1.0 if label else 0.0) - sig[_table_index(f)]) * lr)
        else:
            g = np.float32(sign * (1.0 - sig[index]) * lr)
        return g, -logsig[index]
    return (np.float32(0.0) if tree_node else np.float32(sign * lr)), -z  # badly wrong (or NaN)


@njit(fastmath=FASTMATH, inline="always")
def _update_unit(hidden, row, target, label, out, grad, lr, sig, logsig, tree_node):  # pragma: no cover - jitted
    """One output row `out[target]` against the hidden vector `hidden[row]`: the hidden side's gradient
    is added to `grad`, the output row is updated. Returns the loss."""
    dim = grad.shape[0]
    f = np.float32(0.0)
    for d in range(dim):
        f += hidden[row, d] * out[target, d]
    g, loss = _logistic(f, label, lr, sig, logsig, tree_node)
    if g != 0.0:
        for d in range(dim):
            grad[d] += g * out[target, d]
        for d in range(dim):
            out[target, d] += g * hidden[row, d]
    return loss


@njit(inline="always")
def _draw_noise(word, negative, prob, alias, state, output, out, first, replicas):  # pragma: no cover
    """Draw `negative` noise words into out[first:], skipping draws equal to `word`; prefetch their rows.

    Rows below `replicas.hot` go to the thread's replica (`word` is already there); with several
    groups, the others move to the same place in this chunk's block of the draw's round of blocks, so
    each row is still drawn at the mean rate of its round (words of nearly equal frequency). Returns
    (end of the drawn ids in `out`, state). Drawing all before any update lets their memory loads
    overlap; the order of draws and updates is word2vec.c's.
    """
    vocab = prob.shape[0]
    hot, groups = replicas.hot, replicas.groups
    end = first
    for _ in range(negative):
        state = _next(state)
        i = _below(state, vocab)
        u = np.float32((state >> np.uint64(11)) & np.uint64(0x1FFFFF)) * np.float32(1.0 / 2097152.0)
        target = i if u < prob[i] else np.int64(alias[i])
        if target < hot:
            target += replicas.replica
        elif groups > 1:
            block = (target - hot) >> NOISE_BLOCK_BITS
            moved = target + ((replicas.group - block % groups) << NOISE_BLOCK_BITS)
            if moved < vocab:  # a short last round may have no such place: the draw stays
                target = moved
        if target != word:
            out[end] = target
            end += 1
            _prefetch_row(output, target)
    return end, state


@njit(fastmath=FASTMATH, inline="always")
def _negative_sampling(hidden, word, output, grad, lr, negative, prob, alias, sig, logsig, state, noise,
                       replicas):  # pragma: no cover - jitted
    """The true word (label 1), then `negative` noise words (label 0). Returns (loss, terms, state)."""
    drawn, state = _draw_noise(word, negative, prob, alias, state, output, noise, 0, replicas)
    loss = _update_unit(hidden, 0, word, True, output, grad, lr, sig, logsig, False)
    for k in range(drawn):
        loss += _update_unit(hidden, 0, noise[k], False, output, grad, lr, sig, logsig, False)
    return loss, drawn + 1, state


@njit(fastmath=FASTMATH, inline="always")
def _hierarchical_softmax(hidden, word, nodes, grad, lr, codes, points, code_offsets, sig, logsig, first_hot_node,
                          node_shift):  # pragma: no cover - jitted
    """The word's Huffman path, root first; code bit 0 is a node's positive label. Nodes from
    `first_hot_node` on are in the thread's replica, `node_shift` rows further. Returns (loss, terms)."""
    dim = grad.shape[0]
    loss = 0.0
    first, end = code_offsets[word], code_offsets[word + 1]
    for j in range(first, end):
        node = points[j]
        if node >= first_hot_node:
            node += node_shift
        # the unit's update written out: through `_update_unit` this loop compiles to ~35 % slower code
        f = np.float32(0.0)
        for d in range(dim):
            f += hidden[0, d] * nodes[node, d]
        g, loss_j = _logistic(f, codes[j] == 0, lr, sig, logsig, True)
        loss += loss_j
        if g != 0.0:
            for d in range(dim):
                grad[d] += g * nodes[node, d]
            for d in range(dim):
                nodes[node, d] += g * hidden[0, d]
    return loss, end - first


@njit(fastmath=FASTMATH, inline="always")
def _open_replica(weights, hot, replica, base, first=0):  # pragma: no cover - jitted
    """Copy the shared rows [first, first + hot) to the replica and to `base`, the state it started from."""
    for r in range(hot):
        for d in range(base.shape[1]):
            value = weights[first + r, d]
            weights[replica + r, d] = value
            base[r, d] = value


@njit(fastmath=FASTMATH, inline="always")
def _merge_replica(weights, hot, replica, base, first=0):  # pragma: no cover - jitted
    """Add the replica's change since `base` to the shared rows [first, first + hot), then restart the
    replica from them.

    Only this thread's difference is added, so the other threads' changes meanwhile are kept. The add
    is an unsynchronised read-modify-write, as every Hogwild update is: two threads merging the same
    element at the same instant can lose one's change since its last merge (rare: a merge takes
    microseconds every few milliseconds).
    """
    for r in range(hot):
        for d in range(base.shape[1]):
            value = weights[first + r, d] + (weights[replica + r, d] - base[r, d])
            weights[first + r, d] = value
            weights[replica + r, d] = value
            base[r, d] = value


@njit(fastmath=FASTMATH, inline="always")
def _subsample(ids, offsets, s, keep, sentence, state, hot, replica):  # pragma: no cover - jitted
    """Sentence s's kept words into `sentence` (hot ids moved to the replica): (count, state).

    Subsampling randomly discards frequent words while keeping the ranking the same (word2vec.c).
    """
    n = 0
    for k in range(offsets[s], offsets[s + 1]):
        w = ids[k]
        state = _next(state)
        if keep[w] < 1.0:
            u = np.float64(state >> np.uint64(11)) * (1.0 / 9007199254740992.0)
            if keep[w] < u:
                continue
        sentence[n] = w + replica if w < hot else w
        n += 1
    return n, state


@njit(inline="always")
def _sentence_buffer(offsets):  # pragma: no cover - jitted
    longest = 0
    for s in range(offsets.shape[0] - 1):
        longest = max(longest, offsets[s + 1] - offsets[s])
    return np.empty(longest, dtype=np.int32)


@njit(inline="always")
def _learning_rate(settings, words_done):  # pragma: no cover - jitted
    """Linear decay by the run's progress, never below lr_end."""
    progress = words_done / settings.total_words
    return max(settings.lr_start - (settings.lr_start - settings.lr_end) * progress, settings.lr_end)


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def train_chunk(chunk, weights, tables, settings, replicas):  # pragma: no cover - jitted
    """Train on every sentence of `chunk`, per (context, word) pair as word2vec.c does.

    Returns (loss_sum, loss_terms, raw_words, trained_words): loss_sum / loss_terms is the mean
    binary-logistic loss per output unit. Word ids below `replicas.hot` use rows `replicas.replica + id`
    of `input` and `output`; with hs, the `hot` tree nodes nearest the root (the highest node ids) use
    rows from `replica - 1` on of `nodes` (which has one row fewer than the vocabulary, so the same
    distance past its own rows); replicas are merged every `sync_every` positions and at the end.
    """
    # every array is taken out of its group once: each access to a group's array inside the loops would
    # count a reference to it, an atomic write to a line every thread shares
    ids, offsets = chunk.ids, chunk.offsets
    syn0, syn1neg, syn1 = weights
    keep, prob, alias, codes, points, code_offsets, sig, logsig = tables
    hot, replica, groups = replicas.hot, replicas.replica, replicas.groups
    negative, use_hs, window, dim = settings.negative, settings.hs, settings.window, settings.dim
    if groups > 1 and (hot == 0 or negative == 0 or not 0 <= replicas.group < groups):
        raise ValueError("noise shares need negative sampling, replicated hot rows and a group below groups")
    if dim > syn0.shape[1] or (negative > 0 and dim > syn1neg.shape[1]) or (use_hs and dim > syn1.shape[1]):
        raise ValueError("dim is wider than a weight row")  # no bounds checks below: refuse before writing
    hot_out = hot if negative > 0 else 0  # syn1neg's replicated rows
    nodes = code_offsets.shape[0] - 2  # the tree's inner nodes: vocabulary - 1
    hot_nodes = min(hot, nodes) if use_hs else 0
    first_hot_node = nodes - hot_nodes
    node_replica = replica - 1
    if hot > 0 and (replica <= nodes or replica + hot > syn0.shape[0]
                    or (hot_out > 0 and replica + hot_out > syn1neg.shape[0])
                    or (hot_nodes > 0 and node_replica + hot_nodes > syn1.shape[0])):
        raise ValueError("the replica rows overlap the vocabulary's or run past the weight matrices")
    node_shift = node_replica - first_hot_node
    state = _start_state(chunk.seed)
    hidden = np.zeros((1, dim), dtype=np.float32)  # the input side: a context row (sg) or their mean (cbow)
    grad = np.zeros(dim, dtype=np.float32)    # the input side's gradient
    noise = np.empty(max(negative, 1), dtype=np.int64)
    sentence = _sentence_buffer(offsets)
    base0 = np.empty((hot, dim), dtype=np.float32)
    base1 = np.empty((hot_out, dim), dtype=np.float32)
    base2 = np.empty((hot_nodes, dim), dtype=np.float32)
    _open_replica(syn0, hot, replica, base0)
    _open_replica(syn1neg, hot_out, replica, base1)
    _open_replica(syn1, hot_nodes, node_replica, base2, first_hot_node)
    since_merge = 0
    loss_sum = 0.0
    loss_terms = 0
    raw = 0
    trained = 0
    for s in range(offsets.shape[0] - 1):
        lr = _learning_rate(settings, chunk.words_before + raw)
        n, state = _subsample(ids, offsets, s, keep, sentence, state, hot, replica)
        raw += offsets[s + 1] - offsets[s]
        trained += n
        for pos in range(n):
            if hot > 0:
                since_merge += 1
                if since_merge == replicas.sync_every:
                    since_merge = 0
                    _merge_replica(syn0, hot, replica, base0)
                    _merge_replica(syn1neg, hot_out, replica, base1)
                    _merge_replica(syn1, hot_nodes, node_replica, base2, first_hot_node)
            word = sentence[pos]
            tree_word = word - replica if hot > 0 and word >= replica else word  # the tree is indexed by word id
            state = _next(state)
            b = _below(state, window)  # word2vec.c's shrunk window: 1..window on each side
            lo = max(pos - window + b, 0)
            hi = min(pos + window - b + 1, n)
            if settings.skip_gram:
                for c in range(lo, hi):
                    if c == pos:
                        continue
                    context = sentence[c]
                    for d in range(dim):  # the input row, unchanged until the end of the pair
                        hidden[0, d] = syn0[context, d]
                        grad[d] = 0.0
                    if use_hs:
                        loss, terms = _hierarchical_softmax(hidden, tree_word, syn1, grad, lr, codes, points,
                                                            code_offsets, sig, logsig, first_hot_node, node_shift)
                        loss_sum += loss
                        loss_terms += terms
                    if negative > 0:
                        loss, terms, state = _negative_sampling(hidden, word, syn1neg, grad, lr, negative, prob, alias,
                                                                sig, logsig, state, noise, replicas)
                        loss_sum += loss
                        loss_terms += terms
                    for d in range(dim):
                        syn0[context, d] += grad[d]
            else:
                for d in range(dim):
                    hidden[0, d] = 0.0
                count = 0
                for c in range(lo, hi):
                    if c != pos:
                        context = sentence[c]
                        for d in range(dim):
                            hidden[0, d] += syn0[context, d]
                        count += 1
                if count == 0:
                    continue
                if settings.cbow_mean:
                    inv = np.float32(1.0 / count)
                    for d in range(dim):
                        hidden[0, d] *= inv
                for d in range(dim):
                    grad[d] = 0.0
                if use_hs:
                    loss, terms = _hierarchical_softmax(hidden, tree_word, syn1, grad, lr, codes, points, code_offsets,
                                                        sig, logsig, first_hot_node, node_shift)
                    loss_sum += loss
                    loss_terms += terms
                if negative > 0:
                    loss, terms, state = _negative_sampling(hidden, word, syn1neg, grad, lr, negative, prob, alias, sig,
                                                            logsig, state, noise, replicas)
                    loss_sum += loss
                    loss_terms += terms
                for c in range(lo, hi):
                    if c != pos:
                        context = sentence[c]
                        for d in range(dim):
                            syn0[context, d] += grad[d]
    _merge_replica(syn0, hot, replica, base0)
    _merge_replica(syn1neg, hot_out, replica, base1)
    _merge_replica(syn1, hot_nodes, node_replica, base2, first_hot_node)
    return loss_sum, loss_terms, raw, trained


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def train_chunk_sg_batch(chunk, weights, tables, settings):  # pragma: no cover - jitted
    """Skip-gram negative sampling with negatives shared across a window (Ji et al., 2016).

    For each centre word, one set of noise words serves every context word of its window, and the
    window is trained as a minibatch: all scores come from the weights before the update, then the
    context rows and the output rows each get their summed gradient. Each output row is read once per
    window instead of once per context word, which makes it faster; the quality is close to the
    per-pair updates but not identical (a separate mode, `--batch-negatives`). The random stream and
    the learning-rate schedule are `train_chunk`'s; `weights.nodes` is not used.
    """
    ids, offsets = chunk.ids, chunk.offsets  # out of their groups once, as in `train_chunk`
    syn0, syn1neg = weights.input, weights.output
    keep, prob, alias, _, _, _, sig, logsig = tables
    negative, window, dim = settings.negative, settings.window, settings.dim
    if dim > syn0.shape[1] or dim > syn1neg.shape[1]:
        raise ValueError("dim is wider than a weight row")
    state = _start_state(chunk.seed)
    width = 2 * window
    targets = np.empty(negative + 1, dtype=np.int64)
    contexts = np.empty(width, dtype=np.int64)
    grads = np.zeros((width, negative + 1), dtype=np.float32)
    d_ctx = np.zeros((width, dim), dtype=np.float32)
    d_out = np.zeros((negative + 1, dim), dtype=np.float32)
    sentence = _sentence_buffer(offsets)
    loss_sum = 0.0
    loss_terms = 0
    raw = 0
    trained = 0
    for s in range(offsets.shape[0] - 1):
        lr = _learning_rate(settings, chunk.words_before + raw)
        n, state = _subsample(ids, offsets, s, keep, sentence, state, 0, 0)
        raw += offsets[s + 1] - offsets[s]
        trained += n
        for pos in range(n):
            word = sentence[pos]
            state = _next(state)
            b = _below(state, window)
            lo = max(pos - window + b, 0)
            hi = min(pos + window - b + 1, n)
            m = 0
            for c in range(lo, hi):
                if c != pos:
                    contexts[m] = sentence[c]
                    m += 1
            if m == 0:
                continue
            # the true word first, then the noise words (a draw equal to the word is skipped)
            targets[0] = word
            t, state = _draw_noise(word, negative, prob, alias, state, syn1neg, targets, 1, NO_REPLICAS)
            # every (context, target) pair scored from the current weights
            for i in range(m):
                for j in range(t):
                    f = _dot(syn0, contexts[i], syn1neg, targets[j], dim)
                    g, loss = _logistic(f, j == 0, lr, sig, logsig, False)
                    grads[i, j] = g  # 0 where no update is due
                    loss_sum += loss
            loss_terms += m * t
            # the gradients as two small matrix products, both from the pre-update weights
            for i in range(m):
                for d in range(dim):
                    d_ctx[i, d] = 0.0
                for j in range(t):
                    _axpy(d_ctx, i, grads[i, j], syn1neg, targets[j], dim)
            for j in range(t):
                for d in range(dim):
                    d_out[j, d] = 0.0
                for i in range(m):
                    _axpy(d_out, j, grads[i, j], syn0, contexts[i], dim)
            for i in range(m):
                _axpy(syn0, contexts[i], np.float32(1.0), d_ctx, i, dim)
            for j in range(t):
                _axpy(syn1neg, targets[j], np.float32(1.0), d_out, j, dim)
    return loss_sum, loss_terms, raw, trained
