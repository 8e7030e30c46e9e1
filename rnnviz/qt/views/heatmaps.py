"""Heatmap machinery shared by the hidden / cell state views (``states.py``) and the gates view
(``gates.py``): a :class:`HeatPanel` (image, colour bar, cursor, dimming, NaN overlay) and the
:class:`HeatmapView` base with hover and clicks.

Images are units (rows) × time steps (columns) for one layer-direction row ``k`` and one
sample ``b``: ``panel.data == trace.hidden[k, :, b, :].T``. Pixel centres sit at integer
coordinates (x = 0-based time step, y = unit); axes *show* steps 1-based like the notes.
Images are set in ``set_trace`` (and again only when k or b changes); ``set_cursor`` moves
a line and two dimming rectangles.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from rnnviz.qt import theme
from rnnviz.qt.views.base import DimBand, TraceView, cached, make_cursor, style_plot


class StepAxis(pg.AxisItem):
    """A time axis: positions are 0-based steps, labels are 1-based (t = 1 … T)."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (Qt naming)
        return [f"{int(round(v)) + 1}" if abs(v - round(v)) < 1e-6 else "" for v in values]


def token_label(tok) -> str:
    s = str(tok)
    return {" ": "␣", "\n": "⏎", "\t": "⇥", "": "∅"}.get(s, s)


def token_ticks(tokens, T: int, max_labels: int = 24):
    """Major ticks labelled with tokens (T ≤ 60), thinned so labels do not overlap."""
    longest = max((len(token_label(t)) for t in tokens), default=1)
    max_labels = max(4, int(max_labels * 3 / max(3, longest)))
    every = max(1, int(np.ceil(T / max_labels)))
    return [[(t, token_label(tokens[t])) for t in range(0, T, every)], []]


class HeatPanel:
    """One units × time heatmap in a PlotItem: image, colour bar, cursor, dimming, NaN overlay."""

    def __init__(self, layout: pg.GraphicsLayout, row: int, col: int, title: str = "",
                 colorbar: bool = True, max_labels: int = 24):
        self.max_labels = max_labels
        self.plot = layout.addPlot(row=row, col=col, axisItems={"bottom": StepAxis("bottom")})
        self.plot.setMenuEnabled(True)
        self.title = title
        self.image = cached(pg.ImageItem(axisOrder="row-major"))
        self.plot.addItem(self.image)
        self.bad = cached(pg.ImageItem(axisOrder="row-major"))
        self.bad.setZValue(5)
        self.plot.addItem(self.bad)
        self.cursor = make_cursor(self.plot)
        self.dim = DimBand(self.plot)
        self.plot.invertY(False)
        self.plot.getViewBox().setMouseEnabled(x=True, y=True)
        self.colorbar = None
        if colorbar:
            self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=theme.diverging(), interactive=False,
                                            width=int(14 * theme.scale()), colorMapMenu=False)
            self.colorbar.setImageItem(self.image)
            layout.addItem(self.colorbar, row=row, col=col + 1)
        self.data: np.ndarray | None = None  # (H, T) raw values shown
        self.levels = (-1.0, 1.0)
        self._styled = None  # what restyle last applied
        self.restyle()

    def restyle(self) -> None:
        """Axis labels, title and cursor pen from the theme (again only when something changed:
        pyqtgraph lays every label out anew, ~8 ms, and a new run calls this)."""
        key = (self.title, theme.scale(), theme.is_high_contrast(), theme.foreground().name())
        if key == self._styled:
            return
        self._styled = key
        style_plot(self.plot, left="unit", bottom="time step", title=self.title)
        self.cursor.setPen(theme.pen("cursor", 2))

    def set_data(self, data: np.ndarray, levels: tuple[float, float], cmap: pg.ColorMap,
                 symlog: bool = False) -> None:
        """Show ``data`` (H, T) with fixed colour ``levels``; NaN/Inf pixels in magenta.

        ``symlog`` colours by sign(v)·log₁₀(1+|v|), so an exploding run that spans 1 to 1e38
        still shows every step instead of one dark column and white elsewhere."""
        data = np.asarray(data, dtype=np.float32)
        self.data = data  # raw values, for hover and tests
        finite = np.isfinite(data)
        shown = data if finite.all() else np.where(finite, data, 0.0)
        if symlog:
            with np.errstate(all="ignore"):
                shown = np.sign(shown) * np.log10(1.0 + np.abs(shown.astype(np.float64)))
            levels = tuple(float(np.sign(v) * np.log10(1.0 + abs(v))) for v in levels)
        self.levels = levels
        self.image.setColorMap(cmap)
        self.image.setImage(shown, levels=levels, autoLevels=False)
        H, T = data.shape
        self.image.setRect(-0.5, -0.5, T, H)
        if finite.all():
            self.bad.clear()
            self.bad.hide()
        else:
            rgba = np.zeros((H, T, 4), np.uint8)
            c = theme.NONFINITE
            rgba[~finite] = (c.red(), c.green(), c.blue(), 255)
            self.bad.setImage(rgba, autoLevels=False, levels=(0, 255))
            self.bad.setRect(-0.5, -0.5, T, H)
            self.bad.show()
        if self.colorbar is not None:
            self.colorbar.setColorMap(cmap)
            self.colorbar.setLevels(levels)
        self.dim.set_y(-0.5, H - 0.5)
        self.plot.setLimits(xMin=-0.5 - T * 0.05, xMax=T - 0.5 + T * 0.05, yMin=-0.5 - H, yMax=2 * H)
        self.plot.setRange(xRange=(-0.5, T - 0.5), yRange=(-0.5, H - 0.5), padding=0)

    def clear(self) -> None:
        self.data = None
        self.image.clear()
        self.bad.clear()

    def set_ticks(self, tokens, T: int) -> None:
        ax = self.plot.getAxis("bottom")
        if tokens is not None and len(tokens) == T and T <= 60:
            ax.setTicks(token_ticks(tokens, T, self.max_labels))
        else:
            ax.setTicks(None)

    def move_cursor(self, t: int, lo: float | None, hi: float | None) -> None:
        self.cursor.setPos(t)
        if self.data is not None:
            T = self.data.shape[1]
            self.dim.update(lo, hi, -0.5, T - 0.5)

    def contains(self, scene_pos) -> bool:
        return self.plot.vb.sceneBoundingRect().contains(scene_pos)

    def value_at(self, x: float, y: float):
        """(t, unit, value) at view coordinates, or None outside the image."""
        if self.data is None:
            return None
        t, u = int(round(x)), int(round(y))
        H, T = self.data.shape
        if 0 <= t < T and 0 <= u < H:
            return t, u, float(self.data[u, t])
        return None


def hover_text(t: int, u: int, v: float) -> str:
    """The readout under the mouse, steps shown 1-based like the notes."""
    if np.isfinite(v):
        return f"unit {u}, step {t + 1}, value {v:.4g}"
    return f"unit {u}, step {t + 1}, value {v} (non-finite)"


class HeatmapView(TraceView):
    """Shared machinery of the heatmap views: panels in one GraphicsLayoutWidget, hover, clicks."""


    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.hover_label = QLabel(" ")
        self.hover_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self._layout.addWidget(self.hover_label)
        self.panels: list[HeatPanel] = []
        self._shown_kb = None
        self.hover = ""
        self.glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.glw.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    # hover / click
    def _panel_at(self, scene_pos):
        for p in self.panels:
            if p.plot.isVisible() and p.contains(scene_pos):
                return p
        return None

    def _on_mouse_moved(self, scene_pos) -> None:
        p = self._panel_at(scene_pos)
        if p is None:
            return
        pt = p.plot.vb.mapSceneToView(scene_pos)
        self.hover_at(p, pt.x(), pt.y())

    def hover_at(self, panel: HeatPanel, x: float, y: float) -> str:
        """Update the readout for view coordinates (x = step, y = unit) of ``panel``."""
        hit = panel.value_at(x, y)
        if hit is not None:
            prefix = self.hover_prefix(panel)
            self.hover = (f"{prefix}: " if prefix else "") + hover_text(*hit)
            self.hover_label.setText(self.hover)
        return self.hover

    def hover_prefix(self, panel: HeatPanel) -> str:
        """What the readout says the panel is: the run's label below the first panel."""
        return "" if panel is self.panels[0] else panel.title.split("  ·  ")[0]

    def _on_mouse_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        p = self._panel_at(event.scenePos())
        if p is not None:
            pt = p.plot.vb.mapSceneToView(event.scenePos())
            self.click_x(pt.x())

    def click_x(self, x: float) -> None:
        """A click at view x: emit time_clicked with the nearest step."""
        if self.trace is None:
            return
        t = int(round(x))
        if 0 <= t < self.trace.seq_len:
            self.time_clicked.emit(t)

    def _cursor_bounds(self):
        t, T = self.current_time, (self.trace.seq_len if self.trace is not None else 1)
        if self.phase == "forward":
            return None, t + 0.5 if t < T - 1 else None
        return None, None

    def _move_cursors(self) -> None:
        lo, hi = self._cursor_bounds()
        for p in self.panels:
            p.move_cursor(self.current_time, lo, hi)

    def _theme_changed(self) -> None:
        super()._theme_changed()
        for p in self.panels:
            p.restyle()
        self.hover_label.setFont(theme.font(10))


__all__ = ["HeatPanel", "HeatmapView", "StepAxis", "hover_text", "token_label", "token_ticks"]
