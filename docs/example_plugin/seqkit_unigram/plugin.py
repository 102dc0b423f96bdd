"""`seqkit unigram` and the unigram model format: what seqkit imports for `--help` (click and seqkit only).

The work lives in `command.py` (training) and `model.py` (the file format and the LanguageModel); both
are imported inside the functions below, so listing commands never pays for NumPy or the corpus reader.
"""

from __future__ import annotations

import click

from seqkit.options import errors_option, quiet_option

name = "unigram"
version = "0.1.0"


@click.command(short_help="Train an add-k smoothed unigram language model.")
@click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", required=True, metavar="MODEL.npz", help="Model file to write (atomically).")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Words seen fewer times become <unk>.")
@click.option("--add-k", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="Added to every count before normalising (1 = Laplace).")
@errors_option
@quiet_option
def unigram(corpus: tuple[str, ...], output: str, min_count: int, add_k: float, errors: str, quiet: bool) -> None:
    """Count the words of CORPUS (one sentence per line; each line ends with </s>) and write MODEL.npz.

    Score it with `seqkit perplexity -m MODEL.npz`, sample from it with `seqkit generate -m MODEL.npz`.
    """
    from seqkit_unigram.command import run

    run(list(corpus), output, min_count=min_count, add_k=add_k, errors=errors, quiet=quiet)


class UnigramFormat:
    """Recognises a unigram model by the magic entry inside the file, whatever the file is called."""

    name = "unigram-npz"

    def sniff(self, path: str) -> bool:
        from seqkit_unigram.model import sniff

        return sniff(path)

    def load(self, path: str):
        from seqkit_unigram.model import UnigramModel

        return UnigramModel.load(path)


def register(registry) -> None:
    registry.add_command(unigram)
    registry.add_language_model(UnigramFormat())
