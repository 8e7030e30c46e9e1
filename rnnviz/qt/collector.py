"""Python's cyclic garbage collector, run from the GUI thread's event loop and kept out of the way.

Collections must run on the GUI thread and never inside a Qt call (one that starts inside, say,
QObject::disconnect can destroy a stale Qt object whose destructor waits on the mutex disconnect
holds: the window froze for good in our test runs), so automatic collection is off and a timer
collects. Young objects (generation 0) are collected every 50 ms, a few milliseconds at most. The
older generations are collected only once the window has been quiet for a while (no run
installed, no cursor moved, no progress reported: :func:`note_activity`), or when they are long
overdue: with a T = 5000 run's graph in memory one such collection takes 50–100 ms, a visible
freeze in the middle of installing a run, and nothing anyone sees when nothing happens.
"""

from __future__ import annotations

import gc
import time

from PySide6.QtCore import QObject, QTimer

QUIET_S = 2.0      # this long without activity: the older generations may be collected
OVERDUE_S = 30.0   # and however busy the window is, at least this often
_last_activity = 0.0


def note_activity() -> None:
    """The window did something a user watches (installed a run, moved the cursor, reported
    progress): hold off the slow collections for a while."""
    global _last_activity
    _last_activity = time.monotonic()


class QuietCollector(QObject):
    """Collects from a timer on the GUI thread (see the module docstring); ``stop()`` ends it and
    turns automatic collection back on."""

    def __init__(self, interval: float = 0.05, parent: QObject | None = None):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._last_full = time.monotonic()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval * 1000))

    def check(self) -> None:
        """Collect generation 0 when due; the older ones when due and the window is quiet."""
        t0, t1, t2 = self.threshold
        l0, l1, l2 = gc.get_count()
        if l0 > t0:
            gc.collect(0)
        now = time.monotonic()
        if l1 > t1 and (now - _last_activity > QUIET_S or now - self._last_full > OVERDUE_S):
            gc.collect(2 if l2 > t2 else 1)
            self._last_full = now

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()


__all__ = ["OVERDUE_S", "QUIET_S", "QuietCollector", "note_activity"]
