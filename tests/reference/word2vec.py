"""word2vec's updates written plainly with NumPy rows (float32): per-pair training and the batch mode."""

from __future__ import annotations

import numpy as np

M64 = (1 << 64) - 1
MAX_EXP, TABLE = 6.0, 1000


class Lcg:
    """The kernels' random stream."""

    def __init__(self, seed):
        self.state = (seed * 2862933555777941757 + 3037000493) & M64

    def next(self):
        self.state = (self.state * 25214903917 + 11) & M64
        return self.state


def table_index(z):
    return int((z + MAX_EXP) * (TABLE / MAX_EXP / 2.0))


def _draw(rng, vocab, prob, alias):
    r = rng.next()
    i = ((r >> 32) * vocab) >> 32
    u = np.float32((r >> 11) & 0x1FFFFF) * np.float32(1.0 / 2097152.0)
    return i if u < prob[i] else int(alias[i])


def _kept_sentence(rng, ids, keep):
    sentence = []
    for w in ids:
        r = rng.next()
        if keep[w] < 1.0 and keep[w] < ((r >> 11) / 9007199254740992.0):
            continue
        sentence.append(w)
    return sentence


def reference_chunk(chunk, weights, tables, settings):
    """`kernels.train_chunk` without replicas: word2vec.c's per-pair updates, the same random stream.
    Updates `weights` (syn0, syn1neg, syn1) in place and returns the loss sum."""
    syn0, syn1neg, syn1 = weights
    t, st = tables, settings
    rng = Lcg(chunk.seed)
    loss_sum, raw = 0.0, 0

    def unit(inp, target, label, out, neu1e, lr):
        f = np.float32(np.dot(inp, out[target]))
        sign = 1.0 if label else -1.0
        z = sign * f
        if z > MAX_EXP:
            return 0.0
        if z >= -MAX_EXP:
            i = table_index(z)
            g = np.float32(sign * (1.0 - t.sig[i]) * lr)
            loss = -t.logsig[i]
        else:
            g, loss = np.float32(sign * lr), -z
        neu1e += g * out[target]
        out[target] += g * inp
        return loss

    def outputs(inp, word, neu1e, lr):
        loss = 0.0
        inp = inp.copy()
        if st.hs:
            for j in range(t.code_offsets[word], t.code_offsets[word + 1]):
                node = t.points[j]
                f = np.float32(np.dot(inp, syn1[node]))
                sign = 1.0 if t.codes[j] == 0 else -1.0
                z = sign * f
                if z > MAX_EXP:
                    continue
                if z < -MAX_EXP:
                    loss += -z
                    continue
                g = np.float32((1.0 - t.codes[j] - t.sig[table_index(f)]) * lr)
                loss -= t.logsig[table_index(z)]
                neu1e += g * syn1[node]
                syn1[node] += g * inp
        if st.negative:
            loss += unit(inp, word, 1, syn1neg, neu1e, lr)
            for _ in range(st.negative):
                target = _draw(rng, len(t.noise_prob), t.noise_prob, t.noise_alias)
                if target != word:
                    loss += unit(inp, target, 0, syn1neg, neu1e, lr)
        return loss

    offsets, window = chunk.offsets, st.window
    for s in range(len(offsets) - 1):
        lr = max(st.lr_start - (st.lr_start - st.lr_end) * (chunk.words_before + raw) / st.total_words, st.lr_end)
        sentence = _kept_sentence(rng, chunk.ids[offsets[s]:offsets[s + 1]], t.keep)
        raw += offsets[s + 1] - offsets[s]
        n = len(sentence)
        for pos, word in enumerate(sentence):
            b = ((rng.next() >> 32) * window) >> 32
            contexts = [c for c in range(max(pos - window + b, 0), min(pos + window - b + 1, n)) if c != pos]
            if st.skip_gram:
                for c in contexts:
                    neu1e = np.zeros(syn0.shape[1], np.float32)
                    loss_sum += outputs(syn0[sentence[c]], word, neu1e, lr)
                    syn0[sentence[c]] += neu1e
            elif contexts:
                neu1 = syn0[[sentence[c] for c in contexts]].sum(axis=0, dtype=np.float32)
                if st.cbow_mean:
                    neu1 *= np.float32(1.0 / len(contexts))
                neu1e = np.zeros(syn0.shape[1], np.float32)
                loss_sum += outputs(neu1, word, neu1e, lr)
                for c in contexts:
                    syn0[sentence[c]] += neu1e
    return loss_sum


def reference_batch_chunk(chunk, weights, tables, settings):
    """`kernels.train_chunk_sg_batch`: one window = one minibatch, G = (label - sigmoid(C T^T)) lr, then
    C += G T and T += G^T C. Updates syn0 and syn1neg in place and returns the loss sum."""
    syn0, syn1neg = weights[0], weights[1]
    t, st = tables, settings
    rng = Lcg(chunk.seed)
    loss_sum, raw, offsets = 0.0, 0, chunk.offsets
    for s in range(len(offsets) - 1):
        lr = max(st.lr_start - (st.lr_start - st.lr_end) * (chunk.words_before + raw) / st.total_words, st.lr_end)
        sentence = _kept_sentence(rng, chunk.ids[offsets[s]:offsets[s + 1]], t.keep)
        raw += offsets[s + 1] - offsets[s]
        n = len(sentence)
        for pos, word in enumerate(sentence):
            b = ((rng.next() >> 32) * st.window) >> 32
            span = range(max(pos - st.window + b, 0), min(pos + st.window - b + 1, n))
            rows = [sentence[c] for c in span if c != pos]
            if not rows:
                continue
            targets = [word]
            for _ in range(st.negative):
                target = _draw(rng, len(t.noise_prob), t.noise_prob, t.noise_alias)
                if target != word:
                    targets.append(target)
            C, T = syn0[rows].copy(), syn1neg[targets].copy()
            scores = (C @ T.T).astype(np.float32)
            G = np.zeros_like(scores)
            for i in range(len(rows)):
                for j in range(len(targets)):
                    sign = 1.0 if j == 0 else -1.0
                    z = sign * scores[i, j]
                    if z > MAX_EXP:
                        continue
                    if z >= -MAX_EXP:
                        idx = table_index(z)
                        G[i, j] = np.float32(sign * (1.0 - t.sig[idx]) * lr)
                        loss_sum -= t.logsig[idx]
                    else:
                        G[i, j] = np.float32(sign * lr)
                        loss_sum -= z
            np.add.at(syn0, rows, (G @ T).astype(np.float32))
            np.add.at(syn1neg, targets, (G.T @ C).astype(np.float32))
    return loss_sum
