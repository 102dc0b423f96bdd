"""gensim's `similarity` and `doesnt_match` as commands: `seqkit similarity W1 W2` and `seqkit outlier W...`."""

from __future__ import annotations

import click

from seqkit.commands.queries import (IGNORE_CASE_OPTION, MODEL_OPTION, WordLookup, answer_all, bad_query,
                                     dash_means_stdin, echo_rows, load_vectors, queries)
from seqkit.options import errors_option, quiet_option, vectors_option


def unit_rows(emb, words: list[str]):
    """The words' vectors scaled to unit length in float64 (a zero vector stays zero, as in gensim's unitvec).

    Only these rows are normalised: a query over a memory-mapped file never copies the whole matrix.
    """
    import numpy as np

    rows = np.array([emb.vector(w) for w in words], dtype=np.float64)  # a subword model's unseen words too
    norms = np.linalg.norm(rows, axis=1)
    return rows / np.where(norms == 0, 1.0, norms)[:, None]


@click.command(short_help="Cosine similarity of word pairs (gensim's similarity).")
@click.argument("words", nargs=-1, metavar="[W1 W2]...", callback=dash_means_stdin)
@vectors_option
@MODEL_OPTION
@IGNORE_CASE_OPTION
@errors_option
@quiet_option
def similarity(words: tuple[str, ...], vectors: str, model: str | None, ignore_case: bool, errors: str, quiet: bool) -> None:
    """Print `w1<TAB>w2<TAB>cosine` for each pair W1 W2 (the words as given).

    Without arguments (or with `-`), pairs are read from stdin, one `W1 W2` per line (space or tab); on a terminal a
    prompt asks for them until Ctrl-D. A pair with an unknown word is skipped with one line on stderr
    per unknown word; the exit code is 1 only when no pair could be answered.
    """
    if len(words) % 2:
        raise click.UsageError(f"expected pairs of words, got {len(words)} words")
    given = [list(words[i:i + 2]) for i in range(0, len(words), 2)] if words else None
    items, interactive = queries(given, "Query pair? ", vectors, errors)
    emb = load_vectors(vectors, errors, quiet, model)
    lookup = WordLookup(emb, ignore_case, quiet)

    def answer(pair: list[str]) -> bool:
        if len(pair) != 2:
            bad_query("two words `W1 W2`", pair)
            return False
        found = lookup.find_all(pair)
        if found is None:
            return False
        first, second = unit_rows(emb, found)
        echo_rows([(pair[0], pair[1], float(first @ second))])
        return True

    answer_all(items, answer, interactive, lookup)


@click.command(short_help="The word that does not match the others (gensim's doesnt_match).")
@click.argument("words", nargs=-1, metavar="[W1 W2 W3...]", callback=dash_means_stdin)
@click.option("--scores", is_flag=True, help="Print every word's cosine to the mean, the outlier first.")
@vectors_option
@MODEL_OPTION
@IGNORE_CASE_OPTION
@errors_option
@quiet_option
def outlier(words: tuple[str, ...], scores: bool, vectors: str, model: str | None, ignore_case: bool, errors: str,
            quiet: bool) -> None:
    """Print the word furthest from the mean of the words' unit vectors, as `query<TAB>word<TAB>cosine`.

    The query column is the words as given, joined by spaces; the cosine is the word's to the (unit) mean.
    With --scores, every word gets such a line, lowest cosine (the outlier) first. Unknown words are
    reported on stderr and left out, as gensim's doesnt_match ignores them. Without arguments (or with
    `-`), each line of stdin is a group of words; on a terminal a prompt asks for them until Ctrl-D. The exit code is 1
    only when no group could be answered.
    """
    import numpy as np

    if len(words) == 1:
        raise click.UsageError("expected at least two words")
    items, interactive = queries([list(words)] if words else None, "Query words? ", vectors, errors)
    emb = load_vectors(vectors, errors, quiet, model)
    lookup = WordLookup(emb, ignore_case, quiet)

    def answer(group: list[str]) -> bool:
        if len(group) < 2:
            bad_query("at least two words", group)
            return False
        used = [(typed, found) for typed, found in ((w, lookup.find(w)) for w in group) if found is not None]
        if not used:
            return False
        unit = unit_rows(emb, [found for _, found in used])
        mean = unit.mean(axis=0)
        norm = np.linalg.norm(mean)
        cosines = unit @ (mean / norm if norm > 0 else mean)
        # gensim ranks (cosine, word) tuples: ties go to the alphabetically first vocabulary word
        ranked = sorted(zip(cosines.tolist(), (found for _, found in used), (typed for typed, _ in used)))
        label = " ".join(group)
        echo_rows((label, typed, cosine) for cosine, _, typed in (ranked if scores else ranked[:1]))
        return True

    answer_all(items, answer, interactive, lookup)
