"""`seqkit perplexity`: score a text with any registered language model.

A model that scores blocks of sentences (`seqkit.lm.scores_batches`: the n-gram models) is fed the text a
block at a time through the core's compiled reader, and its tables are formatted a block at a time too.
Other models are scored sentence by sentence; for them `--per-word` uses two optional extras (third-party
models without them still work, showing `-`): `score_stream_detail(sentences)`, yielding each sentence's
SentenceScore with an int array of the n-gram length each token was found as, and `index`, a mapping from
word to vocabulary id.
"""

from __future__ import annotations

import math
from typing import Iterable, Iterator, Sequence

import click

from seqkit.options import errors_option, json_option, json_text, quiet_option
from seqkit.plugins import model_error

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
    A word outside the model's vocabulary is scored as <unk> and counted as an OOV (KenLM's convention;
    an ARPA model without <unk> or <UNK> gives it log10 probability -100, as KenLM does).
    Empty lines are skipped, as seqkit's corpus readers skip them (KenLM's query scores a </s> for each).

    \b
    --per-sentence prints instead a table with a header line (--no-header drops it):
      sentence  logprob10  tokens  oovs  ppl  ppl_excl_oov  ppl1
    one row per sentence (numbered from 1; empty lines are not sentences and get no row) and a last row
    named `total` for the whole text.

    \b
    --per-word prints a table with a header line, one row per predicted token, </s> included:
      sentence  word  id  logprob10  ngram_length
    id is the word's vocabulary id, or OOV; ngram_length is the length of the n-gram the token was
    found as (KenLM's query), or `-` for models that have no n-grams. The totals go to stderr.
    """
    from seqkit.errors import SeqkitError
    from seqkit.lm import PerplexityCounter, load_language_model, scores_batches
    from seqkit.progress import Reporter

    if per_sentence and per_word:
        raise click.UsageError("choose one of --per-sentence and --per-word")
    reporter = Reporter(quiet)
    model = load_language_model(model_path)
    counter = PerplexityCounter()
    word_rows: list[dict] = []
    header = not no_header and not as_json
    if per_word and header:
        click.echo("\t".join(WORD_COLUMNS))
    if per_sentence and header:
        click.echo("\t".join(SENTENCE_COLUMNS))
    # the --per-sentence table is printed as it is scored (a long text needs no table in memory); --json
    # gathers it
    sentence_rows: list[dict] = [] if as_json else _PrintedRows()
    tables = (sentence_rows if per_sentence else word_rows, per_sentence, per_word, as_json)
    if scores_batches(model):
        _score_blocks(model, text, errors, counter, *tables)
    else:
        _score_sentences(model, text, errors, counter, *tables)
    result = counter.result()
    if result.sentences == 0:
        raise SeqkitError(f"{text}: no sentences to score")
    if as_json:
        data = result.as_dict()
        if per_sentence:
            data["per_sentence"] = sentence_rows
        if per_word:
            data["per_word"] = word_rows
        click.echo(json_text(data))
        return
    if per_sentence:
        sentence_rows.append(_sentence_row("total", result))
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


def _score_sentences(model, text: str, errors: str, counter, rows: list[dict], per_sentence: bool,
                     per_word: bool, as_json: bool) -> None:
    """Score sentence by sentence (models without the batch methods)."""
    from seqkit.lm import sentence_perplexity
    from seqkit.plugins import third_party
    from seqkit.reader import read_sentences

    sentences = read_sentences([text], errors=errors, max_sentence_len=1 << 62)
    checked = third_party(model)
    for number, (words, score, lengths) in enumerate(_scored(model, sentences), 1):
        if checked:
            score = _checked_sentence(model, words, score, lengths)
        counter.add(score)
        if per_sentence:
            rows.append(_sentence_row(number, sentence_perplexity(score)))
        elif per_word:
            word_rows = list(_word_rows(number, model, words, score, lengths))
            if as_json:
                rows.extend(word_rows)
            else:  # streamed: a long text needs no table in memory
                for row in word_rows:
                    click.echo(_word_line(row))


def _score_blocks(model, text: str, errors: str, counter, rows: list[dict], per_sentence: bool, per_word: bool,
                  as_json: bool) -> None:
    """Score a block of sentences per model call; the tables are built from the block's arrays."""
    import numpy as np

    from seqkit.lm import LN10, SentenceScore, score_text, sentence_perplexity
    from seqkit.plugins import third_party

    checked = third_party(model)
    words: list[str] = []
    end_id = int(model.word_ids(np.frombuffer(b"</s>", dtype=np.uint8), np.array([0, 4]))[0])
    first = 1  # number of the block's first sentence
    for block in score_text(model, [text], errors=errors, detail=per_sentence or per_word, words=words):
        n = len(block.offsets) - 1
        if checked:
            _check_block(model, block, n, per_sentence or per_word)
        counter.add_batch(block.score, n)
        score = block.score
        if per_sentence or per_word:
            sizes = np.diff(block.offsets) + 1  # tokens per sentence, </s> included
            where = np.arange(len(block.ids)) + np.repeat(np.arange(n), sizes - 1)  # words among the tokens
        if per_sentence:  # each sentence's figures exactly as the sentence-by-sentence path gives them
            ends = np.cumsum(sizes).tolist()
            for i, (start, end) in enumerate(zip([0, *ends[:-1]], ends)):
                piece = SentenceScore(score.logprobs[start:end], score.oov[start:end])
                rows.append(_sentence_row(first + i, sentence_perplexity(piece)))
        elif per_word:
            tokens = np.full(len(score.logprobs), len(words), dtype=np.int64)  # len(words) stands for </s>
            tokens[where] = block.text_ids
            ids = np.full(len(tokens), end_id, dtype=np.int64)
            ids[where] = block.ids
            table = [*words, "</s>"]
            column = {"sentence": np.repeat(np.arange(first, first + n), sizes).tolist(),
                      "word": [table[t] for t in tokens.tolist()], "id": ids.tolist(),
                      "logprob10": (score.logprobs / LN10).tolist(),
                      "ngram_length": score.lengths.tolist() if score.lengths is not None else None}
            if as_json:
                _json_word_rows(rows, column, score.oov.tolist())
            else:
                click.echo(_word_block(column, score.oov))
        first += n


# A log-probability above this is no probability (rounding may give a certain token a hair above 0).
MAX_LOGPROB = 1e-6


def _checked_sentence(model, words: list[str], score, lengths):
    """The score of one sentence as the tables need it: a log-probability per word and one for </s>,
    none above 0, OOV flags alike; a model that answers otherwise is named."""
    import numpy as np

    from seqkit.lm import SentenceScore

    logprobs, oov = np.asarray(score.logprobs, dtype=np.float64), np.asarray(score.oov, dtype=bool)
    if logprobs.shape != (len(words) + 1,) or oov.shape != logprobs.shape:
        raise model_error(model, f"scored a sentence of {len(words):,} words with {logprobs.shape} log-probabilities "
                                  f"and {oov.shape} OOV flags; expected one per word and one for </s>")
    if lengths is not None and np.shape(lengths) != logprobs.shape:
        raise model_error(model, f"gave {np.shape(lengths)} n-gram lengths for {len(words) + 1:,} tokens")
    if (logprobs > MAX_LOGPROB).any():
        raise model_error(model, f"gave a log-probability of {logprobs.max():.4g} (above 0, no probability)")
    return SentenceScore(logprobs, oov)


def _check_block(model, block, sentences: int, detail: bool) -> None:
    """`score_batch`'s answer for a block: one token per word and one </s> per sentence, sums no higher
    than 0, and (with detail) one value per token."""
    import numpy as np

    score = block.score
    tokens = len(block.ids) + sentences
    if int(score.tokens) != tokens:
        raise model_error(model, f"scored {int(score.tokens):,} tokens for {len(block.ids):,} words in "
                                  f"{sentences:,} sentences; expected {tokens:,} (each sentence's </s> included)")
    if score.logprob > MAX_LOGPROB * tokens or score.logprob_known > MAX_LOGPROB * tokens:
        raise model_error(model, f"gave a log-probability sum of {score.logprob:.4g} (above 0, no probability)")
    if detail:
        for name in ("logprobs", "oov") + (("lengths",) if score.lengths is not None else ()):
            values = getattr(score, name)
            if values is None or np.shape(values) != (tokens,):
                raise model_error(model, f"gave {name} of shape {np.shape(values)} for {tokens:,} tokens")
        if (np.asarray(score.logprobs) > MAX_LOGPROB).any():
            raise model_error(model, "gave a log-probability above 0 (no probability)")


def _json_word_rows(rows: list[dict], column: dict, oov: list[bool]) -> None:
    lengths = column["ngram_length"] or [None] * len(oov)
    for number, word, word_id, is_oov, logprob, length in zip(column["sentence"], column["word"], column["id"], oov,
                                                              column["logprob10"], lengths):
        rows.append({"sentence": number, "word": word, "id": None if is_oov else word_id, "oov": is_oov,
                     "logprob10": logprob, "ngram_length": length})


def _word_block(column: dict, oov) -> str:
    """The --per-word lines of a block, formatted column by column (as `_word_line` formats one row)."""
    import numpy as np

    ids = list(map(str, column["id"]))
    for i in np.flatnonzero(oov).tolist():
        ids[i] = "OOV"
    lengths = map(str, column["ngram_length"]) if column["ngram_length"] is not None else ["-"] * len(ids)
    return "\n".join(map("\t".join, zip(map(str, column["sentence"]), column["word"], ids,
                                         map("{:.4f}".format, column["logprob10"]), lengths)))


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


class _PrintedRows:
    """Where --per-sentence rows go when they are printed, not gathered: each is a line at once."""

    def append(self, row: dict) -> None:
        click.echo("\t".join(_cell(row[c]) for c in SENTENCE_COLUMNS))


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
