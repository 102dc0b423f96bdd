"""Smoothing and writing the on-disk orders of `streaming`, a slice of contexts at a time.

Each formula is `estimate.estimate`'s (and `_additive`'s), applied to a slice whose contexts are whole:
`np.bincount` adds a context's values in row order whether it sees the slice or the order, so every
probability and back-off is the same float64 as the in-memory path's, and so is the ARPA text.
"""

from __future__ import annotations

import numpy as np

from seqkit_ngram.estimate import discounts_from
from seqkit_ngram.external import Spool
from seqkit_ngram.streaming import DiskOrder, _slices, _step


def estimate_orders(orders: list[DiskOrder], vocab_size: int, smoothing: str, fallback, k: float, memory: int,
                    spool: Spool) -> tuple[list, list[int]]:
    """log10 probabilities and back-offs of every order, as columns; (discounts, orders that fell back)."""
    discounts, fallback_orders = [], []
    top = len(orders)
    lower = np.zeros(0)
    for o in orders:
        n = o.n
        o.logprob = spool.column(f"logprob{n}", np.float64)
        if n < top:
            o.backoff = spool.column(f"backoff{n}", np.float64)
        d = (0.0, 0.0, 0.0)
        if smoothing in ("mkn", "kn"):
            d, used = discounts_from(_count_of_counts(o, memory), n, smoothing, fallback)
            if used:
                fallback_orders.append(n)
        discounts.append(d)
        probs = np.empty(o.rows if n < top else 0, dtype=np.float64)
        if n == 1:
            p = _unigrams(o, smoothing, d, k, vocab_size)
            probs[:] = p
            logprob = np.log10(np.maximum(p, 1e-300))
            logprob[o.words.read()[:, 0] == 1] = -99.0  # <s> is never predicted
            o.logprob.append(logprob)
        else:
            below = orders[n - 2]
            step = _step(memory, lower.nbytes + probs.nbytes, 400)
            for lo, hi in _slices(o, step):
                p, base, backoff = _slice(o, lo, hi, smoothing, d, k, vocab_size, lower)
                if n < top:
                    probs[lo:hi] = p
                o.logprob.append(np.log10(np.maximum(p, 1e-300)))
                below.backoff.put(base, backoff)
            below.backoff.pad_to(below.rows)
        lower = probs
    return discounts, fallback_orders


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
    uninterp, gamma = _context_terms(o.count.read(), o.raw.read(), ctx, 1, pruned, smoothing, d)
    return uninterp + gamma[0] / vocab_size


def _context_terms(count, raw, ctx, n_ctx: int, pruned, smoothing: str, d):
    """(uninterpolated probability of each row, interpolation weight of each context), as `estimate`."""
    if smoothing == "wb":
        c = raw.astype(np.float64)
        denom = np.bincount(ctx, weights=c, minlength=n_ctx)
        types = np.bincount(ctx, weights=(c > 0).astype(np.float64), minlength=n_ctx)
        total = denom + types
        safe = np.where(total > 0, total, 1.0)
        uninterp = c / safe[ctx]
        gamma = (types + np.bincount(ctx, weights=np.where(pruned, c, 0.0), minlength=n_ctx)) / safe
        return uninterp, gamma
    c = count
    table = np.array([0.0, d[0], d[1], d[2]])
    discount = table[np.minimum(c, 3)]
    denom = np.bincount(ctx, weights=c.astype(np.float64), minlength=n_ctx)
    safe = np.where(denom > 0, denom, 1.0)
    uninterp = (c - discount) / safe[ctx]
    mass = np.bincount(ctx, weights=np.where(pruned, c, discount), minlength=n_ctx)
    return uninterp, mass / safe


def _slice(o: DiskOrder, lo: int, hi: int, smoothing: str, d, k: float, vocab_size: int, lower: np.ndarray):
    """Probabilities of rows lo:hi, the first context row, and the back-offs of the contexts it spans."""
    prefix = o.prefix.read(lo, hi)
    base = int(prefix[0])
    ctx = prefix - base
    n_ctx = int(prefix[-1]) - base + 1
    keep = o.keep.read(lo, hi) if o.keep is not None else np.ones(hi - lo, dtype=bool)
    suffix_p = lower[o.suffix.read(lo, hi)]
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
    uninterp, gamma = _context_terms(o.count.read(lo, hi), o.raw.read(lo, hi), ctx, n_ctx, ~keep, smoothing, d)
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
            out.append(sum(int(np.count_nonzero(o.keep.read(lo, lo + (1 << 24)))) for lo in range(0, o.rows, 1 << 24)))
    return out


def blocks(o: DiskOrder, step: int):
    """(words, log10 probabilities, log10 back-offs) of the kept rows, a slice at a time."""
    for lo in range(0, o.rows, step):
        words = o.words.read(lo, lo + step)
        logprob = o.logprob.read(lo, lo + step)
        backoff = o.backoff.read(lo, lo + step) if o.backoff is not None else np.zeros(len(logprob))
        if o.keep is not None:
            keep = o.keep.read(lo, lo + step)
            words, logprob, backoff = words[keep], logprob[keep], backoff[keep]
        yield words, logprob, backoff
