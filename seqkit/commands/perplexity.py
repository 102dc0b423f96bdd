"""`seqkit perplexity`: score a text with any registered language model."""

from __future__ import annotations

import json
import math

import click

from seqkit.options import errors_option, json_option, quiet_option


@click.command(short_help="Perplexity of a language model on a text (KenLM and SRILM figures).")
@click.option("-m", "--model", "model_path", required=True, metavar="MODEL",
              help="A language model file any installed plugin reads (ARPA, seqkit rnnlm .npz, ...).")
@click.argument("text", default="-", metavar="[TEXT]")
@click.option("--per-sentence", is_flag=True, help="Also print each sentence's log10 probability and perplexity.")
@json_option
@errors_option
@quiet_option
def perplexity(model_path: str, text: str, per_sentence: bool, as_json: bool, errors: str, quiet: bool) -> None:
    """Score TEXT (one sentence per line; stdin by default) with MODEL.

    \b
    Prints, tab-separated:
      ppl               KenLM's "Perplexity including OOVs": 10^(-sum log10 p / tokens),
                        where tokens = words + one </s> per sentence (<s> is never predicted)
      ppl_excl_oov      KenLM's "Perplexity excluding OOVs" (= SRILM's ppl)
      ppl1              SRILM's ppl1: OOVs and </s> excluded from the count
      logprob10, tokens, words, sentences, oovs
    A word outside the model's vocabulary is scored as <unk> and counted as an OOV (KenLM's convention).
    """
    from seqkit.lm import PerplexityCounter, load_language_model, score_all, sentence_perplexity
    from seqkit.progress import Reporter
    from seqkit.reader import read_sentences

    reporter = Reporter(quiet)
    model = load_language_model(model_path)
    counter = PerplexityCounter()
    sentences = read_sentences([text], errors=errors, max_sentence_len=1 << 62)
    rows = []
    for score in score_all(model, sentences):
        counter.add(score)
        if per_sentence:
            r = sentence_perplexity(score)
            rows.append({"logprob10": r.logprob10, "tokens": r.tokens, "oovs": r.oovs, "ppl": r.ppl})
    result = counter.result()
    if result.sentences == 0:
        from seqkit.errors import SeqkitError

        raise SeqkitError(f"{text}: no sentences to score")
    if as_json:
        data = result.as_dict()
        if per_sentence:
            data["per_sentence"] = rows
        click.echo(json.dumps(data, indent=2))
        return
    if per_sentence:
        for i, row in enumerate(rows, 1):
            click.echo(f"sentence\t{i}\t{row['logprob10']:.4f}\t{row['tokens']}\t{row['oovs']}\t{row['ppl']:.4f}")
    click.echo(f"ppl\t{_num(result.ppl)}")
    click.echo(f"ppl_excl_oov\t{_num(result.ppl_excluding_oov)}")
    click.echo(f"ppl1\t{_num(result.ppl1)}")
    click.echo(f"logprob10\t{result.logprob10:.4f}")
    for key in ("tokens", "words", "sentences", "oovs"):
        click.echo(f"{key}\t{getattr(result, key)}")


def _num(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.4f}"
