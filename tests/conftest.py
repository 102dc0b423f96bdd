"""Shared fixtures: run the CLI in-process (click's runner) or as a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from seqkit.plugins import reset_registry
from seqkit.startup import use_user_kernel_cache

use_user_kernel_cache()  # the in-process runs share the compiled kernels of the subprocess runs

ROOT = Path(__file__).resolve().parent.parent
# the shared data sets: $SEQKIT_TEST_DATA, else ../shared/data beside the project
DATA = Path(os.environ.get("SEQKIT_TEST_DATA") or ROOT.parent / "shared" / "data")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _fresh_plugin_registry():
    """Each test discovers plugins anew, so injected test plugins never leak between tests."""
    reset_registry()
    yield
    reset_registry()


@pytest.fixture
def cli_run():
    """Invoke `seqkit ARGS...` through click's runner; returns the click Result (stdout/stderr apart)."""
    from seqkit.cli import cli

    def run(*args: str, input: str | bytes | None = None, env: dict | None = None):
        return CliRunner().invoke(cli, [str(a) for a in args], input=input, env=env, catch_exceptions=False)

    return run


@pytest.fixture
def seqkit_proc():
    """Run `python -m seqkit ARGS...` in a real subprocess."""

    def run(*args: str, input: bytes | str | None = None, env: dict | None = None, timeout: float = 300,
            cwd: str | None = None) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        full_env.pop("SEQKIT_LOAD_PLUGINS", None)
        full_env.pop("SEQKIT_VECTORS", None)
        if env:
            full_env.update(env)
        if isinstance(input, str):
            input = input.encode()
        return subprocess.run([sys.executable, "-m", "seqkit", *map(str, args)], input=input,
                              capture_output=True, env=full_env, timeout=timeout, cwd=cwd)

    return run


def require_data(*parts: str) -> Path:
    """A file of the shared data; without it the test is skipped, except under CI=true, where it fails."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        message = f"shared data not available: {path} (set SEQKIT_TEST_DATA or put shared/data beside the project)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def small_training_problem(seed: int, n_ids: int, offsets: list[int], vocab: int = 12, dim: int = 8):
    """A tiny random word2vec problem for kernel-versus-reference tests.

    Returns (counts, ids, offsets, syn0, syn1neg): counts sorted as a vocabulary's, ids drawn from it,
    syn0 in [-0.5, 0.5) and syn1neg in [0, 0.2) so that every update is visible.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    counts = np.sort(rng.integers(1, 50, vocab))[::-1].astype(np.int64)
    ids = rng.integers(0, vocab, n_ids).astype(np.int32)
    syn0 = (rng.random((vocab, dim), dtype=np.float32) - 0.5).astype(np.float32)
    syn1neg = (rng.random((vocab, dim), dtype=np.float32) * 0.2).astype(np.float32)
    return counts, ids, np.array(offsets, dtype=np.int64), syn0, syn1neg


def ask_while_open(args, first: bytes, then: bytes = b"") -> tuple[bytes | None, bytes, int]:
    """Run `python -m seqkit ARGS` as a co-process: write `first`, and with its input still open wait (at
    most 120 s) for one line of answer; then write `then`, close the input and read the rest. Returns
    (the first answer, or None if none came while the input was open; the rest of stdout; the exit code)."""
    import select

    proc = subprocess.Popen([sys.executable, "-m", "seqkit", *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        proc.stdin.write(first)
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 120)
        answer = proc.stdout.readline() if ready else None
        proc.stdin.write(then)
        proc.stdin.close()
        return answer, proc.stdout.read(), proc.wait(120)
    finally:
        proc.kill()
        proc.wait()

