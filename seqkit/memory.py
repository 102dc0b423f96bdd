"""Give memory back to the OS at the phase boundaries of a long run, so the phases' peaks do not add up.

The compiler: importing Numba maps llvmlite's LLVM library (about 180 MB on disk), and its
initialisation and cache loading touch 100 MB or more of that code, which stays resident for the rest of
the process although a loaded kernel never calls into LLVM again. A training run of hours would keep
it for hours. Those pages are clean copies of a file, so the kernel can drop them at no risk:
`madvise(MADV_PAGEOUT)` asks it to, and should LLVM be needed again (a new specialisation to compile)
they are read back from the file on demand. Linux 5.4 or newer; elsewhere this does nothing.

The heap: counting a corpus's words builds and drops hundreds of thousands of small objects, and glibc
keeps the freed memory mapped for reuse; `malloc_trim` returns it before the model is allocated.
"""

from __future__ import annotations

import ctypes
import math
import sys
from functools import cache

_MADV_PAGEOUT = 21  # linux/mman.h


def _llvm_library_path() -> str | None:
    """The path of llvmlite's shared library if it is loaded in this process."""
    ffi = sys.modules.get("llvmlite.binding.ffi")
    return getattr(getattr(ffi, "lib", None), "_name", None) if ffi else None


def _mappings(path: str, maps: str = "/proc/self/maps") -> list[tuple[int, int]]:
    """(start, end) of every mapping of `path` in this process."""
    ranges = []
    with open(maps, encoding="utf-8", errors="replace") as f:
        for line in f:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[5].rstrip("\n") == path:
                start, end = fields[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def release_compiler_pages() -> int:
    """Ask the OS to drop LLVM's resident code pages; returns the bytes of mappings advised (0: nothing done).

    Call it after the kernels a command needs have been compiled or loaded from the cache, and before
    the large allocations, so that the compiler's pages and the model's arrays are not resident at once.
    Best effort: any failure leaves memory as it was.
    """
    path = _llvm_library_path()
    if path is None or not sys.platform.startswith("linux"):  # before ctypes: CDLL(None) is POSIX-only
        return 0
    madvise = _libc_function("madvise", (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int))
    if madvise is None:
        return 0
    try:
        ranges = _mappings(path)
    except OSError:
        return 0
    advised = 0
    for start, end in ranges:
        if madvise(start, end - start, _MADV_PAGEOUT) == 0:
            advised += end - start
    return advised


def return_free_heap() -> bool:
    """Give the C heap's free memory back to the OS (glibc's malloc_trim); False where there is no glibc."""
    trim = _libc_function("malloc_trim", (ctypes.c_size_t,))
    if trim is None:
        return False
    trim(0)
    return True


@cache
def _libc_function(name: str, argtypes: tuple):
    """A C library function with its argument types, or None where the C library lacks it."""
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


def memory_estimate(n_rows: int, dim: int, matrices: int = 2) -> str:
    """Human-readable size of `matrices` float32 tables of n_rows x dim (printed before allocating)."""
    size = n_rows * dim * 4 * matrices
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    power = min(int(math.log(max(size, 1), 1024)), len(units) - 1)
    return f"{size / 1024 ** power:.1f} {units[power]}"
