"""Numba kernel behind the analogy evaluation: the best candidates for many questions at once.

A question (a, b, c) ranks every word w by 3CosAdd, cos(w, b) + cos(w, c) - cos(w, a), or by 3CosMul on
the same cosines shifted to [0, 1]. The cosines come from one small matrix product over the distinct
question words (`cosines[k] = unit[word k] @ unit.T`); this kernel adds up three rows per question and
keeps the top few in one pass, so the full questions-by-vocabulary score matrix is never written.
Imported only when an evaluation runs (it pulls in numba).
"""

from __future__ import annotations

import numpy as np
from numba import njit

COSMUL_EPSILON = 1e-3  # Levy & Goldberg (2014)
BLOCK = 256  # scores per block: stays in L1 between the scoring and the selection loop


@njit(nogil=True, cache=True)
def top_candidates(cosines, local, rows, cosmul, first, end, best_rows, best_scores):  # pragma: no cover
    """For questions [first, end): the `best_rows.shape[1]` highest-scoring rows, best first.

    `local[q]` holds the (a, b, c) indices into `cosines`, `rows[q]` the same words as vocabulary rows;
    those rows are never candidates. Ties keep the lower row first (a stable sort's order). Scores are
    made a block at a time while counting how many beat the current last candidate (a loop that
    vectorises); only the rare block with such a score is walked one score at a time. No fastmath: the
    excluded rows are -inf.
    """
    vocab = cosines.shape[1]
    top = best_rows.shape[1]
    scores = np.empty(vocab, dtype=np.float32)
    for q in range(first, end):
        ca, cb, cc = local[q, 0], local[q, 1], local[q, 2]
        for k in range(top):
            best_rows[q, k] = -1
            best_scores[q, k] = -np.inf
        floor = np.float32(-np.inf)
        for lo in range(0, vocab, BLOCK):
            hi = min(lo + BLOCK, vocab)
            above = 0
            if cosmul:
                for w in range(lo, hi):
                    pa = (cosines[ca, w] + np.float32(1.0)) * np.float32(0.5)
                    pb = (cosines[cb, w] + np.float32(1.0)) * np.float32(0.5)
                    pc = (cosines[cc, w] + np.float32(1.0)) * np.float32(0.5)
                    s = pb * pc / (pa + np.float32(COSMUL_EPSILON))
                    scores[w] = s
                    above += s > floor
            else:
                for w in range(lo, hi):
                    s = cosines[cb, w] + cosines[cc, w] - cosines[ca, w]
                    scores[w] = s
                    above += s > floor
            if above == 0:
                continue
            for k in range(3):
                if lo <= rows[q, k] < hi:
                    scores[rows[q, k]] = -np.inf
            for w in range(lo, hi):
                s = scores[w]
                if s > floor:  # strictly better than the current last: insert, shifting the rest down
                    k = top - 1
                    while k > 0 and best_scores[q, k - 1] < s:
                        best_scores[q, k] = best_scores[q, k - 1]
                        best_rows[q, k] = best_rows[q, k - 1]
                        k -= 1
                    best_scores[q, k] = s
                    best_rows[q, k] = w
                    floor = best_scores[q, top - 1]
