"""Gate saturation: per gate, how often each unit is shut / open (thresholds from the panel model).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QLabel

from rnnviz.app.panel_model import (
    SAT_HIGH,
    SAT_LOW,
    cell_display,
    counterpart,
    gate_symbol,
    gate_title,
    is_candidate,
    run_label,
    saturation_fractions,
    with_cell,
)
from rnnviz.app.panels import get_panel
from rnnviz.qt import theme
from rnnviz.qt.views.base import LegendBar, TraceView, style_plot

__all__ = ["SaturationView"]


class SaturationView(TraceView):
    """Per gate, the fraction of time each unit is saturated: ↑ above SAT_HIGH, ↓ below SAT_LOW (0.9 / 0.1,
    the exporter's thresholds: :mod:`rnnviz.app.panel_model`).

    Attributes: ``fractions`` {gate: (low, high)} each (L*D, B, H); ``bars`` {gate: (low_item,
    high_item)} BarGraphItems showing row k, sample b (low drawn downwards as negative).

    Compare mode: the compared run's fractions beside this run's bars in another colour, with a
    legend naming both runs: ``compare_fractions`` {gate: (low, high)}, ``compare_bars``
    {plot key: (low_item, high_item)}. Gates are paired by name or part (LSTM f ↔ GRU z,
    g ↔ n); a compared gate without a partner gets its own plot, keyed ``"compare:" + gate``.
    """

    title = get_panel("saturation").title

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.fractions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.compare_fractions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.bars: dict[str, tuple[pg.BarGraphItem, pg.BarGraphItem]] = {}
        self.compare_bars: dict[str, tuple[pg.BarGraphItem, pg.BarGraphItem]] = {}
        self.compare_of: dict[str, str] = {}  # plot key -> the compared run's gate
        self.plots: dict[str, pg.PlotItem] = {}
        self._shown_kb = None
        self._built = None
        self.legend = LegendBar()  # under the plots: a legend inside one would cover its bars
        self._layout.addWidget(self.legend)
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        self._layout.addWidget(self.info)
        self.show_message("No run yet: build a network and record a trace.")

    def _cmp(self):
        c = self.compare_trace
        return c if c is not None and c.gates else None

    def _plot(self, key: str, row: int, col: int, title: str, cand: bool) -> pg.PlotItem:
        plot = self.glw.addPlot(row=row, col=col)
        # a short axis label: the thresholds are in the legend under the plots (a long vertical
        # label ran into the next row's at 1280×720)
        style_plot(plot, left="share of steps", bottom="unit", title=title)
        plot.addLine(y=0, pen=theme.pen("edge", 1))
        plot.setYRange(-1.05, 1.05, padding=0)
        plot.getAxis("left").setTicks([[(-1, "100%"), (-0.5, "50%"), (0, "0"), (0.5, "50%"), (1, "100%")]])
        self.plots[key] = plot
        return plot

    @staticmethod
    def _bar_pair(plot, low_color, high_color, pen=None):
        low = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=low_color, pen=pen)
        high = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=high_color, pen=pen)
        plot.addItem(low)
        plot.addItem(high)
        return low, high

    def _build(self) -> None:
        tr, cmp = self.trace, self._cmp()
        self.glw.clear()
        self.bars, self.compare_bars, self.plots, self.compare_of = {}, {}, {}, {}
        cell_differs = cmp is not None and cmp.cell_type != tr.cell_type
        main_name = run_label(tr)
        cmp_name = self.compare_label or "compare run"
        if cell_differs:
            main_name = with_cell(main_name, tr.cell_type)
            cmp_name = with_cell(cmp_name, cmp.cell_type)
        keys = []
        for g in tr.gates:
            partner = counterpart(g, cmp.gates, tr.cell_type, cmp.cell_type) if cmp is not None else None
            title = gate_title(tr.cell_type, g)
            if partner is not None and partner != g:
                title += f"  vs  {gate_symbol(cmp.cell_type, partner)}"
            keys.append((g, g, partner, title))
        if cmp is not None:
            used = {k[2] for k in keys}
            for cg in cmp.gates:
                if cg not in used:
                    keys.append((f"compare:{cg}", None, cg, f"{cmp_name}: {gate_title(cmp.cell_type, cg)}"))
        c_low = QColor(theme.series_color(4))
        c_high = QColor(theme.series_color(1))
        for i, (key, g, cg, title) in enumerate(keys):
            row, col = divmod(i, 2)
            cand = is_candidate(tr.cell_type, g) if g is not None else is_candidate(cmp.cell_type, cg)
            plot = self._plot(key, row, col, title, cand)
            if g is not None:
                self.bars[key] = self._bar_pair(plot, theme.color("bar_low"), theme.color("bar_high"))
            if cg is not None:
                self.compare_of[key] = cg
                self.compare_bars[key] = self._bar_pair(plot, c_low, c_high)
        self.legend.clear()
        self.legend.restyle()
        hi, lo = f"{SAT_HIGH:g}", f"{SAT_LOW:g}"
        if cmp is None:
            self.legend.add(f"↑ open: gate > {hi} (candidates |v| > {hi})", theme.color("bar_high"), mark="■")
            self.legend.add(f"↓ shut: gate < {lo} (candidates |v| < {lo})", theme.color("bar_low"), mark="■")
        else:  # one legend naming both runs
            for (low, high), name in (((theme.color("bar_low"), theme.color("bar_high")), main_name),
                                      ((c_low, c_high), cmp_name)):
                self.legend.add(f"{name}  ↑ open (> {hi})", high, mark="■")
                self.legend.add(f"{name}  ↓ shut (< {lo})", low, mark="■")
        self._built = self._want()

    def _want(self):
        tr, cmp = self.trace, self._cmp()
        return (tr.cell_type, tuple(tr.gates), None if cmp is None else (cmp.cell_type, tuple(cmp.gates)),
                run_label(tr), self.compare_label, theme.scale(), theme.is_high_contrast())

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._shown_kb = None
        self.fractions = {}
        if trace is None or not trace.gates:
            self.glw.hide()
            self.legend.clear()
            self.info.setText(" ")  # no caption left over from a gated run
            self._built = None
            self.show_message("No run yet." if trace is None else
                              f"A {cell_display(trace.cell_type)} has no gates, so nothing can saturate open "
                              "or shut.\n"
                              "(Its tanh units can still saturate: see the hidden-state heatmap.)")
            return
        self.glw.show()
        self.show_message("")
        for g in trace.gates:
            self.fractions[g] = saturation_fractions(trace.gates[g], is_candidate(trace.cell_type, g))
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        if self._built != self._want():
            self._build()
        self._refresh()

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        cmp = self._cmp()
        self.compare_fractions = {} if cmp is None else {
            g: saturation_fractions(cmp.gates[g], is_candidate(cmp.cell_type, g)) for g in cmp.gates}
        self._shown_kb = None
        if self.trace is not None and self.trace.gates:
            if self._built != self._want():
                self._build()
            self._refresh()

    def _refresh(self) -> None:
        k, b = self.current_k, self.current_b
        comparing = bool(self.compare_bars)
        w, off = (0.42, 0.21) if comparing else (0.8, 0.0)
        for key, plot in self.plots.items():
            n = 0
            if key in self.bars:
                low, high = self.fractions[key]
                x = np.arange(low.shape[-1]) - (off if key in self.compare_bars else 0.0)
                self.bars[key][0].setOpts(x=x, height=-low[k, b], width=w if key in self.compare_bars else 0.8)
                self.bars[key][1].setOpts(x=x, height=high[k, b], width=w if key in self.compare_bars else 0.8)
                n = low.shape[-1]
            if key in self.compare_bars:
                cg = self.compare_of[key]
                low, high = self.compare_fractions[cg]
                kk, bb = min(k, low.shape[0] - 1), min(b, low.shape[1] - 1)
                x = np.arange(low.shape[-1]) + (off if key in self.bars else 0.0)
                width = w if key in self.bars else 0.8
                self.compare_bars[key][0].setOpts(x=x, height=-low[kk, bb], width=width)
                self.compare_bars[key][1].setOpts(x=x, height=high[kk, bb], width=width)
                n = max(n, low.shape[-1])
            plot.setXRange(-0.5, n - 0.5, padding=0.01)
        parts = []
        for g, (low, high) in self.fractions.items():
            parts.append(f"{g}: {100 * high[k, b].mean():.0f}% ↑ / {100 * low[k, b].mean():.0f}% ↓")
        text = "Share of (unit, step) pairs saturated — " + ", ".join(parts)
        if self.compare_fractions:
            cparts = [f"{g}: {100 * high.mean():.0f}% ↑ / {100 * low.mean():.0f}% ↓"
                      for g, (low, high) in self.compare_fractions.items()]
            text += f"; {self.compare_label or 'compare run'} (purple / red bars, all samples): " + ", ".join(cparts)
        self.info.setText(text + ". Gates near 0.5 everywhere = not yet trained; saturated gates store or "
                          "forget cleanly.")
        self._shown_kb = (k, b)

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        if self.fractions and self._shown_kb != (self.current_k, self.current_b):
            self._refresh()

    def _theme_changed(self) -> None:
        super()._theme_changed()
        if self.trace is not None and self.trace.gates:
            self._build()
            self._refresh()
