"""Numba kernel behind the analogy evaluation: the best candidates for many questions at once.

A question (a, b, c) ranks every word w by 3CosAdd, cos(w, b) + cos(w, c) - cos(w, a), or by 3CosMul on
the same cosines shifted to [0, 1]. The cosines come from one small matrix product over the distinct
question words (`cosines[k] = unit[word k] @ unit.T`); this kernel adds up three rows per question and
keeps the top few, so the full questions-by-vocabulary score matrix is never written.

The table (hundreds of words x the vocabulary) is far larger than the caches, and walking it question by
question would stream three full rows from memory for each of ten thousand questions. So the kernel walks
it one narrow column tile at a time and, within a tile, every question: the tile stays in L2 while all
questions read it, and the table is read from memory once. Imported only when an evaluation runs (it
pulls in numba).
"""

from __future__ import annotations

import numpy as np
from numba import njit

COSMUL_EPSILON = 1e-3  # Levy & Goldberg (2014)
TILE = 256  # vocabulary columns per tile: (question words x TILE) float32 stays in L2


@njit(nogil=True, cache=True)
def top_candidates(cosines, local, rows, cosmul, first, end, best_rows, best_scores):  # pragma: no cover
    """For questions [first, end): the `best_rows.shape[1]` highest-scoring rows, best first.

    `local[q]` holds the (a, b, c) indices into `cosines`, `rows[q]` the same words as vocabulary rows;
    those rows are never candidates. Ties keep the lower row first (a stable sort's order): every
    question sees the rows in increasing order, and only a strictly better score displaces a kept one.
    Scores are made a tile at a time while counting how many beat the current last candidate (a loop
    that vectorises); only the rare tile with such a score is walked one score at a time. No fastmath:
    the excluded rows are -inf.
    """
    vocab = cosines.shape[1]
    top = best_rows.shape[1]
    scores = np.empty(TILE, dtype=np.float32)
    for q in range(first, end):
        for k in range(top):
            best_rows[q, k] = -1
            best_scores[q, k] = -np.inf
    for lo in range(0, vocab, TILE):
        width = min(TILE, vocab - lo)
        for q in range(first, end):
            row_a = cosines[local[q, 0], lo:lo + width]
            row_b = cosines[local[q, 1], lo:lo + width]
            row_c = cosines[local[q, 2], lo:lo + width]
            floor = best_scores[q, top - 1]
            above = 0
            if cosmul:
                for w in range(width):
                    pa = (row_a[w] + np.float32(1.0)) * np.float32(0.5)
                    pb = (row_b[w] + np.float32(1.0)) * np.float32(0.5)
                    pc = (row_c[w] + np.float32(1.0)) * np.float32(0.5)
                    s = pb * pc / (pa + np.float32(COSMUL_EPSILON))
                    scores[w] = s
                    above += s > floor
            else:
                for w in range(width):
                    s = row_b[w] + row_c[w] - row_a[w]
                    scores[w] = s
                    above += s > floor
            if above == 0:
                continue
            for k in range(3):
                if lo <= rows[q, k] < lo + width:
                    scores[rows[q, k] - lo] = -np.inf
            for w in range(width):
                s = scores[w]
                if s > floor:  # strictly better than the current last: insert, shifting the rest down
                    k = top - 1
                    while k > 0 and best_scores[q, k - 1] < s:
                        best_scores[q, k] = best_scores[q, k - 1]
                        best_rows[q, k] = best_rows[q, k - 1]
                        k -= 1
                    best_scores[q, k] = s
                    best_rows[q, k] = lo + w
                    floor = best_scores[q, top - 1]
