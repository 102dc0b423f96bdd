"""`seqkit predict`, `seqkit test` and `seqkit sentence-vectors`: any registered classifier's model."""

from __future__ import annotations

import json
import math

import click

from seqkit.options import errors_option, json_option, json_text, quiet_option

model_option = click.option("-m", "--model", "model_path", required=True, metavar="MODEL",
                            help="A classifier file any installed plugin reads (seqkit classify's .npz, ...).")


def _check_k(ctx, param, value: int) -> int:
    if value == 0 or value < -1:  # fastText: "k needs to be 1 or higher", or -1 for all
        raise click.BadParameter(f"{value} is not 1 or more, or -1 for every label", ctx=ctx, param=param)
    return value


k_option = click.option("-k", type=int, default=1, show_default=True, callback=_check_k,
                        help="Labels per line, most probable first (-1: all).")
threshold_option = click.option("--threshold", type=click.FloatRange(0, 1), default=0.0, show_default=True,
                                help="Only labels with at least this probability.")


BATCH_LINES = 4096  # lines a model with `predict_batch` predicts per call


def _lines(path: str, errors: str):
    from seqkit.textio import line_blocks

    for block in line_blocks(path, errors, BATCH_LINES):
        yield from block


def _predicted(model, path: str, errors: str, k: int, threshold: float, with_gold: bool = True):
    """Lists of (gold labels, predictions), one list per block of lines of `path` (`line_blocks`: a pause
    in a pipe ends a block, so answers stream); the gold labels are None unless `with_gold` when the model
    predicts whole blocks (`predict_lines`)."""
    from seqkit.classifier import line_tokens, model_split_labels
    from seqkit.plugins import third_party
    from seqkit.textio import line_blocks

    batch = getattr(model, "predict_lines", None)
    check = _AnswerCheck(model, k) if third_party(model) else None  # seqkit's own models are trusted
    for block in line_blocks(path, errors, BATCH_LINES):
        if batch is None:
            answers = []
            for line in block:
                words, gold = model_split_labels(model, line_tokens(line))
                answer = model.predict(words, k, threshold)
                answers.append((gold, check(answer) if check else answer))
            yield answers
        else:
            yield list(_block(model, batch, block, k, threshold, with_gold, check))


def _block(model, batch, block: list[str], k: int, threshold: float, with_gold: bool, check):
    from seqkit.classifier import line_tokens, model_split_labels
    from seqkit.plugins import model_error

    golds = [model_split_labels(model, line_tokens(line))[1] for line in block] if with_gold else \
        [None] * len(block)
    answers = batch(block, k, threshold)
    if len(answers) != len(block):
        raise model_error(model, f"predict_lines returned {len(answers):,} answers for {len(block):,} lines")
    return zip(golds, map(check, answers) if check else answers)


class _AnswerCheck:
    """A third-party model's answer for one line as the commands use it: at most k (label, float
    probability) pairs of labels the model has; anything else is the model's error, named."""

    def __init__(self, model, k: int):
        self.model, self.k = model, k
        self.known = frozenset(model.labels)

    def __call__(self, predictions) -> list[tuple[str, float]]:
        if self.k > 0 and len(predictions) > self.k:
            predictions = predictions[:self.k]
        try:
            checked = [(label, float(p)) for label, p in predictions]
        except (TypeError, ValueError):
            checked = None
        if checked is None or any(label not in self.known for label, _ in checked):
            from seqkit.plugins import model_error

            bad = next((x for x in predictions if checked is None or x[0] not in self.known), predictions)
            raise model_error(self.model, f"predicted {bad!r}, not a (label, probability) pair of a label among "
                                          "its `labels`")
        return checked


@click.command(short_help="Most probable labels of each line (fastText's predict / predict-prob).")
@model_option
@click.argument("text", default="-", metavar="[FILE|-]")
@k_option
@threshold_option
@click.option("--prob", is_flag=True, help="Follow each label by its probability (fastText's predict-prob).")
@json_option
@errors_option
@quiet_option
def predict(model_path: str, text: str, k: int, threshold: float, prob: bool, as_json: bool, errors: str,
            quiet: bool) -> None:
    """Print, for every line of FILE (stdin by default), its K most probable labels on one line,
    space-separated, as fastText's `predict` (`__label__x`) or, with --prob, `predict-prob`
    (`__label__x 0.97`); with --json, one JSON object per line. Label tokens in the input are ignored.
    """
    from seqkit.classifier import load_classifier

    model = load_classifier(model_path)
    for answers in _predicted(model, text, errors, k, threshold, with_gold=False):
        out = []
        for _, predictions in answers:
            if as_json:
                out.append(json.dumps({"labels": [label for label, _ in predictions],
                                       "probs": [float(f"{p:.6g}") for _, p in predictions]}))  # as --prob
            elif prob:
                out.append(" ".join(f"{label} {p:.6g}" for label, p in predictions))
            else:
                out.append(" ".join(label for label, _ in predictions))
        click.echo("\n".join(out))  # and flushed: a reader waiting on a pipe gets this block now


@click.command("test", short_help="Evaluate a classifier: N, P@k, R@k as fastText, per-label P/R/F1.")
@model_option
@click.argument("text", metavar="FILE")
@k_option
@threshold_option
@click.option("--per-label", is_flag=True, help="Also `label NAME precision recall F1 gold predicted` lines (gold and "
                                                "predicted: how many lines have the label, and were given it), and "
                                                "`confusion` lines (gold by predicted) when every line has one label.")
@json_option
@errors_option
@quiet_option
def test_command(model_path: str, text: str, k: int, threshold: float, per_label: bool, as_json: bool, errors: str,
                 quiet: bool) -> None:
    """Evaluate MODEL on the labelled lines of FILE (`-` for stdin).

    \b
    Prints, tab-separated, fastText's figures first:
      N          lines with at least one label the model knows (the others are reported, not counted)
      P@k, R@k   correct predictions / predictions, and / gold labels, over all lines (multi-label aware)
    then f1_micro (from P@k and R@k), f1_macro (mean per-label F1) and accuracy (on single-label data the
    share of lines whose top label is their label, whatever -k; on multi-label data the share whose
    predicted labels are exactly their gold labels).
    """
    from seqkit.classifier import Meter, load_classifier
    from seqkit.errors import SeqkitError
    from seqkit.progress import Reporter

    reporter = Reporter(quiet)
    model = load_classifier(model_path)
    meter = Meter(model.labels)
    for answers in _predicted(model, text, errors, k, threshold):
        for gold, predictions in answers:
            meter.add(gold, predictions if gold and any(label in meter.index for label in gold) else [])
    result = meter.summary(k)
    if meter.unknown_labels:
        shown = ", ".join(f"{label} ({n:,})" for label, n in list(result["unknown_labels"].items())[:10])
        reporter.warn(f"{len(meter.unknown_labels):,} labels of {text} are not in the model: {shown}"
                      f"{' ...' if len(meter.unknown_labels) > 10 else ''}; "
                      f"{meter.unknown_only:,} lines with only such labels were not counted")
    if meter.unlabelled:
        reporter.warn(f"{meter.unlabelled:,} lines of {text} have no label and were not counted")
    if meter.examples == 0:
        raise SeqkitError(f"{text}: no line has a label the model knows")
    if as_json:
        click.echo(json_text(result))
        return
    click.echo(f"N\t{meter.examples}")
    click.echo(f"P@{k}\t{_num(result[f'P@{k}'])}")
    click.echo(f"R@{k}\t{_num(result[f'R@{k}'])}")
    for key in ("f1_micro", "f1_macro", "accuracy"):
        click.echo(f"{key}\t{_num(result[key])}")
    if per_label:
        for row in result["per_label"]:
            click.echo("\t".join(["label", row["label"], _num(row["precision"]), _num(row["recall"]),
                                  _num(row["f1"]), str(row["gold"]), str(row["predicted"])]))
        if "confusion" in result:
            labels = result["confusion"]["labels"]
            click.echo("\t".join(["confusion", "gold\\predicted", *labels]))
            for label, counts in zip(labels, result["confusion"]["matrix"]):
                click.echo("\t".join(["confusion", label, *map(str, counts)]))


@click.command("sentence-vectors", short_help="A model's vector of each line (fastText's print-sentence-vectors).")
@model_option
@click.argument("text", default="-", metavar="[FILE|-]")
@errors_option
@quiet_option
def sentence_vectors(model_path: str, text: str, errors: str, quiet: bool) -> None:
    """Print the model's vector of every line of FILE (stdin by default), as fastText prints it (5
    significant digits, each followed by a space). For a classifier, its sentence representation (for the
    bag-of-n-grams model, the mean of the input rows of the line's features, or with --pooling sqrt their
    sum / sqrt(count)); for a word-vector model (fastText .bin, seqkit subword .npz), fastText's: the mean of
    the line's word vectors, each scaled to unit length (words whose vector is zero left out)."""
    from seqkit.classifier import line_tokens, load_classifier, model_split_labels
    from seqkit.errors import SeqkitError

    try:
        model = load_classifier(model_path)
    except SeqkitError as not_classifier:
        from seqkit.subword import load_vector_model

        try:
            vectors = load_vector_model(model_path)
        except SeqkitError:
            raise not_classifier from None
        for line in _lines(text, errors):
            click.echo("".join(f"{float(v):.5g} " for v in unit_mean(vectors, line_tokens(line))))
        return
    for line in _lines(text, errors):
        words, _ = model_split_labels(model, line_tokens(line))
        click.echo("".join(f"{float(v):.5g} " for v in model.sentence_vector(words)))


def unit_mean(model, words: list[str]):
    """fastText's sentence vector of an unsupervised model: the mean of the unit-length word vectors."""
    import numpy as np

    total = np.zeros(model.dim, dtype=np.float32)
    count = 0
    for word in words:
        vector = model.word_vector(word)
        norm = float(np.linalg.norm(vector))
        if norm > 0:
            total += vector / np.float32(norm)
            count += 1
    return total / np.float32(count) if count else total


def _num(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"
