"""Colours of the graph view for one cursor: node fills, label colours, edge pens, the colour
bar and the caption under the graph. Split from :mod:`graph_view` (which builds the items);
this only restyles them, on every timeline step, so it sets a brush or pen only when it changed.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainterPath, QPen, QPolygonF

from rnnviz.core.graph_text import label_color
from rnnviz.qt import theme
from rnnviz.qt.views.graph_widgets import decade

LIT = QColor("#dbe8f5")    # x, ŷ, L nodes the pass has reached
FADE = 0.75                # how far states not yet reached by BPTT fade toward grey
EDGE_MAX = 0.85            # brightest colour-map value for an edge: yellow lines vanish on white


def font(px: float, bold: bool = False, italic: bool = False) -> QFont:
    """A font sized in scene units (pixels before the view's zoom)."""
    f = QFont()
    f.setPixelSize(max(1, round(px)))
    f.setBold(bold)
    f.setItalic(italic)
    return f


def font_height(px: float) -> float:
    """Height of a text item's bounding rect in a font of ``px`` scene units."""
    return QFontMetricsF(font(px)).height()


def _lut(cmap) -> list[tuple[int, int, int]]:
    table = cmap.getLookupTable(0.0, 1.0, 256, alpha=False)
    return [tuple(int(v) for v in row[:3]) for row in table]


class _Styles:
    """QBrush / QPen objects by value: a timeline step restyles hundreds of items, and making a
    pen, or mapping a colour through pyqtgraph, per item per step cost ~50 ms at T = 100."""

    def __init__(self):
        self.brushes: dict = {}
        self.pens: dict = {}

    def brush(self, rgb):
        b = self.brushes.get(rgb)
        if b is None:
            b = self.brushes[rgb] = QBrush(QColor(*rgb))
        return b

    def pen(self, key):
        """An edge pen: cosmetic (its width in screen pixels, scaled by the theme)."""
        p = self.pens.get(key)
        if p is None:
            rgb, width, style = key
            p = self.pens[key] = theme.pen(QColor(*rgb), width, style)
        return p

    def outline(self, key):
        """A node outline: its width in scene units, so it grows and shrinks with the node
        (a cosmetic selection ring of 11 px swallowed the small nodes of a zoomed-out graph)."""
        p = self.pens.get(("node", key))
        if p is None:
            rgb, width, style = key
            p = QPen(QColor(*rgb), width * (1.4 if theme.is_high_contrast() else 1.0), style)
            self.pens[("node", key)] = p
        return p


def paint_signature(view) -> tuple:
    """What colours depend on besides the time: phase, sample, row, theme."""
    return view.phase, view.current_b, view.current_k, (theme.scale(), theme.is_high_contrast())


def mark_painted(view) -> None:
    """Say that every drawn item of ``view`` is painted for its cursor (the next call of
    :func:`recolor` then repaints only the columns the cursor moves across)."""
    view._painted = (paint_signature(view), view.current_time)


def recolor(view, only: tuple | None = None) -> None:
    """Colour every drawn node and edge of ``view`` (a GraphView) for its cursor: a brush, pen
    or label colour is set only where it changed since the last call.

    ``only=(nodes, edges)``: colour just those (items just built, or columns given new numbers)
    and leave what the view knows about the rest alone."""
    if view.trace is None or view.graph is None:
        return
    t, phase, b = view.current_time, view.phase, view.current_b
    T = view.trace.seq_len
    key = (theme.scale(), theme.is_high_contrast())
    if getattr(view, "_styles_key", None) != key:
        view._styles, view._styles_key = _Styles(), key
        view._style = {}
        view._luts = (_lut(theme.diverging()), _lut(theme.sequential()))
    styles = view._styles
    div, seq = view._luts
    lo, hi = view.grad_levels
    span = hi - lo
    idle = _rgb(theme.color("node_idle"))
    lit = _rgb(LIT)
    nonfinite = _rgb(theme.NONFINITE)
    solid, dot, dash = Qt.PenStyle.SolidLine, Qt.PenStyle.DotLine, Qt.PenStyle.DashLine
    outline = (_rgb(theme.color("node_outline")), 1.5, solid)  # node pens in scene units
    select = (_rgb(theme.color("select")), 5.0, solid)
    bad_pen = ((0, 0, 0), 3.0, dash)
    faint = (_rgb(theme.color("edge")), 1.0, dot)
    edge_rgb, c_rgb = _rgb(theme.color("edge")), (46, 125, 50)
    mean_h, grad_log, grad_c_log, mean_c = view.mean_h, view.grad_log, view.grad_c_log, view.mean_c
    act_level, c_level = view.act_level, view.c_level

    def state_color(value, level):
        if not math.isfinite(value):
            return None
        return div[int(round(255 * (0.5 + 0.5 * max(-1.0, min(1.0, value / level)))))]

    def grad_color(logv):
        if not math.isfinite(logv):
            return None if logv != -math.inf else seq[0]
        return seq[int(round(255 * min(1.0, max(0.0, (logv - lo) / span))))]

    # a step along the timeline changes only the columns between the old and the new cursor
    sig = paint_signature(view)  # set_trace and _build_items reset view._painted
    prev = view._painted
    if only is not None:
        nodes, edges = only
    elif prev is not None and prev[0] == sig:
        cols = [None, *range(min(prev[1], t), max(prev[1], t) + 1)]
        nodes = [n for c in cols for n in view.col_nodes.get(c, ())]
        edges = [e for c in cols for e in view.col_edges.get(c, ())]
    else:
        nodes, edges = list(view.node_items), list(view.edge_items)
        view._bad = set()
    if only is None:
        view._painted = (sig, t)
    bad = view._bad

    def reached_grad(n):
        """log10 ‖∂L/∂state‖ of node n where BPTT has reached it, else None."""
        kind, nt, k = view.node_info[n]
        if k is None or nt >= T or phase == "forward" or (phase == "backward" and nt < t):
            return None
        if kind == "h":
            return float(grad_log[k, nt, b])
        return float(grad_c_log[k, nt, b]) if grad_c_log is not None else math.nan

    for n in nodes:
        item = view.node_items[n]
        kind, nt, k = view.node_info[n]
        color, pen = idle, outline
        bad.discard(n)
        if k is not None and nt < T:
            if kind == "h":
                value, level = float(mean_h[k, nt, b]), act_level
            else:
                value, level = float(mean_c[k, nt, b]), c_level
            glog = reached_grad(n)
            if glog is not None and phase == "backward":
                color = grad_color(glog)
            elif phase == "backward":
                color = state_color(value, level)
                if color is not None:  # not reached by BPTT yet: faded toward grey
                    color = tuple(round(c + FADE * (242 - c)) for c in color)
            elif phase == "forward" and nt > t:
                color = idle
            else:
                color = state_color(value, level)
            if color is None or (glog is not None and not math.isfinite(glog) and glog != -math.inf):
                color, pen = nonfinite, bad_pen
                bad.add(n)
            if nt == t and k == view.current_k and pen is outline:
                pen = select
        else:
            if nt is None:
                color = lit if phase != "forward" or t == T - 1 else idle
            elif phase != "forward" or nt <= t:
                color = lit
            if nt == t and kind == "x":
                pen = select
        style = view._style
        if style.get((n, "b")) != color:
            style[(n, "b")] = color
            item.setBrush(styles.brush(color))
            view.label_items[n].setBrush(styles.brush(label_color(color)))
        if style.get((n, "p")) != pen:
            style[(n, "p")] = pen
            item.setPen(styles.outline(pen))
    # edges: width and colour from the gradient arriving at the destination (log scale)
    for e in edges:
        wn, ut, vt, dashed = view.edge_info[e]
        if phase == "forward" and ((vt is not None and vt > t) or (ut is not None and ut > t)):
            pen = faint
        else:
            base_w = 2.2 if wn == "c" else 1.2
            color = c_rgb if wn == "c" else edge_rgb
            glog = reached_grad(e[1])
            if glog is not None:
                if math.isfinite(glog):
                    frac = min(1.0, max(0.0, (glog - lo) / span))
                    color = seq[int(round(255 * frac * EDGE_MAX))]
                    base_w = round(1.0 + (6.0 if wn in ("W_hh", "c") else 2.5) * frac, 1)
                elif glog != -math.inf:
                    color, base_w = nonfinite, 4.0
            pen = (color, base_w, dot if wn == "gates" else dash if dashed else solid)
        if view._style.get((e, "p")) != pen:
            view._style[(e, "p")] = pen
            view.edge_items[e].setPen(styles.pen(pen))
    bus = getattr(view, "_bus", None)
    if bus is not None:  # drawn as that edge's path reached L: a solid pen covers a dotted one
        pen = view._style.get((bus[1], "p"))
        if pen is not None and view._style.get(("bus", "p")) != pen:
            view._style[("bus", "p")] = pen
            bus[0].setPen(styles.pen(pen))
    view.n_bad = len(bad)
    _legend(view, lo, hi)


def _rgb(c: QColor) -> tuple[int, int, int]:
    return c.red(), c.green(), c.blue()


def _legend(view, lo: float, hi: float) -> None:
    """The colour bar and the caption under the graph for the current phase."""
    t, phase = view.current_time, view.phase
    if phase == "backward":
        ticks = _decade_ticks(lo, hi)
        view.colorbar.set_scale("‖∂L/∂hₜ‖", theme.sequential(), ticks)
    else:
        a = view.act_level
        view.colorbar.set_scale("mean hₜ", theme.diverging(),
                                [(0.0, f"{-a:.2g}"), (0.5, "0"), (1.0, f"{a:.2g}")])
    what = {"forward": f"forward pass up to step {t + 1}",
            "backward": f"BPTT has reached step {t + 1}: colour and width = ‖∂L/∂hₜ‖",
            "full": "edge width = ‖∂L/∂hₜ‖ arriving at each state"}[phase]
    warn = f"  ⚠ {view.n_bad} NaN/Inf node(s) in magenta" if view.n_bad else ""
    view.info.setText(f"{view.window_text} · {what}{warn}")


def _decade_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    span = hi - lo
    first, last = math.ceil(lo), math.floor(hi)
    if last - first < 1:
        return [(0.0, decade(math.floor(lo))), (1.0, decade(math.ceil(hi)))]
    step = max(1, math.ceil((last - first) / 3))
    return [((e - lo) / span, decade(e)) for e in range(first, last + 1, step)]


def arrow_path(p1: QPointF, p2: QPointF, r1: float, r2: float, head: float = 7.0) -> QPainterPath:
    """A line from circle p1 (radius r1) to circle p2 (radius r2) with an arrowhead at p2."""
    dx, dy = p2.x() - p1.x(), p2.y() - p1.y()
    dist = math.hypot(dx, dy) or 1.0
    ux, uy = dx / dist, dy / dist
    a = QPointF(p1.x() + ux * r1, p1.y() + uy * r1)
    b = QPointF(p2.x() - ux * r2, p2.y() - uy * r2)
    path = QPainterPath(a)
    path.lineTo(b)
    _head(path, b, ux, uy, head)
    return path


def bus_stub(p1: QPointF, p2: QPointF, r1: float) -> QPainterPath:
    """L_t → L, the part that is L_t's own: up from L_t to the bus at L's height (empty where
    L_t sits at that height). The bus along to L is one item for every L_t (:func:`bus_line`)."""
    start = QPointF(p1.x(), p1.y() - r1)
    path = QPainterPath(start)
    corner = QPointF(p1.x(), p2.y())
    if corner.y() < start.y():
        path.lineTo(corner)
    return path


def bus_line(x0: float, p2: QPointF, r2: float, head: float = 7.0) -> QPainterPath:
    """The bus from ``x0`` (the leftmost L_t's column) along L's height into L, with the arrowhead:
    the part every L_t → L path shares."""
    path = QPainterPath(QPointF(x0, p2.y()))
    end = QPointF(p2.x() - r2, p2.y())
    path.lineTo(end)
    _head(path, end, 1.0, 0.0, head)
    return path


def _head(path: QPainterPath, b: QPointF, ux: float, uy: float, size: float = 7.0) -> None:
    left = QPointF(b.x() - ux * size - uy * size * 0.6, b.y() - uy * size + ux * size * 0.6)
    right = QPointF(b.x() - ux * size + uy * size * 0.6, b.y() - uy * size - ux * size * 0.6)
    path.addPolygon(QPolygonF([b, left, right, b]))


KIND_TEXT = {"x": "input", "h": "hidden state", "c": "LSTM cell state", "y": "output",
             "L": "loss at this step", "loss": "total loss L = Σₜ Lₜ"}
OK_COLOR, WRONG_COLOR = QColor("#1b5e20"), QColor("#b71c1c")  # ≥ 6.5 : 1 on white


def _elide(text: str, n: int = 9) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def node_caption(G, n, tokens: dict) -> tuple[str, QColor | None]:
    """The text beside node ``n``: an input's token, an output's prediction (✓ / ✗ against the
    target, in green / red); ("", None) where the task has none."""
    d = G.nodes[n]
    t = d.get("t")
    if t is None or t >= len(tokens["inputs"]):
        return "", None
    if d["kind"] == "x":
        tok = tokens["inputs"][t]
        return ("", None) if tok is None else (_elide(tok), None)
    out = tokens["outputs"][t] if d["kind"] == "y" else None
    if out is None:
        return "", None
    pred, _target, ok = out
    if ok is None:
        return _elide(pred), None
    return _elide(pred) + (" ✓" if ok else " ✗"), OK_COLOR if ok else WRONG_COLOR


def node_tooltip(G, n, tokens: dict) -> str:
    """What node ``n`` is, with its token: "x₂₇: input token 'cat'"."""
    d = G.nodes[n]
    kind, t = d["kind"], d.get("t")
    text = KIND_TEXT.get(kind, kind)
    if t is not None and t < len(tokens["inputs"]):
        if kind == "x" and tokens["inputs"][t] is not None:
            text = f"input token '{tokens['inputs'][t]}'"
        out = tokens["outputs"][t]
        if kind == "y" and out is not None:
            text = f"output: predicts '{out[0]}'" + (f", target '{out[1]}'" if out[1] is not None else "")
    return f"{d.get('label', '')}: {text}" + (" — click to select this step" if t is not None else "")
