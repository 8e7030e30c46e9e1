"""Exports of the window: figures (PNG/SVG), the window, animations (GIF/MP4), traces and series.

:class:`ExportController` does the work without dialogs (``export_figure``, ``export_window``,
``export_animation``, ``export_trace``, ``export_series``, ``export_history``), so tests and
scripts can drive it; the ``*_dialog`` methods wrap them in file dialogs and show errors in a
message box, never a traceback. An animation is written in a worker thread; closing the window
while one is written asks whether to wait for it (:meth:`ExportController.confirm_close`).

Figures are drawn by :mod:`rnnviz.export.figures` exactly as ``rnnviz export`` draws them.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path

from PySide6.QtCore import QBuffer, QIODevice, QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QSpinBox,
    QWidget,
)

from rnnviz.app.panels import default_panels
from rnnviz.core.trace import TraceFileError
from rnnviz.qt.session_controller import error_message

__all__ = ["ExportController", "ExportOptionsDialog"]

SIZES = ("1280x720", "1920x1080", "960x540", "800x600", "3840x2160")
TRAINING_HINT = ("The training animation needs at least two traces recorded during live training: "
                 "press Train (Ctrl+T) first, then export.")


class _LazyModule:
    """``rnnviz.export.<name>``, imported on first use: the export code (and PIL under it) is
    a noticeable part of start-up and is needed only when the user exports something."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attr: str):
        import importlib

        return getattr(importlib.import_module(self._name), attr)


arrays, figures, gif = (_LazyModule(f"rnnviz.export.{name}") for name in ("arrays", "figures", "gif"))
export_frames = _LazyModule("rnnviz.export.frames")


class _Bridge(QObject):
    progress = Signal(int, int)
    done = Signal(str)
    failed = Signal(str)


class ExportController(QObject):
    """Exports what the window shows; ``sessions`` (the SessionController) holds the traces
    recorded during training, which the training animation needs."""

    def __init__(self, window, sessions):
        super().__init__(window)
        self.window = window
        self.state = window.state
        self.sessions = sessions
        self.last_error = ""
        self._export_thread: threading.Thread | None = None
        self._cancel = threading.Event()

    # -- exports (no dialogs) -----------------------------------------------------------------
    def current_panel(self) -> str:
        """The export panel of the view in front (its tab), or 'hidden'."""
        # views and export frames share the panel names; a view with no export frame exports h_t
        return self.state.panel if self.state.panel in export_frames.exportable() else "hidden"

    @property
    def busy(self) -> bool:
        """True while an animation is being written."""
        return self._export_thread is not None and self._export_thread.is_alive()

    def _status(self, text: str) -> None:
        self.state.status = text

    def _trace(self):
        trace = self.state.trace
        if trace is None:
            raise ValueError("There is no trace yet: record a run first.")
        return trace

    def figure_scene(self, panels, size=(1280, 720)):
        """The scene the CLI would draw for this state (same panels, layer, sample and history)."""
        st = self.state
        return figures.figure(self._trace(), panels, size, history=st.history or None, k=st.layer, sample=st.sample)

    def export_figure(self, path, panels=None, size=(1280, 720), scale: float = 1.0) -> bool:
        """PNG or SVG (by suffix) of ``panels`` (default: the panel in front)."""
        try:
            panels = panels or [self.current_panel()]
            figures.save_figure(path, self.figure_scene(panels, size), scale)
        except (ValueError, OSError, gif.ExportError) as exc:
            self.last_error = error_message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_window(self, path) -> bool:
        """The whole window as PNG (a screenshot of the widgets)."""
        try:
            self.window.views["graph"].finish_build()  # every drawn step in the picture
            pix = self.window.grab()
            buf = QBuffer()
            buf.open(QIODevice.OpenModeFlag.WriteOnly)
            if not pix.save(buf, "PNG"):
                raise ValueError("could not render the window")
            data = bytes(buf.data())
            arrays.safe_write(Path(path), lambda f: f.write(data))
        except (ValueError, OSError) as exc:
            self.last_error = error_message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_trace(self, path) -> bool:
        try:
            arrays.write_trace_npz(path, self._trace())
        except (ValueError, OSError, TraceFileError) as exc:
            self.last_error = error_message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_series(self, path) -> bool:
        try:
            arrays.write_series(path, self._trace())
        except (ValueError, OSError) as exc:
            self.last_error = error_message(exc)
            return False
        self._status(f"exported {Path(path).name}")
        return True

    def export_history(self, path) -> bool:
        try:
            history = self.state.history
            if not history:
                raise ValueError("There is no training history yet: train first.")
            arrays.write_history_csv(path, history)
        except (ValueError, OSError) as exc:
            self.last_error = error_message(exc)
            return False
        return True

    def export_animation(self, path, animation="forward", panels=None, fps=8.0,
                         size=(960, 540), frames=None, progress=None, on_done=None, wait=False) -> bool:
        """Write an animation in a worker thread; ``progress(done, total)``, ``on_done(ok, message)``.

        With ``wait=True`` it blocks until written and returns success. Cancel with :meth:`cancel_export`.
        """
        if self.busy:
            self.last_error = "An export is already running."
            return False
        st = self.state
        trace, traces, history, k, b = st.trace, list(self.sessions.traces), list(st.history), st.layer, st.sample
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
                bridge.failed.emit(error_message(exc))
            except Exception as exc:  # noqa: BLE001 - shown as a message, not a traceback
                traceback.print_exc()
                bridge.failed.emit(f"export failed: {exc}")
            else:
                bridge.done.emit(f"exported {Path(path).name} ({total} frames)")

        self._export_thread = threading.Thread(target=work, name="rnnviz-export", daemon=True)
        self._export_thread.start()
        if wait:
            while self._export_thread.is_alive() or "ok" not in result:
                self._export_thread.join(0.02)
                QApplication.processEvents()
            return bool(result.get("ok"))
        return True

    def cancel_export(self) -> None:
        """Ask a running animation export to stop (it removes its partial file)."""
        self._cancel.set()

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until a running animation export ends (keeps the window painting); True if it did."""
        thread = self._export_thread
        if thread is None:
            return True
        thread.join(timeout)
        QApplication.processEvents()
        return not thread.is_alive()

    def confirm_close(self) -> bool:
        """While an animation is written: ask whether to finish it, cancel it, or keep the window
        open. True when the window may close (the export was finished or cancelled)."""
        if not self.busy:
            return True
        if QGuiApplication.platformName() in ("offscreen", "minimal"):
            return self.wait()  # nobody can answer: finish the file the user asked for
        box = QMessageBox(QMessageBox.Icon.Question, "Animation export running",
                          "An animation is still being written. Finish it before closing?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard
                          | QMessageBox.StandardButton.Cancel, self.window)
        box.button(QMessageBox.StandardButton.Yes).setText("Finish, then close")
        box.button(QMessageBox.StandardButton.Discard).setText("Stop the export and close")
        box.setDefaultButton(QMessageBox.StandardButton.Yes)
        answer = box.exec()
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Discard:
            self.cancel_export()
        return self.wait(600)

    # -- dialogs ------------------------------------------------------------------------------
    def _error(self, title: str) -> None:
        QMessageBox.warning(self.window, title, self.last_error)

    def _save_name(self, title, default, filt) -> str:
        name, _ = QFileDialog.getSaveFileName(self.window, title, self.sessions.start_dir(default), filt)
        return name

    def export_panel_dialog(self) -> None:
        if self.state.trace is None:
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
        trace = self.state.trace
        dlg = ExportOptionsDialog(self.window, animation=True, training_ok=len(self.sessions.traces) >= 2,
                                  panels=default_panels(trace.config if trace is not None else None))
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
        self._anim.addItems(["forward", "backward", "training"])
        self._anim.setToolTip("forward: step through the sequence; backward: gradients flowing back; "
                              "training: one frame per recorded trace")
        self.training_hint = QLabel("" if training_ok else "“training” is off: " + TRAINING_HINT)
        self.training_hint.setWordWrap(True)
        self.training_hint.setVisible(not training_ok)
        if not training_ok:  # offered, greyed out, with the reason beside it
            item = self._anim.model().item(2)
            item.setEnabled(False)
            item.setToolTip(TRAINING_HINT)
        # a cell without gates: a gates panel would be a third of the frame saying so
        chosen = set(panels or default_panels())
        row = QHBoxLayout()
        self._checks = {}
        for name in export_frames.exportable():
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
            form.addRow(self.training_hint)
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
