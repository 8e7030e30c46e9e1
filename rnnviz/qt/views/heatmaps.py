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
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from rnnviz.core.cells import CELLS, display_name, gate_spec
from rnnviz.qt import theme
from rnnviz.qt.views.base import (
    DimBand,
    TraceView,
    add_legend,
    bad_runs,
    finite_absmax,
    make_cursor,
    steps_text,
    style_plot,
)


def gate_titles(cell: str) -> dict[str, str]:
    """{gate key: heatmap title} of ``cell``, from the cell registry ({} for an unknown cell)."""
    spec = CELLS.get(cell)
    return {g.key: g.title for g in spec.gates} if spec is not None else {}


def gate_symbol(cell: str, key: str) -> str:
    g = gate_spec(cell, key)
    return g.symbol if g is not None else key


def is_candidate(cell: str, key: str) -> bool:
    """A candidate value (tanh / linear) rather than a sigmoid gate in (0, 1)."""
    g = gate_spec(cell, key)
    return g is not None and g.candidate


def gate_levels(cell: str, key: str, arr: np.ndarray) -> tuple[float, float]:
    """Colour levels of a gate: its value range, or the data's (symmetric) where it is unbounded."""
    g = gate_spec(cell, key)
    lo, hi = g.value_range if g is not None else (0.0, 1.0)
    if np.isfinite(lo) and np.isfinite(hi):
        return float(lo), float(hi)
    m = finite_absmax(arr) or 1.0
    return -m, m


def gated_cells() -> str:
    return " or ".join(s.display for s in CELLS.values() if s.gates)


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
        self._compare_panel: HeatPanel | None = None  # made on the first compare: start-up is faster
        self.panels = [self.panel]
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

    @property
    def compare_panel(self) -> HeatPanel:
        """The compare run's heatmap under the main one, x-linked (created on first use)."""
        if self._compare_panel is None:
            panel = HeatPanel(self.glw.ci, 1, 0, title="")
            panel.plot.setXLink(self.panel.plot)
            if self.trace is not None:
                panel.set_ticks(self.trace.meta.get("tokens"), self.trace.seq_len)
            self._compare_panel = panel
            self.panels.append(panel)
        return self._compare_panel

    def _set_compare_visible(self, on: bool) -> None:
        if self._compare_panel is None and not on:
            return
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
        elif self._compare_panel is not None:
            self._compare_panel.clear()
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
        cell = display_name(self.trace.cell_type)
        with_c = " and ".join(s.display for s in CELLS.values() if s.has_cell_state) or "no cell"
        return (f"Only the {with_c} has a cell state c_t.\nThis run uses a {cell}: "
                "its memory is the hidden state h_t alone.")


#: A gate's counterpart in the other cell (by PyTorch's keys): the memory-keeping gates (LSTM f;
#: GRU z, with h_t = (1 − z) n + z h_{t−1}, z ≈ 1 keeps the state) and the tanh candidates.
COUNTERPART = {"f": "z", "z": "f", "g": "n", "n": "g"}


def keep_gate(cell: str) -> str | None:
    """The gate that decides how much of the old state is kept (the spec's memory gate)."""
    spec = CELLS.get(cell)
    return spec.memory_gate if spec is not None else None


def counterpart(gate: str, names) -> str | None:
    """The gate of ``names`` that plays ``gate``'s part: the same name, else its counterpart."""
    names = list(names)
    if gate in names:
        return gate
    other = COUNTERPART.get(gate)
    return other if other in names else None


def run_label(trace, fallback: str = "this run") -> str:
    """A run's name: ``trace.meta["label"]`` (lessons set it), else ``fallback``."""
    meta = getattr(trace, "meta", None) or {}
    return str(meta.get("label") or fallback)


def with_cell(label: str, cell: str) -> str:
    """``label (LSTM)`` unless the label already names the cell."""
    name = display_name(cell)
    return label if name.lower() in label.lower() else f"{label} ({name})"


class GatesView(_HeatmapView):
    """One heatmap per gate of the run's cell, titled from the cell registry.

    Attributes: ``gate_panels`` {gate name: HeatPanel} (``.data == trace.gates[g][k, :, b, :].T``).
    Sigmoid gates use the sequential map on [0, 1]; candidates the diverging map on [-1, 1].

    Compare mode (:meth:`set_compare` with a gated run): one gate of each run, one above the
    other on the same colour levels, chosen with two selectors (``gate_box``, ``compare_box``).
    It starts on the memory-keeping gate (the spec's ``memory_gate``); a compare run with other gates
    (GRU vs LSTM) shows its own gates, labelled with its cell. Then ``gate_panels`` holds the
    chosen gate of this run, ``compare_panel.data == compare_trace.gates[g][k, :, b, :].T`` and
    ``pair`` is (this run's gate, the compare run's gate).
    """

    title = "Gates"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.gate_panels: dict[str, HeatPanel] = {}
        self.compare_panel: HeatPanel | None = None
        self.pair: tuple[str, str] | None = None
        self._built = None
        self.selector = QWidget()
        row = QHBoxLayout(self.selector)
        row.setContentsMargins(4, 0, 4, 0)
        self.gate_label = QLabel("this run:")
        self.gate_box = QComboBox()
        self.compare_label_widget = QLabel("compare:")
        self.compare_box = QComboBox()
        for w in (self.gate_label, self.gate_box, self.compare_label_widget, self.compare_box):
            row.addWidget(w)
        row.addStretch(1)
        self.gate_box.setToolTip("The gate of this run shown on top")
        self.compare_box.setToolTip("The gate of the compared run shown below (same colour levels)")
        self.gate_box.activated.connect(lambda _i: self._pick(follow=True))
        self.compare_box.activated.connect(lambda _i: self._pick(follow=False))
        self._layout.insertWidget(1, self.selector)
        self.selector.hide()
        self.show_message("No run yet: build a network and record a trace.")

    # -- layout -------------------------------------------------------------------------
    def _compare_gated(self) -> bool:
        c = self.compare_trace
        return c is not None and bool(getattr(c, "gates", None))

    def _titled(self, trace, g: str, label: str) -> str:
        title = gate_titles(trace.cell_type).get(g, g)
        return f"{label}  ·  {title}"

    def _build(self) -> None:
        tr = self.trace
        self.glw.clear()
        self.gate_panels = {}
        self.compare_panel = None
        titles = gate_titles(tr.cell_type)
        if not self._compare_gated():
            self.pair = None
            for i, g in enumerate(tr.gates):
                row, col = divmod(i, 2)
                self.gate_panels[g] = HeatPanel(self.glw.ci, row, 2 * col, title=titles.get(g, g), max_labels=10)
            self.panels = list(self.gate_panels.values())
            self.selector.hide()
            self._built = (tr.cell_type, tuple(tr.gates), None)
            return
        g, cg = self.pair
        cmp = self.compare_trace
        top = HeatPanel(self.glw.ci, 0, 0, title=self._titled(tr, g, run_label(tr)), max_labels=16)
        self.compare_panel = HeatPanel(self.glw.ci, 1, 0, max_labels=16,
                                       title=self._titled(cmp, cg, self.compare_label or "compare run"))
        self.compare_panel.plot.setXLink(top.plot)
        self.gate_panels = {g: top}
        self.panels = [top, self.compare_panel]
        self.selector.show()
        self._built = (tr.cell_type, tuple(tr.gates), (cmp.cell_type, tuple(cmp.gates), self.pair))

    def _fill_selectors(self) -> None:
        tr, cmp = self.trace, self.compare_trace
        for box, trace in ((self.gate_box, tr), (self.compare_box, cmp)):
            box.blockSignals(True)
            box.clear()
            titles = gate_titles(trace.cell_type)
            for g in trace.gates:
                box.addItem(titles.get(g, g), g)
            box.blockSignals(False)
        main = run_label(tr)
        other = self.compare_label or "compare run"
        if tr.cell_type != cmp.cell_type:
            main, other = with_cell(main, tr.cell_type), with_cell(other, cmp.cell_type)
        self.gate_label.setText(f"top, {main}:")
        self.compare_label_widget.setText(f"below, {other}:")
        if self.pair is None or self.pair[0] not in tr.gates or self.pair[1] not in cmp.gates:
            g = keep_gate(tr.cell_type)
            g = g if g in tr.gates else next(iter(tr.gates))
            cg = counterpart(g, cmp.gates) or keep_gate(cmp.cell_type)
            cg = cg if cg in cmp.gates else next(iter(cmp.gates))
            self.pair = (g, cg)
        self.gate_box.setCurrentIndex(list(tr.gates).index(self.pair[0]))
        self.compare_box.setCurrentIndex(list(cmp.gates).index(self.pair[1]))

    def select_pair(self, gate: str, compare_gate: str | None = None) -> None:
        """Compare mode: show ``gate`` of this run over ``compare_gate`` (default: its counterpart)."""
        if not self._compare_gated() or self.trace is None or gate not in self.trace.gates:
            raise ValueError(f"no gate {gate!r} to compare in this run")
        cmp_gates = list(self.compare_trace.gates)
        cg = compare_gate or counterpart(gate, cmp_gates) or self.pair[1]
        if cg not in cmp_gates:
            raise ValueError(f"the compared run has no gate {cg!r} (it has {', '.join(cmp_gates)})")
        self.pair = (gate, cg)
        self._relayout()

    def _pick(self, follow: bool) -> None:
        g, cg = self.gate_box.currentData(), self.compare_box.currentData()
        if g is not None and cg is not None:
            if follow and g != self.pair[0]:
                cg = counterpart(g, self.compare_trace.gates) or cg  # follow with the counterpart
            self.select_pair(g, cg)

    def _relayout(self) -> None:
        tr = self.trace
        if tr is None or not tr.gates:
            return
        if self._compare_gated():
            self._fill_selectors()
        else:
            self.selector.hide()
        cmp = self.compare_trace
        want = (tr.cell_type, tuple(tr.gates),
                (cmp.cell_type, tuple(cmp.gates), self.pair) if self._compare_gated() else None)
        if want != self._built:
            self._build()
        if self.compare_panel is not None:  # the runs' names may change without a new layout
            g, cg = self.pair
            self.gate_panels[g].title = self._titled(tr, g, run_label(tr))
            self.compare_panel.title = self._titled(cmp, cg, self.compare_label or "compare run")
            for p in self.panels:
                p.restyle()
        tokens = tr.meta.get("tokens")
        for p in self.panels:
            p.set_ticks(tokens, tr.seq_len)
        self._refresh_images()
        self._move_cursors()

    # -- the contract ------------------------------------------------------------------------
    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self._shown_kb = None
        if trace is None:
            self.glw.hide()
            self.selector.hide()
            self.show_message("No run yet: build a network and record a trace.")
            return
        if not trace.gates:
            self.glw.hide()
            self.selector.hide()
            self.show_message(f"A {display_name(trace.cell_type)} has no gates: h_t = tanh(W_hh h_{{t−1}} + "
                              "W_xh x_t) overwrites its memory at every step.\n"
                              f"Choose a gated cell ({gated_cells()}) to see its gates.")
            return
        self.glw.show()
        self.show_message("")
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._relayout()

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        self._shown_kb = None
        if self.trace is not None and self.trace.gates:
            self._relayout()
            if trace is not None and not getattr(trace, "gates", None):
                self.hover_label.setText(f"{label or 'the compared run'} is a {display_name(trace.cell_type)}: "
                                         "no gates to compare")

    @staticmethod
    def _show_gate(panel: HeatPanel, arr: np.ndarray, g: str, cell: str) -> None:
        levels = gate_levels(cell, g, arr)
        panel.set_data(arr, levels, theme.diverging() if is_candidate(cell, g) else theme.sequential())

    def _refresh_images(self) -> None:
        k, b = self.current_k, self.current_b
        for g, p in self.gate_panels.items():
            self._show_gate(p, self.trace.gates[g][k, :, b, :].T, g, self.trace.cell_type)
        if self.compare_panel is not None:
            cg = self.pair[1]
            arr = self.compare_trace.gates[cg]
            if arr.shape[0] > k and arr.shape[2] > b:
                self._show_gate(self.compare_panel, arr[k, :, b, :].T, cg, self.compare_trace.cell_type)
            else:
                self.compare_panel.clear()
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

    Compare mode: the compared run's fractions beside this run's bars in another colour, with a
    legend naming both runs: ``compare_fractions`` {gate: (low, high)}, ``compare_bars``
    {plot key: (low_item, high_item)}. Gates are paired by name or part (:data:`COUNTERPART`:
    LSTM f ↔ GRU z, g ↔ n); a compared gate without a partner gets its own plot, keyed ``"compare:" + gate``.
    """

    title = "Gate saturation"

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
        self.legend = None
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        self._layout.addWidget(self.info)
        self.show_message("No run yet: build a network and record a trace.")

    def _cmp(self):
        c = self.compare_trace
        return c if c is not None and getattr(c, "gates", None) else None

    def _plot(self, key: str, row: int, col: int, title: str, cand: bool) -> pg.PlotItem:
        plot = self.glw.addPlot(row=row, col=col)
        top, bottom = ("|v|&gt;0.9", "|v|&lt;0.1") if cand else ("&gt;0.9", "&lt;0.1")  # labels are HTML
        style_plot(plot, left=f"time ↓{bottom}  ↑{top}", bottom="unit", title=title)
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
        titles = gate_titles(tr.cell_type)
        cell_differs = cmp is not None and cmp.cell_type != tr.cell_type
        main_name = run_label(tr)
        cmp_name = self.compare_label or "compare run"
        if cell_differs:
            main_name = with_cell(main_name, tr.cell_type)
            cmp_name = with_cell(cmp_name, cmp.cell_type)
        keys = []
        for g in tr.gates:
            partner = counterpart(g, cmp.gates) if cmp is not None else None
            title = titles.get(g, g)
            if partner is not None and partner != g:
                title += f"  vs  {gate_symbol(cmp.cell_type, partner)}"
            keys.append((g, g, partner, title))
        if cmp is not None:
            used = {k[2] for k in keys}
            ctitles = gate_titles(cmp.cell_type)
            for cg in cmp.gates:
                if cg not in used:
                    keys.append((f"compare:{cg}", None, cg, f"{cmp_name}: {ctitles.get(cg, cg)}"))
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
        self.legend = None
        if cmp is not None and self.plots:  # one legend, on the first plot, naming both runs
            self.legend = add_legend(next(iter(self.plots.values())), (-6, 4))
            main_bars = next(iter(self.bars.values()))
            cmp_bars = next(iter(self.compare_bars.values()))
            for (low, high), name in ((main_bars, main_name), (cmp_bars, cmp_name)):
                self.legend.addItem(high, f"{name}  ↑ open")
                self.legend.addItem(low, f"{name}  ↓ shut")
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
            self.show_message("No run yet." if trace is None else
                              f"A {display_name(trace.cell_type)} has no gates, so nothing can saturate open or shut.\n"
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
