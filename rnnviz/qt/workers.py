"""Background work for the window: recording traces and training, off the GUI thread.

Work runs in plain Python threads; results come back through Qt signals, which Qt delivers
queued to the GUI thread (the receivers live there). Training progress is throttled to about
20 updates a second so the GUI thread is never flooded.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import traceback

from PySide6.QtCore import QObject, Signal

from rnnviz.core import progress
from rnnviz.core.config import ConfigError
from rnnviz.core.train import Trainer

UPDATE_INTERVAL = 0.05  # seconds between progress signals (20 Hz)


def _message(exc: BaseException) -> str:
    if isinstance(exc, (ConfigError, ValueError)):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class Recorder(QObject):
    """Runs jobs (recordings, comparisons, lessons) in a background thread, latest first.

    ``request(job, token)`` where ``job`` is a callable returning a result; while one job runs,
    newer requests replace the pending one, so dragging a slider never queues up stale work.
    ``token`` (the state's run id) comes back with the result, so the receiver can drop a
    result that belongs to a run the user has left. A newer request also abandons the job that
    is running (at its next BPTT step: :mod:`rnnviz.core.progress`), and so does :meth:`cancel`.
    Signals: ``busy(bool)``, ``finished(int, object)`` (token, result), ``failed(int, str)``
    (token, message), ``progress(int, float)`` (token, fraction done, ~10 a second),
    ``cancelled(int)`` (token).
    """

    busy = Signal(bool)
    finished = Signal(int, object)
    failed = Signal(int, str)
    progress = Signal(int, float)
    cancelled = Signal(int)
    progress_interval = 0.1  # seconds between progress signals (and checks for a cancel)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending = None
        self._thread: threading.Thread | None = None
        self._running: int | None = None  # token of the job that runs now
        self._abandon: int | None = None  # token whose job should stop at its next step

    def request(self, job, token: int) -> None:
        """Queue ``job`` (a no-argument callable) for run ``token``."""
        with self._lock:
            self._pending = (token, job)
            self._abandon = self._running  # its result would be dropped: stop computing it
            start = self._thread is None
            if start:
                self._thread = threading.Thread(target=self._loop, name="rnnviz-record", daemon=True)
        if start:
            self.busy.emit(True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                item, self._pending = self._pending, None
                self._running = None
                if item is None:
                    self._thread = None
                    break
            token, job = item
            with self._lock:
                self._running = token

            def report(fraction: float, token=token) -> None:
                if self._abandon == token:
                    raise progress.CancelledError
                self.progress.emit(token, fraction)

            try:
                with progress.reporting(report, self.progress_interval):
                    result = job()
            except progress.CancelledError:
                self.cancelled.emit(token)
            except Exception as exc:  # noqa: BLE001 - reported to the status bar, never raised
                if not isinstance(exc, (ConfigError, ValueError)):
                    traceback.print_exc()
                self.failed.emit(token, _message(exc))
            else:
                self.finished.emit(token, result)
        self.busy.emit(False)

    def cancel(self) -> bool:
        """Drop the waiting job and stop the running one at its next step; True if one ran."""
        with self._lock:
            self._pending = None
            self._abandon = self._running
            return self._thread is not None

    @property
    def running(self) -> bool:
        """True while a job runs or waits."""
        return self._thread is not None

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until idle (tests, shutdown); True if it finished in time."""
        end = time.monotonic() + timeout
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return True
            thread.join(max(0.0, end - time.monotonic()))
            if time.monotonic() >= end:
                return self._thread is None


class TrainWorker(QObject):
    """Runs a :class:`Trainer` in a background thread.

    Every signal carries the token (run id) the training was started with, so the window can
    drop what a stopped trainer still sends after a new run was installed. Signals:
    ``progress(int, list)`` (all history rows so far, at most ~20 times a second),
    ``trace(int, object)`` (a Trace recorded during training), ``finished(int, list)``
    (history), ``failed(int, str)``.
    """

    progress = Signal(int, list)
    trace = Signal(int, object)
    finished = Signal(int, list)
    failed = Signal(int, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trainer: Trainer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = self._paused = False
        self._last = 0.0

    @property
    def running(self) -> bool:
        """True while the training thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, make_trainer, steps: int, token: int) -> bool:
        """Train for ``steps`` more steps with the Trainer ``make_trainer()`` returns.

        ``make_trainer`` runs in the worker thread: the first optimiser pulls in heavy torch
        modules, which must not freeze the window. False if a training still runs.
        """
        if self.running:
            return False
        self.trainer = None
        self._stopped = False
        self._paused = False
        self._last = 0.0
        self._thread = threading.Thread(target=self._run, args=(make_trainer, steps, token),
                                        name="rnnviz-train", daemon=True)
        self._thread.start()
        return True

    def _run(self, make_trainer, steps: int, token: int) -> None:
        def callback(event: str, payload) -> None:
            if event == "step":
                now = time.monotonic()
                if now - self._last >= UPDATE_INTERVAL:
                    self._last = now
                    self.progress.emit(token, list(trainer.history))
            elif event == "trace":
                self.trace.emit(token, payload)

        try:
            trainer = make_trainer()
            every = trainer.cfg.record_every or max(1, steps // 20)
            trainer.cfg = dataclasses.replace(trainer.cfg, record_every=every)
            trainer.callbacks = [callback]
            with self._lock:
                self.trainer = trainer
                if self._paused:
                    trainer.pause()
                if self._stopped:
                    trainer.stop()
            history = trainer.run(steps)
        except Exception as exc:  # noqa: BLE001 - shown in the status bar
            if not isinstance(exc, (ConfigError, ValueError)):
                traceback.print_exc()
            self.failed.emit(token, _message(exc))
            return
        self.progress.emit(token, list(history))
        self.finished.emit(token, list(history))

    def pause(self) -> None:
        """Pause the training loop (between steps)."""
        with self._lock:
            self._paused = True
            if self.trainer is not None:
                self.trainer.pause()

    def resume(self) -> None:
        """Continue a paused training loop."""
        with self._lock:
            self._paused = False
            if self.trainer is not None:
                self.trainer.resume()

    def stop(self) -> None:
        """Ask the training loop to stop after the step in flight."""
        with self._lock:
            self._stopped = True
            if self.trainer is not None:
                self.trainer.stop()

    def wait(self, timeout: float = 30.0) -> bool:
        """Block until the training thread ends; True if it did."""
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()


_warm = {"thread": None}


def _warm_up_job() -> None:
    import torch

    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([p], lr=1e-3)  # first optimiser: imports torch._dynamo (~1.5 s)
    p.square().sum().backward()
    opt.step()


def start_warm_up() -> threading.Thread:
    """Import what the first training step needs, once, in the background while the user looks.

    The first torch optimiser imports large modules, and part of that holds the GIL for a few
    hundred milliseconds; done at start-up it cannot stall a live training's progress display.
    """
    if _warm["thread"] is None:
        _warm["thread"] = threading.Thread(target=_warm_up_job, name="rnnviz-warm-up", daemon=True)
        _warm["thread"].start()
    return _warm["thread"]


def warm_up_done() -> bool:
    """True once :func:`start_warm_up` has finished (False if it never started)."""
    thread = _warm["thread"]
    return thread is not None and not thread.is_alive()


def wait_warm_up(timeout: float = 30.0) -> None:
    """Join the warm-up thread if it runs (before the interpreter exits)."""
    thread = _warm["thread"]
    if thread is not None:
        thread.join(timeout)


__all__ = ["Recorder", "TrainWorker", "UPDATE_INTERVAL", "start_warm_up", "wait_warm_up", "warm_up_done"]
