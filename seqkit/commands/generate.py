"""`seqkit generate`: sample sentences from any registered language model."""

from __future__ import annotations

import click

from seqkit.options import quiet_option


@click.command(short_help="Sample text from a language model.")
@click.option("-m", "--model", "model_path", required=True, metavar="MODEL", help="Language model file.")
@click.option("-n", "--count", type=click.IntRange(min=1), default=1, show_default=True, help="Sentences to generate.")
@click.option("--max-tokens", type=click.IntRange(min=1), default=50, show_default=True,
              help="Stop a sentence after this many words.")
@click.option("--temperature", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Below 1: more conservative; above 1: more varied.")
@click.option("--top-k", type=click.IntRange(min=1), default=None, help="Sample only among the K likeliest words.")
@click.option("--beam", type=click.IntRange(min=1), default=None,
              help="Beam search of this width instead of sampling (models that support it).")
@click.option("--prefix", default="", help="Words to start each sentence with (printed too).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Random seed (reproducible output).")
@quiet_option
def generate(model_path: str, count: int, max_tokens: int, temperature: float, top_k: int | None,
             beam: int | None, prefix: str, seed: int | None, quiet: bool) -> None:
    """Print COUNT sentences drawn from MODEL, one per line."""
    import numpy as np

    from seqkit.errors import SeqkitError
    from seqkit.lm import load_language_model

    model = load_language_model(model_path)
    rng = np.random.default_rng(seed)
    start = prefix.split()
    for _ in range(count):
        if beam:
            search = getattr(model, "beam_search", None)
            if search is None:
                raise SeqkitError(f"{model_path}: this model type does not support --beam")
            words = search(start, beam=beam, max_tokens=max_tokens)
        else:
            words = model.sample(rng, max_tokens=max_tokens, temperature=temperature, prefix=start, top_k=top_k)
        click.echo(" ".join([*start, *words]))
