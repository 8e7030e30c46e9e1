"""Drawing helpers of the Dynamics panel: the trajectories painted once into an image, and the
view box that turns a drag into a rotation of the 3-D phase portrait.

The 3-D view is drawn in 2-D (no OpenGL: it works offscreen, over remote desktops and in
exported pictures alike): three principal components are turned onto the screen by
:func:`rnnviz.dynamics.portrait.rotation`, and dragging changes the azimuth and elevation.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem

from rnnviz.qt import theme

RADIANS_PER_PIXEL = 0.01
POLYLINE_POINTS = 32  # points per drawPolyline call
MAX_POINTS = 8000  # points painted at most (T·B beyond it: every k-th step)
DRAFT_POINTS = 3000  # the same while a drag turns the 3-D view
MAX_LENGTH_PX = 150_000  # pixels of line painted at most (~0.3 s)


def paint_paths(X: np.ndarray, Y: np.ndarray, xr, yr, width: int, draft: bool = False) -> np.ndarray:
    """The (T, B) trajectories X, Y coloured by time (viridis, early → late) as an RGBA image
    (rows from y0 up), ``width`` pixels wide, spanning ``xr`` × ``yr`` in data coordinates.
    ``draft`` (while the view is dragged round): fewer steps, no antialiasing — ~10× faster.

    Scrubbing repaints whatever lies under the moving markers; a 16 000-point path costs ~100 ms
    per repaint, an image ~1 ms. (Zooming far in shows its pixels.)"""
    (x0, x1), (y0, y1) = xr, yr
    w = int(width)
    h = int(np.clip(w * (y1 - y0) / (x1 - x0), 150, 2 * w))
    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(0)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, not draft)
    px = (X - x0) / (x1 - x0) * (w - 1)
    py = (Y - y0) / (y1 - y0) * (h - 1)  # row 0 = y0: the ImageItem puts it at the bottom
    # every k-th step beyond a budget of points (a picture a few hundred pixels wide shows no more)
    stride = -(-X.size // (DRAFT_POINTS if draft else MAX_POINTS))
    if stride > 1:
        px, py = px[::stride], py[::stride]
    # and every k-th step's segment beyond a budget of stroked length: an antialiased pixel of
    # line costs ~2 µs, and a run whose state jumps across the picture at every step (T=5000,
    # B=4: 2 million pixels of line) froze the tab for seconds; striding such a path in time
    # would draw chords it never took, so its own segments are thinned instead
    steps = np.hypot(np.diff(px, axis=0), np.diff(py, axis=0))
    length = float(steps[np.isfinite(steps)].sum())  # an exploded run's Inf steps are not drawn
    every = max(1, int(np.ceil(length / MAX_LENGTH_PX)))
    T, B = px.shape
    lut = theme.sequential().getLookupTable(nPts=256, alpha=False)  # time: early dark, late bright
    edges = np.linspace(0, T, min(T, 24) + 1).astype(int)
    pen = QPen()
    pen.setWidthF(1.8)
    for i in range(len(edges) - 1):
        c = lut[int(255 * i / max(1, len(edges) - 2))]
        pen.setColor(QColor(int(c[0]), int(c[1]), int(c[2]), 200))
        p.setPen(pen)
        lo, hi = edges[i], min(T, edges[i + 1] + 1)
        for s in range(B):
            if every > 1:
                a = np.stack([px[lo:hi - 1:every, s], py[lo:hi - 1:every, s]], axis=1)
                b = np.stack([px[lo + 1:hi:every, s], py[lo + 1:hi:every, s]], axis=1)
                ok = np.isfinite(a).all(axis=1) & np.isfinite(b).all(axis=1)
                p.drawLines([QLineF(*u, *v) for u, v in zip(a[ok], b[ok], strict=True)])
                continue
            seg = _on_pixels(np.stack([px[lo:hi, s], py[lo:hi, s]], axis=1))
            # short polylines: Qt's stroker costs far more than linear in a long self-crossing path
            for a in range(0, len(seg) - 1, POLYLINE_POINTS - 1):
                piece = seg[a:a + POLYLINE_POINTS]
                p.drawPolyline(QPolygonF([QPointF(float(u), float(v)) for u, v in piece]))
    p.end()
    ptr = img.constBits()
    return np.frombuffer(ptr, dtype=np.uint8).reshape(h, w, 4)[..., [2, 1, 0, 3]].copy()  # BGRA → RGBA


def _on_pixels(seg: np.ndarray) -> np.ndarray:
    """A path's finite points (n, 2), dropping each that lands on the previous one's half-pixel:
    a state resting at a fixed point repeats the same pixel for thousands of steps."""
    seg = seg[np.isfinite(seg).all(axis=1)]
    if len(seg) < 3:
        return seg
    q = np.round(seg * 2)
    keep = np.ones(len(seg), dtype=bool)
    keep[1:] = (q[1:] != q[:-1]).any(axis=1)
    keep[-1] = True
    return seg[keep]


def triad(view_range, rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 3-D key: (6, 2) segment ends of three axes from a corner of ``view_range`` ((x0, x1),
    (y0, y1)) turned by ``rot`` (3, 2), and (3, 2) positions for their labels."""
    (x0, x1), (y0, y1) = view_range
    r = 0.09 * min(x1 - x0, y1 - y0)
    origin = np.array([x0 + 0.04 * (x1 - x0) + 1.7 * r, y0 + 0.04 * (y1 - y0) + 1.5 * r])  # room for labels
    ends = origin + np.eye(3) * r @ rot  # each component's axis on screen
    seg = np.repeat(origin[None], 6, axis=0)
    seg[1::2] = ends
    spots = []
    for end in ends:
        v = end - origin
        n = float(np.hypot(*v))
        # a foreshortened axis still gets its label well out along its direction: near the
        # origin the three labels would sit on each other
        spots.append(origin + v / n * max(1.45 * n, 1.3 * r) if n > 0.05 * r else origin)
    return seg, np.array(spots)


class RotateViewBox(pg.ViewBox):
    """A ViewBox that, while ``rotating`` is on, turns a left-button drag into ``rotated(d_azimuth,
    d_elevation)`` (radians) instead of panning; the wheel still zooms."""

    rotated = Signal(float, float)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rotating = False

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 - Qt's name
        if not self.rotating or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        d = ev.screenPos() - ev.lastScreenPos()
        self.rotated.emit(float(d.x()) * RADIANS_PER_PIXEL, float(d.y()) * RADIANS_PER_PIXEL)



def free_title_width(plot: pg.PlotItem) -> None:
    """Keep ``plot``'s title from setting the plot's minimum width (pyqtgraph sets it to the
    text's width on every change and resize): a long title would make the panel wider than a
    small window gives it, and the panel would be cut off at the right instead of the title's ends."""
    label = plot.titleLabel
    update = label.updateMin

    def update_min():
        update()
        label.setMinimumWidth(0)

    label.updateMin = update_min
    label.setMinimumWidth(0)


class Markers(QGraphicsItem):
    """Round dots ``size`` pixels across (whatever the zoom) at points in data coordinates: the
    cursor's place on every trajectory. A move repaints each dot's old and new few pixels; a
    ScatterPlotItem repainted the box around all of them (most of the portrait, its image and
    grid under it) and rebuilt its spots in Python on every timeline step.

    :meth:`setData` (x, y) and :meth:`getData` as a PlotDataItem's."""

    def __init__(self, size: float = 8, pen=None, brush=None):
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents)
        self._size = float(size)
        self._pen = pg.mkPen(pen if pen is not None else "w")
        self._brush = pg.mkBrush(brush if brush is not None else "w")
        self._dots: list[QGraphicsEllipseItem] = []
        self._x = self._y = np.zeros(0)

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt naming)
        return QRectF()

    def paint(self, *_args) -> None:
        pass

    def setData(self, x, y) -> None:  # noqa: N802 (pyqtgraph naming)
        """Dots at (x[i], y[i]); as many as points (points that are not finite are left out)."""
        x, y = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
        ok = np.isfinite(x) & np.isfinite(y)
        self._x, self._y = x[ok], y[ok]
        r = self._size / 2
        while len(self._dots) < len(self._x):
            dot = QGraphicsEllipseItem(-r, -r, 2 * r, 2 * r, self)
            dot.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
            dot.setPen(self._pen)
            dot.setBrush(self._brush)
            self._dots.append(dot)
        for i, dot in enumerate(self._dots):
            if i < len(self._x):
                dot.setPos(float(self._x[i]), float(self._y[i]))
                if not dot.isVisible():
                    dot.show()
            elif dot.isVisible():
                dot.hide()

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802
        return self._x, self._y

    def setPen(self, pen) -> None:  # noqa: N802
        self._pen = pg.mkPen(pen)
        for dot in self._dots:
            dot.setPen(self._pen)

    def setBrush(self, brush) -> None:  # noqa: N802
        self._brush = pg.mkBrush(brush)
        for dot in self._dots:
            dot.setBrush(self._brush)
