"""How far apart the host runs this machine's two vCPUs at the moment: a cache line's round trip between them.

Two threads pinned to CPUs 0 and 1 pass a counter back and forth through one 64-byte line (atomic acquire
loads and release stores). On this 2-vCPU KVM guest the round trip is ~60 ns for most of the time and
~330 ns for spells of seconds, when the host runs the vCPUs on distant cores (another chiplet's L3).
Private work is not affected; two threads writing the same rows are, so the word2vec scaling scripts
tag each run with this figure taken just before and after it.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

NEAR_NS = 150  # round trips below this: the two vCPUs share a cache; above: distant cores


def _element_pointer(context, builder, signature, args):
    array_type = signature.args[0]
    data = context.make_array(array_type)(context, builder, args[0])
    index = context.cast(builder, args[1], signature.args[1], types.intp)
    return cgutils.get_item_pointer(context, builder, array_type, data, [index], wraparound=False)


@intrinsic
def _load_acquire(typingctx, array, index):
    """array[index] read with an atomic acquire load: never hoisted out of a spin loop."""
    def codegen(context, builder, signature, args):
        return builder.load_atomic(_element_pointer(context, builder, signature, args), "acquire", 8)

    return array.dtype(array, index), codegen


@intrinsic
def _store_release(typingctx, array, index, value):
    """array[index] = value as an atomic release store."""
    def codegen(context, builder, signature, args):
        pointer = _element_pointer(context, builder, signature, args)
        builder.store_atomic(context.cast(builder, args[2], signature.args[2], signature.args[0].dtype),
                             pointer, "release", 8)
        return context.get_dummy_value()

    return types.void(array, index, value), codegen


@njit(nogil=True)
def _ping(line, first, end):  # pragma: no cover - jitted
    for trip in range(first, end):
        _store_release(line, 0, 2 * trip + 1)
        while _load_acquire(line, 0) != 2 * trip + 2:
            pass


@njit(nogil=True)
def _pong(line, end):  # pragma: no cover - jitted
    for trip in range(end):
        while _load_acquire(line, 0) != 2 * trip + 1:
            pass
        _store_release(line, 0, 2 * trip + 2)


def round_trip_ns(trips: int = 5000, sets: int = 3) -> float:
    """Nanoseconds of one round trip of a written cache line between CPU 0 and CPU 1 (best of `sets` sets,
    after one set that waits for the other thread to start)."""
    line = np.zeros(1, np.int64)  # the counter: one 8-byte word, so in one cache line

    def pong() -> None:
        os.sched_setaffinity(0, {1})  # 0: the calling thread
        _pong(line, trips * (sets + 1))

    other = threading.Thread(target=pong)
    mask = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {0})
    best = float("inf")
    try:
        other.start()
        _ping(line, 0, trips)
        for first in range(trips, trips * (sets + 1), trips):
            started = time.perf_counter()
            _ping(line, first, first + trips)
            best = min(best, (time.perf_counter() - started) / trips * 1e9)
        other.join()
    finally:
        os.sched_setaffinity(0, mask)
    return best


def placement(before: float, after: float) -> str:
    """'near', 'far' or 'mixed' for a run between two round-trip measurements."""
    if max(before, after) < NEAR_NS:
        return "near"
    return "far" if min(before, after) >= NEAR_NS else "mixed"


if __name__ == "__main__":
    for _ in range(20):
        print(f"{round_trip_ns():.0f} ns", flush=True)
        time.sleep(0.5)
