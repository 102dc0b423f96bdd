"""The resident memory any in-process Numba kernel costs before it touches data, and what seqkit gives back.

Importing Numba maps LLVM (llvmlite's shared library) and its compiler modules, and the first call of
even a trivial cached `@njit` function builds Numba's typing and target contexts and its JIT engine.
This script measures those steps in a fresh process, with a trivial function whose compiled code is
already in the cache (it runs itself twice), so the figures are a floor under every Numba program,
seqkit's kernels aside. The last step is `seqkit.memory.release_compiler_pages()`, which seqkit's
word2vec calls once its kernels are loaded: LLVM's code is clean file pages, which the OS can drop.

    python benchmarks/experiments/numba_floor.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = '''
import sys

def rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

steps = [("interpreter", rss_mib())]
import numpy as np
steps.append(("+ numpy", rss_mib()))
import llvmlite.binding
steps.append(("+ llvmlite.binding (LLVM's shared library)", rss_mib()))
import numba
steps.append(("+ the rest of numba", rss_mib()))
import trivial_kernel
trivial_kernel.total(np.zeros(3))
steps.append(("+ first call of a cached trivial @njit function", rss_mib()))
from seqkit.memory import release_compiler_pages
release_compiler_pages()
steps.append(("then release_compiler_pages() (LLVM's code pages dropped)", rss_mib()))
for name, mib in steps:
    print(f"{name}\\t{mib:.0f}")
'''

KERNEL = '''
from numba import njit

@njit(nogil=True, cache=True)
def total(a):
    s = 0.0
    for x in a:
        s += x
    return s
'''


def probe(directory: str) -> str:
    return subprocess.run([sys.executable, "-c", PROBE], cwd=directory, check=True, capture_output=True,
                          text=True, env={"PYTHONPATH": directory, "PATH": "/usr/bin:/bin"}).stdout


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "trivial_kernel.py").write_text(KERNEL)
        probe(tmp)  # the first run compiles and fills the cache
        rows = [line.split("\t") for line in probe(tmp).splitlines()]
    print("| step | resident MiB |\n|---|---|")
    for name, mib in rows:
        print(f"| {name} | {mib} |")


if __name__ == "__main__":
    main()
