"""Decoding a trained model one sentence at a time: greedy, beam search and the attention weights.

Beam search keeps the `beam` best unfinished hypotheses by summed log-probability; a hypothesis that
emits `</s>` is finished, and the search stops when `beam` are finished (or at the length limit, where
unfinished ones count as finished). Finished hypotheses are ranked by log-probability / length^alpha
(alpha = 0: the raw sum). With beam 1 this is exactly greedy decoding; with a beam as wide as all
prefixes it is exhaustive search.
"""

from __future__ import annotations

import numpy as np

from seqkit.recurrent.layers import make_layer
from seqkit_seq2seq.encoder import BiEncoder
from seqkit_seq2seq.kernels import additive_forward, dot_forward
from seqkit_seq2seq.network import BOS, EOS, Config, decoder_tags


class Translator:
    def __init__(self, config: Config, params: dict[str, np.ndarray]):
        self.config, self.params = config, params
        self._decoders: dict[int, object] = {}
        self._encoder: BiEncoder | None = None

    def _decoder(self, n: int) -> list:
        """The decoder's layers, bottom up, for n hypotheses at a time."""
        if n not in self._decoders:
            self._decoders[n] = [make_layer(self.config.cell, self.params, tag, batch=n, max_steps=1)
                                 for tag in decoder_tags(self.config)]
        return self._decoders[n]

    def encode(self, ids: list[int]) -> tuple[np.ndarray, np.ndarray, list]:
        """(encoder outputs [S, 1, C], keys [S, 1, A], the decoder's initial state: one per layer) for one
        sentence."""
        p, S = self.params, max(1, len(ids))
        ids = list(ids) or [EOS]
        if self._encoder is None or self._encoder.fwd[0].max_steps < S:
            self._encoder = BiEncoder(self.config.cell, p, self.config.layers, batch=1, max_steps=max(S, 64))
        x = p["src_embed"][np.array(ids)][:, None, :]
        enc, hf, hb = self._encoder.forward(np.ascontiguousarray(x), np.array([S]))
        enc = enc.copy()
        h0 = np.tanh(np.concatenate([hf, hb], axis=1) @ p["Winit"] + p["binit"])
        flat = enc.reshape(S, -1)
        keys = (flat @ p["Wk"] + p["bk"]) if self.config.attention == "additive" else flat @ p["Wg"]
        state = (h0,) if self.config.cell != "lstm" else (h0, np.zeros_like(h0))
        return enc, keys.reshape(S, 1, -1), [state] * self.config.decoder_layers

    def step(self, tokens: np.ndarray, state: list, enc: np.ndarray, keys: np.ndarray):
        """Feed one token per hypothesis: (log-probabilities [n, V], new state, attention weights [n, S])."""
        p, n, S = self.params, len(tokens), enc.shape[0]
        x = np.ascontiguousarray(p["tgt_embed"][tokens][None])
        state = self._stack(n, x, state)
        h = state[-1][0]
        encs, keyss = np.repeat(enc, n, axis=1), np.repeat(keys, n, axis=1)
        lengths = np.full(n, S, dtype=np.int64)
        weights = np.zeros((1, n, S), h.dtype)
        context = np.empty((1, n, enc.shape[2]), h.dtype)
        if self.config.attention == "additive":
            additive_forward((h @ p["Wq"])[None], keyss, p["va"], encs, lengths, weights, context, 0, n)
        else:
            dot_forward(np.ascontiguousarray(h[None]), keyss, encs, lengths, weights, context, 0, n)
        out = np.tanh(np.concatenate([context[0], h], axis=1) @ p["Wc"] + p["bc"])
        logits = (out @ p["Wout"] + p["bout"]).astype(np.float64)
        top = logits.max(axis=1, keepdims=True)
        logprobs = logits - top - np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
        return logprobs, state, weights[0]

    def _stack(self, n: int, x: np.ndarray, state: list) -> list:
        """Each layer reads the one below's new h (x [1, n, E] for the first); returns the new states."""
        new = []
        for layer, part in zip(self._decoder(n), state):
            new.append(layer.forward(x, part))
            x = new[-1][0][None]
        return new

    def greedy(self, ids: list[int], max_length: int) -> tuple[list[int], float, np.ndarray]:
        """(target ids without </s>, summed log-probability, attention weights [steps, S])."""
        enc, keys, state = self.encode(ids)
        token, out, score, rows = BOS, [], 0.0, []
        for _ in range(max_length):
            logprobs, state, weights = self.step(np.array([token]), state, enc, keys)
            rows.append(weights[0])
            token = int(np.argmax(logprobs[0]))
            score += float(logprobs[0, token])
            if token == EOS:
                break
            out.append(token)
        return out, score, np.array(rows)

    def beam(self, ids: list[int], beam: int, max_length: int, alpha: float = 1.0,
             nbest: int = 1) -> list[tuple[list[int], float]]:
        """The `nbest` best (target ids without </s>, normalised score) by beam search."""
        enc, keys, state = self.encode(ids)
        alive: list[tuple[list[int], float]] = [([], 0.0)]
        finished: list[tuple[list[int], float]] = []
        tokens = np.array([BOS])
        for step in range(max_length):
            logprobs, state, _ = self.step(tokens, state, enc, keys)
            totals = np.array([score for _, score in alive])[:, None] + logprobs
            order = _best_first(totals, 2 * beam)
            next_alive, parents = [], []
            for flat in order:
                row, token = divmod(int(flat), totals.shape[1])
                words = alive[row][0]
                if token == EOS:
                    if len(finished) < beam:
                        finished.append((words, float(totals[row, token])))
                elif len(next_alive) < beam:
                    next_alive.append((words + [token], float(totals[row, token])))
                    parents.append(row)
                if len(next_alive) >= beam:
                    break
            if len(finished) >= beam or not next_alive:
                alive = []
                break
            alive = next_alive
            state = [tuple(part[parents] for part in layer) for layer in state]
            tokens = np.array([words[-1] for words, _ in alive])
        finished.extend(alive)  # the length limit: unfinished hypotheses count as they are
        ranked = sorted(finished, key=lambda h: -_normalised(h, alpha))
        return [(words, _normalised((words, score), alpha)) for words, score in ranked[:nbest]]


def _best_first(totals: np.ndarray, count: int) -> np.ndarray:
    """Flat indices of the `count` highest totals (more on a tie at the last), highest first, ties in index
    order: the prefix of a stable argsort of -totals without sorting the whole [hypotheses, V] table. The
    search needs no more: at most `beam` of them end in </s>, one per hypothesis."""
    flat = -totals.reshape(-1)
    if count < flat.size:
        cut = np.partition(flat, count - 1)[count - 1]
        chosen = np.flatnonzero(flat <= cut)
    else:
        chosen = np.arange(flat.size)
    return chosen[np.argsort(flat[chosen], kind="stable")]


def _normalised(hypothesis: tuple[list[int], float], alpha: float) -> float:
    words, score = hypothesis
    return score / (len(words) + 1) ** alpha if alpha else score
