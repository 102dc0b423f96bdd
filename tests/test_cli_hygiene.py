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
