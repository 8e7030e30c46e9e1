"""File-menu actions of the window: sessions (open / save / recent / autosave) and exports.

``install_export_actions(window)`` adds the actions to ``window.file_menu`` and stores a
:class:`SessionController` as ``window.session_controller``. The controller's methods do the
work without dialogs (``save``, ``open``, ``export_figure``, ``export_window``,
``export_animation``, ``export_trace``, ``export_series``), so tests and scripts can drive them;
the menu actions wrap them in file dialogs and show errors in a QMessageBox, never a traceback.

Figures are drawn by :mod:`rnnviz.export.figures` exactly as ``rnnviz export`` draws them.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QMessageBox,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from rnnviz.app.session import SUFFIX, Session, SessionFileError, load_session, save_session
from rnnviz.core.trace import TraceFileError

__all__ = ["AUTOSAVE_MS", "ExportOptionsDialog", "SessionController", "install_export_actions"]

AUTOSAVE_MS = 60_000
MAX_RECENT = 8
SESSION_FILTER = f"rnnviz session (*{SUFFIX});;All files (*)"
SIZES = ("1280x720", "1920x1080", "960x540", "800x600", "3840x2160")
# window view name → export panel name
VIEW_PANEL = {"hidden": "hidden", "cell": "cell", "gates": "gates", "saturation": "gates",
              "gradients": "gradients", "training": "loss", "graph": "graph", "predictions": "outputs"}


class _LazyModule:
    """``rnnviz.export.<name>``, imported on first use: the export code (and PIL under it) is
    a noticeable part of start-up and is needed only when the user exports something."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


arrays, figures, gif = (_LazyModule(f"rnnviz.export.{name}") for name in ("arrays", "figures", "gif"))


class _Bridge(QObject):
    progress = Signal(int, int)
    done = Signal(str)
    failed = Signal(str)


def _message(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        return f"Cannot write{where}: {exc.strerror or exc}"
    return str(exc) or type(exc).__name__


class SessionController(QObject):
    """Saves and reopens the window's session; exports; autosaves while training."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.path: Path | None = None
        self.traces: list[tuple[int, object]] = []  # traces recorded during training
        self.last_error = ""
        self._export_thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        state = getattr(window, "state", None)
        if state is not None and hasattr(state, "events"):
            for fld, cb in (("trace", self._on_trace), ("training", self._on_training)):
                try:
                    state.events.subscribe(fld, cb)
                except ValueError:
                    pass

    # -- state helpers ----------------------------------------------------------------------
    @property
    def state(self):
        return getattr(self.window, "state", None)

    def _get(self, name, default=None):
        return getattr(self.state, name, default) if self.state is not None else default

    def _on_trace(self, trace) -> None:
        if trace is not None and self._get("training", "idle") == "running":
            step = int(trace.meta.get("step", len(self.traces)))
            if not self.traces or self.traces[-1][0] != step:
                self.traces.append((step, trace))

    def _on_training(self, value) -> None:
        if value == "running":
            if not self.autosave_timer.isActive():
                self.autosave_timer.start()
        elif value == "idle":
            self.autosave_timer.stop()

    # -- sessions -----------------------------------------------------------------------------
    def collect(self) -> Session:
        """The window's state as a :class:`Session`."""
        s = Session()
        cfg = self._get("config")
        s.config = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg or {})
        model = getattr(self.window, "model", None)
        if model is not None and hasattr(model, "state_dict"):
            s.weights = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
        trainer = getattr(getattr(self.window, "trainer_worker", None), "trainer", None)
        opt = getattr(trainer, "optimizer", None)
        if opt is not None and model is not None and getattr(trainer, "model", None) is model:
            s.optimizer = opt.state_dict()
        s.history = [dict(r) for r in (self._get("history") or [])]
        s.trace = self._get("trace")
        traces = list(self.traces) or list(getattr(trainer, "traces", None) or [])
        s.traces = traces
        view = self.state.to_dict() if hasattr(self.state, "to_dict") else {}
        s.view = dict(view)
        comp = self._get("compare")
        if comp is not None or self._get("compare_history"):
            s.compare = {"label": self._get("compare_label", "") or "", "trace": comp,
                         "history": list(self._get("compare_history") or [])}
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
            self.last_error = _message(exc)
            return False
        self.path = path
        if self.state is not None and hasattr(self.state, "dirty"):
            self.state.dirty = False
        self.add_recent(path)
        self._status(f"saved session {path.name}")
        return True

    def open(self, path: str | Path) -> bool:
        """Replace the window's state with the session in ``path``; on error the state is untouched."""
        path = Path(path)
        try:
            session = load_session(path)
            self.apply(session)
        except (SessionFileError, OSError, ValueError, KeyError, RuntimeError) as exc:
            self.last_error = _message(exc)
            return False
        self.path = path
        self.add_recent(path)
        self._status(f"opened session {path.name}")
        return True

    def apply(self, session: Session) -> None:
        """Install ``session`` in the window (config, model weights, optimizer, history, traces, view)."""
        import torch

        from rnnviz.core.config import RunConfig

        cfg = RunConfig.from_dict(session.config) if session.config else None
        model = None
        if cfg is not None and session.weights:  # build first: a bad file must not half-change the window
            from rnnviz.core.train import build_run

            model, _ = build_run(RunConfig.from_dict(session.config))  # sizes follow the task
            model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in session.weights.items()})
        st, w = self.state, self.window
        if st is None:
            return
        stop = getattr(getattr(w, "trainer_worker", None), "stop", None)
        if stop is not None and self._get("training", "idle") != "idle":
            stop()
        had = getattr(w, "_suppress_record", None)
        if had is not None:
            w._suppress_record = True
        try:
            if cfg is not None:
                st.config = cfg
            if model is not None:
                w.model = model
            self.traces = list(session.traces)
            self.optimizer_state = session.optimizer
            st.history = list(session.history)
            comp = session.compare or {}
            st.compare = comp.get("trace")
            st.compare_history = list(comp.get("history") or [])
            st.compare_label = comp.get("label", "")
            if hasattr(st, "set_trace"):
                st.set_trace(session.trace)
            else:
                st.trace = session.trace
            if hasattr(st, "update_from_dict"):
                st.update_from_dict({k: v for k, v in session.view.items() if k != "compare_label"})
            st.dirty = False
        finally:
            if had is not None:
                w._suppress_record = had

    def autosave(self) -> Path | None:
        """Write the session to the autosave file (AppDataLocation/autosave.rnnviz)."""
        folder = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation) or ".")
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"autosave{SUFFIX}"
            save_session(path, self.collect())
        except (SessionFileError, OSError, ValueError) as exc:
            self.last_error = _message(exc)
            self._status(f"autosave failed: {self.last_error}")
            return None
        return path

    def confirm_close(self) -> bool:
        """Ask about unsaved changes; True when the window may close."""
        if not self._get("dirty", False):
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

    # -- recent files -------------------------------------------------------------------------
    def recent_files(self) -> list[str]:
        value = QSettings("rnnviz", "rnnviz").value("recent_sessions", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: Path) -> None:
        items = [str(Path(path).resolve())] + [p for p in self.recent_files() if p != str(Path(path).resolve())]
        QSettings("rnnviz", "rnnviz").setValue("recent_sessions", items[:MAX_RECENT])
        self._rebuild_recent()

    def _rebuild_recent(self) -> None:
        menu = getattr(self, "recent_menu", None)
        if menu is None:
            return
        menu.clear()
        files = self.recent_files()
        for p in files:
            act = menu.addAction(Path(p).name)
            act.setToolTip(p)
            act.triggered.connect(lambda _c=False, p=p: self._open_checked(p))
        menu.setEnabled(bool(files))

    # -- exports (no dialogs) -----------------------------------------------------------------
    def current_panel(self) -> str:
        """The export panel of the view in front (its tab), or 'hidden'."""
        tabs = getattr(self.window, "tabs", None)
        views = getattr(self.window, "views", {}) or {}
        if tabs is not None:
            widget = tabs.currentWidget()
            for name, view in views.items():
                if view is widget:
                    return VIEW_PANEL.get(name, "hidden")
        return "hidden"

    def _trace(self):
        trace = self._get("trace")
        if trace is None:
            raise ValueError("There is no trace yet: record a run first.")
        return trace

    def figure_scene(self, panels, size=(1280, 720)):
        """The scene the CLI would draw for this state (same panels, layer, sample and history)."""
        return figures.figure(self._trace(), panels, size, history=self._get("history") or None,
                              k=int(self._get("layer", 0) or 0), sample=int(self._get("sample", 0) or 0))

    def export_figure(self, path, panels=None, size=(1280, 720), scale: float = 1.0) -> bool:
        """PNG or SVG (by suffix) of ``panels`` (default: the panel in front)."""
        try:
            panels = panels or [self.current_panel()]
            figures.save_figure(path, self.figure_scene(panels, size), scale)
        except (ValueError, OSError, gif.ExportError) as exc:
            self.last_error = _message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_window(self, path) -> bool:
        """The whole window as PNG (a screenshot of the widgets)."""
        try:
            from rnnviz.export.arrays import safe_write

            pix = self.window.grab()
            from PySide6.QtCore import QBuffer, QIODevice

            buf = QBuffer()
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            if not pix.save(buf, "PNG"):
                raise ValueError("could not render the window")
            data = bytes(buf.data())
            safe_write(Path(path), lambda f: f.write(data))
        except (ValueError, OSError) as exc:
            self.last_error = _message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_trace(self, path) -> bool:
        try:
            arrays.write_trace_npz(path, self._trace())
        except (ValueError, OSError, TraceFileError) as exc:
            self.last_error = _message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_series(self, path) -> bool:
        try:
            arrays.write_series(path, self._trace())
        except (ValueError, OSError) as exc:
            self.last_error = _message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_history(self, path) -> bool:
        try:
            history = self._get("history") or []
            if not history:
                raise ValueError("There is no training history yet: train first.")
            arrays.write_history_csv(path, history)
        except (ValueError, OSError) as exc:
            self.last_error = _message(exc)
            return False
        return True

    def export_animation(self, path, animation="forward", panels=None, fps=8.0,
                         size=(960, 540), frames=None, progress=None, on_done=None, wait=False) -> bool:
        """Write an animation in a worker thread; ``progress(done, total)``, ``on_done(ok, message)``.

        With ``wait=True`` it blocks until written and returns success. Cancel with :meth:`cancel_export`.
        """
        if self._export_thread is not None and self._export_thread.is_alive():
            self.last_error = "An export is already running."
            return False
        trace = self._get("trace")
        traces = list(self.traces)
        history = list(self._get("history") or [])
        k, b = int(self._get("layer", 0) or 0), int(self._get("sample", 0) or 0)
        try:  # check before the thread starts, so the user hears about it at once
            total = gif.count_frames(animation, trace, traces, frames)
        except gif.ExportError as exc:
            self.last_error = str(exc)
            return False
        self._cancel.clear()
        bridge = self._bridge = _Bridge()
        if progress is not None:
            bridge.progress.connect(progress)
        result = {}

        def finished(ok, msg):
            result["ok"], result["msg"] = ok, msg
            if not ok:
                self.last_error = msg
            else:
                self._status(msg)
            if on_done is not None:
                on_done(ok, msg)

        bridge.done.connect(lambda msg: finished(True, msg))
        bridge.failed.connect(lambda msg: finished(False, msg))

        def report(done, n):
            bridge.progress.emit(done, n)
            return not self._cancel.is_set()

        def work():
            try:
                gif.write_animation(path, animation, trace, traces=traces, history=history,
                                    panels=panels or gif.DEFAULT_PANELS,
                                    size=size, fps=fps, frames=frames, progress=report, k=k, sample=b)
            except (gif.ExportError, ValueError, OSError) as exc:
                bridge.failed.emit(_message(exc))
            except Exception as exc:  # noqa: BLE001 - shown as a message, not a traceback
                traceback.print_exc()
                bridge.failed.emit(f"export failed: {exc}")
            else:
                bridge.done.emit(f"exported {Path(path).name} ({total} frames)")

        self._export_thread = threading.Thread(target=work, name="rnnviz-export", daemon=True)
        self._export_thread.start()
        if wait:
            from PySide6.QtWidgets import QApplication

            while self._export_thread.is_alive() or "ok" not in result:
                self._export_thread.join(0.02)
                QApplication.processEvents()
            return bool(result.get("ok"))
        return True

    def cancel_export(self) -> None:
        self._cancel.set()

    def _status(self, text: str) -> None:
        if self.state is not None and hasattr(self.state, "status"):
            try:
                self.state.status = text
            except Exception:  # noqa: BLE001
                pass

    # -- dialogs ------------------------------------------------------------------------------
    def _error(self, title: str) -> None:
        QMessageBox.warning(self.window, title, self.last_error)

    def _open_checked(self, path) -> None:
        if not self.confirm_close():
            return
        if not self.open(path):
            self._error("Cannot open session")

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self._start_dir(), SESSION_FILTER)
        if path:
            self._open_checked(path)

    def save_dialog(self, as_new: bool = False) -> bool:
        path = self.path
        if as_new or path is None:
            name, _ = QFileDialog.getSaveFileName(self.window, "Save session as", self._start_dir(f"session{SUFFIX}"),
                                                  SESSION_FILTER)
            if not name:
                return False
            path = Path(name)
        if not self.save(path):
            self._error("Cannot save session")
            return False
        return True

    def _start_dir(self, name: str = "") -> str:
        base = self.path.parent if self.path else Path.home()
        return str(base / name) if name else str(base)

    def _save_name(self, title, default, filt) -> str:
        name, _ = QFileDialog.getSaveFileName(self.window, title, self._start_dir(default), filt)
        return name

    def export_panel_dialog(self) -> None:
        if self._get("trace") is None:
            self.last_error = "There is no trace yet: record a run first."
            return self._error("Nothing to export")
        dlg = ExportOptionsDialog(self.window, animation=False, panels=[self.current_panel()])
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        name = self._save_name("Export figure", f"{'-'.join(dlg.panels())}.png", "PNG image (*.png);;SVG (*.svg)")
        if name and not self.export_figure(name, dlg.panels(), dlg.size(), dlg.scale()):
            self._error("Cannot export figure")

    def export_window_dialog(self) -> None:
        name = self._save_name("Export window", "rnnviz-window.png", "PNG image (*.png)")
        if name and not self.export_window(name):
            self._error("Cannot export window")

    def export_animation_dialog(self) -> None:
        dlg = ExportOptionsDialog(self.window, animation=True, training_ok=len(self.traces) >= 2)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        filt = "GIF animation (*.gif)" + (";;MP4 video (*.mp4)" if gif.mp4_available() else "")
        name = self._save_name("Export animation", f"{dlg.animation()}.gif", filt)
        if not name:
            return
        progress = QProgressDialog("Writing animation…", "Cancel", 0, 100, self.window)
        progress.setWindowTitle("Export animation")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)
        progress.canceled.connect(self.cancel_export)

        def on_progress(done, total):
            progress.setMaximum(total)
            progress.setValue(done)

        def on_done(ok, msg):
            progress.reset()
            if not ok and not msg.startswith("export cancelled"):
                QMessageBox.warning(self.window, "Cannot export animation", msg)

        if not self.export_animation(name, dlg.animation(), dlg.panels(), dlg.fps(), dlg.size(), dlg.frames(),
                                     progress=on_progress, on_done=on_done):
            progress.reset()
            self._error("Cannot export animation")

    def export_trace_dialog(self) -> None:
        name = self._save_name("Export trace", "trace.npz", "Trace (*.npz)")
        if name and not self.export_trace(name):
            self._error("Cannot export trace")

    def export_series_dialog(self) -> None:
        name = self._save_name("Export series", "series.csv", "CSV (*.csv);;JSON (*.json);;NumPy (*.npz)")
        if name and not self.export_series(name):
            self._error("Cannot export series")


class ExportOptionsDialog(QDialog):
    """Which panels, size and scale (figures); plus animation, frame rate and frame count (animations)."""

    def __init__(self, parent: QWidget | None = None, animation: bool = False, panels=None,
                 training_ok: bool = True):
        super().__init__(parent)
        self.setWindowTitle("Export animation" if animation else "Export figure")
        form = QFormLayout(self)
        self._anim = QComboBox()
        self._anim.addItems(["forward", "backward"] + (["training"] if training_ok else []))
        self._anim.setToolTip("forward: step through the sequence; backward: gradients flowing back; "
                              "training: one frame per recorded trace")
        chosen = set(panels or ("hidden", "gates", "gradients"))
        row = QHBoxLayout()
        self._checks = {}
        from rnnviz.export.frames import PANELS

        for name in PANELS:
            box = QCheckBox(name)
            box.setChecked(name in chosen)
            self._checks[name] = box
            row.addWidget(box)
        self._size = QComboBox()
        self._size.setEditable(True)
        self._size.addItems(SIZES if not animation else ("960x540", "1280x720", "640x360"))
        self._scale = QDoubleSpinBox()
        self._scale.setRange(0.25, 8.0)
        self._scale.setSingleStep(0.5)
        self._scale.setValue(1.0)
        self._scale.setToolTip("Pixel scale: 2 doubles the resolution (sharp on projectors and in print)")
        self._fps = QDoubleSpinBox()
        self._fps.setRange(0.5, 60.0)
        self._fps.setValue(8.0)
        self._frames = QSpinBox()
        self._frames.setRange(0, gif.MAX_FRAMES)
        self._frames.setSpecialValueText("all")
        if animation:
            form.addRow("Animation", self._anim)
        form.addRow("Panels", row)
        form.addRow("Size", self._size)
        if animation:
            form.addRow("Frames per second", self._fps)
            form.addRow("At most frames", self._frames)
        else:
            form.addRow("Scale", self._scale)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _accept(self) -> None:
        try:
            figures.parse_size(self._size.currentText())
        except ValueError as exc:
            QMessageBox.warning(self, "Size", str(exc))
            return
        if not self.panels():
            QMessageBox.warning(self, "Panels", "Choose at least one panel.")
            return
        self.accept()

    def panels(self) -> list[str]:
        return [n for n, b in self._checks.items() if b.isChecked()]

    def size(self) -> tuple[int, int]:
        return figures.parse_size(self._size.currentText())

    def scale(self) -> float:
        return float(self._scale.value())

    def fps(self) -> float:
        return float(self._fps.value())

    def frames(self) -> int | None:
        return int(self._frames.value()) or None

    def animation(self) -> str:
        return self._anim.currentText()


def install_export_actions(window) -> SessionController:
    """Add session and export actions to ``window.file_menu``; store the controller on the window."""
    ctl = SessionController(window)
    window.session_controller = ctl
    menu = getattr(window, "file_menu", None)
    if menu is None:
        menu = window.menuBar().addMenu("&File")
        window.file_menu = menu
    first = menu.actions()[0] if menu.actions() else None

    def add(text, slot, shortcut=None, tip=""):
        act = QAction(text, window)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(lambda _c=False: slot())
        menu.insertAction(first, act) if first is not None else menu.addAction(act)
        return act

    ctl.menu_actions = {
        "open_session": add("Open session…", ctl.open_dialog, QKeySequence.StandardKey.Open,
                            "Open a saved session (config, weights, history, traces)"),
        "save_session": add("Save session", lambda: ctl.save_dialog(), "Ctrl+S", "Save everything to one file"),
        "save_session_as": add("Save session as…", lambda: ctl.save_dialog(as_new=True), "Ctrl+Shift+S"),
    }
    from PySide6.QtWidgets import QMenu

    ctl.recent_menu = QMenu("Recent sessions", menu)
    menu.insertMenu(first, ctl.recent_menu) if first is not None else menu.addMenu(ctl.recent_menu)
    ctl._rebuild_recent()
    menu.insertSeparator(first) if first is not None else menu.addSeparator()
    ctl.menu_actions.update({
        "export_panel": add("Export panel PNG/SVG…", ctl.export_panel_dialog, "Ctrl+E",
                            "The panel in front (or several) as PNG or SVG, with titles and colour bars"),
        "export_window": add("Export window PNG…", ctl.export_window_dialog),
        "export_animation": add("Export GIF/MP4…", ctl.export_animation_dialog, None,
                                "Animate the forward pass, the backward pass or training"),
        "export_trace": add("Export trace .npz…", ctl.export_trace_dialog),
        "export_series": add("Export series CSV…", ctl.export_series_dialog, None,
                             "Per-timestep gradient norms, losses and gate saturation"),
    })
    if first is not None:
        menu.insertSeparator(first)
    return ctl
