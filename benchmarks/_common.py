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
    cpu_seconds: float = 0.0  # user + system time of the process and its children

    @property
    def cores_busy(self) -> float:
        """Mean number of cores the run kept busy (CPU seconds per wall second)."""
        return self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0


def timed(cmd: list[str], env: dict | None = None) -> Run:
    """Run a command; wall seconds, CPU seconds and peak RSS (via GNU time) of that process alone."""
    return timed_together([cmd], env)[0]


def timed_together(cmds: list[list[str]], env: dict | None = None) -> list[Run]:
    """Start the commands at once and wait for all; each one's own wall seconds, CPU seconds and peak RSS.

    Output goes to files, not pipes: a command must never stall on a full pipe while another is awaited.
    """
    full_env = {**os.environ, **(env or {})}
    with tempfile.TemporaryDirectory() as tmp:
        def path(i: int, kind: str) -> str:
            return os.path.join(tmp, f"{i}.{kind}")

        started = time.perf_counter()
        procs = []
        for i, cmd in enumerate(cmds):
            with open(path(i, "out"), "w") as out, open(path(i, "err"), "w") as err:
                procs.append(subprocess.Popen(["/usr/bin/time", "-f", "%M %U %S %e", "-o", path(i, "time"), *cmd],
                                              env=full_env, stdout=out, stderr=err))
        runs = []
        for i, (cmd, proc) in enumerate(zip(cmds, procs)):
            proc.wait()
            waited = time.perf_counter() - started  # exact when alone; GNU time's %e (10 ms) when together
            stdout, stderr = (Path(path(i, kind)).read_text(errors="replace") for kind in ("out", "err"))
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-2000:]}")
            peak_kib, user, system, elapsed = Path(path(i, "time")).read_text().strip().splitlines()[-1].split()
            seconds = waited if len(cmds) == 1 else float(elapsed)
            runs.append(Run(seconds, int(peak_kib) / 1024, stdout, stderr, float(user) + float(system)))
    return runs


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
