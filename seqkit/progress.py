"""Progress and messages on stderr, never on stdout.

A transient rich bar is drawn only when stderr is a terminal and --quiet is off; otherwise a task is
silent and the command prints one summary line at the end (nothing at all with --quiet).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any, Iterator


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class TaskHandle:
    """What a running task reports through: `update(advance, **fields)`."""

    def __init__(self, progress: Any = None, task_id: Any = None):
        self._progress, self._task_id = progress, task_id
        self.completed = 0.0
        self.started = time.perf_counter()

    def update(self, advance: float = 0, **fields: Any) -> None:
        self.completed += advance
        if self._progress is not None:
            shown = "  ".join(f"{k} {_fmt(v)}" for k, v in fields.items())
            self._progress.update(self._task_id, advance=advance, fields=shown)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


class Reporter:
    """The single way commands talk to the user on stderr."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.interactive = not quiet and _stderr_is_terminal()
        self._console = None

    @property
    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, no_color=bool(os.environ.get("NO_COLOR")), highlight=False)
        return self._console

    @contextlib.contextmanager
    def task(self, description: str, total: float | None, unit: str = "words") -> Iterator[TaskHandle]:
        if not self.interactive:
            yield TaskHandle()
            return
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn() if unit == "items"
                   else TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(), TimeRemainingColumn(),
                   TextColumn("{task.fields[fields]}")]
        with Progress(*columns, console=self.console, transient=True) as progress:
            task_id = progress.add_task(description, total=total, fields="")
            yield TaskHandle(progress, task_id)

    def info(self, message: str) -> None:
        """A message worth seeing during a run; suppressed by --quiet."""
        if not self.quiet:
            self._print(message)

    def warn(self, message: str) -> None:
        """Something the user should know even though the run goes on; suppressed by --quiet."""
        if not self.quiet:
            self._print(f"seqkit: warning: {message}")

    def summary(self, message: str) -> None:
        """The one line a command prints when it is done."""
        if not self.quiet:
            self._print(message)

    def _print(self, message: str) -> None:
        if self.interactive:
            self.console.print(message, markup=False)
        else:
            print(message, file=sys.stderr, flush=True)
