"""seqkit.memory: LLVM's code pages are dropped after the kernels load, and the kernels still run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from seqkit.memory import _mappings

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and madvise are Linux's")


def test_mappings_picks_every_range_of_one_file_and_keeps_paths_with_spaces(tmp_path):
    maps = tmp_path / "maps"
    maps.write_text(
        "7f0000000000-7f0000001000 r--p 00000000 fd:01 12 /lib/lib llvm.so\n"
        "7f0000001000-7f0000005000 r-xp 00001000 fd:01 12 /lib/lib llvm.so\n"
        "7f0000005000-7f0000006000 rw-p 00000000 00:00 0 \n"
        "7f0000006000-7f0000007000 r--p 00000000 fd:01 13 /lib/lib llvm.so.bak\n"
        "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]\n")
    assert _mappings("/lib/lib llvm.so", str(maps)) == [(0x7F0000000000, 0x7F0000001000),
                                                        (0x7F0000001000, 0x7F0000005000)]
    assert _mappings("/nowhere.so", str(maps)) == []


def private_llvmlite(directory: Path) -> Path:
    """llvmlite as symlinks, but for a copy of its shared library that no other process maps.

    The OS only drops pages no other process maps, and pytest's own process has loaded LLVM for other
    tests; a child importing this copy owns its LLVM pages alone, as a seqkit run does.
    """
    import llvmlite

    source = Path(llvmlite.__file__).parent
    target = directory / "llvmlite"
    for path in source.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            dest = target / path.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if path.suffix in (".so", ".dylib", ".dll"):
                shutil.copy2(path, dest)
            else:
                dest.symlink_to(path)
    return directory


@linux_only
def test_release_drops_llvm_pages_and_kernels_still_run_and_compile(tmp_path):
    """In a fresh process: LLVM's resident pages fall by more than half; loaded and new kernels work."""
    script = textwrap.dedent("""
        import json
        import numpy as np
        from numba import njit
        from seqkit.memory import _llvm_library_path, release_compiler_pages

        def llvm_resident_kib():
            path, total, current = _llvm_library_path(), 0, None
            with open("/proc/self/smaps") as f:
                for line in f:
                    fields = line.split()
                    if "-" in fields[0] and len(fields) >= 5:
                        current = fields[5] if len(fields) >= 6 else None
                    elif fields[0] == "Rss:" and current == path:
                        total += int(fields[1])
            return total

        @njit(nogil=True)
        def total(x):
            s = 0.0
            for v in x:
                s += v
            return s

        x = np.arange(10, dtype=np.float64)
        before_value = total(x)
        before = llvm_resident_kib()
        advised = release_compiler_pages()
        after = llvm_resident_kib()
        after_value = total(x)

        @njit
        def twice(x):
            return 2 * x

        print(json.dumps({"library": _llvm_library_path(), "before": before, "after": after,
                          "advised": advised, "values": [before_value, after_value], "new": twice(21)}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(private_llvmlite(tmp_path)),
                                                         os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         env=env).stdout
    result = json.loads(out)
    assert result["library"].startswith(str(tmp_path))
    if result["advised"] == 0:
        pytest.skip("this kernel refuses MADV_PAGEOUT (Linux < 5.4)")
    assert result["before"] > 20_000  # KiB: LLVM really was resident
    assert result["after"] < result["before"] / 2
    assert result["values"] == [45.0, 45.0]
    assert result["new"] == 42


def test_release_without_llvm_loaded_does_nothing():
    script = ("import sys; from seqkit.memory import release_compiler_pages; "
              "print(release_compiler_pages(), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["0", "False"]


@linux_only
def test_return_free_heap_gives_freed_malloc_memory_back():
    """In a fresh process: 100 MB of small malloc blocks, freed but for every hundredth (so glibc cannot
    shrink the heap from its top by itself), stay resident until `return_free_heap` hands them back."""
    script = textwrap.dedent("""
        import ctypes, json
        from seqkit.memory import return_free_heap

        def resident_kib():
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * 4

        libc = ctypes.CDLL(None)
        libc.malloc.restype = ctypes.c_void_p
        libc.free.argtypes = [ctypes.c_void_p]
        blocks = [libc.malloc(1000) for _ in range(100_000)]
        for block in blocks:
            ctypes.memset(block, 1, 1000)
        for i, block in enumerate(blocks):
            if i % 100 != 99:
                libc.free(block)
        before = resident_kib()
        returned = return_free_heap()
        print(json.dumps({"before": before, "after": resident_kib(), "returned": returned}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    result = json.loads(out)
    assert result["returned"] is True
    assert result["before"] - result["after"] > 50_000  # KiB: most of the ~98 MB freed went back to the OS
