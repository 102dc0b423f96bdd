"""The root `seqkit` command: core commands plus whatever the installed plugins register.

Core commands are imported lazily by name and plugins are loaded on first need, so `seqkit --help` and
shell completion stay fast and never import numba or a kernel module.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
import importlib
import os
import sys
from typing import Iterator

import click

from seqkit import __version__
from seqkit.commands import CORE_COMMANDS
from seqkit.errors import DataError, Interrupted, SeqkitError


def _load_core(name: str) -> click.Command | None:
    module_name, attribute = CORE_COMMANDS[name].split(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:  # a half-installed tree: report, keep the rest working
        print(f"seqkit: command '{name}' is unavailable: {exc}", file=sys.stderr)
        return None


class SeqkitGroup(click.Group):
    """A click group whose commands come from the core table and the plugin registry."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from seqkit.plugins import load_registry

        return sorted(set(CORE_COMMANDS) | set(load_registry().commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in CORE_COMMANDS:
            return _load_core(name)
        from seqkit.plugins import load_registry

        return load_registry().commands.get(name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.NoSuchOption:
            raise
        except click.UsageError as exc:
            name = click.utils.make_str(args[0]) if args else ""
            if name.startswith("-"):
                raise
            from seqkit.plugins import broken_plugins_note

            note = broken_plugins_note()  # the command may be one of theirs (their warnings are gone with -q)
            matches = difflib.get_close_matches(name, self.list_commands(ctx))
            if not matches:
                raise click.UsageError(exc.message + note, ctx) from None
            choices = repr(matches[0]) if len(matches) == 1 else "one of " + ", ".join(map(repr, matches))
            raise click.UsageError(f"No such command {name!r}. Did you mean {choices}?{note}", ctx) from None

    def make_context(self, *args, **kwargs) -> click.Context:
        with _plain_interrupts():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context):
        try:
            with _plain_interrupts():
                return super().invoke(ctx)
        except SeqkitError as exc:
            if exc.other_model is None:
                raise
            from seqkit.model_kinds import other_kind

            given = ctx.command.get_command(ctx, ctx.invoked_subcommand) if ctx.invoked_subcommand else None
            hint = other_kind(*exc.other_model, command=given)
            if hint is None:
                raise
            raise DataError(hint, exc.other_model[0]) from None
        except BrokenPipeError:
            # `seqkit ... | head`: the reader left. Exit quietly; silence the flush at shutdown too.
            _silence_stdout()
            raise click.exceptions.Exit(0) from None


@contextlib.contextmanager
def _plain_interrupts() -> Iterator[None]:
    """Ctrl-C becomes one `seqkit: interrupted` line (exit 130) and a stray EOFError an error (exit 1).

    click would turn both into an Abort after printing a blank line, so damaged input would pass for
    Ctrl-C; catching them before click does keeps exit 130 for SIGINT alone.
    """
    try:
        yield
    except KeyboardInterrupt:
        raise Interrupted("interrupted") from None
    except EOFError as exc:
        raise SeqkitError(f"unexpected end of input ({exc or 'EOFError'})") from None


@click.group("seqkit", cls=SeqkitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="seqkit")
def cli() -> None:
    """Word vectors, text classifiers, n-gram and recurrent language models, and sequence-to-sequence
    models from the command line.

    \b
    Examples:
      seqkit word2vec corpus.txt -o vecs.txt      train skip-gram vectors
      seqkit similar -v vecs.txt france           nearest neighbours
      seqkit analogy king man woman               king - man + woman = queen
      seqkit classify train.txt -o clf.npz        fastText-style classifier
      seqkit ngram train.txt -o lm.arpa --order 5
      seqkit perplexity -m lm.arpa test.txt

    Data goes to stdout, messages and progress to stderr; '-' is stdin/stdout.
    """


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: clean messages and exit codes instead of tracebacks."""
    from seqkit.startup import use_user_kernel_cache

    use_user_kernel_cache()
    given = sys.argv[1:] if args is None else args
    if any(a in ("-q", "--quiet") for a in given[:given.index("--") if "--" in given else None]):
        from seqkit.plugins import quiet_warnings

        quiet_warnings(True)
    try:
        code = cli.main(args=args, prog_name="seqkit", standalone_mode=False)
    except click.exceptions.Abort as exc:
        # what escaped _plain_interrupts (an answer refused at a prompt, Ctrl-C as the context closed)
        if isinstance(exc.__cause__, KeyboardInterrupt):
            Interrupted("interrupted").show()
            code = 130
        else:
            print("seqkit: error: aborted (unexpected end of input)", file=sys.stderr)
            code = 1
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except BrokenPipeError:
        _silence_stdout()
        code = 0
    except KeyboardInterrupt:
        Interrupted("interrupted").show()
        code = 130
    except MemoryError:
        print("seqkit: error: out of memory (try a smaller model, e.g. a smaller --dim or vocabulary, or a smaller "
              "input)", file=sys.stderr)
        code = 1
    except OSError as exc:
        # every output file names itself when its disk is full; an error without a name comes from stdout
        # or from a temporary file (spooled stdin, spilled counts), which only the write knew
        if exc.errno in _DISK_FULL and not exc.filename:
            import tempfile

            print(f"seqkit: error: {exc.strerror} (writing stdout, or a temporary file in {tempfile.gettempdir()})",
                  file=sys.stderr)
        else:
            print(f"seqkit: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
                  file=sys.stderr)
        code = 1
    except Exception as exc:  # noqa: BLE001 - last resort; SEQKIT_DEBUG=1 shows the traceback
        if os.environ.get("SEQKIT_DEBUG"):
            raise
        print(f"seqkit: internal error: {type(exc).__name__}: {exc} (set SEQKIT_DEBUG=1 for a traceback; "
              "please report it)", file=sys.stderr)
        code = 1
    if code in (None, 0):
        code = _flush_stdout()
    sys.exit(code if isinstance(code, int) else 0)


def _flush_stdout() -> int:
    """Flush what the command wrote to stdout, so that a full disk or a closed reader is seen: Python
    would otherwise drop the error at exit and report success over a truncated output."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has what it wanted
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        print(f"seqkit: error: stdout: cannot be written ({exc.strerror or exc})", file=sys.stderr)
        return 1
    return 0
