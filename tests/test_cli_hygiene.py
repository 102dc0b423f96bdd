"""Contract checks that hold for every command, core or plugin: help, lazy imports, stdout hygiene."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from seqkit.cli import CORE_COMMANDS


def all_command_names() -> list[str]:
    from seqkit.plugins import discover

    return sorted(set(CORE_COMMANDS) | set(discover(reserved=CORE_COMMANDS).commands))


@pytest.mark.parametrize("name", all_command_names())
def test_every_command_has_working_help(name, cli_run):
    result = cli_run(name, "--help")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: seqkit {name}")
    assert result.stderr == ""


def _leaf_commands():
    """(path, command) of every command that runs (a group's subcommands, not the group)."""
    import click

    from seqkit.cli import cli

    ctx = click.Context(cli)
    todo = [((name,), cli.get_command(ctx, name)) for name in all_command_names()]
    while todo:
        path, command = todo.pop()
        if isinstance(command, click.Group):
            todo += [((*path, name), command.get_command(ctx, name)) for name in command.list_commands(ctx)]
        else:
            yield " ".join(path), command


@pytest.mark.parametrize("path,command", sorted(((p, c) for p, c in _leaf_commands() if p != "demo"),
                                                 key=lambda x: x[0]), ids=lambda x: str(x))
def test_every_command_takes_quiet(path, command):
    """The contract's `--quiet` (stderr empty unless an error) is accepted everywhere, as -q (but by the
    demo, whose output is the commands it shows)."""
    quiet = [p for p in command.params if p.name == "quiet"]
    assert quiet and "-q" in quiet[0].opts and "--quiet" in quiet[0].opts, path


@pytest.mark.parametrize("entry", sorted(e.value for e in metadata.entry_points(group="seqkit.plugins")))
def test_plugin_modules_import_no_kernels(entry):
    code = (f"import sys, importlib; importlib.import_module({entry!r}); "
            "print(','.join(m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite')"
            " or m.endswith('.kernels')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""


def test_help_lists_every_command(cli_run):
    out = cli_run("--help").stdout
    for name in all_command_names():
        assert f"  {name} " in out


def _modules_after(args: list[str]) -> tuple[int, str]:
    """Exit code of `seqkit ARGS` run in a fresh interpreter, and the numba or kernel modules it imported."""
    code = ("import sys\nfrom seqkit.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n"
            "    heavy = ','.join(m for m in sys.modules if m.split('.')[0] in ('numba', 'llvmlite')"
            " or m.endswith('kernels'))\n"
            "    sys.stderr.write(f'\\nexit={exc.code} heavy={heavy}')\n")
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    exit_code, heavy = proc.stderr.rsplit("\nexit=", 1)[1].split(" heavy=")
    return int(exit_code), heavy


@pytest.mark.parametrize("typo,meant", [("word2vc", "word2vec"), ("perplexty", "perplexity"), ("ngrm", "ngram")])
def test_misspelled_command_gets_a_suggestion(cli_run, typo, meant):
    """Core (perplexity) and plugin (word2vec, ngram) commands are both suggested."""
    result = cli_run(typo)
    assert result.exit_code == 2
    assert result.stderr.endswith(f"Error: No such command '{typo}'. Did you mean '{meant}'?\n")
    assert result.stderr.startswith("Usage: seqkit ")
    assert result.stdout == ""


def test_unknown_command_without_a_close_match_is_plain(cli_run):
    result = cli_run("xyzzy")
    assert result.exit_code == 2 and result.stderr.endswith("Error: No such command 'xyzzy'.\n")


@pytest.mark.parametrize("args", [["word2vc"], ["--help"]], ids=["misspelled", "help"])
def test_suggestion_and_help_import_no_numba(args):
    exit_code, heavy = _modules_after(args)
    assert exit_code == (2 if args == ["word2vc"] else 0)
    assert heavy == ""
