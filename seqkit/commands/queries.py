"""What every query command over a vector file shares: where queries come from, how words are matched.

Queries are the command's arguments, else lines of stdin: a pipe is read to its end, a terminal gets an
interactive prompt on stderr (as fastText's `nn` and `analogies`), ended by Ctrl-D. Every command words
an unknown query word the same way, through `WordLookup.report`.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable, Iterator

import click

IGNORE_CASE_OPTION = click.option(
    "-i", "--ignore-case", is_flag=True,
    help="Match each query word to the most frequent vocabulary word equal to it ignoring case "
         "(gensim's case_insensitive).")


MODEL_OPTION = click.option(
    "-m", "--model", "model", metavar="MODEL", default=None,
    help="A subword model (fastText .bin, seqkit subword .npz) instead of -v: every word gets a vector, "
         "unseen ones from their character n-grams.")


def load_vectors(vectors: str, errors: str = "strict", quiet: bool = False, model: str | None = None):
    from seqkit.progress import Reporter
    from seqkit.vectors import Embeddings

    if model is not None:
        from click.core import ParameterSource

        context = click.get_current_context(silent=True)
        if context is not None and context.get_parameter_source("vectors") is ParameterSource.COMMANDLINE:
            raise click.UsageError("-m MODEL and -v VECTORS are alternatives: give one of them")
        from seqkit.subword import model_embeddings

        return model_embeddings(model)
    return Embeddings.load(vectors, errors=errors, reporter=Reporter(quiet))


def split_words(line: str) -> list[str]:
    """Words separated by ASCII spaces or tabs only: a vocabulary word may contain a no-break space."""
    return [w for w in line.rstrip("\r\n").replace("\t", " ").split(" ") if w]


def stdin_queries(prompt: str, errors: str = "strict") -> Iterator[list[str]]:
    """Each non-empty line of stdin as a list of words; on a terminal, `prompt` on stderr before each."""
    from seqkit.textio import LineDecoder, stdin_is_terminal

    raw = sys.stdin.buffer
    interactive = stdin_is_terminal()
    decode = LineDecoder("-", errors)
    while True:
        if interactive:
            click.echo(prompt, nl=False, err=True)
        line = raw.readline()
        if not line:  # end of input (Ctrl-D on a terminal)
            if interactive:
                click.echo(err=True)  # leave the shell's prompt on a line of its own
            return
        words = split_words(decode(line))
        if words:
            yield words


def dash_means_stdin(ctx, param, words: tuple[str, ...]) -> tuple[str, ...]:
    """A click callback: a lone `-` among the query words means "read the queries from stdin", as `-`
    means stdin everywhere."""
    return () if words == ("-",) else words


def queries(arguments: Iterable[list[str]] | None, prompt: str, vectors: str,
            errors: str) -> tuple[Iterable[list[str]], bool]:
    """The queries of the arguments if any, else of stdin; and whether they come from a terminal."""
    from seqkit.textio import stdin_is_terminal

    if arguments is not None:
        return arguments, False
    if vectors == "-":
        raise click.UsageError("the vectors come from stdin (-v -), so give the query words as arguments")
    return stdin_queries(prompt, errors), stdin_is_terminal()


class WordLookup:
    """Query words -> vocabulary words, exactly or ignoring case; unknown words reported one line each."""

    def __init__(self, emb, ignore_case: bool = False, quiet: bool = False):
        self.emb = emb
        self.ignore_case = ignore_case
        self._caseless: dict[str, str] | None = None
        self.unknown = 0
        self.quiet = quiet
        self.held: list[str] = []  # with --quiet: the reports, shown only if the run fails for want of answers

    def caseless(self) -> dict[str, str]:
        """Upper-cased word -> its most frequent case variant; built on first need (a pass over the words)."""
        if self._caseless is None:
            self._caseless = {}
            for word in self.emb.words:
                self._caseless.setdefault(word.upper(), word)  # rows are most frequent first
        return self._caseless

    def find(self, word: str) -> str | None:
        """The vocabulary word answering for `word`, or None after reporting it on stderr."""
        found = self.caseless().get(word.upper()) if self.ignore_case else None
        if found is None and word in self.emb:  # exact, or a model's vector from n-grams for an unseen word
            found = word
        if found is None:
            self.report(word)
        return found

    def find_all(self, words: Iterable[str]) -> list[str] | None:
        """Every word found, or None when any is unknown (each unknown one reported)."""
        found = [self.find(w) for w in words]
        return None if any(f is None for f in found) else found  # type: ignore[return-value]

    def report(self, word: str) -> None:
        self.unknown += 1
        message = f"seqkit: {not_in_vectors(word, None if self.ignore_case else self.caseless().get(word.upper()))}"
        if self.quiet:
            self.held.append(message)
        else:
            click.echo(message, err=True)


def not_in_vectors(word: str, suggestion: str | None = None) -> str:
    """The one wording of an unknown query word, with the cased form the vectors hold if there is one."""
    message = f"{word!r} is not in the vectors"
    if suggestion is not None and suggestion != word:
        message += f"; did you mean {suggestion!r}?"
    return message


def bad_query(expected: str, words: list[str]) -> None:
    """Report a stdin line of the wrong shape (the run goes on with the next line)."""
    click.echo(f"seqkit: expected {expected}, got {' '.join(words)!r}", err=True)


def answer_all(items: Iterable, answer: Callable[..., bool], interactive: bool = False,
               lookup: WordLookup | None = None) -> None:
    """Run `answer` on every query; exit 1 when there were queries and none could be answered (then the
    unknown words `lookup` held back under --quiet are shown: they are the error).

    A terminal session always ends with 0 at Ctrl-D: its failures were seen as they happened.
    """
    asked = answered = 0
    for item in items:
        asked += 1
        answered += bool(answer(item))
    if asked and not answered and not interactive:
        for message in lookup.held if lookup is not None else ():
            click.echo(message, err=True)
        sys.exit(1)


def echo_rows(rows: Iterable[tuple[str, str, float]]) -> None:
    """The shape every query command prints: `query<TAB>answer<TAB>score`."""
    for query, answer, score in rows:
        click.echo(f"{query}\t{answer}\t{score:.6f}")
