"""A trained recurrent model as a seqkit LanguageModel: scoring, sampling and beam search.

One network, built when the model is loaded, serves every call. Scoring treats the sentences as one
running text: they are joined into a stream of tokens (each sentence's words and its `</s>`) that runs
through the network in long passes (`seqkit_rnnlm.scoring`), and the log-probabilities are cut back into
sentences as arrays. Generation runs the same network one token at a time.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import numpy as np

from seqkit.errors import DataError
from seqkit.lm import BatchScore, SentenceScore
from seqkit.options import usable_cores
from seqkit_rnnlm import modelfile
from seqkit_rnnlm.network import Network, zero_state
from seqkit_rnnlm.scoring import StreamScorer

EOS, UNK = "</s>", "<unk>"
SCORE_STEPS = 4096  # steps per pass of the recurrence when scoring (the network's buffers)
SCORE_BLOCK = 512   # rows per GEMM of the output layer when scoring
STREAM_TOKENS = 16384  # score_stream gathers sentences up to about this many tokens per pass


class RnnLanguageModel:
    """Not for use from several threads at once (the network's buffers are shared by all calls).

    The batch methods (`word_ids`, `score_batch`) score a text as `score_stream` does: the state carries
    over from one sentence and one call to the next, from `</s>` at the start of the text
    (`start_text`)."""

    def __init__(self, path: str, score_steps: int = SCORE_STEPS, threads: int | None = None):
        self.params, self.vocab, self.config, self.training, _ = modelfile.load(path)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        if EOS not in self.index:  # every corpus the command trains on has it: the file was changed
            raise DataError(f"damaged vocabulary: no {EOS}", path)
        self.eos = self.index[EOS]
        self.unk = self.index.get(UNK, self.eos)
        self._unk_is_oov = self.index.get(UNK, -1)  # a literal <unk> counts as OOV (KenLM's convention)
        from seqkit.recurrent.pool import Pool

        # scoring threads, all cores as for the n-gram models; the figures do not depend on them
        pool = Pool(threads or usable_cores())
        self.network = Network(self.config, self.params, batch=1, bptt=score_steps, pool=pool,
                               block_rows=min(SCORE_BLOCK, score_steps))
        self.scorer = StreamScorer(self.network)
        self._text_state = zero_state(self.config, 1)

    def _ids(self, words: Sequence[str]) -> tuple[list[int], list[bool]]:
        ids = [self.index.get(w, self.unk) for w in words]
        oov = [w not in self.index or w == UNK for w in words]
        return ids, oov

    def score_sentence(self, words: Sequence[str]) -> SentenceScore:
        return next(iter(self.score_stream([words])))

    def score_stream(self, sentences: Iterable[Sequence[str]]) -> Iterator[SentenceScore]:
        """Sentences scored as one running text (the hidden state carries over, as in PTB evaluation);
        the stream starts from `</s>`, the token that precedes every sentence in training. Sentences are
        read ahead up to about `STREAM_TOKENS` tokens and scored together."""
        state = zero_state(self.config, 1)
        batch: list[tuple[list[int], list[bool]]] = []
        size = 0
        for words in sentences:
            batch.append(self._ids(words))
            size += len(words) + 1
            if size >= STREAM_TOKENS:
                state = yield from self._score_sentences(batch, state)
                batch, size = [], 0
        if batch:
            yield from self._score_sentences(batch, state)

    def _score_sentences(self, batch: list[tuple[list[int], list[bool]]], state):
        targets = np.array([i for ids, _ in batch for i in ids + [self.eos]], dtype=np.int64)
        logprobs, state = self._logprobs(targets, state)
        start = 0
        for ids, oov in batch:
            end = start + len(ids) + 1
            yield SentenceScore(logprobs[start:end], np.array(oov + [False], dtype=bool))
            start = end
        return state

    def _logprobs(self, targets: np.ndarray, state):
        """ln p of each token of a stream whose previous token is `</s>` (so each input is the target
        before it), from `state`; and the state after it."""
        inputs = np.empty_like(targets)
        inputs[0] = self.eos
        inputs[1:] = targets[:-1]
        return self.scorer.logprobs(inputs, targets, state)

    # -- the core's batch scoring (seqkit.lm.score_text) ---------------------------------------------

    def start_text(self) -> None:
        """The next `score_batch` call begins a new text: the state starts again from `</s>`."""
        self._text_state = zero_state(self.config, 1)

    def word_ids(self, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Vocabulary id of each word data[offsets[i]:offsets[i + 1]] (UTF-8 bytes), -1 for a word not in it
        (called once per distinct word of a text)."""
        raw = np.asarray(data, dtype=np.uint8).tobytes()
        bounds = np.asarray(offsets, dtype=np.int64).tolist()
        get = self.index.get
        return np.array([get(raw[a:b].decode("utf-8", "replace"), -1) for a, b in zip(bounds, bounds[1:])],
                        dtype=np.int64)

    def score_batch(self, ids: np.ndarray, offsets: np.ndarray, detail: bool = False) -> BatchScore:
        """The sentences ids[offsets[s]:offsets[s + 1]] (-1: unknown, scored as `<unk>`), each followed by
        `</s>`, as the continuation of the text scored so far."""
        ids = np.asarray(ids, dtype=np.int64)
        lengths = np.diff(np.asarray(offsets, dtype=np.int64))
        words = np.arange(len(ids)) + np.repeat(np.arange(len(lengths)), lengths)  # the words among the tokens
        targets = np.full(len(ids) + len(lengths), self.eos, dtype=np.int64)
        targets[words] = np.where(ids < 0, self.unk, ids)
        oov = np.zeros(len(targets), dtype=bool)
        oov[words] = (ids < 0) | (ids == self._unk_is_oov)
        if not len(targets):
            return BatchScore(0.0, 0.0, 0, 0, np.empty(0) if detail else None,
                              np.empty(0, bool) if detail else None, None)
        logprobs, self._text_state = self._logprobs(targets, self._text_state)
        return BatchScore(float(logprobs.sum()), float(logprobs[~oov].sum()), len(targets), int(oov.sum()),
                          logprobs if detail else None, oov if detail else None, None)

    # -- generation ----------------------------------------------------------------------------------

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
