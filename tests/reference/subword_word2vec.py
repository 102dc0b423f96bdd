"""fastText's subword training written plainly (`FastText::skipgram`, `FastText::cbow`, `Model::update`).

Per (centre, context) pair in skip-gram, and per centre in CBOW: the hidden vector is the mean of the
input rows, re-read from the matrix every time; every output unit adds to the gradient; the gradient
is added, unscaled, to each input row in the list (a row listed twice gets it twice). The output
units, the random stream and the schedule are seqkit word2vec's (`reference.word2vec`).
"""

from __future__ import annotations

import numpy as np

from reference.word2vec import MAX_EXP, Lcg, _draw, _kept_sentence, table_index


def reference_subword_chunk(chunk, weights, tables, settings, subwords):
    """Train `weights` (input, output, nodes) in place on `chunk`; returns the loss sum."""
    win, out, nodes = weights
    t, st = tables, settings
    rng = Lcg(chunk.seed)

    def rows_of(word):
        return [int(r) for r in subwords.rows[subwords.offsets[word]:subwords.offsets[word + 1]]]

    def unit(hidden, matrix, target, label, grad, lr, tree_node):
        f = np.float32(np.dot(hidden, matrix[target]))
        sign = 1.0 if label else -1.0
        z = sign * f
        if z > MAX_EXP:
            return 0.0
        if z < -MAX_EXP:  # fastText's sigmoid is 0 or 1 out there: the full step, for tree nodes too
            grad += np.float32(sign * lr) * matrix[target]
            matrix[target] += np.float32(sign * lr) * hidden
            return -z
        if tree_node:
            g = np.float32(((1.0 if label else 0.0) - t.sig[table_index(f)]) * lr)
        else:
            g = np.float32(sign * (1.0 - t.sig[table_index(z)]) * lr)
        grad += g * matrix[target]
        matrix[target] += g * hidden
        return -t.logsig[table_index(z)]

    def update(inputs, target, lr):
        """fastText's `Model::update` for one example."""
        hidden = win[inputs].astype(np.float64).sum(axis=0)
        if settings.cbow_mean or settings.skip_gram:
            hidden /= len(inputs)
        hidden = hidden.astype(np.float32)
        grad = np.zeros(win.shape[1], np.float32)
        loss = 0.0
        if st.hs:
            for j in range(t.code_offsets[target], t.code_offsets[target + 1]):
                loss += unit(hidden, nodes, t.points[j], t.codes[j] == 0, grad, lr, True)
        if st.negative:
            drawn = [d for d in (_draw(rng, len(t.noise_prob), t.noise_prob, t.noise_alias)
                                 for _ in range(st.negative)) if d != target]
            loss += unit(hidden, out, target, True, grad, lr, False)
            for d in drawn:
                loss += unit(hidden, out, d, False, grad, lr, False)
        for r in inputs:
            win[r] += grad
        return loss

    loss_sum, raw, offsets = 0.0, 0, chunk.offsets
    for s in range(len(offsets) - 1):
        lr = max(st.lr_start - (st.lr_start - st.lr_end) * (chunk.words_before + raw) / st.total_words, st.lr_end)
        sentence = _kept_sentence(rng, chunk.ids[offsets[s]:offsets[s + 1]], t.keep)
        raw += offsets[s + 1] - offsets[s]
        n = len(sentence)
        for pos, word in enumerate(sentence):
            b = ((rng.next() >> 32) * st.window) >> 32
            contexts = [c for c in range(max(pos - st.window + b, 0), min(pos + st.window - b + 1, n)) if c != pos]
            if st.skip_gram:  # the centre's rows predict each context word
                for c in contexts:
                    loss_sum += update(rows_of(word), sentence[c], lr)
            else:
                bow = [r for c in contexts for r in rows_of(sentence[c])]
                if bow:
                    loss_sum += update(bow, word, lr)
    return loss_sum
