"""Progress and cancellation for long computations (a recording at T=10,000 takes tens of seconds).

Nothing is passed through the call chain: whoever runs the work (the window's recorder thread)
wraps it in :func:`reporting`; ``record`` announces how much work it plans (:func:`plan`) and
the time loops advance one unit per step (:func:`tick`, via
:func:`rnnviz.core.cells.loops.time_order`). The callback gets the fraction done, at most every
``interval`` seconds, and may raise :class:`CancelledError` to abandon the work: the exception leaves
the loop at the next step. Outside :func:`reporting` a tick is one context-variable lookup.

The state is a :class:`contextvars.ContextVar`, so each thread reports its own work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar


class CancelledError(Exception):
    """Raised by a progress callback to stop the work it reports on."""


class _Reporter:
    __slots__ = ("callback", "done", "total", "interval", "next_at")

    def __init__(self, callback: Callable[[float], None], interval: float):
        self.callback, self.interval = callback, interval
        self.done = self.total = 0
        self.next_at = time.monotonic() + interval

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now >= self.next_at:
            self.next_at = now + self.interval
            self.callback(self.fraction())

    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0


_reporter: ContextVar[_Reporter | None] = ContextVar("rnnviz_progress", default=None)


@contextmanager
def reporting(callback: Callable[[float], None], interval: float = 0.1):
    """Run the block with ``callback(fraction)`` called as it progresses (at most every
    ``interval`` seconds, and once with 1.0 when the block completes)."""
    reporter = _Reporter(callback, interval)
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
    reporter.callback(1.0)


def plan(units: int) -> None:
    """Announce ``units`` more units of work (e.g. steps of the time loops)."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter.total += units


def tick(units: int = 1) -> None:
    """``units`` units done; calls the callback (which may raise :class:`CancelledError`) when due."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter.advance(units)


def steps(order: range):
    """``order`` itself when nothing reports; else the same steps, each one a :func:`tick`."""
    reporter = _reporter.get()
    if reporter is None:
        return order
    return _ticking(order, reporter)


def _ticking(order: range, reporter: _Reporter):
    for t in order:
        yield t
        reporter.advance(1)
