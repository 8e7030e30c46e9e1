"""Heatmap views: hidden state, LSTM cell state, gate activations, and gate saturation.

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
from rnnviz.qt.views.base import DimBand, TraceView, bad_runs, finite_absmax, make_cursor, steps_text, style_plot

GATE_TITLES = {
    "lstm": {"i": "Γ_i  input (store) gate", "f": "Γ_f  forget gate", "g": "g̃  candidate  c̃_t",
             "o": "Γ_o  output gate"},
    "gru": {"r": "Γ_r  relevance (reset) gate", "z": "Γ_z  update gate  (Γ_u in the notes)",
            "n": "ñ  candidate  h̃_t"},
}
CANDIDATES = ("g", "n")


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
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.bad = pg.ImageItem(axisOrder="row-major")
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
        self.restyle()

    def restyle(self) -> None:
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


class _HeatmapView(TraceView):
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
            prefix = ""
            if panel is not self.panels[0] or isinstance(self, GatesView):
                prefix = f"{panel.title.split('  ')[0]}: "
            self.hover = prefix + hover_text(*hit)
            self.hover_label.setText(self.hover)
        return self.hover

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


class HiddenStateView(_HeatmapView):
    """The hidden state h_t as a units × time heatmap (diverging colours, centred at 0).

    Attributes: ``panel`` (HeatPanel; ``panel.data`` is ``trace.hidden[k, :, b, :].T``),
    ``compare_panel`` (same for the compare run, same colour levels), ``levels``.
    """

    title = "Hidden state"
    array_name = "hidden"
    symbol = "h_t"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.panel = HeatPanel(self.glw.ci, 0, 0, title=self._panel_title())
        self.compare_panel = HeatPanel(self.glw.ci, 1, 0, title="")
        self.compare_panel.plot.setXLink(self.panel.plot)
        self._set_compare_visible(False)
        self.panels = [self.panel, self.compare_panel]
        self.levels = (-1.0, 1.0)
        self.symlog = False
        self.show_message("No run yet: build a network and record a trace.")

    def _panel_title(self, k: int = 0) -> str:
        tr = self.trace
        if tr is None:
            return f"{self.title} {self.symbol}"
        D = tr.num_directions
        where = f"layer {k // D + 1}" + ((" forward" if k % D == 0 else " backward") if D == 2 else "")
        return f"{self.title} {self.symbol}  ·  {where}, sample {self.current_b}"

    def _array(self, trace):
        return getattr(trace, self.array_name) if trace is not None else None

    def _set_compare_visible(self, on: bool) -> None:
        self.compare_panel.plot.setVisible(on)
        if self.compare_panel.colorbar is not None:
            self.compare_panel.colorbar.setVisible(on)

    def _absent_message(self) -> str:
        return ""

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._shown_kb = None
        arr = self._array(trace)
        if trace is None:
            for p in self.panels:
                p.clear()
            self.glw.hide()
            self.show_message("No run yet: build a network and record a trace.")
            return
        if arr is None:
            for p in self.panels:
                p.clear()
            self.glw.hide()
            self.show_message(self._absent_message())
            return
        self.glw.show()
        self.show_message("")
        self._update_levels()
        for p in self.panels:
            p.set_ticks(trace.meta.get("tokens"), trace.seq_len)
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._refresh_images()
        self._move_cursors()

    SYMLOG_ABOVE = 1e3  # states this large only come from exploding runs: colour by log magnitude

    def _update_levels(self) -> None:
        m = finite_absmax(self._array(self.trace), self._array(self.compare_trace))
        self.levels = (-m, m)
        self.symlog = m > self.SYMLOG_ABOVE

    def _refresh_images(self) -> None:
        k, b = self.current_k, self.current_b
        arr = self._array(self.trace)
        if arr is None:
            return
        self.panel.title = self._panel_title(k) + ("  ·  colour: sign·log₁₀(1+|v|)" if self.symlog else "")
        self.panel.restyle()
        self.panel.set_data(arr[k, :, b, :].T, self.levels, theme.diverging(), self.symlog)
        bad = ~np.isfinite(arr[k, :, b, :]).all(axis=1)
        if bad.any():
            self.hover_label.setText(f"NaN/Inf (magenta) at steps {steps_text(bad_runs(bad))}")
        carr = self._array(self.compare_trace)
        if carr is not None and carr.shape[0] > k and carr.shape[2] > b:
            self.compare_panel.title = f"{self.compare_label or 'compare run'}  ·  same colour scale"
            self.compare_panel.restyle()
            self.compare_panel.set_data(carr[k, :, b, :].T, self.levels, theme.diverging(), self.symlog)
            self._set_compare_visible(True)
        else:
            self.compare_panel.clear()
            self._set_compare_visible(False)
        self._shown_kb = (k, b)

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        if self._array(self.trace) is None:
            return
        if self._shown_kb != (self.current_k, self.current_b):
            self._refresh_images()
        self._move_cursors()

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        if self._array(self.trace) is not None:
            self._update_levels()
            self._refresh_images()
            self._move_cursors()
            if self._array(trace) is None and trace is not None:
                self.hover_label.setText(f"{label or 'compare run'} has no {self.symbol}")


class CellStateView(HiddenStateView):
    """The LSTM cell state c_t (units × time); other cells get an explanation instead."""

    title = "Cell state"
    array_name = "cell"
    symbol = "c_t"

    def _absent_message(self) -> str:
        cell = {"rnn": "SimpleRNN", "gru": "GRU"}.get(self.trace.cell_type, self.trace.cell_type)
        return (f"Only the LSTM has a cell state c_t.\nThis run uses a {cell}: its memory is the "
                "hidden state h_t alone (the GRU merges c and h).")


class GatesView(_HeatmapView):
    """One heatmap per gate (LSTM Γ_i, Γ_f, g̃, Γ_o; GRU Γ_r, Γ_z, ñ).

    Attributes: ``gate_panels`` {gate name: HeatPanel} (``.data == trace.gates[g][k, :, b, :].T``).
    Sigmoid gates use the sequential map on [0, 1]; candidates the diverging map on [-1, 1].
    """

    title = "Gates"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.gate_panels: dict[str, HeatPanel] = {}
        self._cell = None
        self.show_message("No run yet: build a network and record a trace.")

    def _build(self, cell: str, names) -> None:
        self.glw.clear()
        self.gate_panels = {}
        titles = GATE_TITLES.get(cell, {})
        for i, g in enumerate(names):
            row, col = divmod(i, 2)
            self.gate_panels[g] = HeatPanel(self.glw.ci, row, 2 * col, title=titles.get(g, g), max_labels=10)
        self.panels = list(self.gate_panels.values())
        self._cell = cell

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._shown_kb = None
        if trace is None:
            self.glw.hide()
            self.show_message("No run yet: build a network and record a trace.")
            return
        if not trace.gates:
            self.glw.hide()
            self.show_message("A SimpleRNN has no gates: h_t = tanh(W_hh h_{t−1} + W_xh x_t) "
                              "overwrites its memory at every step.\nChoose an LSTM or a GRU to see "
                              "forget / input / output (update / relevance) gates.")
            return
        self.glw.show()
        self.show_message("")
        names = list(trace.gates)
        if self._cell != trace.cell_type or list(self.gate_panels) != names:
            self._build(trace.cell_type, names)
        tokens = trace.meta.get("tokens")
        for p in self.panels:
            p.set_ticks(tokens, trace.seq_len)
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._refresh_images()
        self._move_cursors()

    def _refresh_images(self) -> None:
        k, b = self.current_k, self.current_b
        for g, p in self.gate_panels.items():
            arr = self.trace.gates[g][k, :, b, :].T
            if g in CANDIDATES:
                p.set_data(arr, (-1.0, 1.0), theme.diverging())
            else:
                p.set_data(arr, (0.0, 1.0), theme.sequential())
        self._shown_kb = (k, b)

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        if self.trace is None or not self.trace.gates:
            return
        if self._shown_kb != (self.current_k, self.current_b):
            self._refresh_images()
        self._move_cursors()


def saturation_fractions(values: np.ndarray, candidate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of time steps each unit is closed / open: (low, high), each (L*D, B, H).

    Sigmoid gates: low = v < 0.1, high = v > 0.9. Candidates (tanh): low = |v| < 0.1,
    high = |v| > 0.9. Non-finite values count as neither.
    """
    v = np.abs(values) if candidate else values
    with np.errstate(invalid="ignore"):
        low = (v < 0.1).mean(axis=1)
        high = (v > 0.9).mean(axis=1)
    return low.astype(np.float32), high.astype(np.float32)


class SaturationView(TraceView):
    """Per gate, the fraction of time each unit is saturated: ↑ above 0.9, ↓ below 0.1.

    Attributes: ``fractions`` {gate: (low, high)} each (L*D, B, H); ``bars`` {gate: (low_item,
    high_item)} BarGraphItems showing row k, sample b (low drawn downwards as negative).
    """

    title = "Gate saturation"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.fractions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.bars: dict[str, tuple[pg.BarGraphItem, pg.BarGraphItem]] = {}
        self.plots: dict[str, pg.PlotItem] = {}
        self._shown_kb = None
        self._cell = None
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        self._layout.addWidget(self.info)
        self.show_message("No run yet: build a network and record a trace.")

    def _build(self, cell: str, names) -> None:
        self.glw.clear()
        self.bars, self.plots = {}, {}
        titles = GATE_TITLES.get(cell, {})
        for i, g in enumerate(names):
            row, col = divmod(i, 2)
            plot = self.glw.addPlot(row=row, col=col)
            cand = g in CANDIDATES
            top, bottom = ("|v|>0.9", "|v|<0.1") if cand else (">0.9", "<0.1")
            style_plot(plot, left=f"↓ {bottom}  time  {top} ↑", bottom="unit", title=titles.get(g, g))
            low = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=theme.color("bar_low"), pen=None)
            high = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=theme.color("bar_high"), pen=None)
            plot.addItem(low)
            plot.addItem(high)
            plot.addLine(y=0, pen=theme.pen("edge", 1))
            plot.setYRange(-1.05, 1.05, padding=0)
            plot.getAxis("left").setTicks([[(-1, "100%"), (-0.5, "50%"), (0, "0"), (0.5, "50%"), (1, "100%")]])
            self.bars[g] = (low, high)
            self.plots[g] = plot
        self._cell = cell

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._shown_kb = None
        self.fractions = {}
        if trace is None or not trace.gates:
            self.glw.hide()
            self.show_message("No run yet." if trace is None else
                              "A SimpleRNN has no gates, so nothing can saturate open or shut.\n"
                              "(Its tanh units can still saturate: see the hidden-state heatmap.)")
            return
        self.glw.show()
        self.show_message("")
        names = list(trace.gates)
        if self._cell != trace.cell_type or list(self.bars) != names:
            self._build(trace.cell_type, names)
        for g in names:
            self.fractions[g] = saturation_fractions(trace.gates[g], g in CANDIDATES)
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._refresh()

    def _refresh(self) -> None:
        k, b = self.current_k, self.current_b
        for g, (low_item, high_item) in self.bars.items():
            low, high = self.fractions[g]
            x = np.arange(low.shape[-1])
            low_item.setOpts(x=x, height=-low[k, b], width=0.8)
            high_item.setOpts(x=x, height=high[k, b], width=0.8)
            self.plots[g].setXRange(-0.5, len(x) - 0.5, padding=0.01)
        parts = []
        for g in self.bars:
            low, high = self.fractions[g]
            parts.append(f"{g}: {100 * high[k, b].mean():.0f}% ↑ / {100 * low[k, b].mean():.0f}% ↓")
        self.info.setText("Share of (unit, step) pairs saturated — " + ", ".join(parts)
                          + ". Gates near 0.5 everywhere = not yet trained; saturated gates store or forget cleanly.")
        self._shown_kb = (k, b)

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        if self.fractions and self._shown_kb != (self.current_k, self.current_b):
            self._refresh()

    def _theme_changed(self) -> None:
        super()._theme_changed()
        if self.trace is not None and self.trace.gates:
            self._build(self.trace.cell_type, list(self.trace.gates))
            self._refresh()
