"""Numba kernels that score text with an n-gram model's probing tables, the way KenLM's query does.

A token's log10 probability is that of the longest n-gram found ending at it, plus the back-offs of the
longer contexts (`_score_token`). The context is the row of each k-gram ending at the previous token, so
the probes of all orders for a token are independent: `_prefetch_token` starts all of their loads before
the first probe waits. A token's probes need the rows found for the token before it, so one sentence is a
chain of memory latencies; `score_block` therefore advances `LANES` sentences side by side, one token each
in turn, and their loads overlap. It scores a whole block of sentences in one call and sums what
perplexity needs, so Python touches each block, not each sentence or token.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from seqkit_ngram.probing import _home, find_from


@intrinsic
def _prefetch(typingctx, array, index):
    """Ask the CPU to start loading the cache line of `array[index]` (llvm.prefetch; a hint, no effect on
    results)."""
    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        data = context.make_array(array_type)(context, builder, args[0])
        at = context.cast(builder, args[1], signature.args[1], types.intp)
        pointer = cgutils.get_item_pointer(context, builder, array_type, data, [at], wraparound=False)
        i32 = ir.IntType(32)
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [pointer.type, i32, i32, i32]), "llvm.prefetch.p0")
        builder.call(prefetch, [pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


LANES = 4  # sentences scored side by side: on PTB, 1 lane took 1.35x the time of 4; 8 measured as 4


@njit(nogil=True, cache=True, inline="always")
def _prefetch_token(w, rows, lane, at, homes, order, vocab_size, table, starts, buckets):  # pragma: no cover
    """Compute the home slot of each order's probe for word `w` after the rows rows[lane, at] (into
    homes[lane]) and start loading them."""
    if w >= 0:
        for n in range(2, order + 1):
            context = rows[lane, at, n - 2]
            if context >= 0:
                home = _home(context * vocab_size + w, buckets[n])
                homes[lane, n] = home
                _prefetch(table, 3 * (starts[n] + home))
                _prefetch(table, 3 * (starts[n] + home) + 2)  # a 24-byte entry may straddle two cache lines


MISSING_UNK = -100.0  # log10 p of an unknown word when the model has no <unk> (KenLM's)


@njit(nogil=True, cache=True, inline="always")
def _score_token(w, rows, lane, at, homes, order, uni_logprob, uni_backoff, vocab_size, table, ftable, starts,
                 buckets):  # pragma: no cover - jitted
    """(log10 p, n-gram length) of word `w` after the rows rows[lane, at] of the n-grams ending at the
    previous token, probing from the homes `_prefetch_token` found; fills rows[lane, 1 - at] with the rows
    ending at `w`. A negative `w` (no <unk> in the model) is scored as KenLM scores it: a unigram of log10
    probability MISSING_UNK (KenLM's substitute), plus the context's back-offs; nothing continues from it.
    Rows are indexed in place: a view per token would cost reference counting."""
    now = 1 - at
    if w < 0:
        p = MISSING_UNK
        for k in range(1, order):
            context = rows[lane, at, k - 1]
            if context >= 0:
                p += uni_backoff[context] if k == 1 else ftable[3 * (starts[k] + context) + 2]
        for n in range(order):
            rows[lane, now, n] = -1
        return p, 1
    rows[lane, now, 0] = w
    best = 1
    p = uni_logprob[w]
    for n in range(2, order + 1):
        context = rows[lane, at, n - 2]
        row = -1
        if context >= 0:
            row = find_from(table, starts[n], buckets[n], context * vocab_size + w, homes[lane, n])
        rows[lane, now, n - 1] = row
        if row >= 0:
            best = n
            p = ftable[3 * (starts[n] + row) + 1]
    for k in range(best, order):  # contexts longer than the n-gram found back off
        context = rows[lane, at, k - 1]
        if context >= 0:
            if k == 1:
                p += uni_backoff[context]
            else:
                p += ftable[3 * (starts[k] + context) + 2]
    if np.isnan(p):
        p = -99.0
    return p, best


@njit(nogil=True, cache=True)
def score(stream, bos, order, vocab_size, uni_logprob, uni_backoff, table, ftable, starts, buckets,
          logp, lengths):  # pragma: no cover - jitted
    """log10 p of each token of `stream` and the length of the n-gram it was found as. Every `<s>` starts a
    sentence and scores 0 with length 1; a stream not starting with `<s>` starts with no context."""
    rows = np.full((1, 2, max(order, 1)), -1, dtype=np.int64)  # rows ending at the previous token, and now
    homes = np.zeros((1, order + 1), dtype=np.int64)
    at = 0
    for t in range(len(stream)):
        w = stream[t]
        if w == bos:
            rows[0, at, :] = -1
            rows[0, at, 0] = w
            logp[t] = 0.0
            lengths[t] = 1
            continue
        _prefetch_token(w, rows, 0, at, homes, order, vocab_size, table, starts, buckets)
        p, best = _score_token(w, rows, 0, at, homes, order, uni_logprob, uni_backoff, vocab_size, table,
                               ftable, starts, buckets)
        logp[t] = p
        lengths[t] = best
        at = 1 - at
    return 0


@njit(nogil=True, cache=True)
def score_block(ids, offsets, bos, eos, unk, order, vocab_size, uni_logprob, uni_backoff, table, ftable, starts,
                buckets, detail, logp, lengths, oov, sums):  # pragma: no cover - jitted
    """Score sentence s = ids[offsets[s]:offsets[s + 1]] after `<s>`, then its `</s>`, for every s.

    ids are vocabulary ids, -1 for a word the model lacks (scored as `unk`); such words and `unk` itself
    are OOVs. A literal `<s>` in a sentence is a word like any other (as in KenLM). Adds to `sums`: log10
    p over all tokens, over in-vocabulary tokens, the token count and the OOV count. With `detail`, also
    writes each token's log10 p, n-gram length and OOV flag (one entry per word and per `</s>`, sentence
    s's first at offsets[s] - offsets[0] + s). Each token's numbers do not depend on the lanes; the sums'
    rounding does (the same for the same sentences)."""
    sentences = len(offsets) - 1
    rows = np.full((LANES, 2, max(order, 1)), -1, dtype=np.int64)
    at = np.zeros(LANES, dtype=np.int64)
    homes = np.zeros((LANES, order + 1), dtype=np.int64)
    position = np.full(LANES, -1, dtype=np.int64)  # next token of the lane's sentence; -1: the lane is idle
    end = np.zeros(LANES, dtype=np.int64)
    out = np.zeros(LANES, dtype=np.int64)
    word = np.zeros(LANES, dtype=np.int64)
    is_oov = np.zeros(LANES, dtype=np.bool_)
    total = 0.0
    known = 0.0
    oovs = 0
    following = 0  # the next sentence no lane has taken
    busy = 0
    for lane in range(LANES):
        if following < sentences:
            position[lane], end[lane] = offsets[following], offsets[following + 1]
            out[lane] = offsets[following] - offsets[0] + following
            rows[lane, at[lane], :] = -1
            rows[lane, at[lane], 0] = bos
            following += 1
            busy += 1
    while busy > 0:
        for lane in range(LANES):  # each busy lane's next word, its probes' loads started
            t = position[lane]
            if t < 0:
                continue
            w = eos
            is_oov[lane] = False
            if t < end[lane]:
                w = ids[t]
                if w < 0 or w == unk:
                    is_oov[lane] = True
                    w = unk
            word[lane] = w
            _prefetch_token(w, rows, lane, at[lane], homes, order, vocab_size, table, starts, buckets)
        for lane in range(LANES):  # then each one scored
            t = position[lane]
            if t < 0:
                continue
            p, best = _score_token(word[lane], rows, lane, at[lane], homes, order, uni_logprob, uni_backoff,
                                   vocab_size, table, ftable, starts, buckets)
            at[lane] = 1 - at[lane]
            total += p
            if is_oov[lane]:
                oovs += 1
            else:
                known += p
            if detail:
                logp[out[lane]] = p
                lengths[out[lane]] = best
                oov[out[lane]] = is_oov[lane]
            out[lane] += 1
            if t < end[lane]:
                position[lane] = t + 1
            elif following < sentences:  # </s> scored: the lane takes the next sentence
                position[lane], end[lane] = offsets[following], offsets[following + 1]
                out[lane] = offsets[following] - offsets[0] + following
                rows[lane, at[lane], :] = -1
                rows[lane, at[lane], 0] = bos
                following += 1
            else:
                position[lane] = -1
                busy -= 1
    sums[0] += total
    sums[1] += known
    sums[2] += offsets[sentences] - offsets[0] + sentences
    sums[3] += oovs
    return 0
