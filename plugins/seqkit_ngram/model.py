"""Querying an n-gram model the way KenLM does, over probing hash tables (see `probing`).

The tables come from an ARPA file (built at load by Numba kernels) or from seqkit's binary format
(memory-mapped), so both forms answer every query identically. Text is scored a block of sentences per
kernel call (`score_batch`, `query.score_block`), its words looked up in the vocabulary's hash table
(`word_ids`); no word dictionary is built unless a caller asks for `index` or `vocab` (generation, the
per-sentence API), which keeps loading a binary model independent of its vocabulary's size.
"""

from __future__ import annotations

import math
from functools import cached_property
from typing import Iterable, Iterator, Sequence

import numpy as np

from seqkit.lm import BatchScore, SentenceScore
from seqkit.options import usable_cores

LN10 = math.log(10.0)
CHUNK_TOKENS = 16384  # a kernel call's share of a block: small enough to spread a block over threads
_pools: dict[int, object] = {}


def _pool(threads: int):
    """A thread pool kept for the process (scoring calls come block after block)."""
    if threads not in _pools:
        from concurrent.futures import ThreadPoolExecutor

        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="seqkit-ngram")
    return _pools[threads]


class NgramModel:
    """A back-off n-gram language model (seqkit's LanguageModel protocol).

    `NgramModel(read_arpa(path))` or `NgramModel(read_binary(path))`; `score_sentence(words)` gives
    natural-log probabilities of each word and `</s>` (see docs/plugins.md)."""

    def __init__(self, data):
        from seqkit_ngram.binary import Tables, build_tables

        tables = data if isinstance(data, Tables) else build_tables(data.vocab, data.words, data.logprob,
                                                                    data.backoff, getattr(data, "path", None))
        self.tables = tables
        self.vocab_size = tables.vocab_size
        self.order = tables.order
        self.unk, self.bos, self.eos = tables.unk, tables.bos, tables.eos
        self.threads = usable_cores()  # scoring threads, all cores as in training; no effect on results
        self._args = (tables.bos, tables.order, tables.vocab_size, np.asarray(tables.uni_logprob),
                      np.asarray(tables.uni_backoff), np.asarray(tables.table),
                      np.asarray(tables.table).view(np.float64), tables.starts, tables.buckets)

    @cached_property
    def vocab(self) -> list[str]:
        return self.tables.words()

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.vocab)}

    def word_ids(self, data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Vocabulary id of each word data[offsets[i]:offsets[i + 1]] (UTF-8 bytes), -1 for a word not in it."""
        from seqkit_ngram.probing import lookup_words

        t = self.tables
        out = np.empty(max(len(offsets) - 1, 0), dtype=np.int64)
        lookup_words(t.vocab_bytes, t.vocab_offsets, t.vocab_slots, np.ascontiguousarray(data, dtype=np.uint8),
                     np.ascontiguousarray(offsets, dtype=np.int64), out)
        return out

    def score_batch(self, ids: np.ndarray, offsets: np.ndarray, detail: bool = False) -> BatchScore:
        """Score the sentences ids[offsets[s]:offsets[s + 1]] (vocabulary ids, -1 unknown), each after <s>
        and followed by </s> (seqkit.lm's batch protocol): one kernel call per chunk of about CHUNK_TOKENS
        tokens, the chunks on `threads` threads. The chunks depend only on the sentences, and their sums are
        added in order, so every figure is the same whatever the number of threads."""
        from seqkit_ngram.query import score_block

        ids = np.ascontiguousarray(ids, dtype=np.int64)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        sentences = len(offsets) - 1
        size = len(ids) + sentences if detail else 0
        logp = np.empty(size, dtype=np.float64)
        lengths = np.empty(size, dtype=np.int64)
        oov = np.empty(size, dtype=np.bool_)
        # an even number of chunks of equal size (whatever the threads, so the sums' rounding is the same):
        # two threads finish together
        chunks = -(-int(offsets[-1] - offsets[0]) // CHUNK_TOKENS)
        chunks += chunks > 1 and chunks % 2
        targets = offsets[0] + (offsets[-1] - offsets[0]) * np.arange(1, max(chunks, 1)) // max(chunks, 1)
        cuts = np.unique(np.searchsorted(offsets, targets))
        bounds = [0, *cuts[(cuts > 0) & (cuts < sentences)].tolist(), sentences]
        sums = np.zeros((len(bounds) - 1, 4), dtype=np.float64)

        def run(chunk: int) -> None:
            first, end = bounds[chunk], bounds[chunk + 1]
            out = slice(offsets[first] - offsets[0] + first, offsets[end] - offsets[0] + end)
            out = out if detail else slice(0, 0)
            score_block(ids, offsets[first:end + 1], self.bos, self.eos, self.unk, *self._args[1:], detail,
                        logp[out], lengths[out], oov[out], sums[chunk])

        if self.threads > 1 and len(sums) > 1:
            list(_pool(self.threads).map(run, range(len(sums))))
        else:
            for chunk in range(len(sums)):
                run(chunk)
        if detail:
            logp *= LN10
        total, known, tokens, oovs = (sum(column) for column in sums.T.tolist())
        return BatchScore(total * LN10, known * LN10, int(tokens), int(oovs),
                          logp if detail else None, oov if detail else None, lengths if detail else None)

    def score_ids(self, stream: np.ndarray) -> np.ndarray:
        """log10 p of every token of `stream` (ids with <s> starting each sentence; <s> itself gets 0)."""
        return self.score_ids_lengths(stream)[0]

    def score_ids_lengths(self, stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`score_ids` and the length of the n-gram each token was found as (KenLM's ngram_length)."""
        from seqkit_ngram.query import score

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
        index, unknown = self.index, -1
        ids = np.fromiter((index.get(w, unknown) for words in batch for w in words), dtype=np.int64)
        offsets = np.zeros(len(batch) + 1, dtype=np.int64)
        np.cumsum([len(words) for words in batch], out=offsets[1:])
        scored = self.score_batch(ids, offsets, detail=True)
        start = 0
        for words in batch:
            end = start + len(words) + 1
            yield SentenceScore(scored.logprobs[start:end], scored.oov[start:end]), scored.lengths[start:end]
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
