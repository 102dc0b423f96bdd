"""The root `seqkit` command: core commands plus whatever the installed plugins register.

Core commands are imported lazily by name and plugins are loaded on first need, so `seqkit --help` and
shell completion stay fast and never import numba or a kernel module.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from seqkit import __version__
from seqkit.commands import CORE_COMMANDS

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

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # `seqkit ... | head`: the reader left. Exit quietly; silence the flush at shutdown too.
            _silence_stdout()
            raise click.exceptions.Exit(0) from None


@click.group("seqkit", cls=SeqkitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="seqkit")
def cli() -> None:
    """Word embeddings, n-gram and recurrent language models from the command line.

    \b
    Examples:
      seqkit word2vec corpus.txt -o vecs.txt      train skip-gram vectors
      seqkit similar -v vecs.txt france           nearest neighbours
      seqkit analogy king man woman               king - man + woman = queen
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


def main(args: list[str] | None = None) -> None:
    """Console-script entry point: clean messages and exit codes instead of tracebacks."""
    try:
        code = cli.main(args=args, prog_name="seqkit", standalone_mode=False)
    except click.exceptions.Abort:
        # click turns Ctrl-C (and EOF at a prompt) into Abort.
        print("seqkit: interrupted", file=sys.stderr)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except BrokenPipeError:
        _silence_stdout()
        code = 0
    except KeyboardInterrupt:
        print("seqkit: interrupted", file=sys.stderr)
        code = 130
    except MemoryError:
        print("seqkit: error: out of memory (try a smaller --max-vocab, --dim or input)", file=sys.stderr)
        code = 1
    except OSError as exc:
        print(f"seqkit: error: {exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""),
              file=sys.stderr)
        code = 1
    except Exception as exc:  # noqa: BLE001 - last resort; SEQKIT_DEBUG=1 shows the traceback
        if os.environ.get("SEQKIT_DEBUG"):
            raise
        print(f"seqkit: internal error: {type(exc).__name__}: {exc} (set SEQKIT_DEBUG=1 for a traceback; "
              "please report it)", file=sys.stderr)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)
