"""The chosen cell's equations in the notes' notation, with the current step's numbers."""

from __future__ import annotations

import html
import re

import numpy as np
from PySide6.QtWidgets import QTextBrowser

from rnnviz.core.cells import CELLS, display_name, gate_spec
from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView

#: the model's output, the same for every cell
OUTPUT_LINE = "ŷ_t = W_hy h_t + b_y"
# a subscript follows a one-letter symbol (W_hh, h_{t−1}, also with a combining tilde); snake_case
# names (weight_ih) stay as they are
_SUB = re.compile(r"(?<!\w)([^\W\d_]\u0303?)_(\{[^}]*\}|[0-9A-Za-z]+)")


def to_html(line: str) -> str:
    """A plain-Unicode equation of the cell registry as rich text: ``_x`` / ``_{t−1}`` → subscripts."""
    text = html.escape(line, quote=False)
    return _SUB.sub(lambda m: f"{m.group(1)}<sub>{m.group(2).strip('{}')}</sub>", text)


def gate_symbol(cell: str, key: str) -> str:
    g = gate_spec(cell, key)
    return to_html(g.symbol) if g is not None else key


N_UNITS = 4


def _fmt(v: float) -> str:
    return "NaN" if np.isnan(v) else ("±Inf" if not np.isfinite(v) else f"{v:.3g}")


def _vec(v: np.ndarray) -> str:
    head = ", ".join(_fmt(float(x)) for x in v[:N_UNITS])
    return f"[{head}{', …' if v.shape[0] > N_UNITS else ''}]"


class EquationsView(TraceView):
    """Rich-text equations of the cell (from the cell registry) and the numbers at step t.

    Attributes: ``numbers`` (dict of the values shown: h_norm, h_first, gate means, grad_norm,
    c_norm, step_loss), ``html`` (the current text), ``browser`` (QTextBrowser).
    """

    title = "Equations"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.browser = QTextBrowser()
        self.browser.setOpenLinks(False)
        self._layout.addWidget(self.browser, 1)
        self.numbers: dict[str, object] = {}
        self.html = ""
        self._equations_html = ""
        self.browser.setFont(theme.font(12))
        self.show_message("")
        self.browser.setHtml("<p>No run yet.</p>")

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self.browser.setFont(theme.font(12))
        self._render()

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        if trace is None:
            self._equations_html = ""
            self.numbers = {}
            self.html = "<p>No run yet.</p>"
            self.browser.setHtml(self.html)
            return
        cell = trace.cell_type
        spec = CELLS.get(cell)
        act = str(trace.config.get("activation", "tanh"))
        lines = [to_html(s) for s in (spec.equation_lines(act) if spec else [])] + [to_html(OUTPUT_LINE)]
        name = display_name(cell)
        extra = [to_html(spec.torch_mapping)] if spec else []
        if trace.num_layers > 1:
            extra.append(f"{trace.num_layers} layers: layer l reads h<sub>t</sub><sup>(l−1)</sup> in place of x<sub>t</sub>")  # noqa: E501
        if trace.num_directions == 2:
            extra.append("bidirectional: a second chain runs from t = T down to 1; ŷ<sub>t</sub> reads both")
        body = "".join(f"<div style='margin:3px 0'>{s}</div>" for s in lines)
        note = "".join(f"<div style='color:#555'><i>{s}</i></div>" for s in extra)
        self._equations_html = f"<h3 style='margin:2px 0'>{name} cell</h3>{body}{note}"
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._render()

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        self._render()

    def _render(self) -> None:
        tr = self.trace
        if tr is None:
            return
        t, k, b = self.current_time, self.current_k, self.current_b
        h = tr.hidden[k, t, b]
        n = {"t": t, "k": k, "b": b, "h_norm": float(np.linalg.norm(h)), "h_first": h[:N_UNITS].tolist()}
        rows = [f"‖h<sub>{t + 1}</sub>‖ = {_fmt(n['h_norm'])} &nbsp; h<sub>{t + 1}</sub> = {_vec(h)}"]
        if tr.cell is not None:
            c = tr.cell[k, t, b]
            n["c_norm"] = float(np.linalg.norm(c))
            rows.append(f"‖c<sub>{t + 1}</sub>‖ = {_fmt(n['c_norm'])} &nbsp; c<sub>{t + 1}</sub> = {_vec(c)}")
        for g, arr in tr.gates.items():
            v = arr[k, t, b]
            n[f"gate_{g}"] = float(np.mean(v))
            rows.append(f"mean {gate_symbol(tr.cell_type, g)} = {_fmt(n[f'gate_{g}'])} &nbsp; {_vec(v)}")
        if self.phase != "forward":
            gn = float(np.linalg.norm(tr.grad_hidden[k, t, b]))
            n["grad_norm"] = gn
            rows.append(f"‖∂L/∂h<sub>{t + 1}</sub>‖ = {_fmt(gn)} (sample {b})")
        sl = float(tr.step_loss[t]) if tr.step_loss is not None else float("nan")
        n["step_loss"] = sl
        if np.isfinite(sl):
            rows.append(f"L<sub>{t + 1}</sub> = {_fmt(sl)}")
        self.numbers = n
        nums = "".join(f"<div style='margin:2px 0'>{r}</div>" for r in rows)
        self.html = (f"{self._equations_html}<hr><b>step t = {t + 1}, sample {b}"
                     f"{'' if tr.hidden.shape[0] == 1 else f', row k = {k}'}:</b>{nums}")
        self.browser.setHtml(self.html)
