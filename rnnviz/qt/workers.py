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

from rnnviz.app import actions
from rnnviz.core.config import ConfigError, RunConfig
from rnnviz.core.train import Trainer, build_run

UPDATE_INTERVAL = 0.05  # seconds between progress signals (20 Hz)


def _message(exc: BaseException) -> str:
    if isinstance(exc, (ConfigError, ValueError)):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


class Recorder(QObject):
    """Records traces in a background thread; only the latest request is delivered.

    ``request(job)`` where ``job`` is a callable returning a result; while one job runs, newer
    requests replace the pending one, so dragging a slider never queues up stale work.
    Signals: ``busy(bool)``, ``finished(int, object)`` (request id, result), ``failed(int, str)``.
    """

    busy = Signal(bool)
    finished = Signal(int, object)
    failed = Signal(int, str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._pending = None
        self._thread: threading.Thread | None = None
        self._counter = 0
        self.latest = 0

    def request(self, job) -> int:
        """Queue ``job`` (a no-argument callable); returns its id."""
        with self._lock:
            self._counter += 1
            self.latest = self._counter
            self._pending = (self._counter, job)
            start = self._thread is None
            if start:
                self._thread = threading.Thread(target=self._loop, name="rnnviz-record", daemon=True)
        if start:
            self.busy.emit(True)
            self._thread.start()
        return self.latest

    def record(self, cfg: RunConfig) -> int:
        """Queue ``actions.record_run(cfg)``; the result is (model, probe, trace, cfg)."""
        def job():
            model, probe, trace = actions.record_run(cfg)
            return model, probe, trace, cfg
        return self.request(job)

    def _loop(self) -> None:
        while True:
            with self._lock:
                item, self._pending = self._pending, None
                if item is None:
                    self._thread = None
                    break
            rid, job = item
            try:
                result = job()
            except Exception as exc:  # noqa: BLE001 - reported to the status bar, never raised
                if not isinstance(exc, (ConfigError, ValueError)):
                    traceback.print_exc()
                self.failed.emit(rid, _message(exc))
            else:
                self.finished.emit(rid, result)
        self.busy.emit(False)

    @property
    def running(self) -> bool:
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

    Signals: ``progress(list)`` (all history rows so far, at most ~20 times a second),
    ``trace(object)`` (a Trace recorded during training), ``finished(list)`` (history),
    ``failed(str)``.
    """

    progress = Signal(list)
    trace = Signal(object)
    finished = Signal(list)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trainer: Trainer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = self._paused = False
        self._last = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, cfg: RunConfig, steps: int, model=None) -> bool:
        """Train ``model`` (built fresh from ``cfg`` if None) for ``steps`` more steps.

        The Trainer is built in the worker thread too: the first optimiser pulls in heavy torch
        modules, which must not freeze the window.
        """
        if self.running:
            return False
        self.trainer = None
        self._stopped = False
        self._paused = False
        self._last = 0.0
        self._thread = threading.Thread(target=self._run, args=(cfg, steps, model),
                                        name="rnnviz-train", daemon=True)
        self._thread.start()
        return True

    def _callback(self, event: str, payload) -> None:
        if event == "step":
            now = time.monotonic()
            if now - self._last >= UPDATE_INTERVAL:
                self._last = now
                self.progress.emit(list(self.trainer.history))
        elif event == "trace":
            self.trace.emit(payload)

    def _run(self, cfg: RunConfig, steps: int, model) -> None:
        try:
            if model is None:
                model, _ = build_run(cfg)
            every = cfg.train.record_every or max(1, steps // 20)
            train_cfg = dataclasses.replace(cfg.train, record_every=every)
            trainer = Trainer(model, cfg.task, train_cfg, callbacks=[self._callback])
            with self._lock:
                self.trainer = trainer
                if self._paused:
                    trainer.pause()
                if self._stopped:
                    trainer.stop()
            history = trainer.run(steps)
        except Exception as exc:  # noqa: BLE001 - shown in the status bar
            traceback.print_exc()
            self.failed.emit(_message(exc))
            return
        self.progress.emit(list(history))
        self.finished.emit(list(history))

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            if self.trainer is not None:
                self.trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            if self.trainer is not None:
                self.trainer.resume()

    def stop(self) -> None:
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
