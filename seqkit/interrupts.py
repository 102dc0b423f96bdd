"""Ctrl-C during training, deferred to a safe point."""

from __future__ import annotations

import contextlib
import signal
from typing import Callable, Iterator


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Within the block, Ctrl-C only sets a flag (the yielded function tells whether it came), checked by
    the trainer between batches, so that a checkpoint never catches a parameter update half done and a
    resumed run goes on exactly; a second Ctrl-C interrupts at once."""
    received: list[int] = []

    def handler(signum: int, frame) -> None:
        received.append(signum)
        signal.signal(signal.SIGINT, previous)

    try:
        previous = signal.signal(signal.SIGINT, handler) or signal.default_int_handler
    except ValueError:  # not the main thread, which is the only one a signal reaches
        yield lambda: False
        return
    try:
        yield lambda: bool(received)
    finally:
        signal.signal(signal.SIGINT, previous)
