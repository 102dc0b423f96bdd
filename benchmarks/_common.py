"""Shared helpers for the side-by-side benchmarks: timed subprocesses with peak memory, data paths."""

from __future__ import annotations

import lzma
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
SEQKIT_PYTHON = os.environ.get("SEQKIT_PYTHON", sys.executable)
# The peers (gensim, fastText, kenlm, torch) run under $PEER_PYTHON: by default this interpreter, into
# which `pip install -e '.[bench]'` (what `make bench` does) puts them.
PEER_PYTHON = os.environ.get("PEER_PYTHON", sys.executable)


@dataclass
class Run:
    seconds: float
    peak_mib: float
    stdout: str
    stderr: str = ""


def timed(cmd: list[str], env: dict | None = None) -> Run:
    """Run a command; wall seconds and peak RSS (via GNU time) of that process alone."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as stats:
        full_env = {**os.environ, **(env or {})}
        started = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", stats.name, *cmd], env=full_env,
                              capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        peak_kib = int(stats.read().strip().splitlines()[-1])
    return Run(seconds, peak_kib / 1024, proc.stdout, proc.stderr)


def benchmark_corpus(path: Path = Path("/tmp/bench17m.txt")) -> Path:
    """The standard benchmark corpus: first 10^8 bytes of the English corpus, newlines made spaces."""
    if not path.exists() or path.stat().st_size != 100_000_000:
        with lzma.open(SHARED / "english" / "corpus.txt.xz", "rb") as source:
            data = source.read(100_000_000).replace(b"\n", b" ")
        tmp = path.with_suffix(".partial")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def seqkit_cmd(*args: str) -> list[str]:
    return [SEQKIT_PYTHON, "-m", "seqkit", *args]


def markdown(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
        return str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
