"""Numba kernels that score text with an n-gram model's probing tables, the way KenLM's query does.

A token's log10 probability is that of the longest n-gram found ending at it, plus the back-offs of the
longer contexts (`_score_token`). The context is the row of each k-gram ending at the previous token, so
the probes of all orders for a token are independent and go to memory together; a prefetch of the next
orders' home slots starts those loads before the first probe waits.

`score_block` scores a whole block of sentences in one call and sums what perplexity needs, so Python
touches each block, not each sentence or token.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from seqkit_ngram.probing import _home, find


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


@njit(nogil=True, cache=True, inline="always")
def _score_token(w, previous, current, order, vocab_size, uni_logprob, uni_backoff, table, ftable, starts,
                 buckets):  # pragma: no cover - jitted
    """(log10 p, n-gram length) of word `w` after the rows `previous`; fills `current` with the rows of the
    n-grams ending at `w`. A negative `w` (no <unk> in the model) scores -99 with length 0."""
    if w < 0:
        current[:] = -1
        return -99.0, 0
    current[0] = w
    best = 1
    p = uni_logprob[w]
    for n in range(2, order + 1):
        context = previous[n - 2]
        row = -1
        if context >= 0:
            row = find(table, starts[n], buckets[n], context * vocab_size + w)
        current[n - 1] = row
        if row >= 0:
            best = n
            p = ftable[3 * (starts[n] + row) + 1]
    for k in range(best, order):  # contexts longer than the n-gram found back off
        context = previous[k - 1]
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
    previous = np.full(max(order, 1), -1, dtype=np.int64)
    current = np.full(max(order, 1), -1, dtype=np.int64)
    for t in range(len(stream)):
        w = stream[t]
        if w == bos:
            previous[0] = w
            previous[1:] = -1
            logp[t] = 0.0
            lengths[t] = 1
            continue
        p, best = _score_token(w, previous, current, order, vocab_size, uni_logprob, uni_backoff, table, ftable,
                               starts, buckets)
        logp[t] = p
        lengths[t] = best
        previous[:order] = current[:order]
    return 0


@njit(nogil=True, cache=True)
def score_block(ids, offsets, bos, eos, unk, order, vocab_size, uni_logprob, uni_backoff, table, ftable, starts,
                buckets, detail, logp, lengths, oov, sums):  # pragma: no cover - jitted
    """Score sentence s = ids[offsets[s]:offsets[s + 1]] after `<s>`, then its `</s>`, for every s.

    ids are vocabulary ids, -1 for a word the model lacks (scored as `unk`); such words and `unk` itself
    are OOVs. A literal `<s>` in a sentence is a word like any other (as in KenLM). Adds to `sums`: log10
    p over all tokens, over in-vocabulary tokens, the token count and the OOV count. With `detail`, also
    writes each token's log10 p, n-gram length and OOV flag (one entry per word and per `</s>`)."""
    previous = np.full(max(order, 1), -1, dtype=np.int64)
    current = np.full(max(order, 1), -1, dtype=np.int64)
    total = 0.0
    known = 0.0
    oovs = 0
    out = 0
    for s in range(len(offsets) - 1):
        previous[:] = -1
        previous[0] = bos
        end = offsets[s + 1]
        for t in range(offsets[s], end + 1):
            is_oov = False
            if t < end:
                w = ids[t]
                if w < 0 or w == unk:
                    is_oov = True
                    w = unk
            else:
                w = eos
            p, best = _score_token(w, previous, current, order, vocab_size, uni_logprob, uni_backoff, table,
                                   ftable, starts, buckets)
            previous[:order] = current[:order]
            total += p
            if is_oov:
                oovs += 1
            else:
                known += p
            if detail:
                logp[out] = p
                lengths[out] = best
                oov[out] = is_oov
            out += 1
    sums[0] += total
    sums[1] += known
    sums[2] += out
    sums[3] += oovs
    return out
