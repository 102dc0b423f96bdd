"""Smoothing and writing the on-disk orders of `streaming`, a slice of contexts at a time.

Each formula is `estimate.estimate`'s (and `_additive`'s), applied to a slice whose contexts are whole:
`np.bincount` adds a context's values in row order whether it sees the slice or the order, so every
probability and back-off is the same float64 as the in-memory path's, and so is the ARPA text.
"""

from __future__ import annotations

import numpy as np

from seqkit_ngram.estimate import context_terms, discounts_from
from seqkit_ngram.external import Spool
from seqkit_ngram.counts import BOS_ID
from seqkit_ngram.streaming import DiskOrder, RowIndex, _step, slices


def model_sections(orders: list[DiskOrder], V: int, smoothing: str, fallback, k: float, memory: int,
                   spool: Spool, fallback_orders: list[int]):
    """Per order, in the ARPA's order, an iterator of (words, log10 p, log10 back-off) blocks of its kept
    n-grams. Order n's pass (bottom up, contexts whole in every slice) gives its probabilities, held for
    order n+1's interpolation, and the back-offs of order n-1, whose section then follows; the top
    order's log-probabilities go to a column and its section comes last. The rows come from
    `index_orders`' columns when they exist (--prune), else from a `RowIndex` as the slices go."""
    top = len(orders)
    vocab_size = V - 1  # the uniform distribution: words incl. <unk> and </s>, not <s>
    index = None if orders[1].prefix is not None else RowIndex(orders[0].words.read()[:, 0], V)
    lower = np.zeros(0)
    for o in orders:
        n = o.n
        if n < top:
            o.backoff = spool.column(f"backoff{n}", np.float64)
        d = (0.0, 0.0, 0.0)
        if smoothing in ("mkn", "kn"):
            d, used = discounts_from(_count_of_counts(o, memory), n, smoothing, fallback)
            if used:
                fallback_orders.append(n)
        if n == 1:
            probs = _unigrams(o, smoothing, d, k, vocab_size)
            lower = probs
            continue
        below = orders[n - 2]
        probs = np.empty(o.rows if n < top else 0, dtype=np.float64)
        if n == top:
            o.logprob = spool.column(f"logprob{n}", np.float64)
        if index is not None:
            index.start(o.rows, n < top)
        held = lower.nbytes + probs.nbytes + (index.held_bytes() if index is not None else 0)
        for lo, hi, prefix, suffix in slices(o, _step(memory, held, 400), index):
            p, base, backoff = _slice(o, lo, hi, prefix, suffix, smoothing, d, k, vocab_size, lower)
            if n < top:
                probs[lo:hi] = p
            else:
                o.logprob.append(np.log10(np.maximum(p, 1e-300)))
            below.backoff.put(base, backoff)
        below.backoff.pad_to(below.rows)
        if index is not None:
            index.finish()
        yield _section(below, lower, memory)
        lower = probs
        del probs
    yield _section(orders[-1], None, memory)


def _section(o: DiskOrder, probs: np.ndarray | None, memory: int):
    """(words, log10 p, log10 back-off) of the kept rows of a finished order, a slice at a time."""
    step = _step(memory, probs.nbytes if probs is not None else 0, 16 * (4 * o.n + 100))
    for lo in range(0, o.rows, step):
        words = o.words.read(lo, lo + step)
        if probs is None:
            logprob = o.logprob.read(lo, lo + step)
        else:
            logprob = np.log10(np.maximum(probs[lo:lo + step], 1e-300))
            if o.n == 1:
                logprob[words[:, 0] == BOS_ID] = -99.0  # <s> is never predicted
        backoff = o.backoff.read(lo, lo + step) if o.backoff is not None else np.zeros(len(logprob))
        if o.keep is not None:
            keep = o.keep.read(lo, lo + step)
            words, logprob, backoff = words[keep], logprob[keep], backoff[keep]
        yield words, logprob, backoff


def _count_of_counts(o: DiskOrder, memory: int) -> list[int]:
    t = [0, 0, 0, 0]
    step = _step(memory, 0, 32)
    for lo in range(0, o.rows, step):
        c = o.count.read(lo, lo + step)
        c = c[c > 0]
        for j in range(4):
            t[j] += int(np.count_nonzero(c == j + 1))
    return t


def _unigrams(o: DiskOrder, smoothing: str, d, k: float, vocab_size: int) -> np.ndarray:
    if smoothing == "addk":
        c = o.raw.read().astype(np.float64)
        p = (c + k) / (c.sum() + k * vocab_size)
        p[o.words.read()[:, 0] == 1] = 0.0
        return p
    ctx = np.zeros(o.rows, dtype=np.int64)
    pruned = ~o.keep.read() if o.keep is not None else np.zeros(o.rows, dtype=bool)
    uninterp, gamma = context_terms(o.count.read(), o.raw.read(), ctx, 1, pruned, smoothing, d)
    return uninterp + gamma[0] / vocab_size


def _slice(o: DiskOrder, lo: int, hi: int, prefix, suffix, smoothing: str, d, k: float, vocab_size: int,
           lower: np.ndarray):
    """Probabilities of rows lo:hi, the first context row, and the back-offs of the contexts it spans."""
    base = int(prefix[0])
    ctx = prefix - base
    n_ctx = int(prefix[-1]) - base + 1
    keep = o.keep.read(lo, hi) if o.keep is not None else np.ones(hi - lo, dtype=bool)
    suffix_p = lower[suffix]
    if smoothing == "addk":
        c = o.raw.read(lo, hi).astype(np.float64)
        denom = np.bincount(ctx, weights=c, minlength=n_ctx)
        p = (c + k) / (denom[ctx] + k * vocab_size)
        seen_mass = np.bincount(ctx, weights=np.where(keep, p, 0.0), minlength=n_ctx)
        lower_mass = np.bincount(ctx, weights=np.where(keep, suffix_p, 0.0), minlength=n_ctx)
        free = np.clip(1.0 - seen_mass, 1e-12, None)
        rest = np.clip(1.0 - lower_mass, 1e-12, None)
        bo = np.ones(n_ctx)
        has = np.bincount(ctx, weights=keep, minlength=n_ctx) > 0
        bo[has] = free[has] / rest[has]
        return p, base, np.log10(bo)
    count, raw = o.count.read(lo, hi), o.raw.read(lo, hi)
    uninterp, gamma = context_terms(count, raw, ctx, n_ctx, ~keep, smoothing, d)
    p = uninterp + gamma[ctx] * suffix_p
    is_context = np.zeros(n_ctx, dtype=bool)
    is_context[ctx[keep]] = True
    backoff = np.zeros(n_ctx)
    backoff[is_context] = np.log10(np.maximum(gamma[is_context], 1e-300))
    return p, base, backoff


def sizes(orders: list[DiskOrder]) -> list[int]:
    """n-grams written per order (kept ones when pruning)."""
    out = []
    for o in orders:
        if o.keep is None:
            out.append(o.rows)
        else:
            step = 1 << 24
            kept = (int(np.count_nonzero(o.keep.read(lo, lo + step))) for lo in range(0, o.rows, step))
            out.append(sum(kept))
    return out
