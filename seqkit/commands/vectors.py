"""Query commands over a vector file: similar, analogy, print-vectors, convert."""

from __future__ import annotations

import click

from seqkit.commands.queries import (IGNORE_CASE_OPTION, MODEL_OPTION, WordLookup, answer_all, bad_query,
                                     dash_means_stdin, echo_rows, load_vectors, queries)
from seqkit.options import errors_option, quiet_option, vectors_option

K_OPTION = click.option("-k", "--top", "k", type=click.IntRange(min=1), default=10, show_default=True,
                        help="How many neighbours to print.")
RESTRICT_OPTION = click.option("--restrict", type=click.IntRange(min=1), default=None,
                               help="Search only the N most frequent words (default: all).")


@click.command(short_help="Nearest neighbours of words by cosine similarity.")
@click.argument("words", nargs=-1, callback=dash_means_stdin)
@vectors_option
@MODEL_OPTION
@K_OPTION
@RESTRICT_OPTION
@IGNORE_CASE_OPTION
@errors_option
@quiet_option
def similar(words: tuple[str, ...], vectors: str, model: str | None, k: int, restrict: int | None,
            ignore_case: bool, errors: str, quiet: bool) -> None:
    """Print the K nearest neighbours of each WORD as `query<TAB>neighbour<TAB>cosine` lines.

    The shape is the same for one query or many, so `cut -f2` is always the neighbour. Without WORD
    (or with `-`), queries are read from stdin (one per line, or several separated by spaces or tabs); on a terminal
    a prompt asks for them until Ctrl-D. An unknown word gets one line on stderr; the exit code is 1
    only when no query could be answered.
    """
    _each_word(words, vectors, model, ignore_case, errors, quiet, lambda emb, word, found: echo_rows(
        (word, neighbour, score) for neighbour, score in emb.nearest(found, k, restrict=restrict)))


@click.command(short_help="Solve 'A is to B as C is to ?' (A - B + C, fastText's order).")
@click.argument("words", nargs=-1, callback=dash_means_stdin)
@click.option("--positive", "-p", multiple=True, help="A word to add (repeatable).")
@click.option("--negative", "-n", multiple=True, help="A word to subtract (repeatable).")
@click.option("--method", type=click.Choice(["add", "mul"]), default="add", show_default=True,
              help="3CosAdd (vector offset) or 3CosMul (Levy & Goldberg).")
@vectors_option
@MODEL_OPTION
@K_OPTION
@RESTRICT_OPTION
@IGNORE_CASE_OPTION
@errors_option
@quiet_option
def analogy(words: tuple[str, ...], positive: tuple[str, ...], negative: tuple[str, ...], method: str,
            vectors: str, model: str | None, k: int, restrict: int | None, ignore_case: bool, errors: str, quiet: bool) -> None:
    """Print the words closest to A - B + C, excluding the query words, as `query<TAB>answer<TAB>cosine`.

    The order is fastText's: `seqkit analogy king man woman` computes king - man + woman and prints
    `king man woman<TAB>queen<TAB>...` first. (word2vec.c's word-analogy and gensim's question files use
    b - a + c instead.) The query column is `A B C` joined by spaces, or for named terms
    (`--positive king --positive woman --negative man`) `+king +woman -man`. Without arguments (or with
    `-`), triples are read from stdin, one `A B C` per line; on a terminal a prompt asks for them until Ctrl-D. The exit
    code is 1 only when no query could be answered.
    """
    if words and (positive or negative):
        raise click.UsageError("give either A B C or --positive/--negative, not both")
    if words and len(words) != 3:
        raise click.UsageError(f"expected three words A B C, got {len(words)}")
    given = None
    if words:
        given = [list(words)]
    elif positive or negative:
        given = [[*(f"+{w}" for w in positive), *(f"-{w}" for w in negative)]]
    items, interactive = queries(given, "Query triplet (A - B + C)? ", vectors, errors)
    emb = load_vectors(vectors, errors, quiet, model)
    lookup = WordLookup(emb, ignore_case, quiet)

    def answer(query: list[str]) -> bool:
        if positive or negative:
            pos, neg = list(positive), list(negative)
        elif len(query) == 3:
            pos, neg = [query[0], query[2]], [query[1]]
        else:
            bad_query("three words `A B C`", query)
            return False
        found_pos, found_neg = lookup.find_all(pos), lookup.find_all(neg)
        if found_pos is None or found_neg is None:
            return False
        label = " ".join(query)
        echo_rows((label, word, score) for word, score in
                  emb.analogy(found_pos, found_neg, k, method=method, restrict=restrict))
        return True

    answer_all(items, answer, interactive, lookup)


@click.command("print-vectors", short_help="Print the vectors of words (arguments or stdin).")
@click.argument("words", nargs=-1, callback=dash_means_stdin)
@vectors_option
@MODEL_OPTION
@IGNORE_CASE_OPTION
@errors_option
@quiet_option
def print_vectors(words: tuple[str, ...], vectors: str, model: str | None, ignore_case: bool, errors: str,
                  quiet: bool) -> None:
    """Print `word v1 ... vD` (a word2vec text line) for each WORD as given, or each word read from stdin
    (no WORD, or `-`).

    Unknown words get one line on stderr and are skipped; with -m MODEL (fastText .bin, seqkit subword
    .npz) an unseen word gets its vector from its character n-grams, as fastText's print-word-vectors.
    The exit code is 1 only when no word could be printed.
    """
    from seqkit.vector_text import text_line

    _each_word(words, vectors, model, ignore_case, errors, quiet,
               lambda emb, word, found: click.echo(text_line(word, emb.vector(found)), nl=False))


def _each_word(words, vectors, model, ignore_case: bool, errors: str, quiet: bool, respond) -> None:
    """One-word queries (arguments, else stdin or a prompt): `respond(table, word, found)` for each word the
    table has; one line on stderr for each it lacks, exit 1 when none was answered."""
    items, interactive = queries([[w] for w in words] if words else None, "Query word? ", vectors, errors)
    emb = load_vectors(vectors, errors, quiet, model)
    lookup = WordLookup(emb, ignore_case, quiet)

    def answer(word: str) -> bool:
        found = lookup.find(word)
        if found is not None:
            respond(emb, word, found)
        return found is not None

    answer_all((word for query in items for word in query), answer, interactive, lookup)


@click.command(short_help="Convert between vector file formats.")
@click.argument("source", metavar="IN")
@click.argument("target", metavar="OUT")
@click.option("--to", "to", type=click.Choice(["text", "binary", "glove", "fast", "fasttext-bin", "subword", "arpa"]),
              default=None, help="Output format (default: fast for a .skv OUT, binary for a .bin OUT, else "
                                 "word2vec text; for a subword model IN, a .bin or .npz OUT is the whole model, "
                                 "fasttext-bin or subword); fasttext-bin and subword need a subword model IN; "
                                 "an n-gram model IN converts to arpa or binary.")
@click.option("--from", "source_format", type=click.Choice(["auto", "text", "binary", "glove"]), default="auto",
              show_default=True, help="Input format.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Keep only the first N vectors.")
@click.option("--dtype", type=click.Choice(["float32", "float16"]), default="float32", show_default=True,
              help="Value type of a .skv OUT (float16: half the size; cosines change in the fourth digit).")
@errors_option
@quiet_option
def convert(source: str, target: str, to: str | None, source_format: str, limit: int | None, dtype: str,
            errors: str, quiet: bool) -> None:
    """Read IN (any supported format, compressed or '-') and write OUT (.gz/.bz2/.xz or '-').

    Formats: word2vec text (`N D` header), word2vec binary (little-endian float32, as word2vec.c and
    gensim read it), GloVe text (no header), seqkit's fast format (`.skv`: memory-mapped, loads in
    milliseconds; every vector command reads it). IN may be a subword model (fastText .bin, seqkit
    subword .npz): its vocabulary's vectors are written, or the whole model with --to fasttext-bin|subword.

    A language model IN whose format can convert (an n-gram model: ARPA text or seqkit's binary form, told
    apart by their first bytes) is converted by its plugin instead, as `seqkit ngram-convert IN OUT`.
    """
    from seqkit.progress import Reporter
    from seqkit.textio import check_output_path, require_regular_file
    from seqkit.vectors import Embeddings, sniff_format

    check_output_path(target, (source,), param_hint="'OUT'")
    require_regular_file(source, "IN")  # stdin ('-') is read once, as vectors
    if _convert_language_model(source, target, to, quiet, vector_options=limit is not None or source_format != "auto"):
        return
    if to == "arpa":
        raise click.UsageError("--to arpa needs an n-gram model IN (ARPA or seqkit's binary n-gram format)")
    reporter = Reporter(quiet)
    from seqkit import subword

    if subword.is_model(source):
        to = to or _model_format(target)
        if to in ("fasttext-bin", "subword") and (limit is not None or source_format != "auto"):
            raise click.UsageError(f"--limit and --from apply to vectors, not to a whole model (--to {to})")
        model = subword.load_vector_model(source)
        if to in ("fasttext-bin", "subword"):
            subword.save_model(model, target, to)
            reporter.summary(f"convert: a model of {len(model.words):,} words written as {to}")
            return
        emb = subword.model_embeddings(source)
        if limit is not None:
            emb = Embeddings(emb.words[:limit], emb.matrix[:limit])
    elif to in ("fasttext-bin", "subword") or (to is None and _model_format(target) == "subword"):
        raise click.UsageError(f"--to {to or 'subword'} ({'a .bin' if to == 'fasttext-bin' else 'an .npz'} OUT) needs "
                               "a subword model IN (fastText .bin or seqkit subword .npz)")
    else:
        emb = Embeddings.load(source, source_format, errors=errors, limit=limit, reporter=reporter)
    fmt = to or sniff_format(target)
    if dtype != "float32" and fmt != "fast":
        raise click.UsageError("--dtype float16 is for seqkit's fast format (a .skv OUT or --to fast)")
    emb.save(target, fmt=fmt, dtype=dtype)
    reporter.summary(f"convert: {len(emb):,} vectors of dimension {emb.dim} written as {fmt}")


def _model_format(target: str) -> str | None:
    """The model format an OUT name asks for when IN is a whole model: fastText's for .bin, seqkit's for .npz."""
    from seqkit.textio import base_name

    name = base_name(target)
    return "fasttext-bin" if name.endswith(".bin") else "subword" if name.endswith(".npz") else None


def _convert_language_model(source: str, target: str, to: str | None, quiet: bool, vector_options: bool) -> bool:
    """Hand IN to the first registered language-model format that can `convert` and recognises it (by its
    first bytes); False when none does. stdin cannot be sniffed without consuming it, so it stays vectors."""
    if source == "-":
        return False
    from seqkit.plugins import load_registry, sniffs

    registry = load_registry()
    for fmt in registry.language_models:
        convert = getattr(fmt, "convert", None)
        if callable(convert) and sniffs(registry, fmt, source):
            if vector_options:
                raise click.UsageError("--limit and --from apply to vectors, not to a language model")
            convert(source, target, to, quiet)
            return True
    return False
