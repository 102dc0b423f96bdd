"""The LanguageModel protocol and the one place perplexity is computed.

Every model family (ARPA n-grams, recurrent networks, third-party plugins) only reports natural-log
probabilities per predicted token; the accounting below turns them into the figures KenLM's `query`
and SRILM's `ngram -ppl` print, so numbers are comparable across families by construction.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator, NamedTuple, Protocol, Sequence, runtime_checkable

import numpy as np


LN10 = math.log(10.0)


class SentenceScore(NamedTuple):
    """Natural-log probability of each word and of the final `</s>`; `oov` marks unknown words."""

    logprobs: np.ndarray  # float64[n + 1]
    oov: np.ndarray       # bool[n + 1]


@runtime_checkable
class LanguageModel(Protocol):
    """What `seqkit perplexity` and `seqkit generate` need from a model.

    Optional, used when present: `score_stream(sentences)` (scores carrying state across sentences),
    `score_stream_detail(sentences)` (each score with the n-gram length behind each token, for
    `perplexity --per-word`), `index` (word -> id), `beam_search(...)`, and the `no_unk`/`count` keywords
    of `sample`/`beam_search` (`generate --no-unk`, `-n` with `--beam`); see docs/plugins.md.
    """

    vocab_size: int

    def score_sentence(self, words: Sequence[str]) -> SentenceScore:
        """Log-probabilities of `words` followed by `</s>`, given `<s>` as context."""
        ...

    def sample(self, rng: np.random.Generator, *, max_tokens: int, temperature: float,
               prefix: Sequence[str], top_k: int | None = None) -> list[str]:
        """Words drawn after `prefix` until `</s>` or `max_tokens` (neither included)."""
        ...


@runtime_checkable
class LanguageModelFormat(Protocol):
    """A file format a plugin can load as a LanguageModel."""

    name: str

    def sniff(self, path: str) -> bool:
        """Cheap check (suffix, first bytes) whether `path` is in this format."""
        ...

    def load(self, path: str) -> LanguageModel:
        ...


def score_all(model: LanguageModel, sentences: Iterable[Sequence[str]]) -> Iterator[SentenceScore]:
    """Scores for a stream of sentences, carrying model state across them when the model has any."""
    stream = getattr(model, "score_stream", None)
    if stream is not None:
        yield from stream(sentences)
    else:
        for words in sentences:
            yield model.score_sentence(words)


@dataclass
class PerplexityResult:
    """Figures as KenLM (`ppl`, `ppl_excluding_oov`) and SRILM (`ppl1`) define them."""

    sentences: int
    words: int               # predicted words, excluding </s>
    tokens: int              # words + one </s> per sentence
    oovs: int
    logprob10: float         # sum of log10 p over all tokens, OOVs included (KenLM "Total")
    logprob10_known: float   # the same over in-vocabulary tokens only (SRILM "logprob")
    ppl: float               # KenLM: 10^(-logprob10 / tokens)
    ppl_excluding_oov: float  # KenLM / SRILM ppl: 10^(-logprob10_known / (tokens - oovs))
    ppl1: float              # SRILM: 10^(-logprob10_known / (words - oovs)), i.e. without </s>

    def as_dict(self) -> dict:
        return asdict(self)


class PerplexityCounter:
    """Accumulates SentenceScores in float64 and reports perplexity the reference tools' way."""

    def __init__(self) -> None:
        self.sentences = self.tokens = self.oovs = 0
        self.logprob = 0.0        # natural log, all tokens
        self.logprob_known = 0.0  # natural log, in-vocabulary tokens

    def add(self, score: SentenceScore) -> None:
        logprobs = np.asarray(score.logprobs, dtype=np.float64)
        oov = np.asarray(score.oov, dtype=bool)
        if logprobs.ndim != 1 or logprobs.shape != oov.shape or logprobs.size == 0:
            raise ValueError("a SentenceScore needs equal-length 1-d logprobs and oov, ending with </s>")
        self.sentences += 1
        self.tokens += logprobs.size
        self.oovs += int(oov.sum())
        self.logprob += float(logprobs.sum())
        self.logprob_known += float(logprobs[~oov].sum())

    def result(self) -> PerplexityResult:
        words = self.tokens - self.sentences
        log10_all, log10_known = self.logprob / LN10, self.logprob_known / LN10
        return PerplexityResult(
            sentences=self.sentences, words=words, tokens=self.tokens, oovs=self.oovs,
            logprob10=log10_all, logprob10_known=log10_known,
            ppl=_ppl(log10_all, self.tokens),
            ppl_excluding_oov=_ppl(log10_known, self.tokens - self.oovs),
            ppl1=_ppl(log10_known, words - self.oovs))


def sentence_perplexity(score: SentenceScore) -> PerplexityResult:
    """The figures for a single sentence (for `--per-sentence`)."""
    counter = PerplexityCounter()
    counter.add(score)
    return counter.result()


def _ppl(log10_sum: float, count: int) -> float:
    return perplexity(-log10_sum * LN10 / count) if count > 0 else float("nan")


def perplexity(mean_nll: float) -> float:
    """exp of a mean negative log-likelihood (nats); inf past float range or for NaN (a diverged model)."""
    return math.exp(mean_nll) if mean_nll < 709.0 else float("inf")


def load_language_model(path: str) -> LanguageModel:
    """Load `path` with the first registered format whose `sniff` accepts it."""
    from seqkit.plugins import load_model

    return load_model("language_models", path)
