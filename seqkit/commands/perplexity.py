"""`seqkit perplexity`: score a text with any registered language model.

`--per-word` uses two optional extras a model may have beside the LanguageModel protocol (third-party
models without them still work, showing `-`): `score_stream_detail(sentences)`, yielding each sentence's
SentenceScore with an int array of the n-gram length each token was found as, and `index`, a mapping from
word to vocabulary id.
"""

from __future__ import annotations

import json
import math
from typing import Iterable, Iterator, Sequence

import click

from seqkit.options import errors_option, json_option, quiet_option

SENTENCE_COLUMNS = ("sentence", "logprob10", "tokens", "oovs", "ppl", "ppl_excl_oov", "ppl1")
WORD_COLUMNS = ("sentence", "word", "id", "logprob10", "ngram_length")


@click.command(short_help="Perplexity of a language model on a text (KenLM and SRILM figures).")
@click.option("-m", "--model", "model_path", required=True, metavar="MODEL",
              help="A language model file any installed plugin reads (ARPA, seqkit rnnlm .npz, ...).")
@click.argument("text", default="-", metavar="[TEXT]")
@click.option("--per-sentence", is_flag=True,
              help="A table of each sentence's figures and a final `total` row, instead of the summary.")
@click.option("--per-word", is_flag=True, help="A table of each token's log10 probability (as KenLM's query).")
@click.option("--no-header", is_flag=True, help="Leave out the header line of the --per-sentence/--per-word table.")
@json_option
@errors_option
@quiet_option
def perplexity(model_path: str, text: str, per_sentence: bool, per_word: bool, no_header: bool, as_json: bool,
               errors: str, quiet: bool) -> None:
    """Score TEXT (one sentence per line; stdin by default) with MODEL.

    \b
    Prints, tab-separated `name<TAB>value` lines:
      ppl               KenLM's "Perplexity including OOVs": 10^(-sum log10 p / tokens),
                        where tokens = words + one </s> per sentence (<s> is never predicted)
      ppl_excl_oov      KenLM's "Perplexity excluding OOVs" (= SRILM's ppl)
      ppl1              SRILM's ppl1: OOVs and </s> excluded from the count
      logprob10, tokens, words, sentences, oovs
    A word outside the model's vocabulary is scored as <unk> and counted as an OOV (KenLM's convention).

    \b
    --per-sentence prints instead a table with a header line (--no-header drops it):
      sentence  logprob10  tokens  oovs  ppl  ppl_excl_oov  ppl1
    one row per sentence (numbered from 1) and a last row named `total` for the whole text.

    \b
    --per-word prints a table with a header line, one row per predicted token, </s> included:
      sentence  word  id  logprob10  ngram_length
    id is the word's vocabulary id, or OOV; ngram_length is the length of the n-gram the token was
    found as (KenLM's query), or `-` for models that have no n-grams. The totals go to stderr.
    """
    from seqkit.errors import SeqkitError
    from seqkit.lm import PerplexityCounter, load_language_model, sentence_perplexity
    from seqkit.progress import Reporter
    from seqkit.reader import read_sentences

    if per_sentence and per_word:
        raise click.UsageError("choose one of --per-sentence and --per-word")
    reporter = Reporter(quiet)
    model = load_language_model(model_path)
    counter = PerplexityCounter()
    sentences = read_sentences([text], errors=errors, max_sentence_len=1 << 62)
    sentence_rows: list[dict] = []
    word_rows: list[dict] = []
    header = not no_header and not as_json
    if per_word and header:
        click.echo("\t".join(WORD_COLUMNS))
    for number, (words, score, lengths) in enumerate(_scored(model, sentences), 1):
        counter.add(score)
        if per_sentence:
            sentence_rows.append(_sentence_row(number, sentence_perplexity(score)))
        elif per_word:
            rows = list(_word_rows(number, model, words, score, lengths))
            if as_json:
                word_rows.extend(rows)
            else:  # streamed: a long text needs no table in memory
                for row in rows:
                    click.echo(_word_line(row))
    result = counter.result()
    if result.sentences == 0:
        raise SeqkitError(f"{text}: no sentences to score")
    if as_json:
        data = result.as_dict()
        if per_sentence:
            data["per_sentence"] = sentence_rows
        if per_word:
            data["per_word"] = word_rows
        click.echo(json.dumps(data, indent=2))
        return
    if per_sentence:
        if header:
            click.echo("\t".join(SENTENCE_COLUMNS))
        for row in [*sentence_rows, _sentence_row("total", result)]:
            click.echo("\t".join(_cell(row[c]) for c in SENTENCE_COLUMNS))
        return
    if per_word:
        reporter.summary(f"perplexity: ppl {_num(result.ppl)} (excluding OOVs {_num(result.ppl_excluding_oov)}) "
                         f"over {result.tokens:,} tokens, {result.oovs:,} OOVs")
        return
    click.echo(f"ppl\t{_num(result.ppl)}")
    click.echo(f"ppl_excl_oov\t{_num(result.ppl_excluding_oov)}")
    click.echo(f"ppl1\t{_num(result.ppl1)}")
    click.echo(f"logprob10\t{result.logprob10:.4f}")
    for key in ("tokens", "words", "sentences", "oovs"):
        click.echo(f"{key}\t{getattr(result, key)}")


def _scored(model, sentences: Iterable[Sequence[str]]) -> Iterator[tuple[list[str], object, object]]:
    """(words, SentenceScore, n-gram lengths or None) per sentence, through the model's optional extra."""
    from seqkit.lm import score_all

    from collections import deque

    kept: deque[list[str]] = deque()

    def remember(stream: Iterable[Sequence[str]]) -> Iterator[list[str]]:
        for words in stream:  # the model may read ahead (batches): keep the words until their score arrives
            kept.append(list(words))
            yield kept[-1]

    detail = getattr(model, "score_stream_detail", None)
    pairs = detail(remember(sentences)) if detail is not None else (
        (score, None) for score in score_all(model, remember(sentences)))
    for score, lengths in pairs:
        yield kept.popleft(), score, lengths


def _sentence_row(number: int | str, r) -> dict:
    return {"sentence": number, "logprob10": r.logprob10, "tokens": r.tokens, "oovs": r.oovs, "ppl": r.ppl,
            "ppl_excl_oov": r.ppl_excluding_oov, "ppl1": r.ppl1}


def _word_rows(number: int, model, words: list[str], score, lengths) -> Iterator[dict]:
    """One dict per token, as --json prints it (id and ngram_length null when the model cannot say)."""
    from seqkit.lm import LN10

    index = getattr(model, "index", None)
    index = index if isinstance(index, dict) else {}
    for i, word in enumerate([*words, "</s>"]):
        oov = bool(score.oov[i])
        yield {"sentence": number, "word": word, "id": None if oov else index.get(word), "oov": oov,
               "logprob10": float(score.logprobs[i]) / LN10,
               "ngram_length": int(lengths[i]) if lengths is not None else None}


def _word_line(row: dict) -> str:
    word_id = "OOV" if row["oov"] else ("-" if row["id"] is None else str(row["id"]))
    length = "-" if row["ngram_length"] is None else str(row["ngram_length"])
    return f"{row['sentence']}\t{row['word']}\t{word_id}\t{_num(row['logprob10'])}\t{length}"


def _cell(value) -> str:
    return _num(value) if isinstance(value, float) else str(value)


def _num(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"
