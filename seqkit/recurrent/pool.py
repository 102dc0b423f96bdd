"""The threads a network runs on: the calling thread plus `threads - 1` workers.

A network splits its big products and elementwise passes into pieces and runs them here, with OpenBLAS
single-threaded (`seqkit.recurrent.blas`): one pool for everything instead of OpenBLAS's, Numba's and
ours competing for the same cores, and a product can overlap other work (`TaskQueue` for work started
in the background and joined later, `Stream` for tasks handed over one by one while the producer goes
on, `Pipeline` for such tasks that split into follow-up tasks, so both threads can share a task's parts). NumPy's matmul and the `nogil` kernels release the GIL, so the pieces really run in parallel.
"""

from __future__ import annotations

import collections
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Callable, Sequence, TypeVar

import numpy as np

T = TypeVar("T")


class Pool:
    """`threads` threads: the caller's own plus `threads - 1` workers (none for one thread)."""

    def __init__(self, threads: int = 1):
        self.size = max(1, int(threads))
        self._executor = ThreadPoolExecutor(self.size - 1, thread_name_prefix="seqkit-pool") if self.size > 1 else None

    def run(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """Run the tasks, the first on the calling thread and the rest on workers; results in order."""
        if self._executor is None or len(tasks) < 2:
            return [task() for task in tasks]
        futures = [self._executor.submit(_as_caller(task)) for task in tasks[1:]]
        try:
            first = tasks[0]()
            return [first] + [future.result() for future in futures]
        finally:  # on an error or Ctrl-C too: no worker may still be writing when the caller goes on
            wait(futures)

    def start(self, task: Callable[[], T]) -> Future:
        """Begin `task` on a worker (with no workers: run it now) and return its future."""
        if self._executor is not None:
            return self._executor.submit(_as_caller(task))
        future: Future = Future()
        future.set_result(task())
        return future

    def ranges(self, count: int, pieces: int | None = None) -> list[tuple[int, int]]:
        """[start, stop) ranges cutting `count` items into `pieces` (default: one per thread) near-equal parts."""
        pieces = max(1, min(pieces or self.size, count))
        cuts = [count * i // pieces for i in range(pieces + 1)]
        return [(cuts[i], cuts[i + 1]) for i in range(pieces)]

    def matmul(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """out = a @ b with the rows of `a` split across the threads (one single-threaded GEMM each)."""
        self.run([lambda lo=lo, hi=hi: np.matmul(a[lo:hi], b, out=out[lo:hi]) for lo, hi in self.ranges(len(a))])
        return out

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown()
            self._executor = None

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _as_caller(task: Callable[[], T]) -> Callable[[], T]:
    """`task` under the calling thread's floating-point error settings (`np.errstate` is per thread: a
    worker would otherwise warn about an overflow its caller chose to check for itself)."""
    settings = np.geterr()

    def run() -> T:
        with np.errstate(**settings):
            return task()

    return run


class TaskQueue:
    """Tasks taken one at a time by whichever thread calls `drain`: work that one thread starts in the
    background and another joins when its own (sequential) work is done."""

    def __init__(self, tasks: Sequence[Callable[[], None]]):
        self._tasks = list(reversed(tasks))
        self._lock = threading.Lock()

    def _next(self) -> Callable[[], None] | None:
        with self._lock:
            return self._tasks.pop() if self._tasks else None

    def add(self, task: Callable[[], None]) -> None:
        """Queue one more task, taken next (a thread still draining picks it up)."""
        with self._lock:
            self._tasks.append(task)

    def drain(self) -> None:
        while (task := self._next()) is not None:
            task()


class Stream:
    """Tasks produced one by one while the producing thread keeps working (the forward pass hands over
    each finished block of the output layer): a worker runs them as they come, and `finish` has the
    producer join in for whatever is left. With no workers each task runs when it is put.

    The worker is taken at the first `put`, so the producer may still use the pool before that; after
    it, the pool's other methods would wait behind the stream's consumer."""

    def __init__(self, pool: Pool):
        self._pool = pool
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._future: Future | None = None

    def put(self, task: Callable[[], None]) -> None:
        if self._pool.size == 1:
            task()
            return
        if self._future is None:
            self._future = self._pool.start(self._consume)
        self._queue.put(task)

    def help(self, backlog: int) -> None:
        """Run queued tasks on this thread while more than `backlog` wait: a producer that outpaces the
        worker shares its tasks instead of piling them up."""
        while self._future is not None and self._queue.qsize() > backlog:
            try:
                task = self._queue.get_nowait()
            except queue.Empty:
                return
            task()

    def _consume(self) -> None:
        while (task := self._queue.get()) is not None:
            task()

    def finish(self) -> None:
        """Run what is still queued (on this thread and the worker) and wait for the worker."""
        if self._future is None:
            return
        self._queue.put(None)  # one end marker per consumer: the worker and this thread
        self._queue.put(None)
        self._consume()
        self._future.result()
        self._future = None

    def abort(self) -> None:
        """Stop the worker after its current task, dropping the rest (when the producer failed)."""
        if self._future is None:
            return
        while not self._queue.empty():
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._future.exception()  # waits; the producer's own error is the one to report
        self._future = None


class Pipeline:
    """Like `Stream`, for tasks that may split: a task returns None or a list of follow-up tasks, which
    run before anything queued earlier, on whichever thread is free. A producer hands over coarse tasks
    while it works; once it joins (`finish`), their parts are shared between both threads, so neither
    waits long for the other's last task. Tasks must write disjoint outputs (the order in which threads
    take them varies). With no workers each task and its follow-ups run when it is put."""

    def __init__(self, pool: Pool):
        self._pool = pool
        self._ready: collections.deque = collections.deque()
        self._lock = threading.Condition(threading.Lock())
        self._pending = 0        # tasks queued or running (a running task may still add follow-ups)
        self._closed = False     # the producer has no more tasks
        self._failed = False
        self._future: Future | None = None

    def put(self, task: Callable[[], Sequence[Callable] | None]) -> None:
        if self._pool.size == 1:
            self._run_now(task)
            return
        if self._future is None:
            self._future = self._pool.start(self._consume)
        with self._lock:
            self._ready.append(task)
            self._pending += 1
            self._lock.notify()

    @staticmethod
    def _run_now(task) -> None:
        stack = [task]
        while stack:
            stack.extend(reversed(stack.pop()() or ()))

    def _consume(self) -> None:
        while True:
            with self._lock:
                while not self._ready and not self._failed and not (self._closed and self._pending == 0):
                    self._lock.wait()
                if self._failed or not self._ready:
                    return
                task = self._ready.popleft()
            try:
                follow = task() or ()
            except BaseException:
                with self._lock:
                    self._failed = True
                    self._ready.clear()
                    self._lock.notify_all()
                raise
            with self._lock:
                self._ready.extendleft(reversed(follow))
                self._pending += len(follow) - 1
                self._lock.notify_all()

    def finish(self) -> None:
        """Run what is still to do, follow-ups included, on this thread and the worker; returns when all
        is done (raising a task's error)."""
        if self._future is None:
            return
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        try:
            self._consume()
        finally:
            future, self._future = self._future, None
            if not future.done():
                future.exception()  # wait for the worker in any case
        future.result()

    def abort(self) -> None:
        """Drop the tasks not yet started and wait for the worker (when the producer failed)."""
        if self._future is None:
            return
        with self._lock:
            self._failed = True
            self._ready.clear()
            self._lock.notify_all()
        future, self._future = self._future, None
        future.exception()
