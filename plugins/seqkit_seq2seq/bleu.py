"""`seqkit bleu`: corpus and sentence BLEU by sacreBLEU itself.

sacreBLEU defines the metric (its 13a tokenizer, exponential smoothing and signature are versioned
there), so calling the library is the only way to stay equal to it as it evolves; it is the optional
extra `translate`.
"""

from __future__ import annotations

from typing import Sequence

from seqkit.errors import DataError, SeqkitError
from seqkit.textio import text_lines

EXTRA_MESSAGE = "BLEU needs sacreBLEU: pip install 'seqkit[translate]'"


def sacrebleu_module():
    """The sacrebleu package, or one line naming the extra that installs it."""
    try:
        import sacrebleu
    except ImportError:
        raise SeqkitError(EXTRA_MESSAGE) from None
    return sacrebleu


def read_lines(path: str, errors: str = "strict") -> list[str]:
    """Every line without its line end (an empty line is an empty hypothesis, never skipped)."""
    return [line.rstrip("\r\n") for line in text_lines(path, errors)]


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[Sequence[str]]):
    """sacreBLEU's corpus BLEU with its defaults (13a, exp smoothing, 4-grams): a BLEUScore and the
    signature string."""
    sacrebleu = sacrebleu_module()
    metric = sacrebleu.metrics.BLEU()
    score = metric.corpus_score(list(hypotheses), [list(r) for r in references])
    return score, str(metric.get_signature())


def sentence_bleus(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> tuple[list[float], str]:
    """Per line, sacreBLEU's sentence BLEU (exp smoothing, effective order), and the signature."""
    sacrebleu = sacrebleu_module()
    metric = sacrebleu.metrics.BLEU(effective_order=True)
    scores = [metric.sentence_score(hyp, [refs[i] for refs in references]).score
              for i, hyp in enumerate(hypotheses)]
    return scores, str(metric.get_signature())


def run(reference: str, hypothesis: str, more_references: Sequence[str], sentence: bool, as_json: bool,
        errors: str = "strict") -> None:
    import json

    import click

    sacrebleu_module()
    ref_paths = [reference, *more_references]
    references = [read_lines(path, errors) for path in ref_paths]
    hypotheses = read_lines(hypothesis, errors)
    if not hypotheses:
        raise DataError("no lines to score", hypothesis)
    for path, lines in zip(ref_paths, references):
        if len(lines) != len(hypotheses):  # named at the first line the shorter file lacks
            if len(hypotheses) > len(lines):
                name = "stdin" if path == "-" else path
                raise DataError(f"{len(hypotheses)} hypothesis lines but {len(lines)} reference lines in {name}",
                                hypothesis, len(lines) + 1)
            name = "stdin" if hypothesis == "-" else hypothesis
            raise DataError(f"{len(lines)} reference lines but {len(hypotheses)} hypothesis lines in {name}", path,
                            len(hypotheses) + 1)
    if sentence:
        scores, signature = sentence_bleus(hypotheses, references)
        if as_json:
            click.echo(json.dumps({"sentence_bleu": scores, "signature": signature}))
        else:
            for value in scores:
                click.echo(f"{value:.2f}")
        return
    score, signature = corpus_bleu(hypotheses, references)
    if as_json:
        click.echo(json.dumps({"score": score.score, "precisions": score.precisions, "bp": score.bp,
                               "sys_len": score.sys_len, "ref_len": score.ref_len, "signature": signature}))
    else:
        click.echo(str(score))
        click.echo(signature)
