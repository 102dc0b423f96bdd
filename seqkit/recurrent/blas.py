"""Keep OpenBLAS single-threaded while a network runs on its own thread pool.

A network splits every large product into one piece per thread itself (`seqkit.recurrent.pool`). If OpenBLAS
also used several threads, each piece would spawn more threads than there are cores, and OpenBLAS's
idle threads spin for a while after every call, taking cycles from the other pieces. Setting
`OPENBLAS_NUM_THREADS` only works before NumPy is imported, so this changes the count at run time
through OpenBLAS's own API (as threadpoolctl does), for every OpenBLAS loaded in the process (NumPy's
and SciPy's are separate copies), and restores it afterwards.
"""

from __future__ import annotations

import ctypes
import contextlib
from typing import Iterator

# (getter, setter) names: upstream OpenBLAS, 64-bit-integer builds, and the scipy-openblas wheels
_SYMBOLS = [("openblas_get_num_threads", "openblas_set_num_threads"),
            ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
            ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
            ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads")]


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (Linux; elsewhere none are found)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/") and ".so" in p)


def _controls() -> list[tuple]:
    """(get, set) function pairs, one per loaded OpenBLAS that exports them."""
    found = []
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in _SYMBOLS:
            getter, setter = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if getter is not None and setter is not None:
                getter.restype, setter.argtypes = ctypes.c_int, [ctypes.c_int]
                found.append((getter, setter))
                break
    return found


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Within the block, every loaded OpenBLAS runs each call on the calling thread only."""
    import numpy  # noqa: F401  (make sure NumPy's OpenBLAS is loaded before looking for it)

    controls = _controls()
    previous = [getter() for getter, _ in controls]
    for _, setter in controls:
        setter(1)
    try:
        yield
    finally:
        for (_, setter), count in zip(controls, previous):
            setter(count)


def blas_thread_counts() -> list[int]:
    """The current thread count of every loaded OpenBLAS (for tests and diagnostics)."""
    return [getter() for getter, _ in _controls()]
