"""Querying an n-gram model the way KenLM does, vectorised over a whole text with NumPy.

Each order's n-grams are keyed by (row of the (n-1)-word prefix, last word) in one sorted int64 array,
so looking up every position's n-gram of order n is one `np.searchsorted`. A word's probability is that
of the longest n-gram found, plus the back-off weights of the longer contexts (KenLM's `query`).
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator, Sequence

import numpy as np

from seqkit.lm import SentenceScore
from seqkit_ngram.arpa import ArpaData

LN10 = math.log(10.0)


class NgramModel:
    """A back-off n-gram language model (seqkit's LanguageModel protocol)."""

    def __init__(self, data: ArpaData):
        self.vocab = data.vocab
        self.index = {w: i for i, w in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        self.order = data.order
        self.unk = self.index.get("<unk>", -1)
        self.bos, self.eos = self.index["<s>"], self.index["</s>"]
        V = self.vocab_size
        # order 1: row = word id
        uni = np.full(V, -99.0)
        uni_bo = np.zeros(V)
        uni[data.words[0][:, 0]] = data.logprob[0]
        uni_bo[data.words[0][:, 0]] = data.backoff[0]
        self.keys = [np.arange(V, dtype=np.int64)]
        self.logprob = [uni]
        self.backoff = [uni_bo]
        for n in range(2, self.order + 1):
            words = data.words[n - 1]
            prefix = self._rows(words[:, :-1])
            if (prefix < 0).any():
                bad = int(np.nonzero(prefix < 0)[0][0])
                from seqkit.errors import DataError

                gram = " ".join(self.vocab[w] for w in words[bad])
                raise DataError(f"the {n}-gram '{gram}' has no {n - 1}-gram prefix; seqkit needs every "
                                "n-gram's context listed (as lmplz and SRILM write them)")
            keys = prefix * V + words[:, -1]
            order = np.argsort(keys, kind="stable")
            self.keys.append(keys[order])
            self.logprob.append(data.logprob[n - 1][order])
            self.backoff.append(data.backoff[n - 1][order])

    def _rows(self, words: np.ndarray) -> np.ndarray:
        """Row of each (n-1)-gram in its order's table, or -1."""
        rows = words[:, 0].astype(np.int64)
        for j in range(1, words.shape[1]):
            rows = self._lookup(j + 1, rows, words[:, j])
        return rows

    def _lookup(self, n: int, prefix_rows: np.ndarray, last: np.ndarray) -> np.ndarray:
        keys = self.keys[n - 1]
        query = prefix_rows * self.vocab_size + last
        pos = np.searchsorted(keys, query)
        pos_clipped = np.minimum(pos, len(keys) - 1)
        found = (prefix_rows >= 0) & (pos < len(keys)) & (keys[pos_clipped] == query)
        return np.where(found, pos_clipped, -1)

    def encode(self, sentences: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Ids with one <s> before each sentence and </s> after; and each token's sentence-relative index."""
        ids: list[int] = []
        get = self.index.get
        unk = self.unk
        for words in sentences:
            ids.append(self.bos)
            ids.extend(get(w, unk) for w in words)
            ids.append(self.eos)
        return np.asarray(ids, dtype=np.int64), None

    def score_ids(self, stream: np.ndarray) -> np.ndarray:
        """log10 p of every token of `stream` (ids with <s> starting each sentence; <s> itself gets 0)."""
        return self.score_ids_lengths(stream)[0]

    def score_ids_lengths(self, stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`score_ids` and the length of the n-gram each token was found as (KenLM's ngram_length)."""
        T = len(stream)
        is_bos = stream == self.bos
        # tokens available as context: distance back to the sentence's <s>
        last_bos = np.maximum.accumulate(np.where(is_bos, np.arange(T), 0))
        avail = np.arange(T) - last_bos
        rows = [np.where(stream >= 0, stream, -1)]
        for n in range(2, self.order + 1):
            prev = np.full(T, -1, dtype=np.int64)
            prev[1:] = rows[-1][:-1]
            prev[avail < n - 1] = -1
            rows.append(self._lookup(n, prev, stream))
        best = np.zeros(T, dtype=np.int64)
        logp = np.full(T, np.nan)
        for n in range(1, self.order + 1):
            hit = rows[n - 1] >= 0
            logp[hit] = self.logprob[n - 1][rows[n - 1][hit]]
            best[hit] = n
        # back-off weights of every context longer than the matched n-gram's context
        for k in range(1, self.order):
            ctx = np.full(T, -1, dtype=np.int64)
            ctx[1:] = rows[k - 1][:-1]
            use = (ctx >= 0) & (best <= k) & (avail >= k)
            logp[use] += self.backoff[k - 1][ctx[use]]
        logp[is_bos] = 0.0
        missing = np.isnan(logp)
        if missing.any():  # a word with no unigram (no <unk> entry either)
            logp[missing] = -99.0
        return logp, best

    def score_sentence(self, words: Sequence[str]) -> SentenceScore:
        return next(iter(self.score_stream([words])))

    def score_stream(self, sentences: Iterable[Sequence[str]]) -> Iterator[SentenceScore]:
        return (score for score, _ in self.score_stream_detail(sentences))

    def score_stream_detail(self, sentences: Iterable[Sequence[str]]) -> Iterator[tuple[SentenceScore, np.ndarray]]:
        """`score_stream` with each token's n-gram length (the optional extra `perplexity --per-word` uses)."""
        batch: list[Sequence[str]] = []
        for words in sentences:
            batch.append(list(words))
            if len(batch) >= 10000:
                yield from self._score_batch(batch)
                batch = []
        if batch:
            yield from self._score_batch(batch)

    def _score_batch(self, batch: list[Sequence[str]]) -> Iterator[tuple[SentenceScore, np.ndarray]]:
        stream, _ = self.encode(batch)
        logp, lengths = self.score_ids_lengths(stream)
        logp = logp * LN10
        oov_words = np.array([w not in self.index or w == "<unk>" for words in batch for w in [None, *words, "</s>"]
                              if w is not None])
        keep = stream != self.bos
        logp, lengths = logp[keep], lengths[keep]
        start = 0
        for words in batch:
            end = start + len(words) + 1
            yield SentenceScore(logp[start:end], oov_words[start:end]), lengths[start:end]
            start = end

    def sample(self, rng: np.random.Generator, *, max_tokens: int, temperature: float, prefix: Sequence[str],
               top_k: int | None = None, no_unk: bool = False) -> list[str]:
        """Draw words one at a time from the full next-word distribution (renormalised without `<unk>`
        when `no_unk`)."""
        history = [self.bos] + [self.index.get(w, self.unk) for w in prefix]
        out: list[str] = []
        banned = {self.bos, self.unk} if no_unk else {self.bos}
        candidates = np.array([i for i in range(self.vocab_size) if i not in banned], dtype=np.int64)
        for _ in range(max_tokens):
            context = history[-(self.order - 1):] if self.order > 1 else []
            stream = np.empty((len(candidates), len(context) + 2), dtype=np.int64)
            stream[:, 0] = self.bos
            stream[:, 1:-1] = context if context else np.empty((1, 0), dtype=np.int64)
            stream[:, -1] = candidates
            if context and context[0] == self.bos:
                stream = stream[:, 1:]
            logp = self._score_rows(stream)
            logits = logp * LN10 / max(temperature, 1e-6)
            if top_k:
                cut = np.partition(logits, -top_k)[-top_k] if top_k < len(logits) else -np.inf
                logits = np.where(logits >= cut, logits, -np.inf)
            p = np.exp(logits - logits.max())
            p /= p.sum()
            choice = int(candidates[rng.choice(len(candidates), p=p)])
            if choice == self.eos:
                break
            history.append(choice)
            out.append(self.vocab[choice])
        return out

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """log10 p of the last column of each row, the rows being independent sentences from <s>."""
        flat = rows.reshape(-1)
        logp = self.score_ids(flat).reshape(rows.shape)
        return logp[:, -1]
