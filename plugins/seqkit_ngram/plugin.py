"""`seqkit ngram` and the ARPA language-model format (light imports only)."""

from __future__ import annotations

import math
import os

import click

from seqkit.options import check_engine, engine_options, errors_option, max_sentence_len_option, quiet_option

name = "ngram"
version = "0.1.0"


def parse_prune(value: str | None, order: int) -> list[int] | None:
    """lmplz's --prune rules: integers >= 0, at most one per order, non-decreasing (otherwise a kept
    n-gram could lose its context), unigrams unpruned; the last value repeats up to the model's order."""
    if value is None:
        return None
    fields = value.replace(",", " ").split()
    bad = [f for f in fields if not (f.isascii() and f.isdigit())]
    if not fields or bad:
        raise click.BadParameter(f"{(bad or [value])[0]!r} is not a count threshold (integers >= 0, e.g. '0,0,1')",
                                 param_hint="--prune")
    thresholds = [int(f) for f in fields]
    if len(thresholds) > order:
        raise click.BadParameter(f"{len(thresholds)} thresholds given but the model has order {order}",
                                 param_hint="--prune")
    if thresholds[0] != 0:
        raise click.BadParameter("unigrams cannot be pruned: the first threshold must be 0", param_hint="--prune")
    if any(b < a for a, b in zip(thresholds, thresholds[1:])):
        raise click.BadParameter(f"thresholds must be non-decreasing ({value}); otherwise a kept n-gram "
                                 "could lose its context", param_hint="--prune")
    return thresholds + [thresholds[-1]] * (order - len(thresholds))


class MemorySize(click.ParamType):
    """A size like lmplz's -S / GNU sort's -S: a number and a unit b, K, M, G, T (powers of 1024) or %
    of physical memory; no unit means K."""

    name = "size"
    UNITS = {"b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

    def convert(self, value, param, ctx) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip()
        unit = text[-1:].lower() if text[-1:].isalpha() or text.endswith("%") else "k"
        number = text[:-1] if unit != "k" or text[-1:].lower() == "k" else text
        try:
            amount = float(number)
        except ValueError:
            amount = float("nan")
        if not math.isfinite(amount):
            self.fail(f"{value!r} is not a size (e.g. 500M, 4G, 25%)", param, ctx)
        if unit == "%":
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            size = int(total * amount / 100)
        elif unit in self.UNITS:
            size = int(amount * self.UNITS[unit])
        else:
            self.fail(f"{value!r} has an unknown unit (use b, K, M, G, T or %)", param, ctx)
        if size < 1:
            self.fail(f"{value!r} is not a positive size", param, ctx)
        return size


@click.command(short_help="Estimate an n-gram language model (modified Kneser-Ney by default) as ARPA.")
@click.argument("corpus", nargs=-1, required=True, metavar="CORPUS...")
@click.option("-o", "--output", required=True, metavar="PATH",
              help="Model to write: ARPA text (.gz/.bz2/.xz ok; '-' = stdout), or seqkit's memory-mapped binary "
                   "format for a .bin PATH or with --binary.")
@click.option("--binary/--arpa", "binary", default=None,
              help="Write seqkit's binary format (loads in milliseconds) or ARPA text. [default: by PATH's suffix]")
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
              help="Keep only the N most frequent words; the rest become <unk>. Counting holds at most "
                   "2N words at a time (as word2vec.c), pruning the rarest (reported).")
@click.option("--prune", metavar="T1,T2,...", default=None,
              help="Drop n-grams seen at most T times, one threshold per order (as lmplz --prune): "
                   "non-decreasing, the last repeats for higher orders, unigrams cannot be pruned (T1 = 0). "
                   "'0,0,1' drops singleton trigrams and above. Their probability goes to the back-off.")
@click.option("-S", "--memory", type=MemorySize(), default=None, metavar="SIZE",
              help="Memory for the whole run, like lmplz -S: 500M, 4G, 25% (a bare number is KiB). A model "
                   "that outgrows it is counted, built, smoothed and written from sorted temporary files, a "
                   "slice at a time (the same file). [default: 50%]")
@click.option("-T", "--temp-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Directory for those temporary files (removed afterwards). [default: $TMPDIR or /tmp]")
@errors_option
@max_sentence_len_option
@engine_options
@quiet_option
def ngram(corpus, output, binary, order, smoothing, add_k, discount_fallback, min_count, max_vocab, prune, memory,
          temp_dir, errors, max_sentence_len, engine, scheduler, quiet) -> None:
    """Count the n-grams of CORPUS (one sentence per line; <s> and </s> are added) and write an ARPA
    language model that KenLM and SRILM read.

    Unknown words: a literal <unk> in the training text is counted like any other word and becomes the
    model's unknown-word entry, so words never seen in training get <unk>'s probability when scoring.
    Without <unk> in the text the model still lists <unk> (as lmplz does), with the probability mass
    interpolation gives it. --min-count and --max-vocab turn rare words into <unk>.
    """
    given = click.get_current_context().get_parameter_source
    if given("add_k") == click.core.ParameterSource.COMMANDLINE and smoothing != "addk":
        raise click.UsageError(f"-k is the k of --smoothing addk; --smoothing {smoothing} does not use it")
    if discount_fallback and smoothing not in ("mkn", "kn"):
        raise click.UsageError(f"--discount-fallback is for Kneser-Ney discounts; --smoothing {smoothing} has none")
    thresholds = parse_prune(prune, order)
    check_engine(engine, scheduler)
    from seqkit_ngram.command import run

    run(corpus=list(corpus), output=output, order=order, smoothing=smoothing, add_k=add_k,
        discount_fallback=discount_fallback, min_count=min_count, max_vocab=max_vocab, errors=errors,
        max_sentence_len=max_sentence_len, quiet=quiet, prune=thresholds, memory=memory, temp_dir=temp_dir,
        binary=output.endswith(".bin") if binary is None else binary, engine=engine, scheduler=scheduler)


@click.command("ngram-convert", short_help="Convert an n-gram model between ARPA and seqkit's binary format.")
@click.argument("source", metavar="IN")
@click.argument("target", metavar="OUT", required=False)
@click.option("--to", "to", type=click.Choice(["arpa", "binary"]), default=None,
              help="Output format. [default: binary for a .bin OUT, else ARPA]")
@click.option("--verify", is_flag=True,
              help="Only check IN: every entry of a binary model against its checksum (loading checks the "
                   "header, vocabulary and sizes, not the tables), or a whole ARPA file; no OUT.")
@quiet_option
def ngram_convert(source: str, target: str | None, to: str | None, verify: bool, quiet: bool) -> None:
    """Read IN (ARPA text, compressed or not, or seqkit's binary format: recognised by its first bytes)
    and write OUT (`seqkit convert IN OUT` does the same for an n-gram model). The binary format is
    memory-mapped by `perplexity` and `generate` and holds the ARPA's numbers bit for bit; converting
    back writes them with six decimals, as every ARPA file seqkit writes (lmplz's precision), and -inf as
    -inf. Reading a binary model here checks every entry."""
    if verify:
        if target is not None or to is not None:
            raise click.UsageError("--verify checks IN only: give no OUT and no --to")
        from seqkit_ngram.convert import check

        check(source, quiet)
        return
    if target is None:
        raise click.UsageError("missing argument 'OUT'")
    from seqkit_ngram.convert import convert

    convert(source, target, to or ("binary" if target.endswith(".bin") else "arpa"), quiet)


def convert_model(source: str, target: str, to: str | None, quiet: bool) -> None:
    """`seqkit convert IN OUT` for an n-gram model: ARPA unless OUT ends in .bin or `--to binary`."""
    if to not in (None, "arpa", "binary"):
        raise click.UsageError(f"--to {to} is a vector format; an n-gram model converts to arpa or binary")
    from seqkit_ngram.convert import convert

    from seqkit.textio import base_name

    if to is None and base_name(target).endswith((".skv", ".npz", ".vec")):
        raise click.UsageError(f"{target}: a vector or model file name for an n-gram model; name it .arpa (ARPA "
                               "text) or .bin (binary), or give --to")
    binary = to == "binary" or (to is None and target.endswith(".bin"))
    convert(source, target, "binary" if binary else "arpa", quiet)


class BinaryFormat:
    """seqkit's binary n-gram format, recognised by its magic bytes whatever the file's name."""

    name = "ngram-binary"

    def sniff(self, path: str) -> bool:
        from seqkit_ngram.binary import is_binary

        return is_binary(path)

    def load(self, path: str):
        import numpy as np

        from seqkit_ngram.binary import read_binary
        from seqkit_ngram.model import NgramModel
        from seqkit.startup import no_blas_probe

        model = NgramModel(read_binary(path))
        with no_blas_probe():  # the first kernel call here, not in the text reader: no scipy.linalg import
            model.word_ids(np.zeros(0, dtype=np.uint8), np.zeros(1, dtype=np.int64))
        return model

    def convert(self, source: str, target: str, to: str | None, quiet: bool) -> None:
        convert_model(source, target, to, quiet)


class ArpaFormat:
    """ARPA text (optionally compressed): recognised by suffix or by a leading \\data\\ line."""

    name = "arpa"

    def sniff(self, path: str) -> bool:
        """ARPA text: `\\data\\` first after comments. A damaged text file named *.arpa or *.lm is claimed too,
        so that the ARPA reader names what is wrong with it; a binary file of that name is not."""
        from seqkit.textio import base_name, open_input

        try:
            with open_input(path, binary=True) as handle:
                head = handle.read(4096).removeprefix(b"\xef\xbb\xbf")
        except Exception:  # noqa: BLE001 - sniffing must never fail loudly
            return False
        lines = [line.strip() for line in head.split(b"\n") if line.strip() and not line.startswith(b"#")]
        if lines and lines[0] == b"\\data\\":
            return True
        return base_name(path).endswith((".arpa", ".lm")) and b"\0" not in head and not head.startswith(b"PK\x03\x04")

    def load(self, path: str):
        from seqkit_ngram.arpa import read_arpa
        from seqkit_ngram.model import NgramModel
        from seqkit.startup import no_blas_probe

        with no_blas_probe():  # building the tables makes the first kernel call: no scipy.linalg import
            return NgramModel(read_arpa(path))

    def convert(self, source: str, target: str, to: str | None, quiet: bool) -> None:
        convert_model(source, target, to, quiet)


def register(registry) -> None:
    registry.add_command(ngram)
    registry.add_command(ngram_convert)
    registry.add_language_model(ArpaFormat())
    registry.add_language_model(BinaryFormat())
