"""Smoothing: turn counts into interpolated probabilities and back-off weights for an ARPA file.

Modified Kneser-Ney follows KenLM's lmplz exactly: three discounts per order from the count-of-counts
of adjusted counts (Chen & Goodman eq. 26), interpolation down to a uniform distribution over the
vocabulary (`<unk>` included, `<s>` excluded), back-off weight of a context = its interpolation mass.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    t = [int(np.count_nonzero(counts == k)) for k in range(1, 5)]
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


def estimate(counts: Counts, smoothing: str = "mkn", *, fallback: tuple[float, float, float] | None = None,
             k: float = 1.0) -> Model:
    """Probabilities for every n-gram in `counts` under the chosen smoothing."""
    if smoothing not in SMOOTHINGS:
        raise ValueError(smoothing)
    orders = counts.orders
    top = len(orders)
    vocab_size = len(counts.vocab) - 1  # uniform distribution over words incl. <unk>, </s>; excl. <s>
    probs: list[np.ndarray] = []
    gammas: list[np.ndarray] = []
    discounts: list[tuple[float, float, float]] = []
    fallback_orders: list[int] = []
    if smoothing == "addk":
        return _additive(counts, k)
    for n, order in enumerate(orders, 1):
        ctx = np.zeros(len(order), dtype=np.int64) if n == 1 else order.prefix
        n_ctx = 1 if n == 1 else len(orders[n - 2])
        if smoothing == "wb":
            c = order.raw.astype(np.float64)
            denom = np.bincount(ctx, weights=c, minlength=n_ctx)
            types = np.bincount(ctx, weights=(c > 0).astype(np.float64), minlength=n_ctx)
            total = denom + types
            safe = np.where(total > 0, total, 1.0)
            uninterp = c / safe[ctx]
            gamma = types / safe
            discounts.append((0.0, 0.0, 0.0))
        else:
            c = order.count
            d, used = discounts_for(c[c > 0], n, smoothing, fallback)
            discounts.append(d)
            if used:
                fallback_orders.append(n)
            table = np.array([0.0, d[0], d[1], d[2]])
            discount = table[np.minimum(c, 3)]
            denom = np.bincount(ctx, weights=c.astype(np.float64), minlength=n_ctx)
            safe = np.where(denom > 0, denom, 1.0)
            uninterp = (c - discount) / safe[ctx]
            mass = np.bincount(ctx, weights=discount, minlength=n_ctx)
            gamma = mass / safe
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
            is_context[orders[n].prefix] = True
            g = gammas[n]  # gamma of contexts at order n+1, indexed by order-n rows
            bo[is_context] = np.log10(np.maximum(g[is_context], 1e-300))
        backoff.append(bo)
    _fix_bos(counts, logprob)
    return Model(counts.vocab, [o.words for o in orders], logprob, backoff, discounts, fallback_orders)


def _fix_bos(counts: Counts, logprob: list[np.ndarray]) -> None:
    """<s> is never predicted: ARPA convention gives it log10 probability -99."""
    unigrams = counts.orders[0].words[:, 0]
    logprob[0][unigrams == 1] = -99.0


def _additive(counts: Counts, k: float) -> Model:
    """Add-k at every order with Katz-style back-off weights so each context's distribution sums to 1."""
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
            seen_mass = np.bincount(ctx, weights=p, minlength=len(orders[n - 2]))
            lower_mass = np.bincount(ctx, weights=probs[n - 2][order.suffix], minlength=len(orders[n - 2]))
            free = np.clip(1.0 - seen_mass, 1e-12, None)
            rest = np.clip(1.0 - lower_mass, 1e-12, None)
            bo = np.ones(len(orders[n - 2]))
            has = np.bincount(ctx, minlength=len(orders[n - 2])) > 0
            bo[has] = free[has] / rest[has]
            backoffs.append(np.log10(bo))
        probs.append(p)
    backoffs.append(np.zeros(len(orders[-1])))
    logprob = [np.log10(np.maximum(p, 1e-300)) for p in probs]
    _fix_bos(counts, logprob)
    return Model(counts.vocab, [o.words for o in orders], logprob, backoffs, [(0.0, 0.0, 0.0)] * len(orders), [])
