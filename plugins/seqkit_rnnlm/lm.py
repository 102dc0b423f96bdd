"""A trained recurrent model as a seqkit LanguageModel: scoring, sampling and beam search.

One network, built when the model is loaded, serves every call: a sentence longer than its steps is
scored in pieces that carry the state, and generation runs it one token at a time.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from seqkit.lm import SentenceScore
from seqkit_rnnlm import modelfile
from seqkit_rnnlm.network import Network, zero_state

EOS, UNK = "</s>", "<unk>"
SCORE_STEPS = 128  # tokens per forward pass when scoring; longer sentences run in pieces


class RnnLanguageModel:
    """Not for use from several threads at once (the network's buffers are shared by all calls)."""

    def __init__(self, path: str, score_steps: int = SCORE_STEPS):
        self.params, self.vocab, self.config, self.training, _ = modelfile.load(path)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        self.eos = self.index[EOS]
        self.unk = self.index.get(UNK, self.eos)
        self.network = Network(self.config, self.params, batch=1, bptt=score_steps)

    def _ids(self, words: Sequence[str]) -> tuple[list[int], list[bool]]:
        ids = [self.index.get(w, self.unk) for w in words]
        oov = [w not in self.index or w == UNK for w in words]
        return ids, oov

    def score_sentence(self, words: Sequence[str]) -> SentenceScore:
        return next(iter(self.score_stream([words])))

    def score_stream(self, sentences: Iterable[Sequence[str]]) -> Iterator[SentenceScore]:
        """Sentences scored as one running text (the hidden state carries over, as in PTB evaluation);
        the stream starts from `</s>`, the token that precedes every sentence in training."""
        state = zero_state(self.config, 1)
        steps = self.network.bptt
        for words in sentences:
            ids, oov = self._ids(words)
            targets = np.array(ids + [self.eos], dtype=np.int64)
            inputs = np.array([self.eos] + ids, dtype=np.int64)
            logprobs = np.empty(len(targets), np.float64)
            for start in range(0, len(targets), steps):
                piece = slice(start, start + steps)
                state = self.network.forward(inputs[piece, None], state)
                logprobs[piece] = self.network.target_logprobs(targets[piece, None])
            yield SentenceScore(logprobs, np.array(oov + [False]))

    def _next_distribution(self, token: int, state):
        state = self.network.forward(np.array([[token]], dtype=np.int64), state)
        logits = self.network.logits()[0].astype(np.float64)
        logp = logits - logits.max()
        logp -= np.log(np.exp(logp).sum())
        return logp, state

    def _prime(self, prefix: Sequence[str]):
        state = zero_state(self.config, 1)
        token = self.eos
        for word in prefix:
            _, state = self._next_distribution(token, state)
            token = self.index.get(word, self.unk)
        return token, state

    def _banned(self, no_unk: bool) -> int | None:
        """The id generation must not produce: `<unk>` with `no_unk` (a model without one has nothing to ban)."""
        return self.unk if no_unk and UNK in self.index else None

    def sample(self, rng: np.random.Generator, *, max_tokens: int, temperature: float, prefix: Sequence[str],
               top_k: int | None = None, no_unk: bool = False) -> list[str]:
        """Words drawn one at a time; with `no_unk` the distribution is renormalised without `<unk>`."""
        token, state = self._prime(prefix)
        banned = self._banned(no_unk)
        out: list[str] = []
        for _ in range(max_tokens):
            logp, state = self._next_distribution(token, state)
            logits = logp / max(temperature, 1e-6)
            if banned is not None:
                logits[banned] = -np.inf
            if top_k and top_k < len(logits):
                cut = np.partition(logits, -top_k)[-top_k]
                logits = np.where(logits >= cut, logits, -np.inf)
            p = np.exp(logits - logits.max())
            token = int(rng.choice(len(p), p=p / p.sum()))
            if token == self.eos:
                break
            out.append(self.vocab[token])
        return out

    def beam_search(self, prefix: Sequence[str], *, beam: int, max_tokens: int, count: int = 1,
                    no_unk: bool = False) -> list[list[str]]:
        """Up to `count` distinct continuations, best first, by total log-probability divided by length
        (length normalisation); with `no_unk` no hypothesis is extended with `<unk>`."""
        token, state = self._prime(prefix)
        banned = self._banned(no_unk)
        beams = [(0.0, [], token, state)]
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_tokens):
            candidates = []
            for score, words, last, st in beams:
                logp, new_state = self._next_distribution(last, st)
                if banned is not None:
                    logp[banned] = -np.inf
                for nxt in np.argsort(-logp)[:beam]:
                    if np.isfinite(logp[nxt]):
                        candidates.append((score + float(logp[nxt]), words + [int(nxt)], int(nxt), new_state))
            candidates.sort(key=lambda c: -c[0] / len(c[1]))
            beams = []
            for cand in candidates:
                if cand[2] == self.eos:
                    finished.append((cand[0] / len(cand[1]), cand[1][:-1]))
                elif len(beams) < beam:
                    beams.append(cand)
            if not beams or len(finished) >= max(beam, count):
                break
        finished.extend((s / len(w), w) for s, w, _, _ in beams)
        finished.sort(key=lambda f: -f[0])
        # a sentence ended by </s> and the same words cut at max_tokens print alike: keep the better one
        distinct: dict[tuple[int, ...], None] = {}
        for _, ids in finished:
            distinct.setdefault(tuple(ids))
            if len(distinct) == count:
                break
        return [[self.vocab[i] for i in ids] for ids in distinct]
