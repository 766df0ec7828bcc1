"""Progress of a run, for people watching it: feeds polled, pages fetched, documents stored.

The steps report to :func:`current`, which does nothing unless an interactive command
installed a display (``dyadwatch run`` on a terminal shows rich progress bars). Scheduled
runs install nothing and log one line per run instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol


class Reporter(Protocol):
    def total(self, step: str, count: int) -> None: ...

    def advance(self, step: str, count: int = 1) -> None: ...


class Silent:
    """The default: report nothing."""

    def total(self, step: str, count: int) -> None:
        pass

    def advance(self, step: str, count: int = 1) -> None:
        pass


_current: Reporter = Silent()

STEPS = {"feeds": "feeds polled", "pages": "pages fetched", "documents": "documents stored"}


def current() -> Reporter:
    return _current


class RichBars:
    """One rich progress bar per step (thread-safe: rich locks its own state)."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress
        self.tasks = {step: progress.add_task(label, total=None) for step, label in STEPS.items()}

    def total(self, step: str, count: int) -> None:
        self.progress.update(self.tasks[step], total=count)

    def advance(self, step: str, count: int = 1) -> None:
        self.progress.advance(self.tasks[step], count)


@contextmanager
def bars() -> Iterator[Reporter]:
    """Show progress bars on the terminal while the block runs."""
    global _current
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description:>16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as progress:
        previous, _current = _current, RichBars(progress)
        try:
            yield _current
        finally:
            _current = previous
