"""`seqkit generate`: sample sentences from any registered language model."""

from __future__ import annotations

from typing import Callable

import click

from seqkit.options import quiet_option


@click.command(short_help="Sample text from a language model.")
@click.option("-m", "--model", "model_path", required=True, metavar="MODEL", help="Language model file.")
@click.option("-n", "--count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Sentences to generate (with --beam: the best COUNT distinct ones).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=50, show_default=True,
              help="Stop a sentence after this many words.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Below 1: more conservative; above 1: more varied.")
@click.option("--top-k", type=click.IntRange(min=1), default=None, help="Sample only among the K likeliest words.")
@click.option("--beam", type=click.IntRange(min=1), default=None,
              help="Beam search of this width instead of sampling (models that support it).")
@click.option("--prefix", default="", help="Words to start each sentence with (printed too; a word the model "
                                           "does not know is read as <unk>, with a warning).")
@click.option("--no-unk", is_flag=True,
              help="Never generate <unk>: sampling renormalises over the other words, beam search never "
                   "extends a hypothesis with it.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (reproducible output).")
@quiet_option
def generate(model_path: str, count: int, max_tokens: int, temperature: float, top_k: int | None,
             beam: int | None, prefix: str, no_unk: bool, seed: int | None, quiet: bool) -> None:
    """Print COUNT sentences drawn from MODEL, one per line."""
    if beam and (temperature != 1.0 or top_k is not None or seed is not None):
        raise click.UsageError("--beam searches for the likeliest sentences: --temperature, --top-k and --seed "
                               "are for sampling")
    import numpy as np

    from seqkit.lm import load_language_model
    from seqkit.progress import Reporter

    reporter = Reporter(quiet)
    model = load_language_model(model_path)
    start = prefix.split()
    if start:
        unknown = [word for word, oov in zip(start, model.score_sentence(start).oov) if oov and word != "<unk>"]
        if unknown:
            reporter.warn(f"--prefix: {', '.join(map(repr, unknown))} {'is' if len(unknown) == 1 else 'are'} "
                          "not in the model's vocabulary, read as <unk>")
    # models written before --no-unk existed are still usable without it
    extra = {"no_unk": True} if no_unk else {}
    if beam:
        search = getattr(model, "beam_search", None)
        if search is None:
            raise click.UsageError(f"{model_path}: this model type does not support --beam")
        if no_unk and not _accepts(search, "no_unk"):
            raise click.UsageError(f"{model_path}: this model type's beam search does not support --no-unk")
        if _accepts(search, "count"):
            hypotheses = search(start, beam=beam, max_tokens=max_tokens, count=count, **extra)[:count]
        else:  # the older form returns its one best hypothesis
            hypotheses = [search(start, beam=beam, max_tokens=max_tokens, **extra)]
        for words in hypotheses:
            click.echo(" ".join([*start, *_words(model, words, max_tokens)]))
        if len(hypotheses) < count:
            reporter.warn(f"beam search found {len(hypotheses)} distinct sentence{'s' * (len(hypotheses) != 1)}, "
                          f"fewer than the {count} asked for (a wider --beam or a larger --max-tokens may find more)")
        return
    if no_unk and not _accepts(model.sample, "no_unk"):
        raise click.UsageError(f"{model_path}: this model type does not support --no-unk")
    rng = np.random.default_rng(seed)
    for _ in range(count):
        words = model.sample(rng, max_tokens=max_tokens, temperature=temperature, prefix=start, top_k=top_k, **extra)
        click.echo(" ".join([*start, *_words(model, words, max_tokens)]))


def _words(model, words, max_tokens: int) -> list[str]:
    """A model's sentence as printed: a list of word strings, at most `max_tokens` of them (a model that
    answers with anything else is named)."""
    if isinstance(words, (str, bytes)) or not all(isinstance(word, str) for word in words):
        from seqkit.plugins import model_error

        raise model_error(model, f"sampled {words!r:.80}, not a list of words")
    return list(words)[:max_tokens]


def _accepts(method: Callable, keyword: str) -> bool:
    """Whether `method` takes the keyword argument `keyword` (or any keyword)."""
    import inspect

    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return keyword in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
