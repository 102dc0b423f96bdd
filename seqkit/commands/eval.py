"""`seqkit eval analogy|similarity`: the standard intrinsic benchmarks for word vectors."""

from __future__ import annotations

import math

import click

from seqkit.commands.queries import MODEL_OPTION, load_vectors
from seqkit.options import errors_option, json_option, json_text, quiet_option, vectors_option


@click.group("eval", short_help="Evaluate vectors on analogy or word-similarity benchmarks.")
def eval_group() -> None:
    """Evaluate word vectors; results agree with gensim's evaluators on the same vectors."""


def _pct(x: float) -> str:
    return "nan" if math.isnan(x) else f"{100 * x:.2f}"


@eval_group.command("analogy", short_help="Accuracy on analogy questions (e.g. questions-words.txt).")
@click.argument("questions", metavar="FILE")
@vectors_option
@MODEL_OPTION
@click.option("--restrict", type=click.IntRange(min=1), default=30000, show_default=True,
              help="Answer among the N most frequent words only; questions with other words are skipped.")
@click.option("--method", type=click.Choice(["add", "mul"]), default="add", show_default=True,
              help="3CosAdd or 3CosMul.")
@json_option
@errors_option
@quiet_option
def analogy_command(questions: str, vectors: str, model: str | None, restrict: int, method: str, as_json: bool, errors: str,
                    quiet: bool) -> None:
    """Answer every question `a b c d` of FILE (b - a + c should be d) and print per-section accuracy,
    semantic and syntactic totals (sections named gram* are syntactic) and coverage, as
    `section<TAB>correct<TAB>answered<TAB>accuracy%` lines.

    Comparison is case-insensitive and the question words are excluded from the answers, as in
    gensim's evaluate_word_analogies; skipped questions count against coverage only.
    """
    from seqkit.evaluate import evaluate_analogies
    from seqkit.progress import Reporter
    from seqkit.vectors import Embeddings

    reporter = Reporter(quiet)
    emb = load_vectors(vectors, errors, quiet, model) if model else Embeddings.load(vectors, errors=errors,
                                                                                      reporter=reporter)
    result = evaluate_analogies(emb, questions, restrict=restrict, method=method, errors=errors)
    if result.total.answered == 0:  # as `eval similarity` with no pair both of whose words it knows
        from seqkit.errors import DataError

        if not result.total.skipped:
            raise DataError("no questions (only `: section` lines)", questions)
        raise DataError(f"none of its {result.total.skipped:,} questions has all four words among the "
                        f"{min(restrict, len(emb)):,} most frequent words of the vectors", questions)
    if as_json:
        click.echo(json_text(result.as_dict()))
        return
    click.echo("section\tcorrect\tanswered\taccuracy")
    for s in result.sections:
        click.echo(f"{s.name}\t{s.correct}\t{s.answered}\t{_pct(s.accuracy)}")
    for s in (result.semantic, result.syntactic, result.total):
        click.echo(f"{s.name}\t{s.correct}\t{s.answered}\t{_pct(s.accuracy)}")
    total = result.total
    reporter.summary(f"analogy: {_pct(total.accuracy)}% of {total.answered:,} answered questions correct "
                     f"(3Cos{method.capitalize()}, restrict {restrict:,}); coverage {_pct(result.coverage)}% "
                     f"({total.skipped:,} skipped)")


@eval_group.command("similarity", short_help="Spearman/Pearson on word pairs (e.g. WordSim-353).")
@click.argument("pairs", metavar="FILE")
@vectors_option
@MODEL_OPTION
@click.option("--restrict", type=click.IntRange(min=1), default=300000, show_default=True,
              help="Use only the N most frequent words.")
@json_option
@errors_option
@quiet_option
def similarity_command(pairs: str, vectors: str, model: str | None, restrict: int, as_json: bool, errors: str,
                       quiet: bool) -> None:
    """Correlate cosine similarity with the human scores of FILE (`w1<TAB>w2<TAB>score`, `#` comments).

    Prints Spearman (the headline figure), Pearson and the share of pairs with an unknown word. With
    -m MODEL, also `subword_*` figures over every pair, unknown words given their subword vectors
    (fastText's protocol for rare words), beside the first ones (pairs with unknown words dropped, gensim's).
    """
    from seqkit.evaluate import evaluate_similarity
    from seqkit.progress import Reporter
    from seqkit.vectors import Embeddings

    emb = load_vectors(vectors, errors, quiet, model) if model else Embeddings.load(vectors, errors=errors,
                                                                                      reporter=Reporter(quiet))
    result = evaluate_similarity(emb, pairs, restrict=restrict, errors=errors)
    subword = evaluate_similarity(emb, pairs, restrict=restrict, subwords=emb.vector, errors=errors) if model else None
    if as_json:
        click.echo(json_text({**result.as_dict(), **({"subword": subword.as_dict()} if subword else {})}))
        return
    click.echo(f"spearman\t{result.spearman:.4f}")
    click.echo(f"pearson\t{result.pearson:.4f}")
    click.echo(f"pairs\t{result.pairs}")
    click.echo(f"oov_ratio\t{result.oov_ratio:.2f}")
    if subword is not None:
        click.echo(f"subword_spearman\t{subword.spearman:.4f}")
        click.echo(f"subword_pearson\t{subword.pearson:.4f}")
        click.echo(f"subword_pairs\t{subword.pairs}")
