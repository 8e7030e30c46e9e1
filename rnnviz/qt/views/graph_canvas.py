"""The graph view's canvas: a QGraphicsView in which the wheel zooms, dragging pans and a click
picks a node."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPainter
from PySide6.QtWidgets import QGraphicsView


class GraphCanvas(QGraphicsView):
    """The scene's view: wheel zooms, drag pans, a click without a drag picks a node,
    + / − zoom, 0 shows the whole sequence, 1 the readable default."""

    def __init__(self, owner):
        super().__init__()
        self.owner = owner
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self.setBackgroundBrush(QBrush(QColor("white")))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._press = None

    def mousePressEvent(self, event):  # noqa: N802 (Qt naming)
        self._press = event.position().toPoint() if event.button() == Qt.MouseButton.LeftButton else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        super().mouseReleaseEvent(event)
        pos = event.position().toPoint()
        if self._press is not None and (pos - self._press).manhattanLength() <= 4:
            item = self.itemAt(pos)
            while item is not None and item.data(0) is None:
                item = item.parentItem()
            if item is not None:
                self.owner.click_node(item.data(0))
        elif self._press is not None:
            self.owner.panned()
        self._press = None

    def wheelEvent(self, event):  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.owner.zoom_by(1.15 ** steps)
        event.accept()

    def keyPressEvent(self, event):  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.owner.zoom_by(1.25)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.owner.zoom_by(1 / 1.25)
        elif key == Qt.Key.Key_0:
            self.owner.set_zoom_mode("fit")
        elif key == Qt.Key.Key_1:
            self.owner.set_zoom_mode("auto")
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.owner.relayout()


__all__ = ["GraphCanvas"]
