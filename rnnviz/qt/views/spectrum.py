"""The recurrent weight W_hh: singular values per gate block and eigenvalues vs the unit circle."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from rnnviz.app.panels import get_panel
from rnnviz.core.cells import CELLS
from rnnviz.qt import theme
from rnnviz.qt.views.base import LegendBar, TraceView, style_plot


def block_names(cell: str) -> list[str]:
    """A name per H-row block of W_hh: the gates' symbols from the cell registry, or "W_hh"."""
    spec = CELLS.get(cell)
    if spec is None:
        return []
    return [g.symbol for g in spec.gates] if spec.gates else ["W_hh"]


class SpectrumView(TraceView):
    """Singular values of each gate block of W_hh (bars, a line at 1) and its eigenvalues.

    If the largest |eigenvalue| (spectral radius) is above 1, repeated multiplication by W_hh
    grows (exploding gradients); well below 1 it shrinks (vanishing). Shows row ``k``.

    Attributes: ``sv_bars`` [BarGraphItem per block], ``eig_points`` [ScatterPlotItem per
    block], ``radius`` (spectral radius of row k), ``sigma_max``.
    """

    title = get_panel("spectrum").title

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.eig_legend = LegendBar()  # the gate blocks' colours, under the plots (not over the points)
        self._layout.addWidget(self.eig_legend)
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        self._layout.addWidget(self.info)
        self.sv_plot = self.glw.addPlot(row=0, col=0)
        self.eig_plot = self.glw.addPlot(row=0, col=1)
        self.glw.ci.layout.setColumnStretchFactor(0, 3)
        self.glw.ci.layout.setColumnStretchFactor(1, 2)
        self.eig_plot.setAspectLocked(True)
        self.eig_plot.showGrid(x=True, y=True, alpha=0.2)
        self.one_line = pg.InfiniteLine(pos=1, angle=0, movable=False)
        self.sv_plot.addItem(self.one_line, ignoreBounds=True)
        th = np.linspace(0, 2 * np.pi, 361)
        self.circle = self.eig_plot.plot(np.cos(th), np.sin(th))
        self.sv_bars: list[pg.BarGraphItem] = []
        self.eig_points: list[pg.ScatterPlotItem] = []
        self.radius = float("nan")
        self.sigma_max = float("nan")
        self._shown_k = None
        self._restyle()
        self.show_message("No run yet.")

    def _restyle(self) -> None:
        style_plot(self.sv_plot, left="singular value σ", bottom="index (per gate block)",
                   title="Singular values of W_hh")
        style_plot(self.eig_plot, left="Im λ", bottom="Re λ", title="Eigenvalues vs unit circle")
        self.one_line.setPen(theme.pen("threshold", 1.5, Qt.PenStyle.DashLine))
        self.circle.setPen(theme.pen("unit_circle", 1.5))
        self.info.setFont(theme.font(10))
        self.eig_legend.restyle()

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self._restyle()
        if self.trace is not None and self.trace.whh is not None:  # (a cell without W_hh shows a note)
            self._shown_k = None
            self._draw()

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._shown_k = None
        if trace is None:
            self.glw.hide()
            self.show_message("No run yet.")
            return
        if trace.whh is None:  # a cell without W_hh (or a trace saved without it)
            self.glw.hide()
            spec = CELLS.get(trace.cell_type)
            self.show_message(f"A {spec.display} has no recurrent weight W_hh: hₜ₋₁ reaches hₜ only "
                              "through its gates." if spec is not None and not spec.has_recurrent_weight
                              else "This trace holds no recurrent weight W_hh.")
            return
        self.glw.show()
        self.show_message("")
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._draw()

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        if self.trace is not None and self.trace.whh is not None and self._shown_k != self.current_k:
            self._draw()

    def _draw(self) -> None:
        for item in self.sv_bars:
            self.sv_plot.removeItem(item)
        for item in self.eig_points:
            self.eig_plot.removeItem(item)
        self.eig_legend.clear()
        self.sv_bars, self.eig_points = [], []
        tr, k = self.trace, self.current_k
        if tr is None or tr.whh is None:  # set_trace said why there is nothing to draw
            return
        sv = np.asarray(tr.whh_singular[k], dtype=float)  # (G, H)
        ev = np.asarray(tr.whh_eigvals[k])  # (G, H) complex
        G, H = sv.shape
        names = block_names(tr.cell_type)
        names = names if len(names) == G else [f"block {g}" for g in range(G)]
        ticks = []
        for g in range(G):
            color = theme.series_color(g)
            x0 = g * (H + max(2, H // 8))
            vals = np.sort(np.nan_to_num(sv[g], nan=0.0, posinf=0.0))[::-1]
            bars = pg.BarGraphItem(x=x0 + np.arange(H), height=vals, width=0.8, brush=color, pen=None)
            self.sv_plot.addItem(bars)
            self.sv_bars.append(bars)
            ticks.append((x0 + (H - 1) / 2, names[g]))
            e = ev[g][np.isfinite(ev[g])]
            pts = pg.ScatterPlotItem(e.real, e.imag, size=max(4, int(6 * theme.scale())), brush=color,
                                     pen=pg.mkPen(None))
            self.eig_plot.addItem(pts)
            self.eig_points.append(pts)
            if G > 1:
                self.eig_legend.add(names[g], color, mark="■ ●")
        self.sv_plot.getAxis("bottom").setTicks([ticks, []])
        finite_ev = ev[np.isfinite(ev)]
        self.radius = float(np.abs(finite_ev).max()) if finite_ev.size else float("nan")
        finite_sv = sv[np.isfinite(sv)]
        self.sigma_max = float(finite_sv.max()) if finite_sv.size else float("nan")
        lim = max(1.2, self.radius * 1.1 if np.isfinite(self.radius) else 1.2)
        self.eig_plot.setRange(xRange=(-lim, lim), yRange=(-lim, lim), padding=0)
        self.sv_plot.enableAutoRange()
        verdict = ("above 1: repeated multiplication by W_hh grows — gradients can explode"
                   if self.radius > 1.05 else
                   "below 1: repeated multiplication shrinks — gradients tend to vanish"
                   if self.radius < 0.95 else "close to 1: signals neither grow nor shrink much")
        self.info.setText(f"spectral radius ρ = max|λ| = {self.radius:.3g}, largest σ = {self.sigma_max:.3g} "
                          f"({verdict}). For gated cells the gates rescale this at every step.")
        self._shown_k = k
