"""`seqkit ngram` and the ARPA language-model format (light imports only)."""

from __future__ import annotations

import click

from seqkit.options import errors_option, max_sentence_len_option, quiet_option

name = "ngram"
version = "0.1.0"


@click.command(short_help="Estimate an n-gram language model (modified Kneser-Ney by default) as ARPA.")
@click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", required=True, metavar="PATH", help="ARPA file to write (.gz/.bz2/.xz ok; '-' = stdout).")
@click.option("--order", type=click.IntRange(min=1, max=12), default=3, show_default=True, help="Model order N.")
@click.option("--smoothing", type=click.Choice(["mkn", "kn", "wb", "addk"]), default="mkn", show_default=True,
              help="mkn: interpolated modified Kneser-Ney (KenLM lmplz's estimator); kn: interpolated "
                   "Kneser-Ney with one discount per order; wb: interpolated Witten-Bell; addk: add-k "
                   "with back-off weights that keep every distribution normalised.")
@click.option("-k", "add_k", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True,
              help="The k of add-k smoothing (1 = Laplace).")
@click.option("--discount-fallback", is_flag=True,
              help="When Kneser-Ney discounts cannot be estimated (tiny or artificial data), use lmplz's "
                   "fallback discounts 0.5 1 1.5 (printed) instead of stopping.")
@click.option("--min-count", type=click.IntRange(min=1), default=1, show_default=True,
              help="Words seen fewer times become <unk>.")
@click.option("--max-vocab", type=click.IntRange(min=1), default=None,
              help="Keep only the N most frequent words; the rest become <unk>.")
@errors_option
@max_sentence_len_option
@quiet_option
def ngram(corpus, output, order, smoothing, add_k, discount_fallback, min_count, max_vocab, errors,
          max_sentence_len, quiet) -> None:
    """Count the n-grams of CORPUS (one sentence per line; <s> and </s> are added) and write an ARPA
    language model that KenLM and SRILM read.

    Unknown words: a literal <unk> in the training text is counted like any other word and becomes the
    model's unknown-word entry, so words never seen in training get <unk>'s probability when scoring.
    Without <unk> in the text the model still lists <unk> (as lmplz does), with the probability mass
    interpolation gives it. --min-count and --max-vocab turn rare words into <unk>.
    """
    from seqkit_ngram.command import run

    run(corpus=list(corpus), output=output, order=order, smoothing=smoothing, add_k=add_k,
        discount_fallback=discount_fallback, min_count=min_count, max_vocab=max_vocab, errors=errors,
        max_sentence_len=max_sentence_len, quiet=quiet)


class ArpaFormat:
    """ARPA text (optionally compressed): recognised by suffix or by a leading \\data\\ line."""

    name = "arpa"

    def sniff(self, path: str) -> bool:
        import os

        from seqkit.textio import open_input

        base = os.path.basename(path)
        for suffix in (".gz", ".bz2", ".xz"):
            if base.endswith(suffix):
                base = base[: -len(suffix)]
        if base.endswith((".arpa", ".lm")):
            return True
        try:
            with open_input(path, binary=True) as handle:
                head = handle.read(4096)
        except Exception:  # noqa: BLE001 - sniffing must never fail loudly
            return False
        lines = [line.strip() for line in head.split(b"\n") if line.strip() and not line.startswith(b"#")]
        return bool(lines) and lines[0] == b"\\data\\"

    def load(self, path: str):
        from seqkit_ngram.arpa import read_arpa
        from seqkit_ngram.model import NgramModel

        return NgramModel(read_arpa(path))


def register(registry) -> None:
    registry.add_command(ngram)
    registry.add_language_model(ArpaFormat())
