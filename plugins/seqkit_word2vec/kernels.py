"""Numba kernels for word2vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax.

One call trains on one chunk of sentences of the encoded corpus, updating the shared weight matrices
in place without the GIL (Hogwild, as word2vec.c, gensim and fastText do). Everything random in a
chunk comes from its own LCG state, so with one thread a run is bit-for-bit reproducible, and the
learning rate at a sentence depends only on the sentence's position in the global schedule.

The updates follow word2vec.c line for line (one rounding aside, see `_output_update`): sigmoid
from a table over [-6, 6], saturated gradients outside it for negative sampling, hierarchical-softmax
nodes skipped when saturated, output weights at zero. syn0 starts uniform in [-1, 1) / dim, as in gensim
and fastText (word2vec.c's half-width range learns more slowly; see `train.initial_weights`), and the
Huffman tree breaks ties as gensim's does (see `seqkit.vocab.huffman_tree`).

With several threads, each thread can have its own replica of the most frequent words' rows (`hot`
rows at row `replica` onwards in syn0 and syn1neg, see `train.HOT_ROWS`) and, with hierarchical
softmax, of the `hot` tree nodes nearest the root (rows from `replica - 1` on in syn1, which has one
row fewer than the vocabulary; every path starts at the root): those rows are written by every thread many times a millisecond, and when both
cores write the same cache lines each write waits for the line to travel from the other core. A thread
trains on its replica and adds what it changed to the shared rows every `sync_every` positions and at
the end of the chunk.
The other rows are shared, and each running chunk draws its noise words among them from a share no
other running chunk holds (`group` of `groups`, handed out by `train.NoiseShares`): blocks of
2**NOISE_BLOCK_BITS rows dealt round-robin to the shares, a draw landing in another share's block moving
to the same place in this share's block of that round. Noise words are most of the rows a thread
writes: drawn from every row, about twelve rows per position had last been written by the other thread,
and whenever the host ran the two threads on distant cores (a cache line's round trip ~330 ns instead
of ~60 ns, for seconds at a time) two threads were only ~1.3x faster than one. Whole blocks, not
alternate rows: with rows interleaved, the hardware prefetchers (which fetch the lines next to those
read) kept pulling the other thread's rows all the same. Each row is still drawn as noise at the mean
rate of its round of blocks (words of nearly equal frequency), since the shares serve equal numbers of
words, and the share a chunk gets does not depend on its text.

The weight matrices may be wider than the vectors (`dim` columns used): the driver pads each row to
whole 64-byte cache lines, so that two threads writing neighbouring rows never write the same line.
"""

from __future__ import annotations

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
NOISE_BLOCK_BITS = 4  # a chunk's share of the noise rows comes in blocks of 16 rows (7 KB at dim 100)


def sigmoid_tables() -> tuple[np.ndarray, np.ndarray]:
    """sigmoid and log-sigmoid at TABLE_SIZE + 1 points spanning [-MAX_EXP, MAX_EXP] (word2vec.c's)."""
    x = (np.arange(TABLE_SIZE + 1) / TABLE_SIZE * 2 - 1) * MAX_EXP
    sig = 1.0 / (1.0 + np.exp(-x))
    return sig.astype(np.float32), np.log(sig).astype(np.float64)


@njit(inline="always")
def _next(state):
    return state * LCG_MUL + LCG_ADD


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


@njit(nogil=True, fastmath=FASTMATH, inline="always")
def _output_update(inp, row, target, label, weights, neu1e, lr, sig, logsig):  # pragma: no cover - jitted
    """One binary-logistic unit (a negative-sampling target or a Huffman node) of word2vec.c.

    The input vector is `inp[row]` (indexed, never sliced: a slice would touch the array's shared
    reference count from every thread). Returns the loss -log p(label); `neu1e` accumulates the
    gradient for the input side.

    One deliberate difference from word2vec.c: the table is read at the signed score z = +-f, not at
    f, so a noise word's sigmoid is rounded up (word2vec.c and gensim round it down, by at most 0.003).
    Reading at f was tried: 0.23 points lower analogy accuracy after one epoch on the benchmark corpus
    (three seeds, each lower).
    """
    dim = inp.shape[1]
    f = np.float32(0.0)
    for d in range(dim):
        f += inp[row, d] * weights[target, d]
    sign = 1.0 if label == 1 else -1.0
    z = sign * f
    if z > MAX_EXP:
        return 0.0  # already right: gradient 0 (word2vec.c)
    if z >= -MAX_EXP:
        index = int((z + MAX_EXP) * (TABLE_SIZE / MAX_EXP / 2.0))
        g = np.float32(sign * (1.0 - sig[index]) * lr)
        loss = -logsig[index]
    else:  # badly wrong (or NaN): full-size step, loss ~ -z (NaN stays NaN for the divergence guard)
        g = np.float32(sign * lr)
        loss = -z
    for d in range(dim):
        neu1e[d] += g * weights[target, d]
    for d in range(dim):
        weights[target, d] += g * inp[row, d]
    return loss


@njit(nogil=True, fastmath=FASTMATH, inline="always")
def _hs_update(inp, row, word, syn1, neu1e, lr, codes, points, code_offsets, sig, logsig, first_hot_node,
               node_shift):  # pragma: no cover
    """Hierarchical softmax along the word's Huffman path; saturated nodes are skipped (word2vec.c).

    Nodes from `first_hot_node` on (the ones nearest the root) are read and written `node_shift` rows
    further on, in the thread's replica.
    """
    dim = inp.shape[1]
    loss = 0.0
    for j in range(code_offsets[word], code_offsets[word + 1]):
        node = points[j]
        if node >= first_hot_node:
            node += node_shift
        f = np.float32(0.0)
        for d in range(dim):
            f += inp[row, d] * syn1[node, d]
        # code bit 0 is the positive class of the node's logistic unit
        sign = 1.0 if codes[j] == 0 else -1.0
        z = sign * f
        if z > MAX_EXP:
            continue
        if z < -MAX_EXP or z != z:
            loss += -z
            continue
        index = int((f + MAX_EXP) * (TABLE_SIZE / MAX_EXP / 2.0))
        g = np.float32((1.0 - codes[j] - sig[index]) * lr)
        loss -= logsig[int((z + MAX_EXP) * (TABLE_SIZE / MAX_EXP / 2.0))]
        for d in range(dim):
            neu1e[d] += g * syn1[node, d]
        for d in range(dim):
            syn1[node, d] += g * inp[row, d]
    return loss


@njit(nogil=True, inline="always")
def _draw_noise(word, negative, prob, alias, state, syn1neg, out, first, hot, replica, group=0,
                groups=1):  # pragma: no cover
    """Draw `negative` noise words into out[first:], skipping draws equal to `word`; prefetch their rows.

    Rows below `hot` are redirected to the thread's replica (`word` is already); with `groups` > 1 the
    others move into the chunk's share (`group`, see the module's docstring). Returns (end of the
    drawn ids in `out`, state). Drawing all of them before any update lets their
    memory loads overlap the updates instead of stalling one after another; the order of draws and
    updates is word2vec.c's, so results are the same bit for bit.
    """
    vocab = prob.shape[0]
    end = first
    for _ in range(negative):
        state = _next(state)
        # high 32 bits pick the slot (multiply-shift, no division); bits 11..31 decide slot vs alias
        i = np.int64(((state >> np.uint64(32)) * np.uint64(vocab)) >> np.uint64(32))
        u = np.float32((state >> np.uint64(11)) & np.uint64(0x1FFFFF)) * np.float32(1.0 / 2097152.0)
        target = i if u < prob[i] else np.int64(alias[i])
        if target < hot:
            target += replica
        elif groups > 1:
            block = (target - hot) >> NOISE_BLOCK_BITS
            moved = target + ((group - block % groups) << NOISE_BLOCK_BITS)
            if moved < vocab:  # in a short last round, a place past the last row: the draw stays
                target = moved
        if target != word:
            out[end] = target
            end += 1
            _prefetch_row(syn1neg, target)
    return end, state


@njit(nogil=True, fastmath=FASTMATH, inline="always")
def _negative_sampling(inp, row, word, syn1neg, neu1e, lr, negative, prob, alias, state, sig, logsig,
                       noise, hot, replica, group, groups):  # pragma: no cover - jitted
    """The true word (label 1) and `negative` noise words drawn from the alias table (label 0).

    `noise` is scratch space for `negative` ids.
    """
    drawn, state = _draw_noise(word, negative, prob, alias, state, syn1neg, noise, 0, hot, replica, group,
                               groups)
    loss = _output_update(inp, row, word, 1, syn1neg, neu1e, lr, sig, logsig)
    for k in range(drawn):
        loss += _output_update(inp, row, noise[k], 0, syn1neg, neu1e, lr, sig, logsig)
    return loss, drawn + 1, state


@njit(nogil=True, fastmath=FASTMATH, inline="always")
def _open_replica(weights, hot, replica, base, first=0):  # pragma: no cover - jitted
    """Copy the shared rows [first, first + hot) to the replica and to `base`, the state it started from."""
    for r in range(hot):
        for d in range(base.shape[1]):
            value = weights[first + r, d]
            weights[replica + r, d] = value
            base[r, d] = value


@njit(nogil=True, fastmath=FASTMATH, inline="always")
def _merge_replica(weights, hot, replica, base, first=0):  # pragma: no cover - jitted
    """Add the replica's change since `base` to the shared rows [first, first + hot), then restart the
    replica from them.

    The other threads' changes meanwhile are kept: only this thread's difference is added. The add is
    an unsynchronised read-modify-write, as every Hogwild update is: two threads merging the same
    element at the same instant can lose one thread's change to it since its last merge (rare: a merge
    takes microseconds every few milliseconds).
    """
    for r in range(hot):
        for d in range(base.shape[1]):
            value = weights[first + r, d] + (weights[replica + r, d] - base[r, d])
            weights[first + r, d] = value
            weights[replica + r, d] = value
            base[r, d] = value


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def train_chunk(ids, offsets, s_begin, s_end, syn0, syn1neg, syn1, keep, prob, alias, codes, points,
                code_offsets, skip_gram, use_hs, negative, cbow_mean, window, lr_start, lr_end,
                words_before, total_words, seed, sig, logsig, hot=0, replica=0,
                sync_every=1, dim=0, group=0, groups=1):  # pragma: no cover - jitted
    """Train on sentences [s_begin, s_end) of the encoded corpus.

    Returns (loss_sum, loss_terms, raw_words, trained_words); the loss is the mean binary-logistic
    loss per output unit when divided by loss_terms. With `hot` > 0, word ids below `hot` use rows
    `replica + id` of syn0 and syn1neg, and hierarchical softmax's `hot` nodes nearest the root (the
    highest node ids) rows from `replica - 1` on of syn1 (the same distance past the tree's vocabulary - 1
    rows as syn0's replica past the vocabulary's), all merged into the shared rows every
    `sync_every` positions and at the end; with `groups` > 1 the noise words come from this chunk's
    share of the other rows (`group`). `dim`: the columns in use (0: all; rows may be padded).
    """
    if groups > 1 and (hot == 0 or negative == 0 or not 0 <= group < groups):
        raise ValueError("noise shares need negative sampling, replicated hot rows and a group below groups")
    dim = dim if dim > 0 else syn0.shape[1]
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
    state = np.uint64(seed) * np.uint64(2862933555777941757) + np.uint64(3037000493)
    neu1 = np.zeros((1, dim), dtype=np.float32)
    neu1e = np.zeros(dim, dtype=np.float32)
    noise = np.empty(max(negative, 1), dtype=np.int64)
    longest = 0
    for s in range(s_begin, s_end):
        longest = max(longest, offsets[s + 1] - offsets[s])
    sentence = np.empty(longest, dtype=np.int32)
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
    span = lr_start - lr_end
    for s in range(s_begin, s_end):
        progress = (words_before + raw) / total_words
        lr = max(lr_start - span * progress, lr_end)
        # subsampling randomly discards frequent words while keeping the ranking same
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
        raw += offsets[s + 1] - offsets[s]
        trained += n
        for pos in range(n):
            if hot > 0:
                since_merge += 1
                if since_merge == sync_every:
                    since_merge = 0
                    _merge_replica(syn0, hot, replica, base0)
                    _merge_replica(syn1neg, hot_out, replica, base1)
                    _merge_replica(syn1, hot_nodes, node_replica, base2, first_hot_node)
            word = sentence[pos]
            tree_word = word - replica if hot > 0 and word >= replica else word  # the tree is indexed by word id
            state = _next(state)
            b = np.int64(((state >> np.uint64(32)) * np.uint64(window)) >> np.uint64(32))
            lo = max(pos - window + b, 0)
            hi = min(pos + window - b + 1, n)
            if skip_gram:
                for c in range(lo, hi):
                    if c == pos:
                        continue
                    context = sentence[c]
                    for d in range(dim):  # the input row, unchanged until the end of the pair
                        neu1[0, d] = syn0[context, d]
                        neu1e[d] = 0.0
                    if use_hs:
                        loss_sum += _hs_update(neu1, 0, tree_word, syn1, neu1e, lr, codes, points,
                                               code_offsets, sig, logsig, first_hot_node, node_shift)
                        loss_terms += code_offsets[tree_word + 1] - code_offsets[tree_word]
                    if negative > 0:
                        loss, terms, state = _negative_sampling(neu1, 0, word, syn1neg, neu1e, lr, negative,
                                                                prob, alias, state, sig, logsig, noise, hot,
                                                                replica, group, groups)
                        loss_sum += loss
                        loss_terms += terms
                    for d in range(dim):
                        syn0[context, d] += neu1e[d]
            else:
                for d in range(dim):
                    neu1[0, d] = 0.0
                count = 0
                for c in range(lo, hi):
                    if c != pos:
                        context = sentence[c]
                        for d in range(dim):
                            neu1[0, d] += syn0[context, d]
                        count += 1
                if count == 0:
                    continue
                if cbow_mean:
                    inv = np.float32(1.0 / count)
                    for d in range(dim):
                        neu1[0, d] *= inv
                for d in range(dim):
                    neu1e[d] = 0.0
                if use_hs:
                    loss_sum += _hs_update(neu1, 0, tree_word, syn1, neu1e, lr, codes, points, code_offsets, sig,
                                           logsig, first_hot_node, node_shift)
                    loss_terms += code_offsets[tree_word + 1] - code_offsets[tree_word]
                if negative > 0:
                    loss, terms, state = _negative_sampling(neu1, 0, word, syn1neg, neu1e, lr, negative, prob,
                                                            alias, state, sig, logsig, noise, hot, replica,
                                                            group, groups)
                    loss_sum += loss
                    loss_terms += terms
                for c in range(lo, hi):
                    if c != pos:
                        context = sentence[c]
                        for d in range(dim):
                            syn0[context, d] += neu1e[d]
    _merge_replica(syn0, hot, replica, base0)
    _merge_replica(syn1neg, hot_out, replica, base1)
    _merge_replica(syn1, hot_nodes, node_replica, base2, first_hot_node)
    return loss_sum, loss_terms, raw, trained


@njit(nogil=True, cache=True, fastmath=FASTMATH)
def train_chunk_sg_batch(ids, offsets, s_begin, s_end, syn0, syn1neg, keep, prob, alias, negative, window,
                         lr_start, lr_end, words_before, total_words, seed, sig, logsig,
                         dim=0):  # pragma: no cover - jitted
    """Skip-gram negative sampling with negatives shared across a window (Ji et al., 2016).

    For each centre word, one set of noise words serves every context word of its window, and the
    window is trained as a minibatch: all scores come from the weights before the update, then the
    context rows and the output rows each get their summed gradient. Each output row is read once per
    window instead of once per context word, which is what makes it faster; the quality is close to the
    per-pair updates but not identical (a separate mode, `--batch-negatives`). Same random stream
    discipline and learning-rate schedule as `train_chunk`; `dim` as there.
    """
    dim = dim if dim > 0 else syn0.shape[1]
    if dim > syn0.shape[1] or dim > syn1neg.shape[1]:
        raise ValueError("dim is wider than a weight row")
    state = np.uint64(seed) * np.uint64(2862933555777941757) + np.uint64(3037000493)
    width = 2 * window
    targets = np.empty(negative + 1, dtype=np.int64)
    contexts = np.empty(width, dtype=np.int64)
    grads = np.zeros((width, negative + 1), dtype=np.float32)
    d_ctx = np.zeros((width, dim), dtype=np.float32)
    d_out = np.zeros((negative + 1, dim), dtype=np.float32)
    longest = 0
    for s in range(s_begin, s_end):
        longest = max(longest, offsets[s + 1] - offsets[s])
    sentence = np.empty(longest, dtype=np.int32)
    loss_sum = 0.0
    loss_terms = 0
    raw = 0
    trained = 0
    span = lr_start - lr_end
    for s in range(s_begin, s_end):
        progress = (words_before + raw) / total_words
        lr = max(lr_start - span * progress, lr_end)
        n = 0
        for k in range(offsets[s], offsets[s + 1]):
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
        for pos in range(n):
            word = sentence[pos]
            state = _next(state)
            b = np.int64(((state >> np.uint64(32)) * np.uint64(window)) >> np.uint64(32))
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
            t, state = _draw_noise(word, negative, prob, alias, state, syn1neg, targets, 1, 0, 0)
            # scores of every (context, target) pair from the current weights
            for i in range(m):
                row = contexts[i]
                for j in range(t):
                    f = np.float32(0.0)
                    out = targets[j]
                    for d in range(dim):
                        f += syn0[row, d] * syn1neg[out, d]
                    sign = 1.0 if j == 0 else -1.0
                    z = sign * f
                    if z > MAX_EXP:
                        g = np.float32(0.0)
                    elif z >= -MAX_EXP:
                        index = int((z + MAX_EXP) * (TABLE_SIZE / MAX_EXP / 2.0))
                        g = np.float32(sign * (1.0 - sig[index]) * lr)
                        loss_sum -= logsig[index]
                    else:
                        g = np.float32(sign * lr)
                        loss_sum -= z
                    grads[i, j] = g
            loss_terms += m * t
            # gradients as two small matrix products, both from the pre-update weights
            for i in range(m):
                for d in range(dim):
                    d_ctx[i, d] = 0.0
                for j in range(t):
                    g = grads[i, j]
                    out = targets[j]
                    for d in range(dim):
                        d_ctx[i, d] += g * syn1neg[out, d]
            for j in range(t):
                for d in range(dim):
                    d_out[j, d] = 0.0
                for i in range(m):
                    g = grads[i, j]
                    row = contexts[i]
                    for d in range(dim):
                        d_out[j, d] += g * syn0[row, d]
            for i in range(m):
                row = contexts[i]
                for d in range(dim):
                    syn0[row, d] += d_ctx[i, d]
            for j in range(t):
                out = targets[j]
                for d in range(dim):
                    syn1neg[out, d] += d_out[j, d]
    return loss_sum, loss_terms, raw, trained
