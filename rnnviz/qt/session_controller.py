"""The sessions controller: save and reopen the window's session, recent files, autosave, open trace.

:class:`SessionController` does its work without dialogs (:meth:`save`, :meth:`open`,
:meth:`open_trace`, :meth:`autosave`), so tests and scripts can drive it; the ``*_dialog``
methods wrap them in file dialogs and show errors in a message box, never a traceback.

Opening is all-or-nothing: the file is read and checked by its loader, then everything the
window needs is built from it (config, model with its weights, trainer with its optimizer state
and step count, view choices), and only then installed, in one step, by the training
controller. Any error leaves the previous session on screen and names the problem.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from rnnviz.app.actions import RunResult
from rnnviz.app.session import (
    SUFFIX,
    Session,
    SessionFileError,
    load_session,
    optimizer_state_for_torch,
    save_session,
)
from rnnviz.app.state import CompareRun, SessionState
from rnnviz.core.config import ConfigError, RunConfig
from rnnviz.core.trace import Trace, TraceFileError
from rnnviz.core.train import Trainer, build_run
from rnnviz.qt.errors import log

AUTOSAVE_MS = 60_000
MAX_RECENT = 8
SESSION_FILTER = f"rnnviz session (*{SUFFIX});;All files (*)"
#: what opening a file may raise when the file is bad (anything else is a bug, shown and logged)
FILE_ERRORS = (SessionFileError, TraceFileError, ConfigError, OSError, ValueError, KeyError, RuntimeError)


def error_message(exc: BaseException) -> str:
    """One line for a message box: what went wrong, with the file name for OS errors."""
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return f"Cannot write{where}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


class SessionController(QObject):
    """Saves and reopens the window's session; autosaves while training; opens traces."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.state: SessionState = window.state
        self.runs = window.training_controller
        self.path: Path | None = None
        self.traces: list[tuple[int, Trace]] = []  # traces recorded during training (training GIFs)
        self.last_error = ""
        self.recent_menu = None
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.state.events.subscribe("trace", self._on_trace)
        self.state.events.subscribe("training", self._on_training)

    def _on_trace(self, trace) -> None:
        if trace is not None and self.state.training == "running":
            step = int(trace.meta.get("step", len(self.traces)))
            if not self.traces or self.traces[-1][0] != step:
                self.traces.append((step, trace))

    def _on_training(self, value) -> None:
        if value == "running":
            if not self.autosave_timer.isActive():
                self.autosave_timer.start()
        elif value == "idle":
            self.autosave_timer.stop()

    # ------------------------------------------------------------------ sessions
    def collect(self) -> Session:
        """The window's state as a :class:`Session`."""
        st = self.state
        s = Session()
        s.config = st.config.to_dict()
        model = st.model
        if model is not None:
            s.weights = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
        trainer = self.runs.trainer
        if trainer is not None and model is not None and trainer.model is model:
            s.optimizer = trainer.optimizer.state_dict()
        s.history = [dict(r) for r in st.history]
        s.trace = st.trace
        s.traces = list(self.traces) or (list(trainer.traces) if trainer is not None else [])
        s.view = st.to_dict()
        if st.compare_runs:  # the session file holds one compared run: the first
            first = st.compare_runs[0]
            s.compare = {"label": first.label, "trace": first.trace, "history": list(first.history)}
        return s

    def save(self, path: str | Path | None = None) -> bool:
        """Save the session to ``path`` (default: the current file). Errors → ``last_error``, False."""
        path = Path(path) if path is not None else self.path
        if path is None:
            self.last_error = "no file chosen"
            return False
        if not path.suffix:
            path = path.with_suffix(SUFFIX)
        try:
            save_session(path, self.collect())
        except (SessionFileError, OSError, ValueError) as exc:
            self.last_error = error_message(exc)
            return False
        self.path = path
        self.state.dirty = False
        self.add_recent(path)
        self.state.status = f"saved session {path.name}"
        return True

    def open(self, path: str | Path) -> bool:
        """Replace the window's state with the session in ``path``; on error the state is untouched."""
        path = Path(path)
        try:
            self.apply(load_session(path))
        except FILE_ERRORS as exc:
            self.last_error = error_message(exc)
            return False
        except Exception as exc:  # noqa: BLE001 - a bug, not the file: logged, and the window is intact
            log.exception("opening session %s", path)
            self.last_error = f"unexpected error ({type(exc).__name__}: {exc}); the previous session is kept"
            return False
        self.path = path
        self.add_recent(path)
        self.state.status = f"opened session {path.name}"
        return True

    def apply(self, session: Session) -> None:
        """Install ``session`` in the window (config, weights, optimizer and step count, history,
        traces, compared run, view choices and the tab in front). Everything is built and checked
        first; an error raises before anything on screen changed."""
        cfg = RunConfig.from_dict(session.config) if session.config else self.state.config
        if session.trace is None:
            raise SessionFileError("the session holds no trace to show")
        model = probe = trainer = None
        if session.weights:
            model, probe = build_run(cfg)  # sizes follow the task
            model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in session.weights.items()})
            trainer = Trainer(model, cfg.task, cfg.train)
            trainer.history = [dict(r) for r in session.history]
            trainer.step = int(session.history[-1]["step"]) if session.history else 0
            trainer.traces = list(session.traces)
            optimizer = optimizer_state_for_torch(session)
            if optimizer is not None:
                trainer.optimizer.load_state_dict(optimizer)
        scratch = SessionState(cfg)  # the view choices, checked against the session's own trace
        scratch.set_trace(session.trace)
        scratch.update_from_dict(session.view)
        comp = session.compare or {}
        compare = [CompareRun(str(comp.get("label", "")), comp["trace"], list(comp.get("history") or []))
                   ] if comp.get("trace") is not None else []
        run = RunResult(cfg, model, probe, session.trace, history=list(session.history)) if model is not None \
            else None
        # -- install, in one step -----------------------------------------------------
        if run is not None:
            self.runs.install(run, trainer=trainer, compare=compare, config=cfg, status="")
        else:
            self.runs.install_trace(session.trace, cfg, history=session.history, compare=compare)
        self.traces = list(session.traces)
        self.state.update_from_dict(scratch.to_dict())
        self.state.dirty = False

    def open_trace(self, path: str | Path) -> bool:
        """Show a recorded run (.npz); its config is not changed. Errors → ``last_error``, False."""
        path = Path(path)
        try:
            trace = Trace.load(path)
            self.runs.install_trace(trace, None, status=f"opened {path.name}")
        except FILE_ERRORS as exc:
            self.last_error = f"cannot open {path.name}: {error_message(exc)}"
            return False
        except Exception as exc:  # noqa: BLE001 - a bug, not the file: logged, and the window is intact
            log.exception("opening trace %s", path)
            self.last_error = f"cannot open {path.name}: unexpected error ({type(exc).__name__}: {exc})"
            return False
        self.traces = []
        return True

    def autosave(self) -> Path | None:
        """Write the session to the autosave file (AppDataLocation/autosave.rnnviz)."""
        folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or ".")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"autosave{SUFFIX}"
            save_session(path, self.collect())
        except (SessionFileError, OSError, ValueError) as exc:
            self.last_error = error_message(exc)
            self.state.status = f"autosave failed: {self.last_error}"
            return None
        return path

    def confirm_close(self) -> bool:
        """Ask about unsaved changes; True when the window may close."""
        if not self.state.dirty:
            return True
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            # nobody can answer a dialog on a headless platform (tests, --screenshot): keep the
            # work in the autosave file instead of blocking forever
            self.autosave()
            return True
        box = QMessageBox(QMessageBox.Icon.Question, "Unsaved changes",
                          "This session has unsaved changes. Save them before closing?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Save:
            return self.save_dialog(as_new=self.path is None)
        return True

    # ------------------------------------------------------------------ recent files
    def recent_files(self) -> list[str]:
        """Recently opened or saved session files, newest first."""
        value = QSettings("rnnviz", "rnnviz").value("recent_sessions", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        """Put ``path`` first in the recent files."""
        resolved = str(Path(path).resolve())
        items = [resolved] + [p for p in self.recent_files() if p != resolved]
        QSettings("rnnviz", "rnnviz").setValue("recent_sessions", items[:MAX_RECENT])
        self.rebuild_recent()

    def rebuild_recent(self) -> None:
        """Refill the File ▸ Recent sessions menu."""
        menu = self.recent_menu
        if menu is None:
            return
        menu.clear()
        files = self.recent_files()
        for p in files:
            act = menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _c=False, p=p: self.open_checked(p))
        menu.setEnabled(bool(files))

    # ------------------------------------------------------------------ dialogs
    def _error(self, title: str) -> None:
        QMessageBox.warning(self.window, title, self.last_error)

    def open_checked(self, path) -> None:
        """Open ``path`` after asking about unsaved changes; a bad file shows a message box."""
        if not self.confirm_close():
            return
        if not self.open(path):
            self._error("Cannot open session")

    def open_dialog(self) -> None:
        """File ▸ Open session…"""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self.start_dir(), SESSION_FILTER)
        if path:
            self.open_checked(path)

    def open_trace_dialog(self) -> None:
        """File ▸ Open trace…"""
        path, _ = QFileDialog.getOpenFileName(self.window, "Open trace", self.start_dir(), "rnnviz traces (*.npz)")
        if path and not self.open_trace(path):
            self._error("Cannot open trace")

    def save_dialog(self, as_new: bool = False) -> bool:
        """File ▸ Save session (as…)."""
        path = self.path
        if as_new or path is None:
            name, _ = QFileDialog.getSaveFileName(self.window, "Save session as", self.start_dir(f"session{SUFFIX}"),
                                                  SESSION_FILTER)
            if not name:
                return False
            path = Path(name)
        if not self.save(path):
            self._error("Cannot save session")
            return False
        return True

    def start_dir(self, name: str = "") -> str:
        """Where file dialogs start: beside the current session, else the home folder."""
        base = self.path.parent if self.path else Path.home()
        return str(base / name) if name else str(base)


__all__ = ["AUTOSAVE_MS", "FILE_ERRORS", "SessionController", "error_message"]
