"""Querying an n-gram model the way KenLM does, over probing hash tables (see `probing`).

The tables come from an ARPA file (built at load by Numba kernels) or from seqkit's binary format
(memory-mapped), so both forms answer every query identically. One Numba kernel walks the token stream, so the
probes of all orders for a token go to memory together. The word -> id dictionary is built on first use, which keeps
loading a binary model independent of its vocabulary's size.
"""

from __future__ import annotations

import math
from functools import cached_property
from itertools import repeat
from typing import Iterable, Iterator, Sequence

import numpy as np

from seqkit.lm import SentenceScore

LN10 = math.log(10.0)


class NgramModel:
    """A back-off n-gram language model (seqkit's LanguageModel protocol).

    `NgramModel(read_arpa(path))` or `NgramModel(read_binary(path))`; `score_sentence(words)` gives
    natural-log probabilities of each word and `</s>` (see docs/plugins.md)."""

    def __init__(self, data):
        from seqkit_ngram.binary import Tables, build_tables

        tables = data if isinstance(data, Tables) else build_tables(data.vocab, data.words, data.logprob,
                                                                    data.backoff)
        self.tables = tables
        self.vocab_size = tables.vocab_size
        self.order = tables.order
        self.unk, self.bos, self.eos = tables.unk, tables.bos, tables.eos
        self._args = (tables.bos, tables.order, tables.vocab_size, np.asarray(tables.uni_logprob),
                      np.asarray(tables.uni_backoff), np.asarray(tables.table),
                      np.asarray(tables.table).view(np.float64), tables.starts, tables.buckets)

    @cached_property
    def vocab(self) -> list[str]:
        return self.tables.words()

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.vocab)}

    @cached_property
    def _codes(self) -> dict[str | None, int]:
        """`index` plus None for the <s> that `encode` puts before each sentence."""
        codes: dict[str | None, int] = dict(self.index)
        codes[None] = self.bos
        return codes

    def encode(self, sentences: Iterable[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """Ids with one <s> before each sentence and </s> after; and each token's sentence-relative index."""
        flat: list[str | None] = []
        for words in sentences:
            flat.append(None)  # <s>, whatever the text holds
            flat.extend(words)
            flat.append("</s>")
        ids = np.fromiter(map(self._codes.get, flat, repeat(self.unk)), dtype=np.int64, count=len(flat))
        return ids, None

    def score_ids(self, stream: np.ndarray) -> np.ndarray:
        """log10 p of every token of `stream` (ids with <s> starting each sentence; <s> itself gets 0)."""
        return self.score_ids_lengths(stream)[0]

    def score_ids_lengths(self, stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`score_ids` and the length of the n-gram each token was found as (KenLM's ngram_length)."""
        from seqkit_ngram.probing import score

        stream = np.ascontiguousarray(stream, dtype=np.int64)
        logp = np.empty(len(stream), dtype=np.float64)
        lengths = np.empty(len(stream), dtype=np.int64)
        score(stream, *self._args, logp, lengths)
        return logp, lengths

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
        keep = stream != self.bos
        logp, lengths, ids = logp[keep], lengths[keep], stream[keep]
        oov_words = (ids == self.unk) | (ids < 0)  # unknown words were encoded as <unk> (or -1 without one)
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
