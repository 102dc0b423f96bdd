"""The LanguageModel protocol and the one place perplexity is computed.

Every model family (ARPA n-grams, recurrent networks, third-party plugins) only reports natural-log
probabilities per predicted token; the accounting below turns them into the figures KenLM's `query`
and SRILM's `ngram -ppl` print, so numbers are comparable across families by construction.

A model may also score whole blocks of sentences given as id arrays (`word_ids` and `score_batch`, see
`score_text`): the core's compiled reader turns the text into ids, and Python then handles each block
of about a megabyte of text instead of each sentence.
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


class BatchScore(NamedTuple):
    """What `score_batch` returns for a block of sentences: sums in natural log, and per token (each word,
    then each sentence's `</s>`) only when asked for `detail`."""

    logprob: float                # sum of ln p over all tokens
    logprob_known: float          # the same over in-vocabulary tokens
    tokens: int                   # words + one </s> per sentence
    oovs: int
    logprobs: np.ndarray | None   # float64 ln p per token, with detail
    oov: np.ndarray | None        # bool per token, with detail
    lengths: np.ndarray | None    # int n-gram length per token, with detail (None: the model has no n-grams)


@runtime_checkable
class LanguageModel(Protocol):
    """What `seqkit perplexity` and `seqkit generate` need from a model.

    Optional, used when present: `score_stream(sentences)` (scores carrying state across sentences),
    `score_stream_detail(sentences)` (each score with the n-gram length behind each token, for
    `perplexity --per-word`), `index` (word -> id), `beam_search(...)`, the `no_unk`/`count` keywords
    of `sample`/`beam_search` (`generate --no-unk`, `-n` with `--beam`), and the batch pair
    `word_ids(data, offsets)` / `score_batch(ids, offsets, detail)` (`score_text`); see docs/plugins.md.
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
        """The figures under the names the text output and --per-sentence columns use (`ppl_excl_oov`)."""
        return {("ppl_excl_oov" if key == "ppl_excluding_oov" else key): value for key, value in asdict(self).items()}


class PerplexityCounter:
    """Accumulates SentenceScores in float64 and reports perplexity the reference tools' way."""

    def __init__(self) -> None:
        self.sentences = self.tokens = self.oovs = 0
        self.logprob = 0.0        # natural log, all tokens
        self.logprob_known = 0.0  # natural log, in-vocabulary tokens

    def add_batch(self, batch: BatchScore, sentences: int) -> None:
        """Add a block of `sentences` sentences scored at once."""
        self.sentences += sentences
        self.tokens += int(batch.tokens)
        self.oovs += int(batch.oovs)
        self.logprob += float(batch.logprob)
        self.logprob_known += float(batch.logprob_known)

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
        return figures(self.sentences, self.tokens, self.oovs, self.logprob, self.logprob_known)


def figures(sentences: int, tokens: int, oovs: int, logprob: float, logprob_known: float) -> PerplexityResult:
    """The reported figures from the sums (natural log) over `sentences` sentences."""
    words = tokens - sentences
    log10_all, log10_known = logprob / LN10, logprob_known / LN10
    return PerplexityResult(
        sentences=sentences, words=words, tokens=tokens, oovs=oovs, logprob10=log10_all,
        logprob10_known=log10_known, ppl=_ppl(log10_all, tokens),
        ppl_excluding_oov=_ppl(log10_known, tokens - oovs), ppl1=_ppl(log10_known, words - oovs))


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


def scores_batches(model: object) -> bool:
    """Whether `model` scores blocks of sentences given as ids (`word_ids` and `score_batch`)."""
    return callable(getattr(model, "score_batch", None)) and callable(getattr(model, "word_ids", None))


class TextBlock(NamedTuple):
    """A block of whole sentences read from text: sentence s is `text_ids[offsets[s]:offsets[s + 1]]`
    (ids of `words`, the text's distinct words in order of appearance, `</s>` not included), `ids` the
    model's ids of the same tokens (-1 for a word the model lacks), and the model's `score`."""

    text_ids: np.ndarray   # int32
    ids: np.ndarray        # int64
    offsets: np.ndarray    # int64[sentences + 1]
    score: BatchScore


def score_text(model: LanguageModel, paths: Sequence[str], *, errors: str = "strict",
               detail: bool = False, words: list[str] | None = None) -> Iterator[TextBlock]:
    """Score the sentences (lines; empty ones skipped) of `paths` block by block with a model that
    `scores_batches`: the core's compiled reader numbers the text's words, each distinct word is looked
    up in the model's vocabulary once, and each block of sentences is one `score_batch` call. `words`, if
    given, receives the text's distinct words (what `TextBlock.text_ids` index). A model with an optional
    `start_text()` has it called first (a recurrent model's state carries across the blocks of one text)."""
    from seqkit.reader import TokenTable, id_blocks

    start = getattr(model, "start_text", None)
    if callable(start):  # a model whose state carries across sentences begins the text afresh
        start()
    table = TokenTable(1 << 62)
    to_model = np.empty(0, dtype=np.int64)  # the model's id of each of the text's words
    pending: list[np.ndarray] = []          # ids of a sentence still being read (a line spanning blocks)
    for block_ids, lengths in id_blocks(paths, table, errors=errors):
        known, types = len(to_model), len(table)
        if types > known:  # the words first seen in this block, as UTF-8 bytes back to back
            starts = table.starts[known:types]
            offsets = np.empty(types - known + 1, dtype=np.int64)
            offsets[:-1] = starts - starts[0]
            offsets[-1] = int(starts[-1] - starts[0]) + int(table.lengths[types - 1])
            data = table.arena[int(starts[0]):int(starts[0]) + int(offsets[-1])]
            to_model = np.concatenate([to_model, np.asarray(model.word_ids(data, offsets), dtype=np.int64)])
            if words is not None:
                words.extend(table.word(i).decode("utf-8") for i in range(known, types))
        pending.append(block_ids)
        if not len(lengths):
            continue  # inside a long line: its pieces are joined once, when it ends
        read = np.concatenate(pending) if len(pending) > 1 else pending[0]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        done = int(offsets[-1])
        text_ids, pending = read[:done], [read[done:]]
        ids = to_model[text_ids]
        yield TextBlock(text_ids, ids, offsets, model.score_batch(ids, offsets, detail))


def text_perplexity(model: LanguageModel, paths: Sequence[str], *, errors: str = "strict") -> PerplexityResult:
    """The perplexity figures of `model` on the text of `paths` (one sentence per line), by blocks where the
    model `scores_batches`, else sentence by sentence."""
    counter = PerplexityCounter()
    if scores_batches(model):
        for block in score_text(model, paths, errors=errors):
            counter.add_batch(block.score, len(block.offsets) - 1)
    else:
        from seqkit.reader import read_sentences

        for score in score_all(model, read_sentences(paths, errors=errors, max_sentence_len=1 << 62)):
            counter.add(score)
    return counter.result()
