"""Gate activations, one heatmap per gate (candidates included), and the compare pair view.

Gates, their titles and colour levels come from :mod:`rnnviz.app.panel_model` (the exporter's rules).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from rnnviz.app.panel_model import (
    cell_display,
    counterpart,
    gate_levels,
    gate_title,
    gated_cells,
    is_candidate,
    memory_gate,
    run_label,
    with_cell,
)
from rnnviz.app.panels import get_panel
from rnnviz.qt import theme
from rnnviz.qt.views.heatmaps import HeatmapView, HeatPanel

__all__ = ["GatesView"]


class GatesView(HeatmapView):
    """One heatmap per gate of the run's cell, candidates included, titled from the cell registry.

    Attributes: ``gate_panels`` {gate name: HeatPanel} (``.data == trace.gates[g][k, :, b, :].T``).
    Sigmoid gates use the sequential map on [0, 1]; candidates the diverging map on [-1, 1].

    Compare mode (:meth:`set_compare` with a gated run): one gate of each run, one above the
    other on the same colour levels, chosen with two selectors (``gate_box``, ``compare_box``).
    It starts on the memory-keeping gate (the spec's ``memory_gate``); a compare run with other gates
    (GRU vs LSTM) shows its own gates, labelled with its cell. Then ``gate_panels`` holds the
    chosen gate of this run, ``compare_panel.data == compare_trace.gates[g][k, :, b, :].T`` and
    ``pair`` is (this run's gate, the compare run's gate).
    """

    title = get_panel("gates").title

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

    def hover_prefix(self, panel: HeatPanel) -> str:
        """Every gate panel names its gate (and the run, in compare mode)."""
        return panel.title

    # -- layout -------------------------------------------------------------------------
    def _compare_gated(self) -> bool:
        c = self.compare_trace
        return c is not None and bool(c.gates)

    def _titled(self, trace, g: str, label: str) -> str:
        return f"{label}  ·  {gate_title(trace.cell_type, g)}"

    def _build(self) -> None:
        tr = self.trace
        self.glw.clear()
        self.gate_panels = {}
        self.compare_panel = None
        if not self._compare_gated():
            self.pair = None
            for i, g in enumerate(tr.gates):
                row, col = divmod(i, 2)
                self.gate_panels[g] = HeatPanel(self.glw.ci, row, 2 * col, title=gate_title(tr.cell_type, g),
                                                max_labels=10)
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
            for g in trace.gates:
                box.addItem(gate_title(trace.cell_type, g), g)
            box.blockSignals(False)
        main = run_label(tr)
        other = self.compare_label or "compare run"
        if tr.cell_type != cmp.cell_type:
            main, other = with_cell(main, tr.cell_type), with_cell(other, cmp.cell_type)
        self.gate_label.setText(f"top, {main}:")
        self.compare_label_widget.setText(f"below, {other}:")
        if self.pair is None or self.pair[0] not in tr.gates or self.pair[1] not in cmp.gates:
            g = memory_gate(tr.cell_type)
            g = g if g in tr.gates else next(iter(tr.gates))
            cg = counterpart(g, cmp.gates, tr.cell_type, cmp.cell_type) or memory_gate(cmp.cell_type)
            cg = cg if cg in cmp.gates else next(iter(cmp.gates))
            self.pair = (g, cg)
        self.gate_box.setCurrentIndex(list(tr.gates).index(self.pair[0]))
        self.compare_box.setCurrentIndex(list(cmp.gates).index(self.pair[1]))

    def select_pair(self, gate: str, compare_gate: str | None = None) -> None:
        """Compare mode: show ``gate`` of this run over ``compare_gate`` (default: its counterpart)."""
        if not self._compare_gated() or self.trace is None or gate not in self.trace.gates:
            raise ValueError(f"no gate {gate!r} to compare in this run")
        cmp_gates = list(self.compare_trace.gates)
        cg = compare_gate or counterpart(gate, cmp_gates, self.trace.cell_type, self.compare_trace.cell_type) \
            or self.pair[1]
        if cg not in cmp_gates:
            raise ValueError(f"the compared run has no gate {cg!r} (it has {', '.join(cmp_gates)})")
        self.pair = (gate, cg)
        self._relayout()

    def _pick(self, follow: bool) -> None:
        g, cg = self.gate_box.currentData(), self.compare_box.currentData()
        if g is not None and cg is not None:
            if follow and g != self.pair[0]:
                cg = counterpart(g, self.compare_trace.gates, self.trace.cell_type,
                                 self.compare_trace.cell_type) or cg  # follow with the counterpart
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
            self.show_message(f"A {cell_display(trace.cell_type)} has no gates: h_t = tanh(W_hh h_{{t−1}} + "
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
            if trace is not None and not trace.gates:
                self.hover_label.setText(f"{label or 'the compared run'} is a {cell_display(trace.cell_type)}: "
                                         "no gates to compare")

    @staticmethod
    def _show_gate(panel: HeatPanel, trace, arr: np.ndarray, g: str) -> None:
        lv = gate_levels(trace.cell_type, g, trace.gates[g])  # the exporter's levels
        cmap = theme.gate_map(is_candidate(trace.cell_type, g))
        panel.set_data(arr, (lv.lo, lv.hi), cmap)

    def _refresh_images(self) -> None:
        k, b = self.current_k, self.current_b
        for g, p in self.gate_panels.items():
            self._show_gate(p, self.trace, self.trace.gates[g][k, :, b, :].T, g)
        if self.compare_panel is not None:
            cg = self.pair[1]
            arr = self.compare_trace.gates[cg]
            if arr.shape[0] > k and arr.shape[2] > b:
                self._show_gate(self.compare_panel, self.compare_trace, arr[k, :, b, :].T, cg)
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
