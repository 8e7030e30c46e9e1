"""The graph view's companions: a colour bar that says what a node's colour means, and an
overview strip of ‖∂L/∂h_t‖ along the whole sequence (log scale) that shows the fading at a
glance, where the cursor is and which steps the graph shows."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QSizePolicy, QWidget

from rnnviz.qt import theme
from rnnviz.qt.views.base import CursorLine, cached

_SUP = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade(exponent: float) -> str:
    """10 to an integer power as text: 10⁻²⁰."""
    return "10" + str(int(round(exponent))).translate(_SUP)


class ColorBar(QWidget):
    """A horizontal colour bar: a title, the colour ramp, tick labels under it and, when asked,
    a magenta swatch for NaN / Inf.

    ``set_scale(title, cmap, ticks, nonfinite=True)``: ``cmap`` a pyqtgraph ColorMap, ``ticks``
    a list of (fraction 0..1, text). Attributes ``title``, ``ticks`` (what is drawn).
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = ""
        self.ticks: list[tuple[float, str]] = []
        self.nonfinite = True
        self._ramp: QImage | None = None
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_scale(self, title: str, cmap: pg.ColorMap, ticks: list[tuple[float, str]],
                  nonfinite: bool = True) -> None:
        key = (title, cmap.name, tuple(ticks), nonfinite)
        if key == getattr(self, "_key", None):
            return
        self._key = key
        lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.uint8)
        img = np.ascontiguousarray(lut[None, :, :3])
        self._ramp = QImage(img.data, 256, 1, 256 * 3, QImage.Format.Format_RGB888).copy()
        self.title, self.ticks, self.nonfinite = title, list(ticks), nonfinite
        self.updateGeometry()
        self.update()

    def _metrics(self) -> tuple[QFontMetricsF, float, float]:
        fm = QFontMetricsF(theme.font(9))
        return fm, fm.height(), max(8.0, 0.8 * fm.height())

    def _title_width(self) -> float:
        return QFontMetricsF(theme.font(9, bold=True)).horizontalAdvance(self.title) + 6 if self.title else 0.0

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt naming)
        fm, line, bar = self._metrics()
        ticks = sum(fm.horizontalAdvance(t) + 10 for _, t in self.ticks)
        nan = fm.horizontalAdvance("NaN/Inf") + bar + 12
        ramp = max(ticks, 14 * fm.averageCharWidth())
        return QSize(int(self._title_width() + ramp + nan), int(line + bar + 6))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return self.sizeHint()

    def paintEvent(self, event) -> None:  # noqa: N802
        """One row: the title left of the ramp, tick labels under the ramp, the NaN swatch right."""
        if self._ramp is None:
            return
        p = QPainter(self)
        fm, line, bar = self._metrics()
        ink = theme.foreground()
        p.setPen(ink)
        y0 = 2.0
        p.setFont(theme.font(9, bold=True))
        p.drawText(QRectF(0, y0 - 4, self._title_width(), bar + 8),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, self.title)
        swatch = (fm.horizontalAdvance("NaN/Inf") + bar + 10) if self.nonfinite else 0.0
        pad = max(fm.horizontalAdvance(t) for _, t in self.ticks) / 2 + 2 if self.ticks else 2.0
        x0 = max(self._title_width(), pad)
        x1 = max(x0 + 20, self.width() - swatch - pad)
        ramp = QRectF(x0, y0, x1 - x0, bar)
        p.drawImage(ramp, self._ramp)
        p.setPen(QPen(ink, 1))
        p.drawRect(ramp)
        p.setFont(theme.font(9))
        spots = [(x0 + f * (x1 - x0), fm.horizontalAdvance(t), t) for f, t in self.ticks]
        kept = spots[:1]
        for x, w, t in spots[1:-1]:  # a middle label only where it overlaps neither neighbour
            if x - w / 2 > kept[-1][0] + kept[-1][1] / 2 + 4 and x + w / 2 < spots[-1][0] - spots[-1][1] / 2 - 4:
                kept.append((x, w, t))
        kept += spots[-1:] if len(spots) > 1 else []
        for x, w, text in kept:
            p.drawLine(int(x), int(y0 + bar), int(x), int(y0 + bar + 3))
            p.drawText(QRectF(x - w / 2 - 1, y0 + bar + 2, w + 2, line), Qt.AlignmentFlag.AlignCenter, text)
        if self.nonfinite:
            sx = x1 + pad + 4
            p.fillRect(QRectF(sx, y0, bar, bar), theme.NONFINITE)
            p.drawRect(QRectF(sx, y0, bar, bar))
            p.drawText(QRectF(sx + bar + 3, y0 - 4, swatch, bar + 8),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, "NaN/Inf")
        p.end()


class _DecadeAxis(pg.AxisItem):
    """A left axis for log₁₀ values that labels whole decades as 10ⁿ."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph naming)
        lo, hi = math.ceil(minVal), math.floor(maxVal)
        if hi < lo:
            return [(1.0, [])]
        step = max(1, math.ceil((hi - lo) / 2)) if hi > lo else 1
        return [(float(step), [float(v) for v in range(lo, hi + 1, step)])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802
        return [decade(v) for v in values]


class StepBand(QGraphicsRectItem):
    """The shaded band over the steps the graph shows, across the strip's height, its two edges
    in ``pen``: what a LinearRegionItem drew, without its two InfiniteLines' work in Python on
    every timeline step. :meth:`setRegion` / :meth:`getRegion` as a LinearRegionItem's."""

    SPAN = 1e6  # far past the strip's log range: the top and bottom edges are never in view

    def __init__(self, brush, pen):
        super().__init__()
        self.setBrush(brush)
        self.setPen(pen)
        self.setRegion((0.0, 0.0))

    def setRegion(self, region) -> None:  # noqa: N802 (pyqtgraph naming)
        a, b = (float(v) for v in region)
        rect = QRectF(a, -self.SPAN, b - a, 2 * self.SPAN)
        if rect != self.rect():
            self.setRect(rect)

    def getRegion(self) -> tuple[float, float]:  # noqa: N802
        r = self.rect()
        return r.left(), r.right()


class GradientStrip(pg.PlotWidget):
    """‖∂L/∂h_t‖ along all T on a log scale: one line per layer / direction (the selected one
    bold), the cursor, and a band over the steps the graph shows. Clicking picks a step.

    Signals: ``step_clicked(int)`` (0-based step). Attributes: ``curves`` {k: PlotDataItem},
    ``band`` (StepBand), ``cursor`` (CursorLine), ``levels`` (lo, hi) in log₁₀.
    """

    step_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, axisItems={"left": _DecadeAxis("left")}, background="w")
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.setMenuEnabled(False)
        item = self.getPlotItem()
        item.hideAxis("bottom")
        item.layout.setContentsMargins(0, 6, 4, 4)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.band = StepBand(brush=pg.mkBrush(255, 170, 0, 45), pen=pg.mkPen(QColor(230, 140, 0), width=1))
        self.band.setZValue(-5)
        self.addItem(self.band, ignoreBounds=True)
        self.cursor = CursorLine(pos=0, angle=90, movable=False, pen=theme.pen("cursor", 2))
        self.addItem(self.cursor, ignoreBounds=True)
        self.levels = (0.0, 1.0)
        self._T = 0
        self.restyle()

    def restyle(self) -> None:
        fm = QFontMetricsF(theme.font(8))
        self.setFixedHeight(int(max(44.0, 3.6 * fm.height())))
        ax = self.getAxis("left")
        ax.setTickFont(theme.font(8))
        ax.setTextPen(theme.pen(theme.foreground(), 1))
        ax.setPen(theme.pen(theme.foreground(), 1))
        ax.setWidth(int(fm.horizontalAdvance("10⁻²⁰") + 8))
        self.cursor.setPen(theme.pen("cursor", 2))

    def set_data(self, norms: np.ndarray | None, current_k: int = 0) -> None:
        """``norms`` (K, T) = trace.grad_hidden_norm; None clears the strip. The curves are made
        once and fed with setData (a new run of the same shape makes nothing new)."""
        if norms is None or len(self.curves) != np.shape(norms)[0]:
            for c in self.curves.values():
                self.removeItem(c)
            self.curves = {}
        if norms is None:
            self._T = 0
            return
        v = np.asarray(norms, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(np.isfinite(v) & (v > 0), np.log10(np.where(v > 0, v, 1.0)), np.nan)
        K, T = logs.shape
        self._T = T
        fin = logs[np.isfinite(logs)]
        lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
        if hi - lo < 1.0:
            lo, hi = lo - 0.5, hi + 0.5
        self.levels = (lo, hi)
        x = np.arange(1, T + 1, dtype=np.float64)
        for k in range(K):
            item = self.curves.get(k)
            if item is None:
                item = self.curves[k] = cached(pg.PlotDataItem(connect="finite"))
                self.addItem(item)
            item.opts["antialias"] = T <= 400
            item.setData(x, logs[k], connect="finite")
        self.setXRange(0.5, T + 0.5, padding=0)
        self.setYRange(lo, hi, padding=0.08)
        self.set_selected(current_k)

    def set_selected(self, k: int) -> None:
        for i, item in self.curves.items():
            if i == k:
                item.setPen(theme.pen(theme.series_color(0), 2))
                item.setZValue(2)
            else:
                item.setPen(theme.pen(QColor(150, 150, 150), 1))
                item.setZValue(1)

    def set_cursor(self, t: int) -> None:
        self.cursor.setValue(t + 1)

    def set_visible_steps(self, first: float, last: float) -> None:
        """Shade steps first..last (0-based, may be fractional) as the part the graph shows."""
        self.band.setRegion((first + 0.5, last + 1.5))
        self.band.setVisible(self._T > 0 and (first > 0.01 or last < self._T - 1.01))

    def mousePressEvent(self, event) -> None:  # noqa: N802
        if self._T and event.button() == Qt.MouseButton.LeftButton:
            x = self.getPlotItem().vb.mapSceneToView(self.mapToScene(event.position().toPoint())).x()
            self.step_clicked.emit(int(min(max(round(x) - 1, 0), self._T - 1)))
            event.accept()
            return
        super().mousePressEvent(event)


__all__ = ["ColorBar", "GradientStrip", "decade"]
