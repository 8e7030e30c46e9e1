"""The unrolled computation graph (from :mod:`rnnviz.core.graph`) drawn with QGraphicsScene.

The whole sequence is drawn (up to :data:`MAX_NODES` nodes; longer runs draw a window of steps
around the cursor). The view zooms: "whole sequence" fits every step into the width (key 0),
the mouse wheel and +/− zoom, dragging pans, and the view follows the timeline cursor. By
default it shows the whole run when its labels stay readable, else readable columns around the
cursor. Above the graph a colour bar says what colour means and a strip shows ‖∂L/∂h_t‖ along
all T (log scale): the fading is visible at a glance, with the shown steps shaded.

Forward phase: states up to the cursor take the colour of mean h_t (blue < 0 < red). Backward
phase: from L back to step t, nodes take the colour of log10 ‖∂L/∂h_t‖ and the edges carrying
that gradient get wider. NaN / Inf nodes are magenta. Every label is black or white, whichever
contrasts more with its node (WCAG ratio ≥ 4.5). Input nodes show their token, outputs what the
network predicts (✓ / ✗ against the target) wherever the task has tokens.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QToolButton,
    QWidget,
)

from rnnviz.app.panels import get_panel
from rnnviz.core.graph import graph_for_trace, row_labels
from rnnviz.core.graph_text import step_tokens
from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView
from rnnviz.qt.views.graph_paint import (
    absmax,
    arrow_path,
    bus_path,
    font,
    font_height,
    node_caption,
    node_tooltip,
    recolor,
)
from rnnviz.qt.views.graph_widgets import ColorBar, GradientStrip

MAX_NODES = 2500     # more nodes than this: draw a window of steps around the cursor
SX, SY = 80.0, 62.0  # scene units per graph unit (column, row)
RADIUS = 20.0
LABEL_PX = 15        # node label font, scene units; the zoom decides its size on screen
READ_PX = 14.0       # on-screen label height the default zoom aims at (× theme scale)
MIN_PX = 7.5         # never zoom a label below this by default (× theme scale)
GROW_PX = 10.0       # labels this tall fit: the view asks for the height (× theme scale)
EDGE_LABELS = {"W_xh": "W_xh", "W_hh": "W_hh", "W_hy": "W_hy", "c": "c path", "gates": "gates",
               "feedback": "ŷ→x", "sum": "L = Σₜ Lₜ"}
class _Canvas(QGraphicsView):
    """The scene's view: wheel zooms, drag pans, a click without a drag picks a node,
    + / − zoom, 0 shows the whole sequence, 1 the readable default."""

    def __init__(self, owner: GraphView):
        super().__init__()
        self.owner = owner
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        self.setBackgroundBrush(QBrush(QColor("white")))
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._press = None

    def mousePressEvent(self, event):  # noqa: N802 (Qt naming)
        self._press = event.position().toPoint() if event.button() == Qt.MouseButton.LeftButton else None
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event):  # noqa: N802
        super().mouseReleaseEvent(event)
        pos = event.position().toPoint()
        if self._press is not None and (pos - self._press).manhattanLength() <= 4:
            item = self.itemAt(pos)
            while item is not None and item.data(0) is None:
                item = item.parentItem()
            if item is not None:
                self.owner.click_node(item.data(0))
        elif self._press is not None:
            self.owner.panned()
        self._press = None

    def wheelEvent(self, event):  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.owner.zoom_by(1.15 ** steps)
        event.accept()

    def keyPressEvent(self, event):  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.owner.zoom_by(1.25)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.owner.zoom_by(1 / 1.25)
        elif key == Qt.Key.Key_0:
            self.owner.set_zoom_mode("fit")
        elif key == Qt.Key.Key_1:
            self.owner.set_zoom_mode("auto")
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.owner.relayout()


class GraphView(TraceView):
    """The unrolled network: x_t → h_t (→ c_t) → ŷ_t → L_t → L, edges labelled by their weights.

    Attributes: ``graph`` (networkx DiGraph of the whole run), ``node_items`` {node id:
    QGraphicsEllipseItem} and ``label_items`` {node id: QGraphicsSimpleTextItem} and
    ``edge_items`` {(u, v): QGraphicsPathItem} of the drawn steps, ``window`` (first, last)
    0-based steps drawn, ``window_text``, ``zoom_mode`` ("auto" | "fit" | "manual"),
    ``grad_log`` (L*D, T, B) log10 ‖∂L/∂h_t‖ per sample, ``grad_levels`` (lo, hi) of the log
    colour scale, ``tokens`` (:func:`rnnviz.core.graph_text.step_tokens` of the sample shown),
    ``colorbar`` (ColorBar), ``strip`` (GradientStrip).
    """

    title = get_panel("graph").title

    def __init__(self, parent=None):
        super().__init__(parent)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        self.colorbar = ColorBar()
        self.strip = GradientStrip()
        self.strip.step_clicked.connect(self._strip_clicked)
        top.addWidget(self.colorbar, 0)
        top.addWidget(self.strip, 1)
        self.buttons = {}
        for key, text, tip, slot in (
                ("fit", "Whole sequence", "Fit every time step into the width (key 0)",
                 lambda: self.set_zoom_mode("fit")),
                ("out", "−", "Zoom out (key −, or the mouse wheel)", lambda: self.zoom_by(1 / 1.25)),
                ("in", "+", "Zoom in (key +, or the mouse wheel); drag to pan", lambda: self.zoom_by(1.25))):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            top.addWidget(b, 0)
            self.buttons[key] = b
        self._layout.addLayout(top)
        self.scene = QGraphicsScene(self)
        self.canvas = _Canvas(self)
        self.canvas.setScene(self.scene)
        self._layout.addWidget(self.canvas, 1)
        self.info = QLabel(" ")
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # one line
        self.canvas.setToolTip("Drag to pan, mouse wheel or + / − to zoom, 0: the whole sequence, "
                               "1: readable size; click a node to select its step")
        self.colorbar.setToolTip("What a node's colour means: mean hₜ of the shown sample in the forward "
                                 "pass, ‖∂L/∂hₜ‖ (log scale) once BPTT has reached it; NaN/Inf in magenta")
        self.strip.setToolTip("‖∂L/∂hₜ‖ at every step (log scale): the shaded band is what the graph "
                              "shows, the line the cursor; click to jump to a step")
        self._layout.addWidget(self.info)
        self.graph = None
        self.node_items: dict = {}
        self.label_items: dict = {}
        self.edge_items: dict = {}
        self.caption_items: dict = {}
        self.window = (0, -1)
        self.window_text = ""
        self.zoom_mode = "auto"
        self.sx, self.sy, self.radius, self.col_px = SX, SY, RADIUS, SX
        self.visible_steps = (0.0, 0.0)
        self._arch = None
        self._drawn = None
        self._style: dict = {}
        self._painted = None
        self._bad: set = set()
        self.tokens = {"inputs": [], "outputs": []}
        self.grad_log = None
        self.grad_levels = (-8.0, 0.0)
        self.n_bad = 0
        self._theme_changed()
        self.show_message("No run yet: build a network and record a trace.")

    # -- data ------------------------------------------------------------------------
    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        if trace is None:
            self.scene.clear()
            self.node_items, self.label_items, self.edge_items, self.caption_items = {}, {}, {}, {}
            self.graph, self._arch, self._drawn = None, None, None
            self.strip.set_data(None)
            for w in (self.canvas, self.strip, self.colorbar):
                w.hide()
            self.show_message("No run yet: build a network and record a trace.")
            return
        for w in (self.canvas, self.strip, self.colorbar):
            w.show()
        self.show_message("")
        meta = trace.meta or {}
        arch = (trace.cell_type, trace.num_layers, trace.num_directions, meta.get("shape"),
                trace.seq_len, meta.get("enc_len"), meta.get("dec_len"))
        new_arch = arch != self._arch
        if new_arch:
            self.graph = graph_for_trace(trace)
            self._arch = arch
            self.zoom_mode = "auto"
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            self.mean_h = trace.hidden.mean(axis=3)
            self.mean_c = trace.cell.mean(axis=3) if trace.cell is not None else None
            self.act_level = absmax(self.mean_h)
            self.c_level = absmax(self.mean_c) if self.mean_c is not None else 1.0
            # float64: float32 squares of a vanishing gradient are subnormal, and flushed to 0
            self.grad_log = np.log10(np.linalg.norm(trace.grad_hidden.astype(np.float64), axis=3))
            if trace.grad_cell is not None:
                self.grad_c_log = np.log10(np.linalg.norm(trace.grad_cell.astype(np.float64), axis=3))
            else:
                self.grad_c_log = None
        fin = self.grad_log[np.isfinite(self.grad_log)]
        lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (-8.0, 0.0)
        self.grad_levels = (lo, hi if hi > lo else lo + 1.0)
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self.tokens = step_tokens(trace, self.current_b)
        self.strip.set_data(trace.grad_hidden_norm, self.current_k)
        self._painted = None  # new numbers: every node is recoloured
        if new_arch or self._drawn != self._arch:
            self._layout_and_draw()
            self.updateGeometry()  # a deeper graph may need more height (minimumSizeHint)
        else:
            self._ensure_window(self.current_time)
            self._set_captions()
            self._recolor()
            self._follow()

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        old_b, old_k = self.current_b, self.current_k
        super().set_cursor(t, phase, k, b)
        if self.graph is None:
            return
        self._ensure_window(self.current_time)
        if self.current_b != old_b:
            self.tokens = step_tokens(self.trace, self.current_b)
            self._set_captions()
        if self.current_k != old_k:
            self.strip.set_selected(self.current_k)
        self._recolor()
        self._follow()

    # -- which steps are drawn ---------------------------------------------------------
    def _num_steps(self) -> int:
        return int(self.graph.graph.get("num_steps", self.trace.seq_len))

    def columns(self) -> int:
        """How many time steps are drawn at most (all of them unless the graph is huge)."""
        N = self._num_steps()
        per_column = max(1.0, (self.graph.number_of_nodes() - 1) / max(N, 1))
        return int(max(24, min(N, MAX_NODES // per_column)))

    def _window_for(self, t: int) -> tuple[int, int]:
        N, width = self._num_steps(), self.columns()
        if N <= width:
            return 0, N - 1
        half = max(1, width // 2)
        start = min(max((t // half) * half - half // 2, 0), N - width)
        if not start <= t <= start + width - 1:
            start = min(max(t - half, 0), N - width)
        return start, start + width - 1

    def _ensure_window(self, t: int) -> None:
        win = self._window_for(t)
        if win != self.window:
            self.window = win
            self._build_items()
            self._recolor()

    # -- drawing -----------------------------------------------------------------------
    def _build_items(self) -> None:
        """Every node, label, caption and edge of the drawn steps, at column spacing ``sx``."""
        self.scene.clear()
        self.node_items, self.label_items, self.edge_items, self.caption_items = {}, {}, {}, {}
        self.node_info, self.edge_info, self.col_nodes, self.col_edges = {}, {}, {}, {}
        self._style, self._painted = {}, None
        self._drawn = self._arch
        D = int(self.graph.graph.get("num_directions", 1))
        G = self.graph
        a, b = self.window
        N = self._num_steps()
        self.radius = r0 = min(RADIUS, 0.42 * self.sx)
        label_font, cap_font = font(LABEL_PX), font(LABEL_PX * 0.8, italic=True)
        occupied: list[QRectF] = []
        for n, d in G.nodes(data=True):
            if d.get("t") is not None and not a <= d["t"] <= b:
                continue
            px, py = self._scene_pos(n)
            r = r0 * (0.78 if d["kind"] == "c" else 1.0)
            item = QGraphicsEllipseItem(QRectF(px - r, py - r, 2 * r, 2 * r))
            item.setData(0, n)
            item.setZValue(2)
            label = QGraphicsSimpleTextItem(d.get("short", d.get("label", "")), item)
            label.setFont(label_font)
            br = label.boundingRect()
            fit = min(1.0, 1.8 * r / max(br.width(), 1.0), 1.6 * r / max(br.height(), 1.0))
            label.setScale(fit)
            label.setPos(px - br.width() * fit / 2, py - br.height() * fit / 2)
            self.scene.addItem(item)
            self.node_items[n] = item
            self.label_items[n] = label
            self.node_info[n] = (d["kind"], d.get("t"), None if d["kind"] not in ("h", "c") else
                                 d["layer"] * D + d["direction"])
            self.col_nodes.setdefault(d.get("t"), []).append(n)
            occupied.append(item.rect().adjusted(-3, -3, 3, 3))
            if d["kind"] in ("x", "y") and self.sx >= 0.75 * SX:
                c = QGraphicsSimpleTextItem("")
                c.setFont(cap_font)
                c.setZValue(3)
                self.scene.addItem(c)
                self.caption_items[n] = c
                # under an input node; between ŷ and L_t, right of the edge joining them
                occupied.append(QRectF(px - self.sx / 2, py + r + 2, self.sx, 18) if d["kind"] == "x"
                                else QRectF(px + 5, py - self.sy / 2 - 9, self.sx - 10, 18))
        head = min(7.0, 0.5 * r0 + 2)
        for u, v, d in G.edges(data=True):
            if u not in self.node_items or v not in self.node_items:
                continue
            ru = self.node_items[u].rect().width() / 2
            rv = self.node_items[v].rect().width() / 2
            p1 = self.node_items[u].rect().center()
            p2 = self.node_items[v].rect().center()
            make = bus_path if d.get("weight_name") == "sum" else arrow_path
            path_item = QGraphicsPathItem(make(p1, p2, ru, rv, head))
            path_item.setZValue(1)
            self.scene.addItem(path_item)
            self.edge_items[(u, v)] = path_item
            ut, vt = G.nodes[u].get("t"), G.nodes[v].get("t")
            self.edge_info[(u, v)] = (d.get("weight_name"), ut, vt, d.get("style") == "dashed")
            for c in {ut, vt}:
                self.col_edges.setdefault(c, []).append((u, v))
        ink = QBrush(theme.color("text"))
        if self.sx >= 0.75 * SX:
            self._place_edge_labels(occupied, ink)
        self._add_row_labels(ink)
        self._set_captions()
        self.window_text = (f"steps {a + 1}–{b + 1} of {N} drawn (the window follows the cursor)"
                            if (a, b) != (0, N - 1) else f"{N} step{'s' if N != 1 else ''}")
        self.scene.setSceneRect(self.scene.itemsBoundingRect().adjusted(-12, -10, 12, 10))

    def _scene_pos(self, n) -> tuple[float, float]:
        x, y = self.graph.nodes[n]["pos"]
        return (x - self.window[0]) * self.sx, -y * self.sy

    def _set_captions(self) -> None:
        """Tokens under the inputs and predictions beside the outputs; tooltips that say them."""
        for n, item in self.node_items.items():
            item.setToolTip(node_tooltip(self.graph, n, self.tokens))
        for n, c in self.caption_items.items():
            text, color = node_caption(self.graph, n, self.tokens)
            c.setText(text)
            c.setBrush(QBrush(color if color is not None else theme.color("text")))
            c.setToolTip(self.node_items[n].toolTip())
            px, py = self._scene_pos(n)
            cb = c.boundingRect()
            if self.graph.nodes[n]["kind"] == "x":
                c.setPos(px - cb.width() / 2, py + self.radius + 2)
            else:
                c.setPos(px + 5, py - self.sy / 2 - cb.height() / 2)

    def _place_edge_labels(self, occupied: list[QRectF], ink: QBrush) -> None:
        """One label per kind of weight, at the first edge of that kind where it covers no node,
        no caption and no other label (deep and bidirectional nets have one W_hh per layer and
        direction; a label on each made a heap)."""
        small = font(LABEL_PX * 0.75)
        done = set()
        for u, v in self.edge_items:
            wn = self.graph.edges[u, v].get("weight_name")
            if wn not in EDGE_LABELS or wn in done:
                continue
            text = QGraphicsSimpleTextItem(EDGE_LABELS[wn])
            text.setFont(small)
            text.setBrush(ink)
            w, h = text.boundingRect().width(), text.boundingRect().height()
            p1 = self.node_items[u].rect().center()
            p2 = self.node_items[v].rect().center()
            spots = []
            if wn == "sum":  # right of the total loss: nothing is drawn there
                spots.append(QPointF(p2.x() + self.node_items[v].rect().width() / 2 + 4, p2.y() - h / 2))
            for f in (0.5, 0.4, 0.6, 0.3, 0.7):
                m = p1 + (p2 - p1) * f
                spots += [QPointF(m.x() - w / 2, m.y() - h - 2), QPointF(m.x() + 4, m.y() - h / 2),
                          QPointF(m.x() - w - 4, m.y() - h / 2), QPointF(m.x() - w / 2, m.y() + 2)]
            for spot in spots:
                rect = QRectF(spot.x(), spot.y(), w, h)
                if not any(rect.intersects(o) for o in occupied):
                    text.setPos(spot)
                    text.setZValue(3)
                    self.scene.addItem(text)
                    occupied.append(rect.adjusted(-2, -2, 2, 2))
                    done.add(wn)
                    break

    def _add_row_labels(self, ink: QBrush) -> None:
        """Row names at the left ("x", "h", "layer 2 →", "ŷ", "Lₜ"): node labels carry only t."""
        bold = font(LABEL_PX * 0.85, bold=True)
        rows_used = {d["pos"][1] for _, d in self.graph.nodes(data=True) if d.get("t") is not None}
        for y, text in row_labels(self.graph):
            if y not in rows_used:
                continue
            item = QGraphicsSimpleTextItem(text)
            item.setFont(bold)
            item.setBrush(ink)
            br = item.boundingRect()
            item.setPos(-0.2 * self.sx - self.radius - 8 - br.width(), -y * self.sy - br.height() / 2)
            self.scene.addItem(item)

    # -- zoom, pan, follow ---------------------------------------------------------------
    def _label_scales(self) -> tuple[float, float]:
        """View scales that show node labels READ_PX and MIN_PX tall on screen (× the theme's
        scale, so presentation mode reads bigger)."""
        label_h = font_height(LABEL_PX)
        return READ_PX * theme.scale() / label_h, MIN_PX * theme.scale() / label_h

    def minimumSizeHint(self):  # noqa: N802 (Qt naming)
        """Tall enough that a deep or bidirectional graph's labels read (GROW_PX on screen) when
        it fits, at most half the window: the splitter above the tabs grows the graph for it."""
        hint = super().minimumSizeHint()
        if self.graph is None or self.trace is None or not self.node_items:
            return hint
        _, rows = self._graph_extent()
        need = rows * SY * GROW_PX * theme.scale() / font_height(LABEL_PX)
        chrome = self.height() - self.canvas.viewport().height()
        top = QWidget.window(self)  # self.window is the drawn steps (first, last)
        cap = 0.5 * top.height() if top is not self else need + chrome
        hint.setHeight(int(max(hint.height(), min(need + chrome, cap))))
        return hint

    def _graph_extent(self) -> tuple[float, float]:
        """(columns, rows) the drawn graph spans, in graph units, with room for the row names,
        captions and the total loss."""
        xs = [d["pos"][0] for _, d in self.graph.nodes(data=True)]
        ys = [d["pos"][1] for _, d in self.graph.nodes(data=True)]
        a, b = self.window
        return (min(max(xs), b + 1.0) - a) + 1.9, (max(ys) - min(ys)) + 1.3

    def _layout_and_draw(self) -> None:
        """Choose the column spacing and the view scale for the zoom mode, build, show."""
        self.window = self._window_for(self.current_time)
        vp = self.canvas.viewport()
        vw, vh = max(vp.width(), 80), max(vp.height(), 60)
        cols, rows = self._graph_extent()
        read, least = self._label_scales()
        fit_w, fit_h = vw / (cols * SX), vh / (rows * SY)
        if self.zoom_mode == "manual":
            col_px = self.col_px
        elif self.zoom_mode == "fit" or min(fit_w, fit_h) >= read:
            col_px = vw / cols  # everything fits (auto: and reads); not larger than 1.5× readable
            if self.zoom_mode == "auto":
                col_px = SX * min(fit_w, fit_h, 1.5 * read)
        else:
            col_px = SX * max(least, min(read, fit_h))
        s = min(read if self.zoom_mode == "fit" else max(read, col_px / SX), fit_h)
        s = max(s, least) if self.zoom_mode != "fit" else s
        if col_px >= SX * s:
            self.sx, self.sy = SX, SY
            s = min(col_px / SX, 4 * read)
        else:  # columns narrower than the nodes: squeeze the layout, keep the zoom
            self.sx = col_px / s
            self.sy = SY * min(1.0, max(0.5, self.sx / SX))
        self.col_px = col_px
        self._build_items()
        self._recolor()
        if self.zoom_mode == "fit":  # the whole drawn graph inside the view, whatever it took
            rect = self.scene.sceneRect()
            s = min(s, vw / rect.width(), vh / rect.height())
        self.canvas.setTransform(QTransform.fromScale(s, s))
        label_h = font_height(LABEL_PX)
        for label in self.label_items.values():  # too small to read: the tooltip says it
            label.setVisible(label.scale() * label_h * s >= 6.5)
        if self.zoom_mode == "fit":
            self.canvas.centerOn(self.scene.sceneRect().center())
        self._follow(center=self.zoom_mode != "fit")

    def set_zoom_mode(self, mode: str) -> None:
        """"fit" (the whole sequence), "auto" (the readable default) or "manual" (keep zoom)."""
        if mode not in ("fit", "auto", "manual"):
            raise ValueError(f"zoom mode must be fit, auto or manual, not {mode!r}")
        self.zoom_mode = mode
        if self.graph is not None and self.trace is not None:
            self._layout_and_draw()

    def zoom_by(self, factor: float) -> None:
        """Zoom in (factor > 1) or out: columns from a third of the whole-sequence fit up to 4×
        the readable width, keeping the cursor in view."""
        if self.graph is None or self.trace is None:
            return
        read, _ = self._label_scales()
        cols, _ = self._graph_extent()
        lo = self.canvas.viewport().width() / cols / 3
        self.col_px = min(max(self.col_px * factor, lo), 4 * read * SX)
        self.zoom_mode = "manual"
        self._layout_and_draw()

    def _follow(self, center: bool = False) -> None:
        """Keep the cursor's column on screen (with a column of margin each side)."""
        if not self.node_items:
            return
        x = (self.current_time - self.window[0]) * self.sx
        rect = self.scene.sceneRect()
        vis = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        if center:
            cy = rect.center().y()
            if vis.height() < rect.height():  # taller than the view: the middle of the h rows
                L = int(self.graph.graph["num_layers"]) * int(self.graph.graph["num_directions"])
                cy = max(rect.top() + vis.height() / 2, -(1 + L) / 2 * self.sy)
            cx = x if vis.width() < rect.width() else rect.center().x()
            self.canvas.centerOn(cx, cy)
        else:
            margin = min(self.sx * 1.2, max(0.0, (vis.width() - self.sx) / 2))
            if x - self.sx / 2 - margin < vis.left() or x + self.sx / 2 + margin > vis.right():
                self.canvas.centerOn(x, vis.center().y())
        self.panned()

    def panned(self) -> None:
        """After a drag or a zoom: the shaded band of the overview shows what is on screen."""
        vis = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        a, b = self.window
        self.visible_steps = (max(float(a), a + vis.left() / self.sx + 0.5),
                              min(float(b), a + vis.right() / self.sx - 0.5))
        self.strip.set_visible_steps(*self.visible_steps)
        self.strip.set_cursor(self.current_time)

    def relayout(self) -> None:
        """After a resize: lay out again for the zoom mode and keep the cursor in view."""
        if self.graph is not None and self.trace is not None and self.node_items:
            self._layout_and_draw()

    def fit(self) -> None:
        """Show the whole drawn sequence (the "Whole sequence" button, key 0)."""
        self.set_zoom_mode("fit")

    def _strip_clicked(self, t: int) -> None:
        self.time_clicked.emit(int(t))

    # -- colours, clicks, theme ----------------------------------------------------------
    def _recolor(self) -> None:
        recolor(self)

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
        self.info.setFont(theme.font(10))
        self.strip.restyle()
        self.colorbar.updateGeometry()
        for b in self.buttons.values():
            b.setFont(theme.font(10))
        if self.graph is not None and self.trace is not None:
            self._layout_and_draw()


__all__ = ["GraphView", "graph_for_trace"]
