"""Numba kernels of the sequence-to-sequence layers: attention (additive and multiplicative), Adam's
update, and CTC's forward-backward in log space.

Every kernel is single-threaded and `nogil` and works on a range of batch columns [b0, b1), so the
network can run column ranges on its own threads; they are dtype-generic, so the tests run them in
float64 for finite differences. Time-major layouts throughout: queries [T, B, A], keys [S, B, A],
encoder outputs [S, B, C], attention weights [T, B, S].
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from seqkit.recurrent.fastmath import fexp, ftanh, like


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _softmax_row(scores, n):  # pragma: no cover - jitted
    """In place over scores[:n]; scores[n:] (padded source positions) become 0."""
    top = scores[0]
    for j in range(n):
        top = max(top, scores[j])
    total = like(0.0, top)
    for j in range(n):
        e = fexp(scores[j] - top)
        scores[j] = e
        total += e
    inv = like(1.0, top) / total
    for j in range(n):
        scores[j] *= inv
    for j in range(n, scores.shape[0]):
        scores[j] = 0


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _context(weights, enc, b, n, out):  # pragma: no cover - jitted
    out[:] = 0
    for j in range(n):
        w = weights[j]
        row = enc[j, b]
        for c in range(out.shape[0]):
            out[c] += w * row[c]


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def additive_forward(queries, keys, v, enc, lengths, weights, context, b0, b1):  # pragma: no cover - jitted
    """Bahdanau: score[t, b, j] = v . tanh(keys[j, b] + queries[t, b]); weights = softmax over the first
    lengths[b] positions; context[t, b] = sum_j weights * enc[j, b]."""
    T, A = queries.shape[0], queries.shape[2]
    for b in range(b0, b1):
        n = lengths[b]
        for t in range(T):
            q, row = queries[t, b], weights[t, b]
            for j in range(n):
                k = keys[j, b]
                s = like(0.0, q[0])
                for a in range(A):
                    s += v[a] * ftanh(k[a] + q[a])
                row[j] = s
            _softmax_row(row, n)
            _context(row, enc, b, n, context[t, b])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def _dscores(row, dcontext, enc, b, n, denc, dscore):  # pragma: no cover - jitted
    """Through the context and the softmax: dscore[j] = w_j (g_j - sum_k w_k g_k), g_j = dcontext . enc_j;
    adds w_j * dcontext to denc[j, b]."""
    C = dcontext.shape[0]
    mean = like(0.0, row[0])
    for j in range(n):
        g = like(0.0, row[0])
        e, de = enc[j, b], denc[j, b]
        w = row[j]
        for c in range(C):
            g += dcontext[c] * e[c]
            de[c] += w * dcontext[c]
        dscore[j] = g
        mean += w * g
    for j in range(n):
        dscore[j] = row[j] * (dscore[j] - mean)


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def additive_backward(queries, keys, v, enc, lengths, weights, dcontext, dqueries, dkeys, dv, denc,
                      b0, b1):  # pragma: no cover - jitted
    """Gradients of `additive_forward` given dL/dcontext: writes dqueries[:, b0:b1], adds into dkeys,
    denc (columns b0:b1) and dv (a buffer owned by the caller's thread). tanh is recomputed."""
    T, A = queries.shape[0], queries.shape[2]
    dscore = np.empty(keys.shape[0], queries.dtype)
    one = like(1.0, queries[0, 0, 0])
    for b in range(b0, b1):
        n = lengths[b]
        for t in range(T):
            _dscores(weights[t, b], dcontext[t, b], enc, b, n, denc, dscore)
            q, dq = queries[t, b], dqueries[t, b]
            dq[:] = 0
            for j in range(n):
                k, dk, ds = keys[j, b], dkeys[j, b], dscore[j]
                for a in range(A):
                    u = ftanh(k[a] + q[a])
                    dv[a] += ds * u
                    d = ds * v[a] * (one - u * u)
                    dq[a] += d
                    dk[a] += d


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def dot_forward(queries, keys, enc, lengths, weights, context, b0, b1):  # pragma: no cover - jitted
    """Luong's multiplicative ("general") attention: score[t, b, j] = queries[t, b] . keys[j, b], where
    keys = enc W; then the softmax and context as `additive_forward`."""
    T, D = queries.shape[0], queries.shape[2]
    for b in range(b0, b1):
        n = lengths[b]
        for t in range(T):
            q, row = queries[t, b], weights[t, b]
            for j in range(n):
                k = keys[j, b]
                s = like(0.0, q[0])
                for d in range(D):
                    s += q[d] * k[d]
                row[j] = s
            _softmax_row(row, n)
            _context(row, enc, b, n, context[t, b])


@njit(nogil=True, cache=True, fastmath=True, error_model="numpy")
def dot_backward(queries, keys, enc, lengths, weights, dcontext, dqueries, dkeys, denc,
                 b0, b1):  # pragma: no cover - jitted
    T, D = queries.shape[0], queries.shape[2]
    dscore = np.empty(keys.shape[0], queries.dtype)
    for b in range(b0, b1):
        n = lengths[b]
        for t in range(T):
            _dscores(weights[t, b], dcontext[t, b], enc, b, n, denc, dscore)
            q, dq = queries[t, b], dqueries[t, b]
            dq[:] = 0
            for j in range(n):
                k, dk, ds = keys[j, b], dkeys[j, b], dscore[j]
                for d in range(D):
                    dq[d] += ds * k[d]
                    dk[d] += ds * q[d]


@njit(nogil=True, cache=True, error_model="numpy")
def adam_flat(param, grad, m, v, rate, factor, b1, b2, eps, lo, hi):  # pragma: no cover - jitted
    """Adam on the flat elements [lo, hi) in one pass (NumPy's version takes eight passes and four
    temporaries): g = grad * factor; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    param -= rate m / (sqrt(v) + eps), all in the arrays' precision; `rate` carries the bias correction."""
    one = like(1.0, param[0])
    rate, factor, eps = like(rate, one), like(factor, one), like(eps, one)
    c1, c2 = like(1.0 - b1, one), like(1.0 - b2, one)
    b1, b2 = like(b1, one), like(b2, one)
    for i in range(lo, hi):
        g = grad[i] * factor
        mi = b1 * m[i] + c1 * g
        vi = b2 * v[i] + c2 * g * g
        m[i], v[i] = mi, vi
        param[i] -= rate * mi / (np.sqrt(vi) + eps)


@njit(nogil=True, cache=True, error_model="numpy")
def _logaddexp(a, b):  # pragma: no cover - jitted
    if a == -np.inf:
        return b
    if b == -np.inf:
        return a
    top = max(a, b)
    return top + math.log(math.exp(a - top) + math.exp(b - top))


@njit(nogil=True, cache=True, error_model="numpy")
def _symbol(labels, blank, s):  # pragma: no cover - jitted
    """The symbol at position s of the blank-extended label sequence (blanks at even positions)."""
    return blank if s % 2 == 0 else labels[s // 2]


@njit(nogil=True, cache=True, error_model="numpy")
def ctc_loss_grad(logprobs, labels, blank, grad):  # pragma: no cover - jitted
    """CTC for one sequence: logprobs [T, V] (log-softmax outputs), labels [L] (no blanks). Returns
    -log p(labels | input) (inf when no alignment exists) and writes dLoss/dlogits into grad [T, V]:
    softmax - posterior occupancy (zero when infeasible). Forward-backward in log space (float64)."""
    T, V = logprobs.shape
    L = labels.shape[0]
    S = 2 * L + 1
    ninf = -np.inf
    alpha = np.full((T, S), ninf)
    beta = np.full((T, S), ninf)

    alpha[0, 0] = logprobs[0, blank]
    if S > 1:
        alpha[0, 1] = logprobs[0, labels[0]]
    for t in range(1, T):
        for s in range(S):
            a = alpha[t - 1, s]
            if s >= 1:
                a = _logaddexp(a, alpha[t - 1, s - 1])
            if s >= 2 and s % 2 == 1 and labels[s // 2] != labels[s // 2 - 1]:
                a = _logaddexp(a, alpha[t - 1, s - 2])
            if a != ninf:
                alpha[t, s] = a + logprobs[t, _symbol(labels, blank, s)]
    beta[T - 1, S - 1] = logprobs[T - 1, _symbol(labels, blank, S - 1)]
    if S > 1:
        beta[T - 1, S - 2] = logprobs[T - 1, _symbol(labels, blank, S - 2)]
    for t in range(T - 2, -1, -1):
        for s in range(S):
            b = beta[t + 1, s]
            if s + 1 < S:
                b = _logaddexp(b, beta[t + 1, s + 1])
            if s + 2 < S and s % 2 == 1 and labels[s // 2] != labels[s // 2 + 1]:
                b = _logaddexp(b, beta[t + 1, s + 2])
            if b != ninf:
                beta[t, s] = b + logprobs[t, _symbol(labels, blank, s)]
    total = alpha[T - 1, S - 1]
    if S > 1:
        total = _logaddexp(total, alpha[T - 1, S - 2])
    grad[:] = 0
    if total == ninf:
        return np.inf
    occupancy = np.full(V, ninf)
    for t in range(T):
        occupancy[:] = ninf
        for s in range(S):
            k = _symbol(labels, blank, s)
            # alpha and beta both include the emission at t, so it is counted twice: take it out once
            occupancy[k] = _logaddexp(occupancy[k], alpha[t, s] + beta[t, s] - logprobs[t, k])
        for k in range(V):
            posterior = math.exp(occupancy[k] - total) if occupancy[k] != ninf else 0.0
            grad[t, k] = math.exp(logprobs[t, k]) - posterior
    return -total
