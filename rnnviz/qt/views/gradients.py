"""‖∂L/∂h_t‖ through time on a log axis: vanishing and exploding gradients, made visible."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem

from rnnviz.app.panel_model import run_label
from rnnviz.app.panels import get_panel
from rnnviz.qt import theme
from rnnviz.qt.views.base import (
    DecadeAxis,
    DimBand,
    LegendBar,
    TextLine,
    TraceView,
    bad_runs,
    cached,
    make_cursor,
    steps_text,
    style_plot,
)
from rnnviz.qt.views.heatmaps import StepAxis

#: Values ≤ 0 are drawn at this floor on the log axis (and read "0" on hover).
LOG_FLOOR = 1e-30


def row_name(trace, k: int) -> str:
    D = trace.num_directions
    if trace.num_layers == 1 and D == 1:
        return ""
    name = f"layer {k // D + 1}"
    if D == 2:
        name += " →" if k % D == 0 else " ←"
    return name


def log_ready(values: np.ndarray, floor: float) -> np.ndarray:
    """Positive values for a log plot: ≤ 0 → floor, ±Inf / NaN → NaN (a gap, shaded elsewhere)."""
    v = np.asarray(values, dtype=np.float64).copy()
    v[~np.isfinite(v)] = np.nan
    with np.errstate(invalid="ignore"):
        v[v <= 0] = floor
    return v


def data_floor(*arrays) -> float:
    """A floor a decade below the smallest positive finite value (at least LOG_FLOOR)."""
    best = np.inf
    for a in arrays:
        if a is None:
            continue
        a = np.asarray(a, dtype=np.float64)
        pos = a[np.isfinite(a) & (a > 0)]
        if pos.size:
            best = min(best, float(pos.min()))
    if not np.isfinite(best):
        return 1e-12
    return max(LOG_FLOOR, 10 ** (np.floor(np.log10(best)) - 1))


class GradientFlowView(TraceView):
    """‖∂L/∂h_t‖ (and ‖∂L/∂c_t‖ dashed, LSTM) vs time step, log y, one curve per layer/direction.

    Compare mode holds any number of runs (:meth:`set_compare_runs`; a lesson compares four):
    each run's ‖∂L/∂h_t‖ in its own colour, dash-dotted. The legend sits in a strip under the
    plot (``legend``, a LegendBar), so it never covers a curve.

    Attributes: ``series`` {("h"|"c", k): raw (T,) norms from the trace}, ``curves`` {same key:
    PlotDataItem}, ``compare_curves`` {(j, "h", k): PlotDataItem of compared run j},
    ``bad_regions`` (LinearRegionItems over NaN/Inf steps), ``cursor`` (InfiniteLine), ``floor``.
    """

    title = get_panel("gradients").title

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pw = pg.PlotWidget(axisItems={"bottom": StepAxis("bottom"), "left": DecadeAxis("left")})
        self.pw.setBackground(theme.background())
        self.plot = self.pw.getPlotItem()
        self.plot.setLogMode(y=True)
        # pyqtgraph's log-axis grid repaints at ~30 ms a frame at T=1000, far over a scrub's
        # 16 ms budget: draw one plain line per decade instead (set in _draw)
        self.decade_lines: list[pg.InfiniteLine] = []
        self._layout.addWidget(self.pw, 1)
        self.legend = LegendBar()
        self._layout.addWidget(self.legend)
        self.compare_runs: list[tuple[str, object]] = []  # (label, trace) of every compared run
        self.info = TextLine(" ")  # one line, elided: a long summary must not widen the window
        self._layout.addWidget(self.info)
        self.cursor = make_cursor(self.plot)
        self.dim = DimBand(self.plot)
        self.dim.set_y(-400, 400)
        self.series: dict[tuple[str, int], np.ndarray] = {}
        self.curves: dict[tuple[str, int], pg.PlotDataItem] = {}
        self.compare_curves: dict[tuple[str, int], pg.PlotDataItem] = {}
        self.bad_regions: list[pg.LinearRegionItem] = []
        self.bad_note = pg.TextItem("", color=theme.NONFINITE, anchor=(0, 0))
        self.bad_note.setZValue(30)
        self.bad_note.hide()  # shown with a text: Qt asked its bounding box (Python) on every step
        self.plot.addItem(self.bad_note, ignoreBounds=True)
        self.floor = 1e-12
        self.hover = ""
        self._restyle()
        self.pw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        self.pw.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def _restyle(self) -> None:
        style_plot(self.plot, left="‖∂L/∂h_t‖ (log)", bottom="time step",
                   title="Gradient reaching each step in BPTT")
        self.cursor.setPen(theme.pen("cursor", 2))
        self.info.setFont(theme.font(10))
        self.legend.restyle()

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self._restyle()
        if self.trace is not None:
            self._draw()

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._draw()

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        self.compare_runs = [(label or "compare", trace)] if trace is not None else []
        self._draw()

    def set_compare_runs(self, runs) -> None:
        """Every compared run (CompareRun: label, trace, history) beside this one."""
        if not runs and not self.compare_runs:
            return  # nothing compared before or now: nothing to redraw
        first = runs[0] if runs else None
        TraceView.set_compare(self, first.trace if first else None, first.label if first else "")
        self.compare_runs = [(r.label or f"run {j + 2}", r.trace) for j, r in enumerate(runs)]
        self._draw()

    def _draw_decades(self, tr, cmp) -> None:
        for line in self.decade_lines:
            self.plot.removeItem(line)
        arrays = [a for a in (tr.grad_hidden_norm, tr.grad_cell_norm, *(c.grad_hidden_norm for _, c in cmp))
                  if a is not None]
        top = max([float(np.nanmax(np.where(np.isfinite(a), a, np.nan), initial=0)) for a in arrays] + [self.floor])
        lo, hi = int(np.floor(np.log10(self.floor))), int(np.ceil(np.log10(max(top, self.floor * 10))))
        step = max(1, (hi - lo) // 12)
        pen = pg.mkPen(theme.foreground(), width=1)
        pen.setColor(pg.mkColor(0, 0, 0, 40))
        self.decade_lines = []
        for d in range(lo, hi + 1, step):
            line = pg.InfiniteLine(pos=d, angle=0, pen=pen, movable=False)
            line.setZValue(-10)
            # each crosses the cursor's strip: from a pixmap, not painted by pyqtgraph in Python
            line.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            self.plot.addItem(line, ignoreBounds=True)
            self.decade_lines.append(line)

    def _draw(self) -> None:
        for item in [*self.curves.values(), *self.compare_curves.values(), *self.bad_regions]:
            self.plot.removeItem(item)
        self.legend.clear()
        self.curves, self.compare_curves, self.series, self.bad_regions = {}, {}, {}, []
        self.bad_note.setText("")
        self.bad_note.hide()
        tr = self.trace
        if tr is None:
            self.info.setText("No run yet.")
            return
        cmp = self.compare_runs
        self.floor = data_floor(tr.grad_hidden_norm, tr.grad_cell_norm, *(c.grad_hidden_norm for _, c in cmp))
        self._draw_decades(tr, cmp)
        T = tr.seq_len
        x = np.arange(T, dtype=float)
        # in compare mode the legend names every run
        main = f"{run_label(tr)}: " if cmp else ""
        # a run with one curve is named by its label alone: the legend must fit under a short plot
        plain = bool(cmp) and tr.grad_hidden_norm.shape[0] == 1 and tr.grad_cell_norm is None
        for k in range(tr.grad_hidden_norm.shape[0]):
            rn = row_name(tr, k)
            color = theme.series_color(k)
            self._add(("h", k), x, tr.grad_hidden_norm[k], color, Qt.PenStyle.SolidLine,
                      run_label(tr) if plain else f"{main}‖∂L/∂h_t‖ {rn}".strip(), self.curves)
            if tr.grad_cell_norm is not None:
                self._add(("c", k), x, tr.grad_cell_norm[k], color, Qt.PenStyle.DashLine,
                          f"{main}‖∂L/∂c_t‖ {rn}".strip(), self.curves)
        rows = tr.grad_hidden_norm.shape[0]
        for j, (label, other) in enumerate(cmp):
            xc = np.arange(other.seq_len, dtype=float)
            color = theme.series_color(rows + j)  # one colour per run, after this run's rows
            for k in range(other.grad_hidden_norm.shape[0]):
                style = Qt.PenStyle.DashDotLine if k == 0 else Qt.PenStyle.DotLine
                one = other.grad_hidden_norm.shape[0] == 1
                self._add((j, "h", k), xc, other.grad_hidden_norm[k], color, style,
                          label if one else f"{label}: ‖∂L/∂h_t‖ {row_name(other, k)}".strip(),
                          self.compare_curves, store=False)
        # NaN / Inf regions
        bad = tr.nonfinite_steps() | ~np.isfinite(tr.grad_hidden_norm).all(axis=0)
        runs = bad_runs(bad)
        for a, b in runs:
            region = pg.LinearRegionItem(values=(a - 0.5, b + 0.5), movable=False,
                                         brush=pg.mkBrush(theme.color("bad")), pen=pg.mkPen(theme.NONFINITE))
            region.setZValue(-5)
            self.plot.addItem(region, ignoreBounds=True)
            self.bad_regions.append(region)
        self.bad_note.setVisible(bool(runs))
        if runs:
            self.bad_note.setText(f"NaN/Inf at steps {steps_text(runs)}: the gradient exploded")
            self.bad_note.setFont(theme.font(10, bold=True))
            self.info.setText(f"⚠ non-finite gradient (NaN/Inf) at steps {steps_text(runs)} — shaded magenta")
        else:
            self.info.setText(self._summary())
        self.plot.setXRange(-0.5, T - 0.5, padding=0.01)
        self.plot.enableAutoRange(axis="y")
        self._place_note()
        self._move()

    def _add(self, key, x, values, color, style, name, into, store=True) -> None:
        y = log_ready(values, self.floor)
        # antialiased wide lines over >300 points cost ~5 ms a repaint: scrubbing must stay fast
        item = cached(pg.PlotDataItem(pen=theme.pen(color, 2, style)))
        self.legend.add(name, color, style)
        item.opts["antialias"] = len(x) <= 300
        item.setData(x, y, connect="finite")
        self.plot.addItem(item)
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        into[key] = item
        if store:
            self.series[key] = np.asarray(values)

    def _summary(self) -> str:
        g = self.series.get(("h", 0))
        if g is None or g.size < 2:
            return ""
        first, last = float(g[0]), float(g[-1])
        if first > 0 and last > 0:
            ratio = first / last
            trend = "vanishes" if ratio < 1e-2 else "explodes" if ratio > 1e2 else "stays in range"
            return f"‖∂L/∂h‖ at step 1 / at step T = {ratio:.3g}: the gradient {trend} going back in time"
        return "‖∂L/∂h_1‖ = 0: nothing reaches the first step"

    def _place_note(self) -> None:
        if self.bad_regions:
            (a, _b) = self.bad_regions[0].getRegion()
            self.bad_note.setPos(a, np.log10(self.floor) + 1)

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        self._move()

    def _move(self) -> None:
        if self.trace is None:
            return
        t, T = self.current_time, self.trace.seq_len
        self.cursor.setPos(t)
        if self.phase == "backward":
            self.dim.update(t - 0.5, None, -0.5, T - 0.5)
        elif self.phase == "forward":
            self.dim.update(T - 0.5, None, -0.5, T - 0.5)
        else:
            self.dim.update(None, None, -0.5, T - 0.5)

    def value_text(self, t: int) -> str:
        """Hover readout for step t (1-based in the text): every curve's value, '0' for zeros."""
        parts = []
        for (kind, k), raw in self.series.items():
            if 0 <= t < raw.shape[0]:
                v = float(raw[t])
                s = "0" if v == 0 else f"{v:.3g}"
                rn = row_name(self.trace, k)
                parts.append(f"‖∂L/∂{kind}‖{(' ' + rn) if rn else ''} = {s}")
        return f"step {t + 1}: " + ", ".join(parts)

    def _on_mouse_moved(self, pos) -> None:
        if self.trace is None or not self.plot.vb.sceneBoundingRect().contains(pos):
            return
        t = int(round(self.plot.vb.mapSceneToView(pos).x()))
        if 0 <= t < self.trace.seq_len:
            self.hover = self.value_text(t)
            self.info.setText(self.hover)

    def _on_mouse_clicked(self, event) -> None:
        if self.trace is None or event.button() != Qt.MouseButton.LeftButton:
            return
        if self.plot.vb.sceneBoundingRect().contains(event.scenePos()):
            t = int(round(self.plot.vb.mapSceneToView(event.scenePos()).x()))
            if 0 <= t < self.trace.seq_len:
                self.time_clicked.emit(t)
