"""The rnnviz main window: a shell that composes the views and the controllers.

The window owns a :class:`~rnnviz.app.state.SessionState` and keeps every view in step with
it: the ``_on_<field>_change`` methods are subscribed to the state's fields and call the views'
setters (``set_trace``, ``set_cursor``, ``set_history``, ``set_compare_runs``). What the
buttons do lives in controllers, each with a small public API:

* ``training_controller`` (:class:`~rnnviz.qt.run_controller.RunController`): record, train,
  pause, stop, reset, the user's text; the only code that installs a run in the state;
* ``compare_controller`` (:class:`~rnnviz.qt.compare.CompareController`): compare runs;
* ``session_controller`` (:class:`~rnnviz.qt.session_controller.SessionController`): open,
  save, recent files, autosave, open trace;
* ``export_controller`` (:class:`~rnnviz.qt.export_actions.ExportController`): figures,
  animations, arrays;
* ``lesson_controller`` (:class:`~rnnviz.qt.lesson_controller.LessonController`): lessons.

Menus are built from their methods in :mod:`rnnviz.qt.menus`. The window never computes the model.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from rnnviz.app.panel_model import fmt_number as _fmt
from rnnviz.app.panel_model import nonfinite_summary
from rnnviz.app.panels import PANELS
from rnnviz.app.state import SessionState
from rnnviz.core.cells import display_name
from rnnviz.qt.build_panel import BuildPanel
from rnnviz.qt.collector import note_activity
from rnnviz.qt.compare import CompareController
from rnnviz.qt.export_actions import ExportController
from rnnviz.qt.lazy_views import LazyViews
from rnnviz.qt.lesson_browser import LessonBrowser
from rnnviz.qt.lesson_controller import LessonController
from rnnviz.qt.menus import SHORTCUTS, build_menus
from rnnviz.qt.run_bar import RunBar
from rnnviz.qt.run_controller import RunController
from rnnviz.qt.session_controller import SessionController
from rnnviz.qt.tab_strip import TabStrip
from rnnviz.qt.timeline import TimelineBar
from rnnviz.qt.views import VIEW_CLASSES
from rnnviz.qt.views.base import TextLine
from rnnviz.qt.workers import start_warm_up, wait_warm_up

CURSOR_FIELDS = ("time", "phase", "layer", "sample")
TAB_ORDER = tuple(name for name in PANELS if name != "graph")  # the graph sits above the tabs


class MainWindow(QMainWindow):
    """The application window around one :class:`SessionState`; see the module docstring.

    ``warm_up``: pre-import torch's optimiser machinery in the background after start-up, so
    the first training does not stall the window.

    Public attributes: ``state``, ``views`` (:class:`LazyViews`, name → TraceView: a tab's view
    is created the first time the tab is shown or ``views[name]`` is read), ``tab_names``,
    ``tabs`` (its own bar hidden) and ``tab_strip`` (the tabs, wrapping), ``run_bar`` (Train /
    Pause / Stop / Step), ``build_panel``, ``build_dock``, ``lesson_browser``, ``lesson_dock``, ``timeline``,
    ``actions`` (name → QAction), the menus, the status-bar labels and the five controllers.
    Methods: :meth:`show_view`, :meth:`set_phase`, :meth:`refresh_views`, and shortcuts to the
    training and compare controllers (:meth:`record`, :meth:`record_sync`, :meth:`train`,
    :meth:`pause_training`, :meth:`resume_training`, :meth:`stop_training`, :meth:`reset`,
    :meth:`compare`, :meth:`clear_compare`, :meth:`run_text`).
    """

    def __init__(self, state: SessionState | None = None, parent: QWidget | None = None,
                 warm_up: bool = True):
        super().__init__(parent)
        self.state = state if state is not None else SessionState()
        self._closing = False
        self.setWindowTitle("rnnviz — see how recurrent networks work")
        self._build_views()
        self._build_docks()
        self._build_status_bar()

        self.training_controller = RunController(self.state, self)
        self.training_controller.progress_changed.connect(self._on_progress)
        self.compare_controller = CompareController(self.state, self.training_controller, self)
        self.session_controller = SessionController(self)
        self.export_controller = ExportController(self, self.session_controller)
        self.lesson_controller = LessonController(self, self.lesson_browser)
        self.build_panel.text_submitted.connect(self.training_controller.run_text)
        self.run_bar = RunBar(self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.run_bar)
        self.actions = build_menus(self)

        s = self.state
        for field in ("config", "trace", "history", "compare_runs", "status", "training", "lesson", "dirty",
                      "panel"):
            s.events.subscribe(field, getattr(self, f"_on_{field}_change"))
        for field in CURSOR_FIELDS:
            s.events.subscribe(field, self._on_cursor_change)
        self._update_title()
        self._update_actions()
        if s.panel in self.tab_names:
            self.show_view(s.panel)
        elif self.tab_names:
            s.panel = self.tab_names[self.tabs.currentIndex()]
        if warm_up:  # get torch's one-off optimiser imports out of the way while the user looks
            QTimer.singleShot(300, start_warm_up)
        if s.trace is not None:
            self.refresh_views()

    # ------------------------------------------------------------------ layout
    def _build_views(self) -> None:
        # Only the graph and the tab in front are built now; the other tabs hold a placeholder
        # until first shown (see LazyViews / _install_view): start-up paints sooner.
        self._placeholders: dict[str, QWidget] = {}
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.views = LazyViews(VIEW_CLASSES, self._install_view, self._bring_up_to_date)
        self._stale: dict[str, set[str]] = {}  # view name → what it was not given (not in front)
        self._catch_up = QTimer(self)
        self._catch_up.setSingleShot(True)
        self._catch_up.setInterval(20)  # after the graph's first paint
        self._catch_up.timeout.connect(self._catch_up_front)
        central = QWidget()
        vbox = QVBoxLayout(central)
        vbox.setContentsMargins(0, 0, 0, 0)
        vbox.setSpacing(0)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.views["graph"])
        names = [n for n in TAB_ORDER if n in self.views] + [
            n for n in self.views if n not in TAB_ORDER and n != "graph"]
        self.tab_names = names
        for name in names:
            placeholder = QWidget()
            self._placeholders[name] = placeholder
            self.tabs.addTab(placeholder, self.views.title(name))
            self.tabs.setTabToolTip(self.tabs.count() - 1, self.views.title(name))
        self.tabs.currentChanged.connect(self._on_tab_changed)
        if names:
            self.views[names[self.tabs.currentIndex()]]  # the tab in front is built now
        # the view tabs wrap onto a second row when narrow: never hidden behind scroll arrows
        self.tab_strip = TabStrip(self.tabs)
        pane = QWidget()
        pane_box = QVBoxLayout(pane)
        pane_box.setContentsMargins(0, 2, 0, 0)
        pane_box.setSpacing(2)
        pane_box.addWidget(self.tab_strip)
        pane_box.addWidget(self.tabs, 1)
        self.splitter.addWidget(pane)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([400, 600])
        vbox.addWidget(self.splitter, 1)
        self.timeline = TimelineBar(self.state)
        vbox.addWidget(self.timeline)
        self.setCentralWidget(central)

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.build_panel = BuildPanel(self.state)
        self.build_panel.setMinimumWidth(300)
        self.build_dock = self._dock("Build", "build_dock", self.build_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.lesson_browser = LessonBrowser(self)
        self.lesson_browser.setMinimumWidth(320)
        self.lesson_dock = self._dock("Lesson", "lesson_dock", self.lesson_browser,
                                      Qt.DockWidgetArea.RightDockWidgetArea)

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        # a long message is elided (its tooltip has it whole), never a window wider than the screen
        self.status_label = TextLine("")
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

    def _on_progress(self, value) -> None:
        note_activity()
        if value is None:
            self.progress.hide()
            return
        text, done, total = value
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total) if total else 0)
        self.progress.setFormat(text)
        self.progress.show()

    # ------------------------------------------------------------------ tabs and views
    def show_view(self, name: str) -> None:
        """Bring view ``name`` to the front (creating it if it was never shown)."""
        if name != "graph" and name in self._placeholders:
            self.tabs.setCurrentWidget(self.views[name])

    def _on_tab_changed(self, index: int) -> None:
        if 0 <= index < self.tabs.count():
            for name, placeholder in self._placeholders.items():
                if self.tabs.widget(index) is placeholder:
                    self.views[name]  # creates it, or brings it up to date; _install_view swaps it in
                    break
            self.state.panel = self.tab_names[index]

    def _in_front(self, name: str) -> bool:
        """The graph and the tab in front are fed at once; the other views when they are shown."""
        return name == "graph" or self.tabs.currentWidget() is self.views.peek(name)

    def _feed(self, what: str, fn) -> None:
        """``fn(view)`` for every created view in front; the others remember ``what`` they missed
        (a T = 10 000 run installed in ten tabs at once froze the window; now only what is seen
        is drawn, and a tab catches up when it is shown).

        The tab in front takes a new run 20 ms later, after the graph has painted: two short
        pauses instead of one long one."""
        note_activity()  # no slow garbage collection while the user watches this change
        for name in self.views.created_names():
            front = self._in_front(name)
            if front and (name == "graph" or (what != "trace" and name not in self._stale)):
                fn(self.views.peek(name))
            else:
                self._stale.setdefault(name, set()).add(what)
                if front:
                    self._catch_up.start()

    def _catch_up_front(self) -> None:
        """The tab in front takes what it was given a turn late (see _feed)."""
        index = self.tabs.currentIndex()
        if 0 <= index < len(self.tab_names) and self.tab_names[index] in self._stale:
            self.views[self.tab_names[index]]  # brings it up to date

    def _bring_up_to_date(self, name: str, view) -> None:
        """Give ``view`` what it missed while it was not in front, in the order it happened."""
        missed = self._stale.pop(name, None)
        if not missed:
            return
        s = self.state
        if "history" in missed:
            view.set_history(s.history, s.config.train)
        if "trace" in missed:
            view.set_trace(s.trace)
        if "compare" in missed:
            view.set_compare_runs(s.compare_runs)
        if s.trace is not None:
            view.set_cursor(*s.cursor)

    def _on_panel_change(self, name: str) -> None:
        if name in self.tab_names:
            self.show_view(name)
        elif self.tab_names:  # a name from an older session or a typo: keep the tab in front
            self.state.panel = self.tab_names[self.tabs.currentIndex()]

    def _install_view(self, name: str, view) -> None:
        """A view was just created (LazyViews): wire it, put it in its tab, feed it the state.

        Afterwards it looks exactly as if it had existed all along: same trace, cursor, history
        (and training config) and compared runs as the views that were there from the start.
        """
        view.time_clicked.connect(self._on_view_time_clicked)
        view.node_clicked.connect(self._on_view_node_clicked)
        placeholder = self._placeholders.get(name)
        index = self.tabs.indexOf(placeholder) if placeholder is not None else -1
        if index >= 0:  # swap the placeholder for the view without a visible tab change
            tabs = self.tabs
            current = tabs.currentIndex()
            text, tip = tabs.tabText(index), tabs.tabToolTip(index)
            blocked = tabs.blockSignals(True)
            try:
                tabs.removeTab(index)
                tabs.insertTab(index, view, text)
                tabs.setTabToolTip(index, tip)
                tabs.setCurrentIndex(current)
            finally:
                tabs.blockSignals(blocked)
            self._placeholders[name] = view
            placeholder.deleteLater()
        s = self.state
        view.set_history(s.history, s.config.train)
        if s.trace is not None:
            view.set_trace(s.trace)
        if s.compare_runs:
            view.set_compare_runs(s.compare_runs)
        if s.trace is not None:
            view.set_cursor(*s.cursor)

    def refresh_views(self) -> None:
        """Feed every created view the current trace and cursor again (after a theme change)."""
        self._on_trace_change(self.state.trace)

    def set_phase(self, phase: str) -> None:
        """Walk the forward pass, BPTT, or show the whole run."""
        if phase == "backward" and self.state.phase == "forward":
            self.state.set_position(self.state.seq_len)
        else:
            self.state.phase = phase

    # ------------------------------------------------------------------ controller shortcuts
    def record(self) -> None:
        """Record the current config again in the background (fresh weights)."""
        self.training_controller.record()

    def record_sync(self) -> bool:
        """Record the current config on this thread (screenshots, tests); False on a bad config."""
        return self.training_controller.record_sync()

    def train(self, steps: int | None = None) -> bool:
        """Train live for ``steps`` more steps (default: the Steps control)."""
        return self.training_controller.train(steps)

    def pause_training(self) -> None:
        """Pause a running training."""
        self.training_controller.pause()

    def resume_training(self) -> None:
        """Continue a paused training."""
        self.training_controller.resume()

    def stop_training(self) -> None:
        """Stop training (keeps the weights and the step count) and stop playing."""
        self.training_controller.stop()

    def reset(self) -> None:
        """Fresh weights and an empty loss curve for the current config."""
        self.training_controller.reset()

    def compare(self, overrides: dict | None = None, steps: int | None = None) -> bool:
        """Compare the current run with one where ``overrides`` apply (a dialog asks if None)."""
        return self.compare_controller.compare(overrides, steps)

    def clear_compare(self) -> None:
        """Leave compare mode."""
        self.compare_controller.clear()

    def run_text(self, text: str) -> bool:
        """Record a language model reading ``text`` token by token."""
        return self.training_controller.run_text(text)

    # ------------------------------------------------------------------ state → views
    def _on_config_change(self, _cfg) -> None:
        self._update_title()

    def _on_trace_change(self, trace) -> None:
        self._feed("trace", lambda view: view.set_trace(trace))
        self._push_cursor()
        self._show_nonfinite(trace)
        if trace is not None:
            self.info_label.setText(f"loss {_fmt(trace.loss)} · ‖∇‖ {_fmt(trace.grad_norm)}"
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
        self._feed("cursor", lambda view: view.set_cursor(t, phase, k, b))

    def _on_history_change(self, history) -> None:
        train_cfg = self.state.config.train
        self._feed("history", lambda view: view.set_history(history, train_cfg))

    def _on_compare_runs_change(self, runs) -> None:
        self._feed("compare", lambda view: view.set_compare_runs(runs))
        self._update_actions()

    def _on_status_change(self, message: str) -> None:
        self.status_label.setText(message)
        self.status_label.setToolTip(message)

    def _on_training_change(self, _value) -> None:
        self._update_actions()

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
        self.setWindowTitle(f"rnnviz{lesson} — {display_name(m.cell)} H={m.hidden_size} "
                            f"{self.state.config.task.name}{dirty}")

    def _update_actions(self) -> None:
        tr = self.state.training
        a = self.actions
        a["train"].setEnabled(tr == "idle")
        a["pause"].setEnabled(tr == "running")
        a["resume"].setEnabled(tr == "paused")
        a["clear_compare"].setEnabled(bool(self.state.compare_runs))

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        if not self.export_controller.confirm_close() or not self.session_controller.confirm_close():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop playing and training and wait for background work (before the window goes)."""
        self._closing = True
        self.state.playing = False
        self.timeline.timer.stop()
        self.training_controller.shutdown(timeout)
        self.export_controller.wait(timeout)
        wait_warm_up(timeout)


__all__ = ["SHORTCUTS", "TAB_ORDER", "MainWindow", "nonfinite_summary"]
