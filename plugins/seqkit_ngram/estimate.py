"""Smoothing: turn counts into interpolated probabilities and back-off weights for an ARPA file.

Modified Kneser-Ney follows KenLM's lmplz exactly: three discounts per order from the count-of-counts
of adjusted counts (Chen & Goodman eq. 26), interpolation down to a uniform distribution over the
vocabulary (`<unk>` included, `<s>` excluded), back-off weight of a context = its interpolation mass.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from seqkit.errors import SeqkitError
from seqkit_ngram.counts import Counts

SMOOTHINGS = ("mkn", "kn", "wb", "addk")
FALLBACK = (0.5, 1.0, 1.5)  # lmplz's --discount_fallback defaults


@dataclass
class Model:
    """What an ARPA file holds: per order, the n-grams, log10 probabilities and log10 back-offs."""

    vocab: list[str]
    words: list[np.ndarray]      # int32[count, n] per order
    logprob: list[np.ndarray]    # float64 log10
    backoff: list[np.ndarray]    # float64 log10 (zeros at the top order)
    discounts: list[tuple[float, float, float]]
    fallback_orders: list[int]


class DiscountError(SeqkitError):
    """Too little data to estimate Kneser-Ney discounts."""


def discounts_for(counts: np.ndarray, n: int, smoothing: str, fallback: tuple[float, float, float] | None):
    """Chen & Goodman's estimates from count-of-counts; (D1, D2, D3+), and whether the fallback was used."""
    return discounts_from([int(np.count_nonzero(counts == k)) for k in range(1, 5)], n, smoothing, fallback)


def discounts_from(t: list[int], n: int, smoothing: str, fallback: tuple[float, float, float] | None):
    """`discounts_for` given the count-of-counts t = [n1, n2, n3, n4] (summed over chunks by the caller)."""
    try:
        if t[0] == 0 or t[1] == 0:
            raise ZeroDivisionError
        y = t[0] / (t[0] + 2.0 * t[1])
        if smoothing == "kn":
            return (y, y, y), False
        if t[2] == 0:
            raise ZeroDivisionError
        d = (1 - 2 * y * t[1] / t[0], 2 - 3 * y * t[2] / t[1], 3 - 4 * y * t[3] / t[2])
        if any(not (0 <= dk <= k + 1) for k, dk in enumerate(d)) or d[0] > 1 or d[1] > 2 or d[2] > 3:
            raise ValueError(d)
        return d, False
    except (ZeroDivisionError, ValueError):
        if fallback is None:
            raise DiscountError(
                f"cannot estimate Kneser-Ney discounts for {n}-grams: count-of-counts n1..n4 = {t} "
                f"(too little or artificial data); pass --discount-fallback to use "
                f"{' '.join(map(str, FALLBACK))}, or lower --order") from None
        return fallback, True


def prune_masks(counts: Counts, thresholds: Sequence[int] | None) -> list[np.ndarray]:
    """Which n-grams lmplz's `--prune` keeps: those whose raw occurrence count exceeds their order's
    threshold (lmplz compares actual counts, not adjusted ones; unigrams are never pruned). An n-gram that
    is the context (prefix) or the suffix of a kept higher-order n-gram is kept too: querying walks
    through both. With non-decreasing thresholds raw counts already guarantee that; the closure makes it
    hold whatever the counts."""
    orders = counts.orders
    keep = [np.ones(len(o), dtype=bool) for o in orders]
    if not thresholds:
        return keep
    for n in range(2, len(orders) + 1):
        if thresholds[n - 1]:
            keep[n - 1] = orders[n - 1].raw > thresholds[n - 1]
    for n in range(len(orders), 1, -1):
        kept = keep[n - 1]
        keep[n - 2][orders[n - 1].prefix[kept]] = True
        keep[n - 2][orders[n - 1].suffix[kept]] = True
    return keep


def estimate(counts: Counts, smoothing: str = "mkn", *, fallback: tuple[float, float, float] | None = None,
             k: float = 1.0, prune: Sequence[int] | None = None) -> Model:
    """Probabilities for every n-gram in `counts` under the chosen smoothing, optionally pruned.

    Pruning follows lmplz: discounts come from all n-grams' count-of-counts, and a pruned n-gram's whole
    probability (its count, not only its discount) goes to its context's interpolation weight, which is
    the context's back-off, so every context's distribution still sums to one.
    """
    if smoothing not in SMOOTHINGS:
        raise ValueError(smoothing)
    keep = prune_masks(counts, prune)
    if smoothing == "addk":
        return _filtered(_additive(counts, k, keep), keep)
    orders = counts.orders
    top = len(orders)
    vocab_size = len(counts.vocab) - 1  # uniform distribution over words incl. <unk>, </s>; excl. <s>
    probs: list[np.ndarray] = []
    gammas: list[np.ndarray] = []
    discounts: list[tuple[float, float, float]] = []
    fallback_orders: list[int] = []
    for n, order in enumerate(orders, 1):
        pruned = ~keep[n - 1]
        ctx = np.zeros(len(order), dtype=np.int64) if n == 1 else order.prefix
        n_ctx = 1 if n == 1 else len(orders[n - 2])
        if smoothing == "wb":
            discounts.append((0.0, 0.0, 0.0))
            d = None
        else:
            c = order.count
            d, used = discounts_for(c[c > 0], n, smoothing, fallback)
            discounts.append(d)
            if used:
                fallback_orders.append(n)
        uninterp, gamma = context_terms(order.count, order.raw, ctx, n_ctx, pruned, smoothing, d)
        if n == 1:
            p = uninterp + gamma[0] / vocab_size
        else:
            p = uninterp + gamma[ctx] * probs[n - 2][order.suffix]
        probs.append(p)
        gammas.append(gamma)
    logprob = [np.log10(np.maximum(p, 1e-300)) for p in probs]
    backoff = []
    for n in range(1, top + 1):
        bo = np.zeros(len(orders[n - 1]))
        if n < top:
            is_context = np.zeros(len(orders[n - 1]), dtype=bool)
            is_context[orders[n].prefix[keep[n]]] = True
            g = gammas[n]  # gamma of contexts at order n+1, indexed by order-n rows
            bo[is_context] = np.log10(np.maximum(g[is_context], 1e-300))
        backoff.append(bo)
    _fix_bos(counts, logprob)
    model = Model(counts.vocab, [o.words for o in orders], logprob, backoff, discounts, fallback_orders)
    return _filtered(model, keep)


def _filtered(model: Model, keep: list[np.ndarray]) -> Model:
    """The model without its pruned n-grams."""
    if all(k.all() for k in keep):
        return model
    return Model(model.vocab, [w[k] for w, k in zip(model.words, keep)], [p[k] for p, k in zip(model.logprob, keep)],
                 [b[k] for b, k in zip(model.backoff, keep)], model.discounts, model.fallback_orders)


def _fix_bos(counts: Counts, logprob: list[np.ndarray]) -> None:
    """<s> is never predicted: ARPA convention gives it log10 probability -99."""
    unigrams = counts.orders[0].words[:, 0]
    logprob[0][unigrams == 1] = -99.0


def _additive(counts: Counts, k: float, keep: list[np.ndarray]) -> Model:
    """Add-k at every order with Katz-style back-off weights so each context's distribution (over the
    kept n-grams) sums to 1."""
    orders = counts.orders
    vocab_size = len(counts.vocab) - 1
    probs, backoffs = [], []
    for n, order in enumerate(orders, 1):
        c = order.raw.astype(np.float64)
        if n == 1:
            p = (c + k) / (c.sum() + k * vocab_size)
            p[order.words[:, 0] == 1] = 0.0
        else:
            ctx = order.prefix
            denom = np.bincount(ctx, weights=c, minlength=len(orders[n - 2]))
            p = (c + k) / (denom[ctx] + k * vocab_size)
            kept = keep[n - 1]
            seen_mass = np.bincount(ctx, weights=np.where(kept, p, 0.0), minlength=len(orders[n - 2]))
            lower_mass = np.bincount(ctx, weights=np.where(kept, probs[n - 2][order.suffix], 0.0),
                                     minlength=len(orders[n - 2]))
            free = np.clip(1.0 - seen_mass, 1e-12, None)
            rest = np.clip(1.0 - lower_mass, 1e-12, None)
            bo = np.ones(len(orders[n - 2]))
            has = np.bincount(ctx, weights=kept, minlength=len(orders[n - 2])) > 0
            bo[has] = free[has] / rest[has]
            backoffs.append(np.log10(bo))
        probs.append(p)
    backoffs.append(np.zeros(len(orders[-1])))
    logprob = [np.log10(np.maximum(p, 1e-300)) for p in probs]
    _fix_bos(counts, logprob)
    return Model(counts.vocab, [o.words for o in orders], logprob, backoffs, [(0.0, 0.0, 0.0)] * len(orders), [])


def context_terms(count, raw, ctx, n_ctx: int, pruned, smoothing: str, d):
    """(uninterpolated probability of each row, interpolation weight of each context): Witten-Bell, or
    absolute discounts `d` for counts 1, 2 and 3+ (Kneser-Ney); shared by the in-memory and on-disk paths."""
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
