"""Numba's start-up, made lighter: a process's first kernel call need not import scipy.linalg.

Numba's first kernel call (cached or not) imports its array-math module, which imports scipy.linalg
(0.2-0.4 s and 13 MiB, a fifth of a short `seqkit perplexity` or `seqkit predict`) only to learn whether
np.correlate may use BLAS. A command whose kernels use no BLAS makes that call inside `no_blas_probe`,
where the probe is answered "no"; a kernel compiled later with np.dot checks BLAS itself, and a cached
one finds it when it runs.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator

BLAS_PROBE = "scipy.linalg.cython_blas"


@contextmanager
def no_blas_probe() -> Iterator[None]:
    """Run the block (which makes the process's first kernel call) with the BLAS probe failing at once."""
    if "numba.np.arraymath" in sys.modules or BLAS_PROBE in sys.modules:
        yield
        return
    sys.modules[BLAS_PROBE] = None  # an import of it fails at once, its parents not imported
    try:
        yield
    finally:
        if BLAS_PROBE in sys.modules and sys.modules[BLAS_PROBE] is None:
            del sys.modules[BLAS_PROBE]


def use_user_kernel_cache() -> None:
    """Cache compiled kernels in the user's cache directory (`$XDG_CACHE_HOME/seqkit/numba`, else
    `~/.cache/seqkit/numba`) unless $NUMBA_CACHE_DIR says otherwise. Numba's default, beside the sources,
    leaves a cache in site-packages that outlives `pip uninstall` and then hides a later (editable)
    install. Called by the command line before any kernel loads; a program importing seqkit keeps its
    own setting."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(base, "seqkit", "numba"))

