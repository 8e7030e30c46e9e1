"""Drawing helpers of the Dynamics panel: the trajectories painted once into an image, and the
view box that turns a drag into a rotation of the 3-D phase portrait.

The 3-D view is drawn in 2-D (no OpenGL: it works offscreen, over remote desktops and in
exported pictures alike): three principal components are turned onto the screen by
:func:`rnnviz.dynamics.portrait.rotation`, and dragging changes the azimuth and elevation.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

RADIANS_PER_PIXEL = 0.01


def paint_paths(X: np.ndarray, Y: np.ndarray, xr, yr, width: int, draft: bool = False) -> np.ndarray:
    """The (T, B) trajectories X, Y coloured by time (viridis, early → late) as an RGBA image
    (rows from y0 up), ``width`` pixels wide, spanning ``xr`` × ``yr`` in data coordinates.
    ``draft`` (while the view is dragged round): every k-th step, no antialiasing — ~10× faster.

    Scrubbing repaints whatever lies under the moving markers; a 16 000-point path costs ~100 ms
    per repaint, an image ~1 ms. (Zooming far in shows its pixels.)"""
    (x0, x1), (y0, y1) = xr, yr
    w = int(width)
    h = int(np.clip(w * (y1 - y0) / (x1 - x0), 150, 2 * w))
    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(0)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, not draft)
    if draft:
        stride = max(1, X.size // 3000)
        X, Y = X[::stride], Y[::stride]
    px = (X - x0) / (x1 - x0) * (w - 1)
    py = (Y - y0) / (y1 - y0) * (h - 1)  # row 0 = y0: the ImageItem puts it at the bottom
    T, B = X.shape
    lut = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=False)
    edges = np.linspace(0, T, min(T, 24) + 1).astype(int)
    pen = QPen()
    pen.setWidthF(1.8)
    for i in range(len(edges) - 1):
        c = lut[int(255 * i / max(1, len(edges) - 2))]
        pen.setColor(QColor(int(c[0]), int(c[1]), int(c[2]), 200))
        p.setPen(pen)
        lo, hi = edges[i], min(T, edges[i + 1] + 1)
        for s in range(B):
            seg = np.stack([px[lo:hi, s], py[lo:hi, s]], axis=1)
            seg = seg[np.isfinite(seg).all(axis=1)]
            if len(seg) > 1:
                p.drawPolyline(QPolygonF([QPointF(float(u), float(v)) for u, v in seg]))
    p.end()
    ptr = img.constBits()
    return np.frombuffer(ptr, dtype=np.uint8).reshape(h, w, 4)[..., [2, 1, 0, 3]].copy()  # BGRA → RGBA


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
