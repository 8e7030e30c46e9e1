"""The training controller: recording, live training and background jobs for one window.

:class:`RunController` owns the two background workers (a :class:`~rnnviz.qt.workers.Recorder`
for recordings, comparisons and lessons, a :class:`~rnnviz.qt.workers.TrainWorker` for live
training) and is the only code that installs a run in the :class:`~rnnviz.app.state.SessionState`.

One run at a time: every install takes a new run id from the state (``state.new_run()``), and
every result or training signal carries the id it was started under; anything that arrives for
an older id (a stopped trainer's last progress, a recording the user has moved past) is dropped,
never mixed into what is on screen. An install happens in one step, after everything it needs
was built and checked: a failure leaves the previous run in place.

Public API: :meth:`record`, :meth:`record_sync`, :meth:`train`, :meth:`pause`, :meth:`resume`,
:meth:`stop`, :meth:`reset`, :meth:`run_text`, :meth:`run_job`, :meth:`install`,
:meth:`shutdown`; attributes ``recorder``, ``worker``, ``trainer`` (the Trainer of the model on
screen: training again continues its step count and its optimizer).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer, Signal

from rnnviz.app import actions, derived
from rnnviz.app.actions import RunResult
from rnnviz.app.state import SessionState
from rnnviz.core.cells import display_name
from rnnviz.core.config import ConfigError
from rnnviz.core.train import Trainer
from rnnviz.qt.errors import report_unexpected
from rnnviz.qt.workers import Recorder, TrainWorker

TRACE_INTERVAL = 0.25  # seconds between trace updates while training


def _prepared(result):
    """``result`` after what the views derive from its traces was computed (in the recorder's
    thread: the GUI thread then only looks it up when the run is installed)."""
    for run in result if isinstance(result, (list, tuple)) else [result]:
        if isinstance(run, RunResult):
            derived.prepare(run.trace)
    return result


class RunController(QObject):
    """Records, trains and installs runs in ``state``; see the module docstring.

    Signal ``progress_changed(object)``: ``None`` (nothing running) or ``(text, value, maximum)``
    for a progress bar (``maximum == 0``: busy, no known length).
    """

    progress_changed = Signal(object)

    def __init__(self, state: SessionState, parent: QObject | None = None):
        super().__init__(parent)
        self.state = state
        self.trainer: Trainer | None = None
        self.recorder = Recorder(self)
        self.recorder.busy.connect(self._on_busy)
        self.recorder.finished.connect(self._on_job_done)
        self.recorder.failed.connect(self._on_job_failed)
        self.recorder.progress.connect(self._on_job_progress)
        self.recorder.cancelled.connect(self._on_job_cancelled)
        self.worker = TrainWorker(self)
        self.worker.progress.connect(self._on_train_progress)
        self.worker.trace.connect(self._on_train_trace)
        self.worker.finished.connect(self._on_train_finished)
        self.worker.failed.connect(self._on_train_failed)
        self._job: tuple[int, object] | None = None  # (run id, on_result) of the latest job
        self._busy_text = "recording…"
        self._model_config = state.config if state.model is not None else None
        self._installing = False
        self._closing = False
        self._train_base = 0
        self._train_steps = 0
        self._pending_trace = None
        self._last_trace_at = 0.0
        self._trace_timer = QTimer(self)
        self._trace_timer.setSingleShot(True)
        self._trace_timer.timeout.connect(self._apply_pending_trace)
        state.events.subscribe("config", self._on_config)

    # ------------------------------------------------------------------ installing
    def install(self, run: RunResult | None, *, trace=None, history=None, trainer: Trainer | None = None,
                compare=(), config=None, status: str | None = None) -> None:
        """Show ``run`` (or only ``trace`` when ``run`` is None: see :meth:`install_trace`).

        Everything was built before this is called; here it is only assigned, in one go:
        ``config`` (if given; it does not trigger a new recording), model, probe, the compared
        runs, the history (default: the run's), the trace (default: the run's). The training
        step count continues from ``trainer`` (default: the run's, if it trained).
        """
        s = self.state
        self._stop_worker()
        s.new_run()  # whatever was still on its way belongs to the run we are replacing
        s.training = "idle"
        s.playing = False
        before = self._snapshot()
        try:
            self._assign(run, trace, history, trainer, compare, config)
        except Exception:
            self._restore(before)  # a view refused the run: the previous one stays, whole
            raise
        self.progress_changed.emit(None)
        if status is not None:
            s.status = status
        elif not s.trace.nonfinite:
            tr = s.trace
            s.status = (f"recorded {display_name(tr.cell_type)} · T = {tr.seq_len} · H = {tr.hidden_size}"
                        f" · loss {tr.loss:.4g}")

    def _snapshot(self) -> dict:
        s = self.state
        return {"config": s.config, "model": s.model, "probe": s.probe, "compare_runs": s.compare_runs,
                "history": s.history, "trace": s.trace, "trainer": self.trainer, "model_config": self._model_config}

    def _restore(self, before: dict) -> None:
        s = self.state
        self._installing = True
        try:
            for key in ("config", "model", "probe", "compare_runs", "history", "trace"):
                setattr(s, key, before[key])
        finally:
            self._installing = False
        self.trainer, self._model_config = before["trainer"], before["model_config"]

    def _assign(self, run, trace, history, trainer, compare, config) -> None:
        s = self.state
        if config is not None:
            self._installing = True
            try:
                s.config = config
            finally:
                self._installing = False
        s.model = run.model if run is not None else None
        s.probe = run.probe if run is not None else None
        self._model_config = s.config if run is not None else None
        self.trainer = trainer if trainer is not None else (run.trainer if run is not None else None)
        s.compare_runs = list(compare)
        s.history = list(history if history is not None else (run.history if run is not None else []))
        s.trace = trace if trace is not None else run.trace

    def install_trace(self, trace, config=None, *, history=(), compare=(), status: str | None = None) -> None:
        """Show ``trace`` without a model (a trace file; a session saved without weights), with
        ``config`` if given. Train then records the config with fresh weights first."""
        self.install(None, trace=trace, history=list(history), compare=compare, config=config, status=status)

    def model_matches_config(self) -> bool:
        """True when the model on screen was built from the current config."""
        return self.state.model is not None and self._model_config == self.state.config

    # ------------------------------------------------------------------ background jobs
    def run_job(self, job, on_result, busy_text: str = "working…") -> int:
        """Run ``job()`` in the background as a new run; ``on_result(result)`` installs it unless
        the user moved on meanwhile (another run was started or installed). Returns the run id."""
        self.state.playing = False
        self._stop_worker()
        self.state.training = "idle"  # a training still stopping belongs to the old run now
        token = self.state.new_run()
        self._job = (token, on_result)
        self._busy_text = busy_text
        self.recorder.request(lambda: _prepared(job()), token)
        return token

    def _on_job_done(self, token: int, result) -> None:
        if self._closing or self._job is None or self._job[0] != token or not self.state.is_current(token):
            return  # a newer run replaced this one
        on_result = self._job[1]
        self._job = None
        try:
            on_result(result)
        except Exception as exc:  # noqa: BLE001 - shown once and logged; the previous run stays
            self.progress_changed.emit(None)
            report_unexpected(self.parent(), exc, "installing the result")

    def _on_job_failed(self, token: int, message: str) -> None:
        if self._closing or self._job is None or self._job[0] != token or not self.state.is_current(token):
            return
        self._job = None
        self._refused(message)

    def _on_job_progress(self, token: int, fraction: float) -> None:
        if self._job is not None and self._job[0] == token and not self._closing:
            # the status bar already says what runs: the narrow bar shows only how far it got
            self.progress_changed.emit(("%p%", int(1000 * fraction), 1000))

    def _on_job_cancelled(self, token: int) -> None:
        if self._closing or self._job is None or self._job[0] != token or not self.state.is_current(token):
            return  # replaced by a newer job, which is on its way
        self._job = None
        self._refused("recording cancelled: the run on screen is the previous one (Record, Ctrl+R, records "
                      "this setting)")

    def _refused(self, message: str) -> None:
        s = self.state
        s.model = None  # what is on screen was not made from this setting: Train records it first
        self._model_config = None
        self.trainer = None
        s.status = message

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self.progress_changed.emit((self._busy_text, 0, 0))
        elif self.state.training == "idle":
            self.progress_changed.emit(None)

    # ------------------------------------------------------------------ recording
    def record(self) -> None:
        """Record the current config again in the background (fresh weights, no training)."""
        cfg = self.state.config
        self.state.status = "recording…"
        self.run_job(lambda: actions.record_run(cfg), self.install, "recording…")

    def record_sync(self) -> bool:
        """Record the current config on this thread (start-up, screenshots, tests); False and a
        status message on a config the task refuses."""
        self.state.playing = False
        self._stop_worker()
        self.state.training = "idle"
        self.state.new_run()
        try:
            run = actions.record_run(self.state.config)
        except (ConfigError, ValueError) as exc:
            self._refused(str(exc))
            return False
        self.install(run)
        return True

    def run_text(self, text: str) -> bool:
        """Record a language model reading ``text`` token by token (its config replaces the current)."""
        cfg = self.state.config
        try:
            actions.text_config(cfg, text)
        except ConfigError as exc:
            self.state.status = str(exc)
            return False
        self.state.status = "reading your text…"
        self.run_job(lambda: actions.user_text_run(cfg, text), lambda run: self.install(run, config=run.config),
                     "reading your text…")
        return True

    def _on_config(self, _cfg) -> None:
        if self._installing or self._closing:
            return
        s = self.state
        was_training = s.training != "idle"
        s.compare_runs = []  # the old curves belong to another network: never beside the new one
        s.history = []
        self.record()  # a new setting is a new run: fresh weights, empty loss curve
        if was_training:
            s.status = "setting changed: training stopped, recording the new setting (fresh weights)…"

    # ------------------------------------------------------------------ training
    def train(self, steps: int | None = None) -> bool:
        """Train the model on screen for ``steps`` more steps (default: the config's); the step
        count continues where the last training stopped. A paused training resumes instead."""
        s = self.state
        if s.training == "paused":
            self.resume()
            return False
        if s.training != "idle":
            return False
        steps = int(steps if steps is not None else s.config.train.steps)
        if not self.model_matches_config() and not self.record_sync():
            return False  # record_sync said why (a setting the task refuses)
        if self.worker.running and not self.worker.wait(10):
            s.status = "the previous training is still stopping; try again in a moment"
            return False
        token = s.new_run()
        self._job = None
        trainer = self.trainer if self.trainer is not None and self.trainer.model is s.model else None
        model, task, train_cfg = s.model, s.config.task, s.config.train
        self._train_base = trainer.step if trainer is not None else 0
        self._train_steps = steps
        self.worker.start((lambda: trainer) if trainer is not None else (lambda: Trainer(model, task, train_cfg)),
                          steps, token)
        s.training = "running"
        s.status = f"training {steps} steps…"
        self.progress_changed.emit(("step %v / %m", 0, steps))
        return True

    def pause(self) -> None:
        """Pause a running training (the thread waits; the window stays live)."""
        if self.state.training == "running":
            self.worker.pause()
            self.state.training = "paused"
            self.state.status = "training paused"

    def resume(self) -> None:
        """Continue a paused training."""
        if self.state.training == "paused":
            self.worker.resume()
            self.state.training = "running"
            self.state.status = "training…"

    def stop(self) -> None:
        """Stop training (the weights and steps so far are kept), a recording (abandoned at its
        next step) and playing."""
        self.state.playing = False
        if self._job is not None and self.recorder.cancel():
            self.state.status = "cancelling the recording…"
        if self.worker.running:
            self.worker.stop()
            self.state.status = "stopping training…"

    def _stop_worker(self) -> None:
        if self.worker.running:
            self.worker.stop()
        self._trace_timer.stop()
        self._pending_trace = None

    def reset(self) -> None:
        """Forget training: fresh weights and an empty loss curve for the current config."""
        self.stop()
        self.worker.wait(10)
        self.trainer = None
        self.state.history = []
        self.record()

    def _current(self, token: int) -> bool:
        return not self._closing and self.state.is_current(token)

    def _on_train_progress(self, token: int, rows: list) -> None:
        if not self._current(token):
            return  # a stopped trainer's late rows: not this run's
        s = self.state
        s.history = rows
        if rows:
            last = rows[-1]
            self.progress_changed.emit(("step %v / %m", last["step"] - self._train_base, self._train_steps))
            s.status = (f"training step {last['step']} / {self._train_base + self._train_steps}"
                        f" · loss {last['loss']:.4g} · ‖g‖ {last['grad_norm']:.3g}"
                        + (" · clipped" if last.get("clipped") else "")
                        + ("" if last.get("applied", True) else " · NaN step skipped"))

    def _on_train_trace(self, token: int, trace) -> None:
        """Traces from training are coalesced: the views get the newest at most ~4 times a second."""
        if not self._current(token):
            return
        self._pending_trace = trace
        wait = TRACE_INTERVAL - (time.monotonic() - self._last_trace_at)
        if wait <= 0:
            self._apply_pending_trace()
        elif not self._trace_timer.isActive():
            self._trace_timer.start(int(wait * 1000) + 1)

    def _apply_pending_trace(self) -> None:
        self._trace_timer.stop()
        trace, self._pending_trace = self._pending_trace, None
        if trace is not None and not self._closing:
            self._last_trace_at = time.monotonic()
            self.state.trace = trace

    def _on_train_finished(self, token: int, history: list) -> None:
        if not self._current(token):
            return
        self._apply_pending_trace()
        s = self.state
        self.trainer = self.worker.trainer
        s.training = "idle"
        self.progress_changed.emit(None)
        if history:
            last = history[-1]
            s.status = f"trained {last['step']} steps · loss {last['loss']:.4g}"

    def _on_train_failed(self, token: int, message: str) -> None:
        if not self._current(token):
            return
        self.state.training = "idle"
        self.progress_changed.emit(None)
        self.state.status = f"training failed: {message}"

    # ------------------------------------------------------------------ closing
    @property
    def busy(self) -> bool:
        """True while a recording, a job or a training runs."""
        return self.recorder.running or self.worker.running

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop training and wait for the workers (before the window goes)."""
        self._closing = True
        self._stop_worker()
        self.worker.wait(timeout)
        self.recorder.wait(timeout)


__all__ = ["TRACE_INTERVAL", "RunController"]
