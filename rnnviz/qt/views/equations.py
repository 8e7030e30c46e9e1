"""The chosen cell's equations in the notes' notation, how they map to PyTorch, and the numbers
of the current step.

The equations come from the cell registry (:mod:`rnnviz.core.cells`) as plain Unicode
(``x_t``, ``h_{t−1}``, letters with a combining tilde). Qt's rich text misplaces combining accents
next to subscripts (the LSTM candidate's tilde fell off and landed on the next line's gate), so
every line and every symbol with an accent is typeset here into an image: subscripts are drawn
smaller and lower, and a tilde is drawn as a curve over its letter, never left to the font.
"""

from __future__ import annotations

import html
import re

import numpy as np
from PySide6.QtCore import QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter, QPainterPath, QPen, QTextDocument
from PySide6.QtWidgets import QTextBrowser

from rnnviz.app.panels import get_panel
from rnnviz.core.cells import CELLS, display_name, gate_spec
from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView, sample_name

#: the model's output, the same for every cell
OUTPUT_LINE = "ŷ_t = W_hy h_t + b_y"
TILDE = "\u0303"
N_UNITS = 4
# a letter with a combining tilde and its subscript, inside prose: drawn as an image
_ACCENTED = re.compile(r"([^\W\d_])\u0303(?:_(\{[^}]*\}|[0-9A-Za-z]+))?")
# a subscript follows a one-letter symbol (W_hh, h_{t−1}); snake_case names (weight_ih) stay
_SUB = re.compile(r"(?<!\w)([^\W\d_])_(\{[^}]*\}|[0-9A-Za-z]+)")


def parse_math(line: str) -> list[tuple[str, bool, bool]]:
    """``(char, subscript, tilde)`` for each character of a registry equation line."""
    out: list[tuple[str, bool, bool]] = []
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == "_" and i + 1 < n and out and out[-1][0].isalpha():
            if line[i + 1] == "{":
                end = line.find("}", i + 2)
                end = n if end < 0 else end
                sub, i = line[i + 2:end], end + 1
            else:
                m = re.match(r"[0-9A-Za-z]+", line[i + 1:])
                sub = m.group(0) if m else ""
                i += 1 + len(sub)
            out += [(c, True, False) for c in sub]
            continue
        if ch == TILDE:
            if out:
                out[-1] = (out[-1][0], out[-1][1], True)
            i += 1
            continue
        out.append((ch, False, False))
        i += 1
    return out


def render_math(line: str, size: float, color: QColor, dpr: float = 1.0, inline: bool = False) -> QImage:
    """``line`` typeset in a ``size`` pt font: subscripts at 70 % size, 0.3 em lower; a letter
    with a combining tilde gets a tilde curve drawn over it. Transparent background.
    ``inline``: the image ends one font descent below the baseline, where Qt's rich text puts
    the bottom of an image in a line of text of the same font."""
    base = QFont()
    base.setPointSizeF(size)
    sub = QFont(base)
    sub.setPointSizeF(size * 0.7)
    fm, fs = QFontMetricsF(base), QFontMetricsF(sub)
    drop = 0.3 * fm.ascent()
    glyphs = parse_math(line)
    width = sum((fs if s else fm).horizontalAdvance(c) for c, s, _ in glyphs) + 4
    top = 0.25 * fm.height()  # room for an accent over a tall letter
    height = top + fm.ascent() + (fm.descent() if inline else max(fm.descent(), drop + fs.descent()) + 2)
    img = QImage(max(1, round(width * dpr)), max(1, round(height * dpr)), QImage.Format.Format_ARGB32_Premultiplied)
    img.setDevicePixelRatio(dpr)
    img.fill(0)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
    p.setPen(color)
    x, baseline = 2.0, top + fm.ascent()
    for ch, is_sub, tilde in glyphs:
        f, m = (sub, fs) if is_sub else (base, fm)
        y = baseline + (drop if is_sub else 0.0)
        p.setFont(f)
        p.drawText(QPointF(x, y), ch)
        w = m.horizontalAdvance(ch)
        if tilde:
            glyph_top = y + m.tightBoundingRect(ch).top()
            _draw_tilde(p, x + w / 2, glyph_top - 0.12 * m.height(), 0.62 * max(w, 0.5 * m.height()),
                        0.09 * m.height(), color, max(1.0, 0.07 * m.height()))
        x += w
    p.end()
    return img


def _draw_tilde(p: QPainter, cx: float, cy: float, w: float, h: float, color: QColor, stroke: float) -> None:
    path = QPainterPath(QPointF(cx - w / 2, cy + h / 2))
    path.cubicTo(QPointF(cx - w / 4, cy - h * 1.2), QPointF(cx - w / 8, cy - h), QPointF(cx, cy))
    path.cubicTo(QPointF(cx + w / 8, cy + h), QPointF(cx + w / 4, cy + h * 1.2), QPointF(cx + w / 2, cy - h / 2))
    pen = QPen(color, stroke)
    p.strokePath(path, pen)


class _MathBrowser(QTextBrowser):
    """A QTextBrowser whose ``math:N`` images come from :attr:`images` (typeset lines)."""

    def __init__(self):
        super().__init__()
        self.images: dict[str, QImage] = {}

    def loadResource(self, kind, url: QUrl):  # noqa: N802 (Qt naming)
        if kind == QTextDocument.ResourceType.ImageResource.value and url.toString() in self.images:
            return self.images[url.toString()]
        return super().loadResource(kind, url)


def _title(gate) -> str:
    """A gate's title without its own symbol at the end (the table's first column shows it)."""
    return re.sub(rf"\s*{re.escape(gate.symbol)}(?:_\w+)?$", "", gate.title) or gate.title


def _fmt(v: float) -> str:
    return "NaN" if np.isnan(v) else ("±Inf" if not np.isfinite(v) else f"{v:.3g}")


def _vec(v: np.ndarray) -> str:
    head = ", ".join(_fmt(float(x)) for x in v[:N_UNITS])
    return f"[{head}{', …' if v.shape[0] > N_UNITS else ''}]"


class EquationsView(TraceView):
    """The cell's equations typeset in the notes' notation (from the cell registry), a table of
    how each of the notes' symbols is called in PyTorch, and the numbers at step t.

    Attributes: ``numbers`` (dict of the values shown: h_norm, h_first, gate means, grad_norm,
    c_norm, step_loss), ``html`` (the current text), ``lines`` (the equations shown, plain
    Unicode), ``browser`` (QTextBrowser; ``browser.images`` holds the typeset pictures).
    """

    title = get_panel("equations").title
    scrollable = True

    def __init__(self, parent=None):
        super().__init__(parent)
        self.browser = _MathBrowser()  # the equations: typeset once per run
        self.browser.setOpenLinks(False)
        self._layout.addWidget(self.browser, 1)
        # the numbers of the current step, in a box of their own: setting the whole page on
        # every timeline step laid out every equation image again (~30 ms a step)
        self.numbers_box = _MathBrowser()
        self.numbers_box.setOpenLinks(False)
        self.numbers_box.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.numbers_box.hide()
        self._layout.addWidget(self.numbers_box, 0)
        self.numbers: dict[str, object] = {}
        self.lines: list[str] = []
        self.html = ""
        self._equations_html = ""
        self.browser.setFont(theme.font(12))
        self.numbers_box.setFont(theme.font(12))
        self.show_message("")
        self.browser.setHtml("<p>No run yet.</p>")

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self.browser.setFont(theme.font(12))
        self.numbers_box.setFont(theme.font(12))
        if self.trace is not None:
            self.set_trace(self.trace)

    # -- typesetting -----------------------------------------------------------------
    def _math(self, text: str, size: float = 13, inline: bool = False) -> str:
        """An <img> of ``text`` typeset at ``size`` pt (× the theme's scale)."""
        key = f"math:{len(self.browser.images)}"
        dpr = max(1.0, self.devicePixelRatioF())
        self.browser.images[key] = render_math(text, theme.font_px(size), theme.foreground(), dpr, inline)
        return f"<img src='{key}'>"

    def _prose(self, text: str) -> str:
        """Plain text with subscripts as <sub> and accented symbols (a candidate's tilde) as typeset images."""
        parts, last = [], 0
        for m in _ACCENTED.finditer(text):
            parts.append(_SUB.sub(r"\1<sub>\2</sub>", html.escape(text[last:m.start()], quote=False)))
            parts.append(self._math(m.group(1) + TILDE, 12, inline=True))
            if m.group(2):
                parts.append(f"<sub>{html.escape(m.group(2).strip('{}'), quote=False)}</sub>")
            last = m.end()
        parts.append(_SUB.sub(r"\1<sub>\2</sub>", html.escape(text[last:], quote=False)))
        return "".join(parts).replace("<sub>{", "<sub>").replace("}</sub>", "</sub>")

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self.browser.images = self.numbers_box.images = {}
        if trace is None:
            self._equations_html, self.numbers, self.lines = "", {}, []
            self.html = "<p>No run yet.</p>"
            self.browser.setHtml(self.html)
            self.numbers_box.hide()
            return
        cell = trace.cell_type
        spec = CELLS.get(cell)
        act = str(trace.config.get("activation", "tanh"))
        self.lines = [*(spec.equation_lines(act) if spec else []), OUTPUT_LINE]
        body = "".join(f"<div style='margin:4px 0'>{self._math(s)}</div>" for s in self.lines)
        rows = ""
        if spec is not None and spec.gates:
            rows = "".join(
                f"<tr><td valign='middle'>{self._math(g.symbol, 12)}</td>"
                f"<td align='center' valign='middle'><code>{g.key}</code></td>"
                f"<td valign='middle'>{self._prose(_title(g))}</td></tr>" for g in spec.gates)
            rows = ("<table cellspacing='0' cellpadding='3' border='1' style='border-collapse:collapse'>"
                    "<tr><th>notes</th><th>PyTorch</th><th>what it does</th></tr>" + rows + "</table>")
        extra = [self._prose(spec.torch_mapping)] if spec else []
        if trace.num_layers > 1:
            extra.append(f"{trace.num_layers} layers: layer l reads h<sub>t</sub><sup>(l−1)</sup> in place of "
                         "x<sub>t</sub>")
        if trace.num_directions == 2:
            extra.append("bidirectional: a second chain runs from t = T down to 1; ŷ<sub>t</sub> reads both")
        note = "".join(f"<p style='color:#333;margin:4px 0'>{s}</p>" for s in extra)
        self._equations_html = (f"<h3 style='margin:2px 0'>{display_name(cell)} cell, in the notes' notation</h3>"
                                f"{body}<h4 style='margin:8px 0 2px 0'>The same in PyTorch</h4>{rows}{note}")
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._symbols = {g: self._prose(gate_spec(cell, g).symbol) if gate_spec(cell, g) else g
                         for g in trace.gates}
        self.browser.setHtml(self._equations_html)
        # room for the heading and every row of numbers (h, c, each gate, the gradient, the loss)
        rows = 4 + (trace.cell is not None) + len(trace.gates)
        self.numbers_box.setFixedHeight(int(rows * 1.45 * QFontMetricsF(theme.font(12)).height()) + 12)
        self.numbers_box.show()
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
            rows.append(f"mean {self._symbols.get(g, g)} (PyTorch <code>{g}</code>) = {_fmt(n[f'gate_{g}'])}"
                        f" &nbsp; {_vec(v)}")
        if self.phase != "forward":
            gn = float(np.linalg.norm(tr.grad_hidden[k, t, b].astype(np.float64)))  # float32 squares underflow
            n["grad_norm"] = gn
            rows.append(f"‖∂L/∂h<sub>{t + 1}</sub>‖ = {_fmt(gn)} (sample {sample_name(tr, b)})")
        sl = float(tr.step_loss[t]) if tr.step_loss is not None else float("nan")
        n["step_loss"] = sl
        if np.isfinite(sl):
            rows.append(f"L<sub>{t + 1}</sub> = {_fmt(sl)}")
        self.numbers = n
        nums = "".join(f"<div style='margin:2px 0'>{r}</div>" for r in rows)
        step = (f"<b>step t = {t + 1}, sample {sample_name(tr, b)}"
                f"{'' if tr.hidden.shape[0] == 1 else f', row k = {k}'}:</b>{nums}")
        self.html = f"{self._equations_html}<hr>{step}"
        self.numbers_box.setHtml(step)


__all__ = ["EquationsView", "parse_math", "render_math"]
