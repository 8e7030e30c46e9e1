"""A tab strip that wraps onto a second row instead of hiding tabs behind scroll arrows.

:class:`TabStrip` shows one checkable button per page of a :class:`QTabWidget` (whose own tab
bar is hidden) and lays them out in as many rows as the width needs, so every view is one click
away at 1280×720, beside both docks, and in presentation mode's large fonts.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QButtonGroup, QSizePolicy, QTabWidget, QToolButton, QWidget

GAP = 2  # pixels between buttons and rows


class TabStrip(QWidget):
    """The visible tabs of ``tabs``: a wrapping row of buttons kept in step with it."""

    def __init__(self, tabs: QTabWidget, parent: QWidget | None = None):
        super().__init__(parent)
        self.tabs = tabs
        tabs.tabBar().hide()
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.group.idClicked.connect(tabs.setCurrentIndex)
        tabs.currentChanged.connect(self._on_current)
        self.buttons: list[QToolButton] = []
        policy = QSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self.rebuild()

    def rebuild(self) -> None:
        """One button per tab (call after tabs were added or renamed)."""
        for b in self.buttons:
            self.group.removeButton(b)
            b.deleteLater()
        self.buttons = []
        for i in range(self.tabs.count()):
            b = QToolButton(self)
            b.setText(self.tabs.tabText(i))
            b.setToolTip(self.tabs.tabToolTip(i) or self.tabs.tabText(i))
            b.setCheckable(True)
            b.setAutoRaise(True)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setObjectName("view_tab")
            self.group.addButton(b, i)
            self.buttons.append(b)
            b.show()
        self._on_current(self.tabs.currentIndex())
        self.updateGeometry()
        self._place(self.width())

    def _on_current(self, index: int) -> None:
        if 0 <= index < len(self.buttons):
            self.buttons[index].setChecked(True)

    # -- layout --------------------------------------------------------------------------
    def _rows(self, width: int) -> list[list[QToolButton]]:
        rows: list[list[QToolButton]] = [[]]
        used = 0
        for b in self.buttons:
            w = b.sizeHint().width()
            if rows[-1] and used + GAP + w > width:
                rows.append([])
                used = 0
            used += (GAP if rows[-1] else 0) + w
            rows[-1].append(b)
        return rows

    def _row_height(self) -> int:
        return max((b.sizeHint().height() for b in self.buttons), default=0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt override
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt override
        n = len(self._rows(max(width, 1)))
        return n * self._row_height() + (n - 1) * GAP

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        width = sum(b.sizeHint().width() for b in self.buttons) + GAP * max(len(self.buttons) - 1, 0)
        return QSize(width, self._row_height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        widest = max((b.sizeHint().width() for b in self.buttons), default=0)
        return QSize(widest, self.heightForWidth(widest))

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._place(event.size().width())

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override (fonts: presentation mode)
        super().changeEvent(event)
        if event.type() == event.Type.FontChange:
            for b in self.buttons:
                b.setFont(self.font())
            self.updateGeometry()
            self._place(self.width())

    def _place(self, width: int) -> None:
        h = self._row_height()
        rows = self._rows(max(width, 1))
        for r, row in enumerate(rows):
            x = 0
            for b in row:
                w = b.sizeHint().width()
                b.setGeometry(x, r * (h + GAP), w, h)
                x += w + GAP
        height = len(rows) * h + (len(rows) - 1) * GAP
        if self.minimumHeight() != height:
            self.setFixedHeight(height)

    def row_count(self) -> int:
        """How many rows the buttons take at the current width."""
        return len(self._rows(max(self.width(), 1)))


__all__ = ["TabStrip"]
