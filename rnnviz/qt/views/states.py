"""The hidden state h_t and the LSTM cell state c_t as units × time heatmaps.

``panel.data == trace.hidden[k, :, b, :].T`` for layer-direction row ``k`` and sample ``b``;
colour levels come from :func:`rnnviz.app.panel_model.state_levels` (the exporter's rule).
"""

from __future__ import annotations

from rnnviz.app.panel_model import bad_runs, cell_display, cells_with_state, nonfinite_steps, state_levels, steps_text
from rnnviz.app.panels import get_panel
from rnnviz.qt import theme
from rnnviz.qt.views.base import sample_name
from rnnviz.qt.views.heatmaps import HeatmapView, HeatPanel

__all__ = ["CellStateView", "HiddenStateView"]


class HiddenStateView(HeatmapView):
    """The hidden state h_t as a units × time heatmap (diverging colours, centred at 0).

    Attributes: ``panel`` (HeatPanel; ``panel.data`` is ``trace.hidden[k, :, b, :].T``),
    ``compare_panel`` (same for the compare run, same colour levels), ``levels``.
    """

    title = get_panel("hidden").title
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
        return f"{self.title} {self.symbol}  ·  {where}, sample {sample_name(self.trace, self.current_b)}"

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

    def _update_levels(self) -> None:
        levels = state_levels(self._array(self.trace), self._array(self.compare_trace))  # the exporter's rule
        self.levels = (levels.lo, levels.hi)
        self.symlog = levels.log

    def _refresh_images(self) -> None:
        k, b = self.current_k, self.current_b
        arr = self._array(self.trace)
        if arr is None:
            return
        self.panel.title = self._panel_title(k) + ("  ·  colour: sign·log₁₀(1+|v|)" if self.symlog else "")
        self.panel.restyle()
        self.panel.set_data(arr[k, :, b, :].T, self.levels, theme.diverging(), self.symlog)
        bad = nonfinite_steps(arr[k:k + 1, :, b:b + 1, :])
        # a caption from an earlier (failed) run must not stay on a finite one
        self.hover_label.setText(f"NaN/Inf (magenta) at steps {steps_text(bad_runs(bad))}" if bad.any() else " ")
        self.hover = ""
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

    title = get_panel("cell").title
    array_name = "cell"
    symbol = "c_t"

    def _absent_message(self) -> str:
        cell = cell_display(self.trace.cell_type)
        return (f"Only the {cells_with_state()} has a cell state c_t.\nThis run uses a {cell}: "
                "its memory is the hidden state h_t alone.")
