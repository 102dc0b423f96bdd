"""Query commands over a vector file: similar, analogy, print-vectors, convert."""

from __future__ import annotations

import sys
from typing import Iterator

import click

from seqkit.options import errors_option, quiet_option, vectors_option

K_OPTION = click.option("-k", "--top", "k", type=click.IntRange(min=1), default=10, show_default=True,
                        help="How many neighbours to print.")
RESTRICT_OPTION = click.option("--restrict", type=click.IntRange(min=1), default=None,
                               help="Search only the N most frequent words (default: all).")


def _load(vectors: str, errors: str = "strict", quiet: bool = False):
    from seqkit.progress import Reporter
    from seqkit.vectors import Embeddings

    return Embeddings.load(vectors, errors=errors, reporter=Reporter(quiet))


def _stdin_words() -> Iterator[list[str]]:
    """Queries from stdin, one per line, until end of input (a terminal gets a usage error).

    Words are separated by ASCII spaces or tabs only: a word may contain a no-break space.
    """
    from seqkit.textio import open_input

    with open_input("-") as handle:
        for line in handle:
            words = [w for w in line.rstrip("\r\n").replace("\t", " ").split(" ") if w]
            if words:
                yield words


def _print_scores(results: list[tuple[str, float]], prefix: str = "") -> None:
    for word, score in results:
        click.echo(f"{prefix}{word}\t{score:.6f}")


@click.command(short_help="Nearest neighbours of words by cosine similarity.")
@click.argument("words", nargs=-1)
@vectors_option
@K_OPTION
@RESTRICT_OPTION
@errors_option
@quiet_option
def similar(words: tuple[str, ...], vectors: str, k: int, restrict: int | None, errors: str, quiet: bool) -> None:
    """Print the K nearest neighbours of each WORD as `neighbour<TAB>cosine` lines.

    With several words (or queries read from stdin when no WORD is given: one per line, or several
    separated by spaces or tabs), each line is prefixed by `query<TAB>`. An unknown word is reported
    on stderr and the exit code is 1.
    """
    emb = _load(vectors, errors, quiet)
    queries = [[w] for w in words] if words else _stdin_words()
    several = len(words) != 1
    missing = 0
    for query in queries:
        for word in query:
            if word not in emb:
                click.echo(f"seqkit: warning: '{word}' is not in the vectors", err=True)
                missing += 1
                continue
            _print_scores(emb.nearest(word, k, restrict=restrict), f"{word}\t" if several else "")
    if missing:
        sys.exit(1)


@click.command(short_help="Solve 'A is to B as C is to ?' (A - B + C, fastText's order).")
@click.argument("words", nargs=-1)
@click.option("--positive", "-p", multiple=True, help="A word to add (repeatable).")
@click.option("--negative", "-n", multiple=True, help="A word to subtract (repeatable).")
@click.option("--method", type=click.Choice(["add", "mul"]), default="add", show_default=True,
              help="3CosAdd (vector offset) or 3CosMul (Levy & Goldberg).")
@vectors_option
@K_OPTION
@RESTRICT_OPTION
@errors_option
@quiet_option
def analogy(words: tuple[str, ...], positive: tuple[str, ...], negative: tuple[str, ...], method: str,
            vectors: str, k: int, restrict: int | None, errors: str, quiet: bool) -> None:
    """Print the words closest to A - B + C, excluding the query words.

    The order is fastText's: `seqkit analogy king man woman` computes king - man + woman and prints
    `queen` first. (word2vec.c's word-analogy and gensim's question files use b - a + c instead.)
    Or name the terms: `--positive king --positive woman --negative man`. Without arguments,
    triples are read from stdin, one `A B C` per line, each answer prefixed by the triple.
    """
    if words and (positive or negative):
        raise click.UsageError("give either A B C or --positive/--negative, not both")
    if words and len(words) != 3:
        raise click.UsageError(f"expected three words A B C, got {len(words)}")
    emb = _load(vectors, errors, quiet)
    if words or positive or negative:
        if words:
            positive, negative = (words[0], words[2]), (words[1],)
        queries = [(list(positive), list(negative), "")]
    else:
        queries = ((([t[0], t[2]], [t[1]], "\t".join(t) + "\t") if len(t) == 3 else (None, t, ""))
                   for t in _stdin_words())
    failed = 0
    for pos, neg, prefix in queries:
        if pos is None:
            click.echo(f"seqkit: warning: expected `A B C`, got {' '.join(neg)!r}", err=True)
            failed += 1
            continue
        unknown = [w for w in [*pos, *neg] if w not in emb]
        if unknown:
            click.echo(f"seqkit: warning: not in the vectors: {', '.join(unknown)}", err=True)
            failed += 1
            continue
        if not pos and not neg:
            raise click.UsageError("nothing to compute: give A B C or --positive/--negative")
        _print_scores(emb.analogy(pos, neg, k, method=method, restrict=restrict), prefix)
    if failed:
        sys.exit(1)


@click.command("print-vectors", short_help="Print the vectors of words (arguments or stdin).")
@click.argument("words", nargs=-1)
@vectors_option
@errors_option
@quiet_option
def print_vectors(words: tuple[str, ...], vectors: str, errors: str, quiet: bool) -> None:
    """Print `word v1 ... vD` for each WORD (or each word read from stdin).

    Unknown words are reported on stderr and skipped (there are no subword vectors to fall back on);
    the exit code is then 1, after all known words were printed.
    """
    from seqkit._vector_text_writer import text_line

    emb = _load(vectors, errors, quiet)
    queries = ([w] for w in words) if words else _stdin_words()
    missing = 0
    for query in queries:
        for word in query:
            if word not in emb:
                click.echo(f"seqkit: warning: '{word}' is not in the vectors", err=True)
                missing += 1
                continue
            click.echo(text_line(word, emb.vector(word)), nl=False)
    if missing:
        sys.exit(1)


@click.command(short_help="Convert between vector file formats.")
@click.argument("source", metavar="IN")
@click.argument("target", metavar="OUT")
@click.option("--to", "to", type=click.Choice(["text", "binary", "glove"]), default=None,
              help="Output format (default: binary for a .bin OUT, else word2vec text).")
@click.option("--from", "source_format", type=click.Choice(["auto", "text", "binary", "glove"]), default="auto",
              show_default=True, help="Input format.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Keep only the first N vectors.")
@errors_option
@quiet_option
def convert(source: str, target: str, to: str | None, source_format: str, limit: int | None, errors: str,
            quiet: bool) -> None:
    """Read IN (any supported format, compressed or '-') and write OUT (.gz/.bz2/.xz or '-').

    Formats: word2vec text (`N D` header), word2vec binary (little-endian float32, as word2vec.c and
    gensim read it), GloVe text (no header).
    """
    from seqkit.progress import Reporter
    from seqkit.textio import check_output_path
    from seqkit.vectors import Embeddings, sniff_format

    check_output_path(target, (source,), param_hint="'OUT'")
    reporter = Reporter(quiet)
    emb = Embeddings.load(source, source_format, errors=errors, limit=limit, reporter=reporter)
    fmt = to or sniff_format(target)
    emb.save(target, fmt=fmt)
    reporter.summary(f"convert: {len(emb):,} vectors of dimension {emb.dim} written as {fmt}")
