"""The lesson browser: the lecture's lessons in order, what to look at, and what to do next.

:class:`LessonBrowser` is a widget (a list of built-in and user lessons, the selected lesson's
title, description and text, its variants, and Previous / Next / Reset / Run / Open buttons).
:func:`install_lesson_browser` puts it in a dock of a :class:`~rnnviz.qt.main_window.MainWindow`
with a "Lessons" menu; choosing a lesson sets the window's config (the window records it) and
shows the lesson's first panel.
"""

from __future__ import annotations

import html
import traceback
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from rnnviz.app.lessons import Lesson, LessonError, list_lessons, load_lesson

ACTION_TEXT = {"record": "Record", "train": "Train", "compare": "Compare", "sample": "Train"}
ACTION_TIPS = {"record": "Record one forward + BPTT pass (F6)", "train": "Train {steps} steps live (F6)",
               "compare": "Train both runs {steps} steps and compare them side by side (F6)",
               "sample": "Train {steps} steps, then sample text (F6)"}


class LessonBrowser(QWidget):
    """List of lessons with their text; emits :attr:`lesson_chosen` (Lesson, variant index)."""

    lesson_chosen = Signal(object, int)
    reset_requested = Signal()
    run_requested = Signal()

    def __init__(self, parent: QWidget | None = None, user_dirs=None):
        super().__init__(parent)
        self.user_dirs = user_dirs
        self.lessons: list[Lesson] = []
        self.errors: list[LessonError] = []
        self._quiet = False

        self.list = QListWidget()
        self.list.setObjectName("lesson_list")
        self.list.setWordWrap(True)  # long titles wrap (presentation fonts), never "Why not a b…"
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.currentRowChanged.connect(self._row_changed)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setObjectName("lesson_title")
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)
        self.variant_box = QComboBox()
        self.variant_box.setToolTip("This lesson shows several set-ups: pick one")
        self.variant_box.activated.connect(self._variant_picked)

        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip("Previous lesson (Ctrl+Page Up)")
        self.prev_button.clicked.connect(lambda: self.go(-1))
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("Next lesson (Ctrl+Page Down)")
        self.next_button.clicked.connect(lambda: self.go(+1))
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Back to the start of this lesson: its config, fresh weights, t = 0")
        self.reset_button.clicked.connect(self.reset_requested.emit)
        self.run_button = QPushButton("Run")
        self.run_button.setToolTip("Run the lesson's suggested action (F6)")
        self.run_button.clicked.connect(self.run_requested.emit)
        self.open_button = QPushButton("Open lesson file…")
        self.open_button.setToolTip("Load a lesson .toml file (copy a built-in one to start)")
        self.open_button.clicked.connect(self.open_file_dialog)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.list)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(self.title)
        bl.addWidget(self.variant_box)
        bl.addWidget(self.text, 1)
        nav = QHBoxLayout()
        for b in (self.prev_button, self.reset_button, self.run_button, self.next_button):
            nav.addWidget(b)
        bl.addLayout(nav)
        bl.addWidget(self.open_button)
        split = self.splitter = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(split)
        self.refresh()

    # ------------------------------------------------------------------ content
    def refresh(self) -> None:
        """Re-read the built-in and user lessons (keeps the selection by name)."""
        current = self.current.name if self.current else None
        self.errors = []
        self.lessons = list_lessons(self.user_dirs, errors=self.errors)
        self._fill(current)

    def _fill(self, select: str | None) -> None:
        self._quiet = True
        self.list.clear()
        for le in self.lessons:
            item = QListWidgetItem(f"{le.order}. {le.title}" if le.builtin else f"★ {le.title}")
            item.setToolTip(f"{le.name}: {le.description}" + ("" if le.builtin else f"\n{le.path}"))
            item.setData(Qt.ItemDataRole.UserRole, le.name)
            self.list.addItem(item)
        self._quiet = False
        names = [le.name for le in self.lessons]
        if select in names:
            self.select(select, emit=False)
        else:
            self.show_none()

    def show_none(self) -> None:
        """Nothing selected: a neutral prompt instead of a lesson's text."""
        self._quiet = True
        self.list.setCurrentRow(-1)
        self.list.clearSelection()
        self._quiet = False
        self.title.setText("<b>Pick a lesson</b>")
        self.variant_box.clear()
        self.variant_box.setVisible(False)
        self.text.setHtml(
            "<p>Pick a lesson from the list above to load its network and read what to look at; "
            "then press <b>Run</b> (F6) for its suggested action.</p>"
            "<p style='color:#666'>Ctrl+Page Down / Page Up: next / previous lesson · F5: presentation mode</p>")
        self.run_button.setText("▶ Run")
        self.run_button.setEnabled(False)
        self.reset_button.setEnabled(False)
        self.prev_button.setEnabled(False)
        self.next_button.setEnabled(bool(self.lessons))

    @property
    def current(self) -> Lesson | None:
        row = self.list.currentRow() if hasattr(self, "list") else -1
        return self.lessons[row] if 0 <= row < len(self.lessons) else None

    @property
    def variant(self) -> int:
        return max(0, self.variant_box.currentIndex())

    def add_lesson(self, lesson: Lesson) -> None:
        """Add (or replace, by name) a lesson, e.g. one opened from a file, and select it."""
        self.lessons = [le for le in self.lessons if le.name != lesson.name] + [lesson]
        self._fill(None)
        self.select(lesson.name, emit=True)

    def select(self, name: str | None, emit: bool = False) -> bool:
        """Select lesson ``name`` (emit ``lesson_chosen`` if ``emit``); False if unknown."""
        for row, le in enumerate(self.lessons):
            if le.name == name:
                self._quiet = not emit
                self.list.setCurrentRow(row)
                self._quiet = False
                self._show(le)
                return True
        return False

    def go(self, delta: int) -> bool:
        """Next (+1) / previous (-1) lesson; False at either end (none selected: the first)."""
        row = self.list.currentRow()
        row = 0 if row < 0 and delta > 0 else row + delta
        if not 0 <= row < len(self.lessons):
            return False
        self.list.setCurrentRow(row)
        return True

    def _row_changed(self, row: int) -> None:
        if not 0 <= row < len(self.lessons):
            return
        lesson = self.lessons[row]
        self._show(lesson)
        if not self._quiet:
            self.lesson_chosen.emit(lesson, 0)

    def _variant_picked(self, index: int) -> None:
        if self.current is not None:
            self.lesson_chosen.emit(self.current, index)

    def _show(self, lesson: Lesson) -> None:
        row = self.lessons.index(lesson) if lesson in self.lessons else -1
        self.title.setText(f"<b>{html.escape(lesson.title)}</b>")
        self.run_button.setEnabled(True)
        self.reset_button.setEnabled(True)
        self.variant_box.clear()
        for v in lesson.variants:
            self.variant_box.addItem(v.label)
        match = [i for i, v in enumerate(lesson.variants) if v.config == lesson.config]
        if match:  # show the variant the lesson starts on
            self.variant_box.setCurrentIndex(match[0])
        self.variant_box.setVisible(bool(lesson.variants))
        paragraphs = "".join(f"<p>{html.escape(p.strip())}</p>" for p in lesson.text.split("\n\n") if p.strip())
        paragraphs = paragraphs.replace("\n", "<br>")
        point = lesson.check.get("point", "")
        panels = ", ".join(lesson.panels)
        self.text.setHtml(
            f"<p><i>{html.escape(lesson.description)}</i></p>{paragraphs}"
            + (f"<p><b>What to see:</b> {html.escape(point)}</p>" if point else "")
            + f"<p style='color:#666'>lesson <code>{html.escape(lesson.name)}</code> · panels: {panels}</p>")
        action = lesson.action
        self.run_button.setText("▶ " + ACTION_TEXT[action["kind"]])
        self.run_button.setToolTip(ACTION_TIPS[action["kind"]].format(steps=action.get("steps", 0)))
        self.prev_button.setEnabled(row > 0)
        self.next_button.setEnabled(0 <= row < len(self.lessons) - 1)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open lesson file", str(Path.home()), "Lessons (*.toml)")
        if path:
            self.open_file(path)

    def open_file(self, path) -> Lesson | None:
        """Load a lesson file, add it to the list and choose it; a bad file shows its message."""
        try:
            lesson = load_lesson(Path(path))
        except LessonError as exc:
            self.title.setText("<b style='color:#c00000'>Cannot open lesson</b>")
            self.text.setPlainText(str(exc))
            return None
        self.add_lesson(lesson)
        return lesson

    def set_presenting(self, on: bool, list_point_size: float | None = None) -> None:
        """Presentation mode: taller buttons (fonts follow the window's); the lesson list in
        ``list_point_size`` (smaller than the rest, so every title shows without scrolling) and
        given more of the dock's height."""
        for b in (self.prev_button, self.next_button, self.reset_button, self.run_button, self.open_button):
            b.setMinimumHeight(48 if on else 0)
        font = self.list.font()
        if on and list_point_size:
            font.setPointSizeF(list_point_size)
            self.list.setFont(font)
        elif not on:
            self.list.setFont(self.font())
        total = sum(self.splitter.sizes()) or self.height()
        if total > 0:
            share = 0.42 if on else 2 / 7
            self.splitter.setSizes([int(total * share), total - int(total * share)])


# ---------------------------------------------------------------------- window integration


def apply_lesson(window, lesson: Lesson, variant: int = 0) -> None:
    """Show ``lesson`` (variant ``variant``) in ``window``: its config (recorded), its first panel, t = 0."""
    state = window.state
    if hasattr(window, "stop_training"):
        window.stop_training()
    cfg = lesson.variant(variant).config if lesson.variants else lesson.config
    state.compare_history = []
    state.compare_label = ""
    state.compare = None
    state.history = []
    state.lesson = lesson.name
    state.config = cfg  # the window records the new config
    if "dirty" in getattr(state, "_values", {}):
        state.dirty = False  # the session is exactly the lesson's start: nothing unsaved
    state.playing = False
    state.jump_start()
    panels = [p for p in lesson.panels if p != "graph" and p in getattr(window, "views", {})]
    if panels and hasattr(window, "show_view"):
        window.show_view(panels[0])
    state.status = f"lesson {lesson.order}: {lesson.title}" if lesson.builtin else f"lesson: {lesson.title}"


def telling_panel(window, lesson: Lesson) -> str | None:
    """The lesson's most telling tab: its first listed panel the window has (the graph is always shown)."""
    views = getattr(window, "views", {})
    panels = [p for p in lesson.panels if p != "graph" and p in views]
    return panels[0] if panels else None


def set_telling_cursor(state, lesson: Lesson) -> None:
    """Put the cursor where the lesson's panels show the whole story: a gradient lesson at the end
    of BPTT (t = 0, every step's gradient drawn), every other at the end of the forward pass."""
    T = state.seq_len
    if not T:
        return
    state.playing = False
    if "gradients" in lesson.panels:
        state.set_position(2 * T - 1)
    else:
        state.set_position(T - 1)


def _results_text(lesson: Lesson, results: dict) -> str:
    """Text for the predictions view's text box: samples, or the lesson's test sentences classified."""
    samples = results.get("samples")
    if samples:
        lines = [f"Sampled after {results.get('steps', 0)} training steps, "
                 f"primed with {lesson.action.get('prime', '')!r}:"]
        lines += [f"temperature {t:g}:  {' '.join(str(text).split())}" for t, text in samples.items()]
        return "\n".join(lines)
    sentences = lesson.check.get("sentences")
    probe = results.get("probe")
    if sentences and probe is not None and getattr(probe, "shape", "") == "many-to-one" and probe.vocab:
        from rnnviz.app.lessons import classify
        from rnnviz.core.tasks import tokenize

        classes = (probe.meta or {}).get("classes") or [str(i) for i in range(probe.output_size)]
        lines = [f"After {results.get('steps', 0)} training steps the RNN reads the notes' sentences:"]
        for sentence in sentences:
            try:
                p = classify(results["model"], tokenize(sentence.lower()), probe.vocab)
            except LessonError:
                continue
            best = max(range(len(p)), key=p.__getitem__)
            lines.append(f"{sentence}  →  {classes[best]} (p = {p[best]:.2f})")
        return "\n".join(lines) if len(lines) > 1 else ""
    return ""


def apply_lesson_results(window, lesson: Lesson, results: dict) -> None:
    """Install what :func:`~rnnviz.app.lessons.run_action` produced in ``window``: the trained
    model and trace, the loss history, the compared run (trace, history, label), sampled text
    (or the lesson's sentences classified) in the predictions view; then show the lesson's most
    telling panel with a telling cursor. Used by F6 / Run and by ``--lesson … --screenshot``."""
    state = window.state
    window.model, window.probe = results.get("model"), results.get("probe")
    state.compare_history = []
    state.compare_label = ""
    state.compare = None
    probe = results.get("probe")
    classes = (getattr(probe, "meta", None) or {}).get("classes")
    for key in ("trace", "initial_trace", "compare_trace"):  # name the classes ("negative", not "0")
        tr = results.get(key)
        if classes and tr is not None and isinstance(tr.meta, dict):
            tr.meta.setdefault("classes", list(classes))
    label = results.get("label")
    for key in ("trace", "initial_trace"):  # the run's name, for views that show two runs
        tr = results.get(key)
        if label and tr is not None and isinstance(tr.meta, dict):
            tr.meta.setdefault("label", str(label))
    state.history = list(results.get("history") or [])
    # [check] trace = "initial": the lesson's point is in the untrained run (e.g. exploding
    # gradients before training blows the weights up); its training shows in the loss curves
    initial = lesson.check.get("trace") == "initial" and results.get("initial_trace") is not None
    state.trace = results["initial_trace"] if initial else results["trace"]
    if results.get("compare_trace") is not None:
        # the window shows one compared run: the one [check] compare = "label" names, else the second
        runs = {r.get("label"): r for r in results.get("runs", [])[1:]}
        run = runs.get(lesson.check.get("compare")) or {
            "trace": results["compare_trace"], "history": results.get("compare_history"),
            "label": results.get("compare_label")}
        state.compare_history = list(run.get("history") or [])
        state.compare_label = run.get("label") or "compare"
        state.compare = run["trace"]
    predictions = getattr(window, "views", {}).get("predictions")
    text = _results_text(lesson, results)
    if predictions is not None and hasattr(predictions, "set_sampled_text"):
        predictions.set_sampled_text(text)
    ex = results.get("extrapolation")
    if predictions is not None and hasattr(predictions, "set_extrapolation"):
        if ex is not None and not initial:
            # predicted[i] continues from the warm-up: it is the position at target step warmup - 1 + i
            start = int(ex["warmup"]) - 1
            pred = ex["predicted"]
            true = ex["true"][start:start + len(pred)]
            predictions.set_extrapolation(true, pred, start=start)
        else:
            predictions.set_extrapolation(None, None)
    panel = telling_panel(window, lesson)
    if panel is not None and hasattr(window, "show_view"):
        window.show_view(panel)
    set_telling_cursor(state, lesson)
    kind, steps = results.get("kind", lesson.action["kind"]), results.get("steps", 0)
    done = {"record": "recorded", "train": f"trained {steps} steps", "sample": f"trained {steps} steps, sampled",
            "compare": f"compared ({steps} steps each)"}.get(kind, kind)
    history = state.history
    loss = f" · loss {history[-1]['loss']:.4g}" if history else ""
    vs = f" vs {state.compare_label}" if state.compare is not None else ""
    state.status = f"lesson {lesson.order}: {done}{loss}{vs}" if lesson.builtin else f"lesson: {done}{loss}{vs}"


def _lesson_with_window_config(window, lesson: Lesson) -> Lesson:
    """``lesson`` with the window's config (e.g. a chosen variant, or a --config given beside it)."""
    cfg = window.state.config
    if cfg == lesson.config:
        return lesson
    from dataclasses import replace

    return replace(lesson, config=cfg)


def run_lesson_sync(window, lesson: Lesson) -> dict:
    """Run the lesson's action on this thread and install its results (screenshots, tests)."""
    from rnnviz.app.lessons import run_action

    lesson = _lesson_with_window_config(window, lesson)
    results = run_action(lesson)
    apply_lesson_results(window, lesson, results)
    return results


def run_lesson_action(window, lesson: Lesson) -> None:
    """Run the lesson's suggested action (record / train / compare / sample) in the background;
    :func:`apply_lesson_results` installs what it produced when it is done."""
    from rnnviz.app.lessons import run_action
    from rnnviz.qt.workers import Recorder

    runner = getattr(window, "lesson_runner", None)
    if runner is None:
        runner = window.lesson_runner = Recorder(window)
        runner.finished.connect(lambda _rid, item: _lesson_done(window, *item))
        runner.failed.connect(lambda _rid, message: setattr(window.state, "status",
                                                            f"the lesson's action failed: {message}"))
        runner.busy.connect(lambda busy: _lesson_busy(window, busy))
        shutdown = window.shutdown

        def shutdown_too(timeout: float = 10.0) -> None:
            runner.wait(timeout)
            shutdown(timeout)

        window.shutdown = shutdown_too
    if hasattr(window, "stop_training"):
        window.stop_training()
    recorder = getattr(window, "recorder", None)
    if recorder is not None:
        recorder.wait(30)  # the lesson's start is being recorded: let it land first, not over the results
    lesson = _lesson_with_window_config(window, lesson)
    action = lesson.action
    verb = {"record": "recording", "compare": "training and comparing"}.get(action["kind"], "training")
    window.state.status = f"lesson {lesson.name}: {verb} ({action.get('steps', 0)} steps)…"
    runner.request(lambda: (lesson, window.state.config, run_action(lesson)))


def _lesson_busy(window, busy: bool) -> None:
    progress = getattr(window, "progress", None)
    if progress is None:
        return
    if busy:
        progress.setRange(0, 0)
        progress.setFormat("running the lesson…")
        progress.show()
    elif window.state.training == "idle":
        progress.hide()


def _lesson_done(window, lesson: Lesson, config, results: dict) -> None:
    if getattr(window, "_closing", False):
        return
    state = window.state
    if state.lesson != lesson.name or state.config != config:
        return  # the user moved on to another lesson or setting meanwhile
    apply_lesson_results(window, lesson, results)


def install_lesson_browser(window) -> LessonBrowser:
    """Add the lesson browser dock, a "Lessons" menu and the presentation keys to ``window``."""
    browser = LessonBrowser(window)
    window.lesson_browser = browser
    dock = QDockWidget("Lesson", window)
    dock.setObjectName("lesson_dock")
    dock.setWidget(browser)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    browser.setMinimumWidth(320)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.lesson_dock = dock

    def chosen(lesson, variant):
        try:
            apply_lesson(window, lesson, variant)
        except Exception as exc:  # noqa: BLE001 - a bad lesson must not take the window down
            traceback.print_exc()
            window.state.status = f"cannot show lesson {lesson.name}: {exc}"

    def reset():
        if browser.current is not None:
            chosen(browser.current, browser.variant)

    def run():
        if browser.current is not None:
            run_lesson_action(window, browser.current.variant(browser.variant))

    browser.lesson_chosen.connect(chosen)
    browser.reset_requested.connect(reset)
    browser.run_requested.connect(run)

    def on_lesson(name):
        if name and (browser.current is None or browser.current.name != name):
            if not browser.select(name):
                try:
                    lesson = load_lesson(name)
                except LessonError:
                    return
                browser.lessons.append(lesson)
                browser._fill(lesson.name)

    window.state.events.subscribe("lesson", on_lesson)
    if window.state.lesson:
        on_lesson(window.state.lesson)

    menu = window.menuBar().addMenu("&Lessons")
    window.lessons_menu = menu
    items = [
        ("lesson_run", "Run the lesson's action", "F6", run),
        ("lesson_reset", "Reset lesson to its start", "Ctrl+Shift+L", reset),
        ("lesson_open", "Open lesson file…", "Ctrl+L", browser.open_file_dialog),
    ]
    for name, text, key, slot in items:
        act = QAction(text, window)
        act.setShortcut(QKeySequence(key))
        act.triggered.connect(lambda _checked=False, s=slot: s())
        window.addAction(act)
        menu.addAction(act)
        if isinstance(getattr(window, "actions", None), dict):
            window.actions[name] = act
    menu.addAction(dock.toggleViewAction())
    from rnnviz.qt.presentation import install_presentation_keys

    install_presentation_keys(window)
    for name in ("lesson_next", "lesson_prev", "present"):
        act = window.actions.get(name) if isinstance(getattr(window, "actions", None), dict) else None
        if act is not None:
            menu.addAction(act)
    return browser


__all__ = ["LessonBrowser", "apply_lesson", "apply_lesson_results", "install_lesson_browser", "run_lesson_action",
           "run_lesson_sync", "set_telling_cursor", "telling_panel"]
