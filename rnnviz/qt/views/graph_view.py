"""The unrolled computation graph (from :mod:`rnnviz.core.graph`) drawn with QGraphicsScene.

Forward phase: states up to the cursor light up with their value (mean of h_t for sample b,
diverging colours). Backward phase: from L back to step t, nodes take the colour of
log10 ‖∂L/∂h_t‖ and the edges carrying that gradient get wider: vanishing (1e-8) and
exploding (1e8) gradients are visible on the graph itself. NaN / Inf nodes are magenta.

Long sequences (T > WINDOW) show a window of WINDOW steps around the cursor; the window moves
in half-window jumps so that scrubbing rarely rebuilds it.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPolygonF
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QLabel,
)

from rnnviz.core.graph import build_graph
from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView

WINDOW = 24          # most time steps drawn at once
MIN_WINDOW = 8       # fewest, in a narrow widget
COLUMN_PX = 64       # narrower columns than this make labels unreadable
SX, SY = 80.0, 72.0  # scene units per graph unit
RADIUS = 19.0
EDGE_LABELS = {"W_xh": "W_xh", "W_hh": "W_hh", "W_hy": "W_hy", "c": "c path", "feedback": "ŷ→x"}


def graph_for_trace(trace):
    """The networkx graph matching a trace's architecture, shape and length."""
    cfg = SimpleNamespace(cell=trace.cell_type, num_layers=trace.num_layers,
                          bidirectional=trace.num_directions == 2)
    meta = trace.meta or {}
    shape = meta.get("shape") or "many-to-many"
    T = trace.seq_len
    out_len = None
    if shape == "encoder-decoder":
        enc, dec = meta.get("enc_len"), meta.get("dec_len")
        if enc and dec and int(enc) + int(dec) == T:
            T, out_len = int(enc), int(dec)
        else:
            shape = "many-to-many"
    if shape == "one-to-one" and T != 1:
        shape = "many-to-many"
    try:
        return build_graph(cfg, T, shape, out_len)
    except ValueError:
        return build_graph(cfg, trace.seq_len, "many-to-many")


class _Canvas(QGraphicsView):
    def __init__(self, owner: GraphView):
        super().__init__()
        self.owner = owner
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setBackgroundBrush(QBrush(QColor("white")))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def mousePressEvent(self, event):  # noqa: N802 (Qt naming)
        item = self.itemAt(event.position().toPoint())
        while item is not None and item.data(0) is None:
            item = item.parentItem()
        if item is not None and event.button() == Qt.MouseButton.LeftButton:
            self.owner.click_node(item.data(0))
        super().mousePressEvent(event)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.owner.relayout()


class GraphView(TraceView):
    """The unrolled network: x_t → h_t (→ c_t) → ŷ_t → L_t → L, edges labelled by their weights.

    Attributes: ``graph`` (networkx DiGraph of the whole run), ``node_items`` {node id:
    QGraphicsEllipseItem} and ``edge_items`` {(u, v): QGraphicsPathItem} for the drawn window,
    ``window`` (first, last) 0-based steps drawn, ``window_text``, ``grad_log`` (L*D, T, B)
    log10 ‖∂L/∂h_t‖ per sample, ``grad_levels`` (lo, hi) of the log colour scale.
    """

    title = "Computation graph"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scene = QGraphicsScene(self)
        self.canvas = _Canvas(self)
        self.canvas.setScene(self.scene)
        self._layout.addWidget(self.canvas, 1)
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        self._layout.addWidget(self.info)
        self.graph = None
        self.node_items: dict = {}
        self.edge_items: dict = {}
        self.window = (0, -1)
        self.window_text = ""
        self._arch = None
        self.grad_log = None
        self.grad_levels = (-8.0, 0.0)
        self.show_message("No run yet: build a network and record a trace.")

    # -- data ------------------------------------------------------------------------
    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        if trace is None:
            self.scene.clear()
            self.node_items, self.edge_items, self.graph, self._arch = {}, {}, None, None
            self.canvas.hide()
            self.show_message("No run yet: build a network and record a trace.")
            return
        self.canvas.show()
        self.show_message("")
        meta = trace.meta or {}
        arch = (trace.cell_type, trace.num_layers, trace.num_directions, meta.get("shape"),
                trace.seq_len, meta.get("enc_len"), meta.get("dec_len"))
        if arch != self._arch:
            self.graph = graph_for_trace(trace)
            self._arch = arch
            self.window = (0, -1)
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            self.mean_h = trace.hidden.mean(axis=3)
            self.mean_c = trace.cell.mean(axis=3) if trace.cell is not None else None
            self.act_level = _absmax(self.mean_h)
            self.c_level = _absmax(self.mean_c) if self.mean_c is not None else 1.0
            gh = np.sqrt(np.square(trace.grad_hidden.astype(np.float32)).sum(axis=3))  # float32 like the trace
            self.grad_log = np.log10(gh)
            if trace.grad_cell is not None:
                self.grad_c_log = np.log10(np.sqrt(np.square(trace.grad_cell.astype(np.float32)).sum(axis=3)))
            else:
                self.grad_c_log = None
        fin = self.grad_log[np.isfinite(self.grad_log)]
        if fin.size:
            lo, hi = float(fin.min()), float(fin.max())
            self.grad_levels = (lo, hi if hi > lo else lo + 1.0)
        else:
            self.grad_levels = (-8.0, 0.0)
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self._ensure_window(self.current_time, force=arch != getattr(self, "_drawn_arch", None))
        self._recolor()

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        if self.graph is None:
            return
        self._ensure_window(self.current_time)
        self._recolor()

    # -- drawing -----------------------------------------------------------------------
    def _window_for(self, t: int) -> tuple[int, int]:
        N = int(self.graph.graph.get("num_steps", self.trace.seq_len))
        width = self.columns()
        if N <= width:
            return 0, N - 1
        half = max(1, width // 2)
        start = (t // half) * half - half // 2
        start = min(max(start, 0), N - width)
        if not start <= t <= start + width - 1:
            start = min(max(t - half, 0), N - width)
        return start, start + width - 1

    def columns(self) -> int:
        """How many time steps fit: WINDOW at most, fewer in a narrow widget (≥ MIN_WINDOW)."""
        w = self.canvas.viewport().width() if self.isVisible() else WINDOW * COLUMN_PX
        px = COLUMN_PX * theme.scale()  # presentation: fewer, bigger columns (labels stay clear)
        return int(min(WINDOW, max(MIN_WINDOW, w // px)))

    def _ensure_window(self, t: int, force: bool = False) -> None:
        win = self._window_for(t)
        if win == self.window and not force:
            return
        self.window = win
        self._drawn_arch = self._arch
        self._build_items()

    def _build_items(self) -> None:
        self.scene.clear()
        self.node_items, self.edge_items = {}, {}
        G = self.graph
        a, b = self.window
        N = int(G.graph.get("num_steps", self.trace.seq_len))
        keep = [n for n, d in G.nodes(data=True) if d.get("t") is None or a <= d["t"] <= b]
        # scene-unit fonts: the view zooms the scene, so they keep their size next to the nodes
        # (a bigger theme scale shows fewer, bigger columns instead, see columns())
        k = 1.0 / theme.scale()
        font = theme.font(12 * k)
        small = theme.font(10 * k)
        edge_font = theme.font(10 * k)
        for n in keep:
            d = G.nodes[n]
            x, y = d["pos"]
            if d.get("t") is None:
                x = (a + b) / 2.0
            px, py = (x - a) * SX, -y * SY
            r = RADIUS * (0.8 if d["kind"] == "c" else 1.0)
            item = QGraphicsEllipseItem(QRectF(px - r, py - r, 2 * r, 2 * r))
            item.setData(0, n)
            item.setZValue(2)
            item.setToolTip(self._tooltip(n))
            label = QGraphicsSimpleTextItem(d.get("label", ""), item)
            label.setFont(small if len(d.get("label", "")) > 4 else font)
            br = label.boundingRect()
            label.setPos(px - br.width() / 2, py - br.height() / 2)
            self.scene.addItem(item)
            self.node_items[n] = item
        labelled = set()
        for u, v, d in G.edges(data=True):
            if u not in self.node_items or v not in self.node_items:
                continue
            p1 = self.node_items[u].rect().center()
            p2 = self.node_items[v].rect().center()
            path_item = QGraphicsPathItem(_arrow_path(p1, p2, RADIUS))
            path_item.setZValue(1)
            self.scene.addItem(path_item)
            self.edge_items[(u, v)] = path_item
            wn = d.get("weight_name")
            # one label per kind of weight: deep or bidirectional nets have one W_hh per layer and
            # direction, but a label on each crowded the first column into an unreadable heap
            key = wn
            if wn in EDGE_LABELS and key not in labelled:
                labelled.add(key)
                text = QGraphicsSimpleTextItem(EDGE_LABELS[wn])
                text.setFont(edge_font)
                text.setBrush(QBrush(theme.color("text")))
                mid = (p1 + p2) / 2
                horizontal = abs(p2.x() - p1.x()) > abs(p2.y() - p1.y())
                off = QPointF(-text.boundingRect().width() / 2, -18) if horizontal else QPointF(5, -6)
                text.setPos(mid + off)
                text.setZValue(3)
                self.scene.addItem(text)
        self.window_text = (f"steps {a + 1}–{b + 1} of {N} (window follows the cursor)"
                            if (a, b) != (0, N - 1) else f"{N} steps")
        rect = self.scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        self.scene.setSceneRect(rect)
        self.fit()

    def relayout(self) -> None:
        """After a resize: a different number of columns may fit."""
        if self.graph is not None and self.trace is not None:
            if self._window_for(self.current_time) != self.window:
                self._ensure_window(self.current_time)
                self._recolor()
        self.fit()

    def fit(self) -> None:
        if self.node_items:
            self.canvas.fitInView(self.scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def _tooltip(self, n) -> str:
        d = self.graph.nodes[n]
        kind = d["kind"]
        text = {"x": "input", "h": "hidden state", "c": "LSTM cell state", "y": "output",
                "L": "loss at this step", "loss": "total loss L = Σ_t L_t"}.get(kind, kind)
        return f"{d.get('label', '')}: {text}" + (" — click to select this step" if d.get("t") is not None else "")

    # -- colours -------------------------------------------------------------------------
    def _recolor(self) -> None:
        if self.trace is None or self.graph is None:
            return
        G, t, phase, b = self.graph, self.current_time, self.phase, self.current_b
        D = self.trace.num_directions
        T = self.trace.seq_len
        div, seq = theme.diverging(), theme.sequential()
        lo, hi = self.grad_levels
        idle = QBrush(theme.color("node_idle"))
        lit = QBrush(QColor("#dbe8f5"))
        bad = QBrush(theme.NONFINITE)
        outline = theme.pen("node_outline", 1.2)
        faint = theme.pen("edge", 1, Qt.PenStyle.DotLine)
        select = theme.pen("select", 4)
        bad_pen = theme.pen(QColor("black"), 2.5, Qt.PenStyle.DashLine)
        n_bad = 0

        def state_brush(value, level):
            if not math.isfinite(value):
                return None
            c = div.map(0.5 + 0.5 * max(-1.0, min(1.0, value / level)), mode="qcolor")
            return QBrush(c)

        def grad_brush(logv):
            if not math.isfinite(logv):
                return None if logv != -math.inf else QBrush(seq.map(0.0, mode="qcolor"))
            return QBrush(seq.map((logv - lo) / (hi - lo), mode="qcolor"))

        node_grad = {}
        for n, item in self.node_items.items():
            d = G.nodes[n]
            kind, nt = d["kind"], d.get("t")
            brush, pen = idle, outline
            if kind in ("h", "c") and nt is not None and nt < T:
                k = d["layer"] * D + d["direction"]
                if kind == "h":
                    value, level = float(self.mean_h[k, nt, b]), self.act_level
                    glog = float(self.grad_log[k, nt, b])
                else:
                    value, level = float(self.mean_c[k, nt, b]), self.c_level
                    glog = float(self.grad_c_log[k, nt, b]) if self.grad_c_log is not None else math.nan
                reached = phase == "full" or (phase == "backward" and nt >= t)
                if phase == "backward" and reached:
                    brush = grad_brush(glog)
                elif phase == "backward":
                    brush = state_brush(value, level)
                    if brush is not None:
                        c = brush.color()
                        brush = QBrush(QColor((c.red() + 3 * 242) // 4, (c.green() + 3 * 242) // 4,
                                              (c.blue() + 3 * 242) // 4))
                elif phase == "forward" and nt > t:
                    brush = idle
                    reached = False
                else:
                    brush = state_brush(value, level)
                if reached and phase != "forward":
                    node_grad[n] = glog
                if brush is None:
                    brush, pen = bad, bad_pen
                    n_bad += 1
                elif phase != "forward" and reached and not math.isfinite(glog) and glog != -math.inf:
                    brush, pen = bad, bad_pen
                    n_bad += 1
                if nt == t and k == self.current_k and pen is outline:
                    pen = select
            else:
                if nt is None:
                    brush = lit if phase != "forward" or t == T - 1 else idle
                elif phase == "forward":
                    brush = lit if nt <= t else idle
                else:
                    brush = lit
                if nt == t and kind == "x":
                    pen = select
            item.setBrush(brush)
            item.setPen(pen)
        # edges: width and colour from the gradient arriving at the destination (log scale)
        for (u, v), item in self.edge_items.items():
            wn = G.edges[u, v].get("weight_name")
            base_w = 2.2 if wn == "c" else 1.2
            style = Qt.PenStyle.DashLine if G.edges[u, v].get("style") == "dashed" else Qt.PenStyle.SolidLine
            if wn == "gates":
                style = Qt.PenStyle.DotLine
            color = QColor("#2e7d32") if wn == "c" else theme.color("edge")
            ut, vt = G.nodes[u].get("t"), G.nodes[v].get("t")
            if phase == "forward" and ((vt is not None and vt > t) or (ut is not None and ut > t)):
                item.setPen(faint)
                continue
            glog = node_grad.get(v)
            if glog is not None:
                if math.isfinite(glog):
                    frac = min(1.0, max(0.0, (glog - lo) / (hi - lo)))
                    color = seq.map(frac, mode="qcolor")
                    base_w = 1.0 + (6.0 if wn in ("W_hh", "c") else 2.5) * frac
                elif glog != -math.inf:
                    color, base_w = theme.NONFINITE, 4.0
            item.setPen(theme.pen(color, base_w, style))
        a, bb = self.window
        what = {"forward": f"forward pass up to step {t + 1}: colour = mean h_t (blue < 0 < red)",
                "backward": f"BPTT has reached step {t + 1}: colour and width = log₁₀‖∂L/∂h_t‖ "
                            f"from 10^{lo:.1f} (dark) to 10^{hi:.1f} (bright)",
                "full": "colour = mean h_t; edge width = log₁₀‖∂L/∂h_t‖ "
                        f"(10^{lo:.1f} … 10^{hi:.1f})"}[phase]
        warn = f"  ⚠ {n_bad} NaN/Inf node(s) in magenta" if n_bad else ""
        self.info.setText(f"{self.window_text} · {what}{warn}")
        self.n_bad = n_bad

    def click_node(self, node) -> None:
        """Select the time step (and layer/direction for h, c nodes) of ``node``."""
        if self.graph is None or node not in self.graph:
            return
        d = self.graph.nodes[node]
        t = d.get("t")
        if t is None or self.trace is None or t >= self.trace.seq_len:
            return
        k = self.current_k
        if d["kind"] in ("h", "c"):
            k = d["layer"] * self.trace.num_directions + d["direction"]
        self.node_clicked.emit(int(t), int(k))
        self.time_clicked.emit(int(t))

    def _theme_changed(self) -> None:
        super()._theme_changed()
        if self.graph is not None:
            self.window = self._window_for(self.current_time)  # the column count follows the scale
            self._build_items()
            self._recolor()


def _absmax(a) -> float:
    fin = a[np.isfinite(a)]
    m = float(np.abs(fin).max()) if fin.size else 0.0
    return m if m > 0 else 1.0


def _arrow_path(p1: QPointF, p2: QPointF, r: float) -> QPainterPath:
    """A line from circle p1 to circle p2 (radius r) with an arrowhead at p2."""
    dx, dy = p2.x() - p1.x(), p2.y() - p1.y()
    dist = math.hypot(dx, dy) or 1.0
    ux, uy = dx / dist, dy / dist
    a = QPointF(p1.x() + ux * r, p1.y() + uy * r)
    b = QPointF(p2.x() - ux * r, p2.y() - uy * r)
    path = QPainterPath(a)
    path.lineTo(b)
    size = 6.0
    left = QPointF(b.x() - ux * size - uy * size * 0.6, b.y() - uy * size + ux * size * 0.6)
    right = QPointF(b.x() - ux * size + uy * size * 0.6, b.y() - uy * size - ux * size * 0.6)
    path.addPolygon(QPolygonF([b, left, right, b]))
    return path


__all__ = ["GraphView", "graph_for_trace"]
