"""The rnnviz main window: build panel, unrolled graph, views, timeline and status bar.

The window owns a :class:`~rnnviz.app.state.SessionState` and keeps every view in step with
it: ``_on_<field>_change`` methods are subscribed to the state's fields and call the views'
setters (``set_trace``, ``set_cursor``, ``set_history``, ``set_compare``). Recording and
training run in background threads (:mod:`rnnviz.qt.workers`); the window never computes the
model itself.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rnnviz.app import actions
from rnnviz.app.state import SessionState
from rnnviz.core.config import ConfigError
from rnnviz.qt.build_panel import BuildPanel
from rnnviz.qt.compare import CompareDialog, comparison_label
from rnnviz.qt.timeline import TimelineBar
from rnnviz.qt.workers import Recorder, TrainWorker, start_warm_up, wait_warm_up

TRACE_INTERVAL = 0.25  # seconds between trace updates while training
CURSOR_FIELDS = ("time", "phase", "layer", "sample")
TAB_ORDER = ("hidden", "cell", "gates", "saturation", "gradients", "training", "spectrum",
             "predictions", "equations")

SHORTCUTS = [
    ("Space", "Play / pause the timeline"),
    ("→ / ←", "One time step forward / back (forward pass, then BPTT)"),
    ("Home / End", "Jump to the start / the end (End twice: end of BPTT)"),
    ("Ctrl+R", "Record the current setting again (fresh weights, no training)"),
    ("Ctrl+T", "Train live in the background"),
    ("Ctrl+P", "Pause / resume training"),
    ("Esc", "Stop training (and playing)"),
    ("Ctrl+K", "Compare two runs"),
    ("Ctrl+1 … Ctrl+9", "Show a view tab"),
]


def _view_classes() -> dict:
    try:
        from rnnviz.qt.views import VIEW_CLASSES
    except ImportError:
        return {}
    return dict(VIEW_CLASSES)


class LazyViews(Mapping):
    """The window's views, name → TraceView, each created the first time it is needed.

    Building every view up front costs a noticeable part of start-up (a dozen pyqtgraph plots
    for tabs nobody looks at yet), so a view is made on first access: ``views["gates"]``
    creates it, and ``on_create(name, view)`` (the window) puts it in its tab and feeds it the
    current state, so it is a real, up-to-date view from the first moment. ``in``, ``len`` and
    iterating the names never create anything; ``values()`` / ``items()`` do (they return every
    view). :meth:`created` lists only the views made so far (what the window feeds on changes).
    """

    def __init__(self, classes: dict, on_create=None):
        self._classes = dict(classes)
        self._views: dict = {}
        self._on_create = on_create

    def __getitem__(self, name: str):
        view = self._views.get(name)
        if view is None:
            cls = self._classes[name]  # KeyError for an unknown name, as a dict would
            view = self._views[name] = cls()
            if self._on_create is not None:
                self._on_create(name, view)
        return view

    def __iter__(self):
        return iter(self._classes)

    def __len__(self) -> int:
        return len(self._classes)

    def __contains__(self, name) -> bool:
        return name in self._classes

    def is_created(self, name: str) -> bool:
        """True once view ``name`` exists (nothing is created by asking)."""
        return name in self._views

    def created(self) -> list:
        """The views made so far (a snapshot list), in creation order."""
        return list(self._views.values())

    def title(self, name: str) -> str:
        """The tab title of view ``name`` without creating it."""
        view = self._views.get(name)
        return getattr(view if view is not None else self._classes[name], "title", name)


class MainWindow(QMainWindow):
    """The application window around one :class:`SessionState`.

    ``warm_up``: pre-import torch's optimiser machinery in the background after start-up, so
    the first training does not stall the window.

    Public attributes: ``state``, ``views`` (:class:`LazyViews`, name → TraceView: a tab's view
    is created the first time the tab is shown or ``views[name]`` is read), ``build_panel``,
    ``timeline``, ``tabs``, ``file_menu``, ``view_menu``, ``run_menu``, ``help_menu``,
    ``actions`` (dict name → QAction), ``recorder``, ``trainer_worker``, ``model`` (the model of
    the current trace). Methods: :meth:`record`, :meth:`record_sync`, :meth:`train`,
    :meth:`pause_training`, :meth:`resume_training`, :meth:`stop_training`, :meth:`reset`,
    :meth:`compare`, :meth:`clear_compare`, :meth:`run_text`, :meth:`show_view`.
    """

    def __init__(self, state: SessionState | None = None, parent: QWidget | None = None,
                 warm_up: bool = True):
        super().__init__(parent)
        self.state = state if state is not None else SessionState()
        self.model = None
        self.probe = None
        self._suppress_record = False
        self._closing = False
        self.setWindowTitle("rnnviz — see how recurrent networks work")

        self._pending_trace = None
        self._last_trace_at = 0.0
        self._trace_timer = QTimer(self)
        self._trace_timer.setSingleShot(True)
        self._trace_timer.timeout.connect(self._apply_pending_trace)
        self.recorder = Recorder(self)
        self.recorder.busy.connect(self._on_busy)
        self.recorder.finished.connect(self._on_recorded)
        self.recorder.failed.connect(self._on_record_failed)
        self.trainer_worker = TrainWorker(self)
        self.trainer_worker.progress.connect(self._on_train_progress)
        self.trainer_worker.trace.connect(self._on_train_trace)
        self.trainer_worker.finished.connect(self._on_train_finished)
        self.trainer_worker.failed.connect(self._on_train_failed)

        # -- views -------------------------------------------------------------------
        # Only the graph and the tab in front are built now; the other tabs hold a placeholder
        # until first shown (see LazyViews / _install_view): start-up paints sooner.
        self._placeholders: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views = LazyViews(_view_classes(), self._install_view)
        central = QWidget()
        vbox = QVBoxLayout(central)
        vbox.setContentsMargins(0, 0, 0, 0)
        vbox.setSpacing(0)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        graph = self.views.get("graph")
        if graph is None:
            graph = QLabel("The views are not installed (rnnviz.qt.views is missing).")
            graph.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.splitter.addWidget(graph)
        names = [n for n in TAB_ORDER if n in self.views] + [
            n for n in self.views if n not in TAB_ORDER and n != "graph"]
        self._tab_names = names
        for name in names:
            placeholder = QWidget()
            self._placeholders[name] = placeholder
            self.tabs.addTab(placeholder, self.views.title(name))
        self.tabs.currentChanged.connect(self._on_tab_changed)
        if names:
            self.views[names[self.tabs.currentIndex()]]  # the tab in front is built now
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([400, 600])
        vbox.addWidget(self.splitter, 1)
        self.timeline = TimelineBar(self.state)
        vbox.addWidget(self.timeline)
        self.setCentralWidget(central)

        # -- build panel ---------------------------------------------------------------
        self.build_panel = BuildPanel(self.state)
        self.build_panel.text_submitted.connect(self.run_text)
        self.build_dock = QDockWidget("Build", self)
        self.build_dock.setObjectName("build_dock")
        self.build_dock.setWidget(self.build_panel)
        self.build_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                    | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.build_panel.setMinimumWidth(300)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.build_dock)

        # -- status bar ----------------------------------------------------------------
        sb = self.statusBar()
        self.status_label = QLabel("")
        self.status_label.setToolTip("Messages: what happened, and why a setting was refused")
        self.nonfinite_label = QLabel("")
        self.nonfinite_label.setStyleSheet("color: white; background: #c00000; padding: 1px 6px; font-weight: bold;")
        self.nonfinite_label.setToolTip("This run produced NaN or ±Inf: the gradient (or state) exploded. "
                                        "Try clipping, a smaller learning rate or init scale.")
        self.nonfinite_label.hide()
        self.info_label = QLabel("")
        self.info_label.setToolTip("Loss and global gradient norm of the current trace")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.progress.setTextVisible(True)
        self.progress.setToolTip("Training progress (steps) or recording in progress")
        self.progress.hide()
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.nonfinite_label)
        sb.addPermanentWidget(self.info_label)
        sb.addPermanentWidget(self.progress)

        self.actions: dict[str, QAction] = {}
        self._build_menus()

        # -- state subscriptions ----------------------------------------------------------
        s = self.state
        for field in ("config", "trace", "history", "compare", "status", "training", "playing", "lesson",
                      "dirty"):
            s.events.subscribe(field, getattr(self, f"_on_{field}_change"))
        for field in CURSOR_FIELDS:
            s.events.subscribe(field, self._on_cursor_change)

        try:
            from rnnviz.qt.export_actions import install_export_actions
        except ImportError:
            pass
        else:
            try:
                install_export_actions(self)
            except Exception:  # noqa: BLE001 - a broken add-on must not stop the window
                traceback.print_exc()
        try:  # lessons dock + menu + presentation keys (rnnviz/qt/lesson_browser.py)
            from rnnviz.qt.lesson_browser import install_lesson_browser

            install_lesson_browser(self)
        except Exception:  # noqa: BLE001 - a broken add-on must not stop the window
            traceback.print_exc()

        self._update_title()
        self._update_actions()
        if warm_up:  # get torch's one-off optimiser imports out of the way while the user looks
            QTimer.singleShot(300, start_warm_up)
        if s.trace is not None:
            self._on_trace_change(s.trace)

    # ------------------------------------------------------------------ menus
    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "", menu=None) -> QAction:
        act = QAction(text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
            act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        self.addAction(act)
        if menu is not None:
            menu.addAction(act)
        self.actions[name] = act
        return act

    def _build_menus(self) -> None:
        mb = self.menuBar()
        s = self.state
        self.file_menu = mb.addMenu("&File")
        self._action("open_trace", "Open trace…", self._open_trace, "Ctrl+O",
                     "Load a recorded run (.npz) and show it", self.file_menu)
        self.file_menu.addSeparator()
        self._action("quit", "Quit", self.close, "Ctrl+Q", "Close rnnviz", self.file_menu)

        self.view_menu = mb.addMenu("&View")
        self.view_menu.addAction(self.build_dock.toggleViewAction())
        self.view_menu.addSeparator()
        for i, name in enumerate(self._tab_names):
            title = self.views.title(name)
            self._action(f"show_{name}", title, lambda n=name: self.show_view(n),
                         f"Ctrl+{i + 1}" if i < 9 else None, f"Show the {title} view", self.view_menu)
        self.view_menu.addSeparator()
        for phase, text in (("forward", "Forward pass, step by step"), ("backward", "BPTT, step by step"),
                            ("full", "Whole run at once")):
            self._action(f"phase_{phase}", text, lambda p=phase: self._set_phase(p), None,
                         "Which part of the timeline the cursor walks", self.view_menu)

        self.run_menu = mb.addMenu("&Run")
        m = self.run_menu
        self._action("play", "Play / pause", self.timeline.toggle_play, Qt.Key.Key_Space,
                     "Step through the forward pass and then BPTT at the chosen speed", m)
        self._action("step_forward", "Step forward", s.step_forward, Qt.Key.Key_Right,
                     "One time step forward (after the last step: into BPTT)", m)
        self._action("step_back", "Step back", s.step_back, Qt.Key.Key_Left, "One time step back", m)
        self._action("jump_start", "Jump to start", s.jump_start, Qt.Key.Key_Home, "t = 0 of the forward pass", m)
        self._action("jump_end", "Jump to end", s.jump_end, Qt.Key.Key_End,
                     "End of the forward pass; again: end of BPTT", m)
        m.addSeparator()
        self._action("record", "Record", self.record, "Ctrl+R",
                     "Build the network with fresh weights and record one forward + BPTT pass", m)
        self._action("train", "Train", self.train, "Ctrl+T",
                     "Train live in the background; the views follow the latest trace", m)
        self._action("pause", "Pause training", self.pause_training, "Ctrl+P", "Pause the training loop", m)
        self._action("resume", "Resume training", self.resume_training, "Ctrl+Shift+P",
                     "Continue a paused training", m)
        self._action("stop", "Stop", self.stop_training, Qt.Key.Key_Escape,
                     "Stop training (the weights so far are kept) and stop playing", m)
        self._action("reset", "Reset", self.reset, "Ctrl+Shift+R",
                     "Forget training: fresh weights, empty loss curve", m)
        m.addSeparator()
        self._action("compare", "Compare…", self.compare, "Ctrl+K",
                     "Run the same data and seed with one setting changed, side by side", m)
        self._action("clear_compare", "Clear comparison", self.clear_compare, None, "Leave compare mode", m)

        self.help_menu = mb.addMenu("&Help")
        self._action("shortcuts", "Keyboard shortcuts", self._show_shortcuts, "F1", "List the shortcuts",
                     self.help_menu)
        self._action("about", "About rnnviz", self._show_about, None, "", self.help_menu)

    def show_view(self, name: str) -> None:
        """Bring view ``name`` to the front (creating it if it was never shown)."""
        if name != "graph" and name in self._placeholders:
            self.tabs.setCurrentWidget(self.views[name])

    # ------------------------------------------------------------------ lazy views
    def _on_tab_changed(self, index: int) -> None:
        if 0 <= index < self.tabs.count():
            for name, placeholder in self._placeholders.items():
                if self.tabs.widget(index) is placeholder:
                    self.views[name]  # creates it; _install_view swaps it into the tab
                    break

    def _install_view(self, name: str, view) -> None:
        """A view was just created (LazyViews): wire it, put it in its tab, feed it the state.

        Afterwards it looks exactly as if it had existed all along: same trace, cursor, history
        (and training config) and compared run as the views that were there from the start.
        """
        if hasattr(view, "time_clicked"):
            view.time_clicked.connect(self._on_view_time_clicked)
        if hasattr(view, "node_clicked"):
            view.node_clicked.connect(self._on_view_node_clicked)
        placeholder = self._placeholders.get(name)
        index = self.tabs.indexOf(placeholder) if placeholder is not None else -1
        if index >= 0:  # swap the placeholder for the view without a visible tab change
            tabs = self.tabs
            current = tabs.currentIndex()
            text, tip, enabled, visible = (tabs.tabText(index), tabs.tabToolTip(index),
                                           tabs.isTabEnabled(index), tabs.isTabVisible(index))
            blocked = tabs.blockSignals(True)
            try:
                tabs.removeTab(index)
                tabs.insertTab(index, view, text)
                tabs.setTabToolTip(index, tip)
                tabs.setTabEnabled(index, enabled)
                tabs.setTabVisible(index, visible)
                tabs.setCurrentIndex(current)
            finally:
                tabs.blockSignals(blocked)
            self._placeholders[name] = view
            placeholder.deleteLater()
        s = self.state
        view.set_history(s.history, s.config.train)
        if s.trace is not None:
            view.set_trace(s.trace)
        if s.compare is not None:
            view.set_compare(s.compare, s.compare_label)
            if hasattr(view, "set_compare_history"):
                view.set_compare_history(s.compare_history, s.compare_label)
        if s.trace is not None:
            view.set_cursor(*s.cursor)

    def _set_phase(self, phase: str) -> None:
        if phase == "backward" and self.state.phase == "forward":
            self.state.set_position(self.state.seq_len)
        else:
            self.state.phase = phase

    # ------------------------------------------------------------------ recording
    def record(self) -> None:
        """Record the current config again in the background (fresh weights)."""
        self.stop_training()
        self.state.status = "recording…"
        self.recorder.record(self.state.config)

    def record_sync(self) -> bool:
        """Record the current config on this thread (screenshots, tests); False on a bad config."""
        try:
            model, probe, trace = actions.record_run(self.state.config)
        except (ConfigError, ValueError) as exc:
            self.state.status = str(exc)
            return False
        self._install(model, probe, trace)
        return True

    def _install(self, model, probe, trace, history=None) -> None:
        self.model, self.probe = model, probe
        s = self.state
        s.compare = None
        s.compare_history = []
        s.compare_label = ""
        s.history = list(history or [])
        s.trace = trace
        if not trace.nonfinite:
            T = trace.seq_len
            s.status = (f"recorded {trace.cell_type.upper()} · T = {T} · H = {trace.hidden_size}"
                        f" · loss {trace.loss:.4g}")

    def _on_busy(self, busy: bool) -> None:
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setFormat("recording…")
            self.progress.show()
        elif self.state.training == "idle":
            self.progress.hide()

    def _on_recorded(self, rid: int, result) -> None:
        if rid != self.recorder.latest or self._closing:
            return  # a newer request is on its way
        kind = result[0] if isinstance(result[0], str) else "record"
        if kind == "compare":
            _, a, b, ha, hb, label = result
            s = self.state
            s.history = list(ha)
            s.trace = a
            s.compare_history = list(hb)
            s.compare_label = label
            s.compare = b
            s.status = f"comparing A (current) with {label}"
            return
        if kind == "text":
            _, cfg, model, probe, trace = result
            self._suppress_record = True
            try:
                self.state.config = cfg
            finally:
                self._suppress_record = False
            self._install(model, probe, trace)
            return
        model, probe, trace, _cfg = result
        self._install(model, probe, trace)

    def _on_record_failed(self, rid: int, message: str) -> None:
        if rid == self.recorder.latest:
            self.state.status = message

    # ------------------------------------------------------------------ training
    def train(self, steps: int | None = None) -> bool:
        """Train the current model live for ``steps`` (default: the Steps control)."""
        s = self.state
        if s.training != "idle":
            if s.training == "paused":
                self.resume_training()
            return False
        steps = int(steps if steps is not None else s.config.train.steps)
        if self.model is None or self.recorder.running:
            self.recorder.wait(30)
            if self.model is None and not self.record_sync():
                return False
        try:
            self.trainer_worker.start(s.config, steps, model=self.model)
        except (ConfigError, ValueError) as exc:
            s.status = str(exc)
            return False
        self._train_steps = steps
        self._train_base = len(s.history)
        s.compare = None
        s.training = "running"
        s.status = f"training {steps} steps…"
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.progress.setFormat("step %v / %m")
        self.progress.show()
        return True

    def pause_training(self) -> None:
        """Pause a running training (the thread waits; the window stays live)."""
        if self.state.training == "running":
            self.trainer_worker.pause()
            self.state.training = "paused"
            self.state.status = "training paused"

    def resume_training(self) -> None:
        """Continue a paused training."""
        if self.state.training == "paused":
            self.trainer_worker.resume()
            self.state.training = "running"
            self.state.status = "training…"

    def stop_training(self) -> None:
        """Stop training (keeps the weights learnt so far) and stop playing."""
        self.state.playing = False
        if self.trainer_worker.running:
            self.trainer_worker.stop()
            self.state.status = "stopping training…"

    def reset(self) -> None:
        """Fresh weights and an empty loss curve for the current config."""
        self.stop_training()
        self.trainer_worker.wait(10)
        self.state.history = []
        self.record()

    def _on_train_progress(self, rows: list) -> None:
        if self._closing:
            return
        self.state.history = self._history_prefix() + rows
        if rows:
            last = rows[-1]
            self.progress.setValue(min(len(rows), self.progress.maximum()))
            self.state.status = (f"training step {last['step']} / {self._train_base + self._train_steps}"
                                 f" · loss {last['loss']:.4g} · ‖g‖ {last['grad_norm']:.3g}"
                                 + (" · clipped" if last.get("clipped") else "")
                                 + ("" if last.get("applied", True) else " · NaN step skipped"))

    def _history_prefix(self) -> list:
        return list(self.state.history[: self._train_base])

    def _on_train_trace(self, trace) -> None:
        """Traces from training are coalesced: the views get the newest at most ~4 times a second."""
        if self._closing:
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

    def _on_train_finished(self, history: list) -> None:
        if self._closing:
            return
        self._apply_pending_trace()
        s = self.state
        s.training = "idle"
        self.progress.hide()
        if history:
            last = history[-1]
            s.status = f"trained {len(history)} steps · loss {last['loss']:.4g}"

    def _on_train_failed(self, message: str) -> None:
        self.state.training = "idle"
        self.progress.hide()
        self.state.status = f"training failed: {message}"

    # ------------------------------------------------------------------ compare / text
    def compare(self, overrides: dict | None = None, steps: int | None = None) -> bool:
        """Compare the current run with one where ``overrides`` are applied (dialog if None)."""
        cfg = self.state.config
        if overrides is None:
            dlg = CompareDialog(cfg, self)
            if dlg.exec() != CompareDialog.DialogCode.Accepted:
                return False
            overrides, steps = dlg.overrides(), dlg.steps.value()
        steps = int(steps or 0)
        try:
            cfg.with_overrides(**overrides)
        except ConfigError as exc:
            self.state.status = f"cannot compare: {exc}"
            return False
        self.stop_training()
        label = comparison_label(cfg, overrides)
        self.state.status = f"comparing with {label}…"

        def job():
            a, b, ha, hb = actions.compare_runs(cfg, overrides, steps)
            return "compare", a, b, ha, hb, label

        self.recorder.request(job)
        return True

    def clear_compare(self) -> None:
        """Leave compare mode."""
        s = self.state
        s.compare_history = []
        s.compare_label = ""
        s.compare = None

    def run_text(self, text: str) -> None:
        """Record a language model reading ``text`` token by token."""
        try:
            actions.text_config(self.state.config, text)
        except ConfigError as exc:
            self.state.status = str(exc)
            return
        self.stop_training()
        cfg = self.state.config
        self.state.status = "reading your text…"

        def job():
            new, model, probe, trace = actions.user_text_run(cfg, text)
            return "text", new, model, probe, trace

        self.recorder.request(job)

    # ------------------------------------------------------------------ state → views
    def _on_config_change(self, cfg) -> None:
        self._update_title()
        if self._suppress_record:
            return
        if self.trainer_worker.running:
            self.trainer_worker.stop()
        self.state.status = "recording…"
        self.recorder.record(cfg)

    def _on_trace_change(self, trace) -> None:
        for view in self.views.created():
            view.set_trace(trace)
        self._push_cursor()
        self._show_nonfinite(trace)
        if trace is not None:
            gn = trace.grad_norm
            self.info_label.setText(f"loss {_fmt(trace.loss)} · ‖∇‖ {_fmt(gn)}"
                                    + (f" → {_fmt(trace.grad_norm_clipped)} (clipped)" if trace.clipped else "")
                                    + (f" · step {trace.meta.get('step')}" if trace.meta.get("step") else ""))
        else:
            self.info_label.setText("")

    def _show_nonfinite(self, trace) -> None:
        if trace is None or not trace.nonfinite:
            self.nonfinite_label.hide()
            return
        text = nonfinite_summary(trace)
        self.nonfinite_label.setText("⚠ " + text)
        self.nonfinite_label.show()
        self.state.status = (f"this run exploded: {text}. Try clipping, a smaller learning rate, "
                             "or a smaller init scale.")

    def _on_cursor_change(self, _value=None) -> None:
        self._push_cursor()

    def _push_cursor(self) -> None:
        if self.state.trace is None:
            return
        t, phase, k, b = self.state.cursor
        for view in self.views.created():
            view.set_cursor(t, phase, k, b)

    def _on_history_change(self, history) -> None:
        train_cfg = self.state.config.train
        for view in self.views.created():
            view.set_history(history, train_cfg)

    def _on_compare_change(self, trace) -> None:
        label = self.state.compare_label
        history = self.state.compare_history if trace is not None else None
        for view in self.views.created():
            view.set_compare(trace, label)
            if hasattr(view, "set_compare_history"):
                view.set_compare_history(history, label)
        self._update_actions()

    def _on_status_change(self, message: str) -> None:
        self.status_label.setText(message)
        self.status_label.setToolTip(message)

    def _on_training_change(self, _value) -> None:
        self._update_actions()

    def _on_playing_change(self, _value) -> None:
        pass

    def _on_lesson_change(self, _value) -> None:
        self._update_title()

    def _on_dirty_change(self, _value) -> None:
        self._update_title()

    def _on_view_time_clicked(self, t: int) -> None:
        s = self.state
        s.playing = False
        s.time = t

    def _on_view_node_clicked(self, t: int, k: int) -> None:
        s = self.state
        s.playing = False
        s.layer = k
        s.time = t

    def _update_title(self) -> None:
        m = self.state.config.model
        lesson = f" — {self.state.lesson}" if self.state.lesson else ""
        dirty = " *" if self.state.dirty else ""
        self.setWindowTitle(f"rnnviz{lesson} — {m.cell.upper()} H={m.hidden_size} "
                            f"{self.state.config.task.name}{dirty}")

    def _update_actions(self) -> None:
        tr = self.state.training
        a = self.actions
        if not a:
            return
        a["train"].setEnabled(tr == "idle")
        a["pause"].setEnabled(tr == "running")
        a["resume"].setEnabled(tr == "paused")
        a["clear_compare"].setEnabled(self.state.compare is not None)

    # ------------------------------------------------------------------ files / help
    def _open_trace(self) -> None:
        from rnnviz.core.trace import Trace, TraceFileError

        path, _ = QFileDialog.getOpenFileName(self, "Open trace", "", "rnnviz traces (*.npz)")
        if not path:
            return
        try:
            trace = Trace.load(path)
        except (TraceFileError, OSError, ValueError) as exc:
            self.state.status = f"cannot open {path}: {exc}"
            return
        self.model = None
        self.state.trace = trace
        self.state.status = f"opened {path}"

    def _show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in SHORTCUTS)
        QMessageBox.information(self, "Keyboard shortcuts", f"<table cellspacing=6>{rows}</table>")

    def _show_about(self) -> None:
        import rnnviz

        QMessageBox.about(self, "About rnnviz",
                          f"<b>rnnviz {rnnviz.__version__}</b><br>See how recurrent networks work: "
                          "the unrolled graph, hidden states, gates and gradients through time.")

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        ctl = getattr(self, "session_controller", None)
        if ctl is not None and hasattr(ctl, "confirm_close") and ctl.confirm_close() is False:
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop playing and training and wait for background work (before the window goes)."""
        self._closing = True
        self.state.playing = False
        self.timeline.timer.stop()
        self.trainer_worker.stop()
        self.trainer_worker.wait(timeout)
        self.recorder.wait(timeout)
        wait_warm_up(timeout)


def _steps(mask) -> str:
    idx = np.flatnonzero(mask)
    return f"t = {idx[0] + 1}" if idx.size == 1 else f"t = {idx[0] + 1}–{idx[-1] + 1}"


def nonfinite_summary(trace) -> str:
    """One line saying where a trace has NaN/Inf: states (forward) and gradients (BPTT) apart."""
    states = ~np.isfinite(trace.hidden).all(axis=(0, 2, 3))
    if trace.cell is not None:
        states |= ~np.isfinite(trace.cell).all(axis=(0, 2, 3))
    grads = ~np.isfinite(trace.grad_hidden).all(axis=(0, 2, 3))
    parts = []
    if states.any():
        parts.append(f"states NaN/Inf at {_steps(states)}")
    if grads.any():
        parts.append(f"∂L/∂h NaN/Inf at {grads.sum()} of {trace.seq_len} steps")
    if not parts:
        parts.append(f"loss {_fmt(trace.loss)}, gradient norm {_fmt(trace.grad_norm)}")
    return " · ".join(parts)


def _fmt(x: float) -> str:
    if x is None:
        return "–"
    x = float(x)
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("+Inf" if x > 0 else "-Inf")
    return f"{x:.4g}"


__all__ = ["SHORTCUTS", "MainWindow"]
