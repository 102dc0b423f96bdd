"""Errors users see as one clean line on stderr instead of a traceback.

They subclass click.ClickException so click's standalone mode (and its test runner) turns them into a
message and an exit code the same way everywhere.
"""

from __future__ import annotations

import sys

import click


class SeqkitError(click.ClickException):
    """A runtime or data problem the user can fix: printed as `seqkit: error: ...`, exit 1."""

    exit_code = 1
    # (path, the FORMAT_KINDS key expected or None for vectors, what the message should say was wanted):
    # the file may be a model of another kind, which the CLI then names (`seqkit.model_kinds`)
    other_model: tuple[str, str | None, str | None] | None = None

    def show(self, file=None) -> None:  # noqa: D102 - click's hook
        click.echo(f"seqkit: error: {self.format_message()}", err=True)

    def maybe_other_model(self, path: str, expected: str | None = None, wanted: str | None = None) -> "SeqkitError":
        """Mark the error as being about a file that may be a model of another kind than `expected`."""
        self.other_model = (path, expected, wanted)
        return self


class DataError(SeqkitError):
    """Malformed input, located by file and line when known."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.path, self.line = path, line
        where = ""
        if path is not None:
            where = f"{display_path(path)}:{line}: " if line is not None else f"{display_path(path)}: "
        super().__init__(where + message)


class TrainingDiverged(SeqkitError):
    """The loss became non-finite; the caller kept the last good state."""

    exit_code = 3

    @staticmethod
    def kept(path: str, epochs_done: int) -> str:
        """What a diverged run leaves, for its message: a file of this run's only once an epoch finished
        (before that, a file at `path` is an earlier run's)."""
        return f"the last good model is in {path}" if epochs_done else "no epoch had finished, so no model was saved"

    @staticmethod
    def remedy(clip: float, lr: str = "--lr") -> str:
        """What to change, for its message: the rate, and the clipping threshold, or turning clipping on."""
        return f"lower {lr} or --clip" if clip > 0 else f"lower {lr}, or clip the gradient (--clip 5; it is off)"


class Interrupted(SeqkitError):
    """Ctrl-C: whatever could be saved was saved. The message starts with "interrupted"."""

    exit_code = 130

    def show(self, file=None) -> None:  # noqa: D102 - click's hook
        # on a terminal the line starts after the echoed ^C; elsewhere stderr holds exactly one line
        lead = "\n" if _is_terminal(sys.stderr) else ""
        click.echo(f"{lead}seqkit: {self.format_message()}", err=True)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


_SHOWN_AS: dict[str, str] = {}  # a temporary file's name in messages (stdin spooled for several passes)


def show_as(path: str, name: str) -> None:
    """Name `path` as `name` in every located error (a spooled copy of stdin is `<stdin>` to the user)."""
    _SHOWN_AS[str(path)] = name


def display_path(path: str) -> str:
    """How messages name a file: `<stdin>` for `-` and for stdin's spooled copy."""
    return "<stdin>" if path == "-" else _SHOWN_AS.get(str(path), str(path))
