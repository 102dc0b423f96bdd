"""The two set-up commands: `make demo` installs the runtime only, `make test` adds the test extras."""

from __future__ import annotations

import os
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


def test_compiled_kernels_are_cached_outside_the_package(tmp_path):
    """A cache beside the installed sources outlives `pip uninstall` and hides a later editable install:
    the command line caches in $XDG_CACHE_HOME/seqkit/numba (a program importing seqkit is left alone)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\nb c\n")
    done = subprocess.run([sys.executable, "-m", "seqkit", "vocab", str(corpus)], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    cached = [p.name for p in (tmp_path / "cache" / "seqkit" / "numba").rglob("*.nbi")]
    assert any(name.startswith("_reader_kernels.encode_block") for name in cached), cached
    imported = subprocess.run([sys.executable, "-c", "import seqkit, os; print(os.environ.get('NUMBA_CACHE_DIR'))"],
                              env=env, capture_output=True, text=True, check=True).stdout
    assert imported.strip() == "None"
