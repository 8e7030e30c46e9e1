"""The lesson browser: the lecture's lessons in order, what to look at, and what to do next.

:class:`LessonBrowser` is a widget (a list of built-in and user lessons, the selected lesson's
title, description and text, its variants, and Previous / Next / Reset / Run / Open buttons).
It only emits what the user chose; :class:`~rnnviz.qt.lesson_controller.LessonController`
shows the lesson in the window and runs its action.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGridLayout,
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
        self.nav = QGridLayout()
        self._place_nav(columns=4)
        bl.addLayout(self.nav)
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
        row = self.list.currentRow()
        return self.lessons[row] if 0 <= row < len(self.lessons) else None

    @property
    def variant(self) -> int:
        return max(0, self.variant_box.currentIndex())

    def add_lesson(self, lesson: Lesson, emit: bool = True) -> None:
        """Add (or replace, by name) a lesson, e.g. one opened from a file, and select it
        (``emit``: also announce it as chosen)."""
        self.lessons = [le for le in self.lessons if le.name != lesson.name] + [lesson]
        self._fill(None)
        self.select(lesson.name, emit=emit)

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

    def _place_nav(self, columns: int) -> None:
        """Previous / Reset / Run / Next in one row, or two rows of two (presentation mode's
        large font cut their texts to '◀ Previou' in a dock on a 1280-pixel screen)."""
        for i, b in enumerate((self.prev_button, self.reset_button, self.run_button, self.next_button)):
            self.nav.removeWidget(b)
            self.nav.addWidget(b, i // columns, i % columns)

    def set_presenting(self, on: bool, list_point_size: float | None = None) -> None:
        """Presentation mode: taller buttons (fonts follow the window's); the lesson list in
        ``list_point_size`` (smaller than the rest, so every title shows without scrolling) and
        given more of the dock's height."""
        for b in (self.prev_button, self.next_button, self.reset_button, self.run_button, self.open_button):
            b.setMinimumHeight(48 if on else 0)
        self._place_nav(columns=2 if on else 4)
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


__all__ = ["ACTION_TEXT", "ACTION_TIPS", "LessonBrowser"]
