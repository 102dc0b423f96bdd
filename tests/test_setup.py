"""The two set-up commands: `make demo` installs the runtime only, `make test` adds the test extras."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import ROOT

needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def planned(target: str, tmp_path) -> str:
    """The commands `make TARGET` would run for a fresh virtualenv (dry run, nothing installed)."""
    venv = tmp_path / "venv"
    return subprocess.run(["make", "-n", "-C", str(ROOT), target, f"VENV={venv}"], capture_output=True, text=True,
                          check=True).stdout


@needs_make
def test_make_demo_installs_the_runtime_without_test_extras(tmp_path):
    commands = planned("demo", tmp_path)
    assert "pip install --quiet -e ." in commands and "seqkit demo" in commands
    assert "[test]" not in commands and "[bench]" not in commands


@needs_make
def test_make_test_installs_the_test_extras_and_runs_pytest(tmp_path):
    commands = planned("test", tmp_path)
    assert "pip install --quiet -e '.[test]'" in commands and "pytest" in commands


def test_the_license_file_matches_the_package_metadata():
    from importlib import metadata

    # the installed package's metadata, which pyproject.toml's `license` becomes
    info = metadata.metadata("seqkit")
    assert "MIT" in (info.get("License-Expression") or info.get("License") or "")
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
