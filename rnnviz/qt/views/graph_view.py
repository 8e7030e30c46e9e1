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

import time
from collections import deque

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF, QTimer
from PySide6.QtGui import QBrush, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QHBoxLayout,
    QToolButton,
    QWidget,
)

from rnnviz.app.panels import get_panel
from rnnviz.core.graph import TOTAL_LOSS, graph_for_trace, row_labels
from rnnviz.core.graph_text import step_tokens
from rnnviz.qt import theme
from rnnviz.qt.derived import derived, register
from rnnviz.qt.views.base import TextLine, TraceView
from rnnviz.qt.views.graph_canvas import GraphCanvas
from rnnviz.qt.views.graph_paint import (
    absmax,
    arrow_path,
    bus_path,
    font,
    font_height,
    mark_painted,
    node_caption,
    node_tooltip,
    paint_signature,
    recolor,
)
from rnnviz.qt.views.graph_widgets import ColorBar, GradientStrip

MAX_NODES = 1000     # more nodes than this: draw a window of steps around the cursor (at 1000 a
                     # whole-sequence view draws columns a few pixels wide: the strip above shows more)
SX, SY = 80.0, 62.0  # scene units per graph unit (column, row)
RADIUS = 20.0
LABEL_PX = 15        # node label font, scene units; the zoom decides its size on screen
READ_PX = 14.0       # on-screen label height the default zoom aims at (× theme scale)
MIN_PX = 7.5         # never zoom a label below this by default (× theme scale)
GROW_PX = 10.0       # labels this tall fit: the view asks for the height (× theme scale)
SCREEN_SHARE = 0.3    # the graph never asks for more than this share of the screen's height
BUILD_BUDGET_S = 0.006  # GUI-thread time per slice of items: the window answers between slices
SCRUB_BUDGET_S = 0.002  # per slice while the timeline moves (a drag's steps come first)
SCRUB_S = 0.15          # the timeline moved this recently: it is being scrubbed
PAINT_NOW = 40       # columns a cursor move recolours at once; more: those on screen, the rest in slices
CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
MIN_SLICE = 1        # columns per slice at least, however slow the machine
EDGE_LABELS = {"W_xh": "W_xh", "W_hh": "W_hh", "W_hy": "W_hy", "c": "c path", "gates": "gates",
               "feedback": "ŷ→x", "sum": "L = Σₜ Lₜ"}
def _log_norms(g: np.ndarray) -> np.ndarray:
    """log10 ‖g‖ over the last axis, in float64 (float32 squares of a vanishing gradient are
    subnormal, and flushed to 0), a few hundred steps at a time so a T = 10 000, H = 1024 trace
    never needs a float64 copy of itself."""
    out = np.empty(g.shape[:-1], dtype=np.float64)
    step = max(1, (1 << 22) // max(1, g.shape[2] * g.shape[3]))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(0, g.shape[1], step):
            out[:, t:t + step] = np.log10(np.linalg.norm(g[:, t:t + step].astype(np.float64), axis=-1))
    return out


@register
def graph_numbers(trace) -> dict:
    """What the graph colours by, once per trace: mean hₜ (and cₜ) over the units and its colour
    level, log10 ‖∂L/∂hₜ‖ (and cₜ) per sample and its colour range."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean_h = trace.hidden.mean(axis=3)
        mean_c = trace.cell.mean(axis=3) if trace.cell is not None else None
    grad_log = _log_norms(trace.grad_hidden)
    fin = grad_log[np.isfinite(grad_log)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (-8.0, 0.0)
    return {"mean_h": mean_h, "mean_c": mean_c, "act_level": absmax(mean_h),
            "c_level": absmax(mean_c) if mean_c is not None else 1.0, "grad_log": grad_log,
            "grad_c_log": _log_norms(trace.grad_cell) if trace.grad_cell is not None else None,
            "grad_levels": (lo, hi if hi > lo else lo + 1.0)}


@register
def _graph(trace):
    """The recorder's thread builds the graph of a new run (and the views of its edges the
    drawing asks for)."""
    G = derived(trace, graph_for_trace)
    G.in_edges, G.out_edges  # noqa: B018 - networkx makes these on first use
    return G


@register
def _first_tokens(trace) -> dict:
    return derived(trace, step_tokens, 0)  # the sample a new run shows first


@register
def graph_shape(trace) -> tuple:
    """(x_lo, x_hi, y_lo, y_hi, rows with a step's node) of the trace's graph layout."""
    G = derived(trace, graph_for_trace)
    pos = [(d["pos"], d.get("t")) for _, d in G.nodes(data=True)]
    xs, ys = [p[0] for p, _ in pos], [p[1] for p, _ in pos]
    return min(xs), max(xs), min(ys), max(ys), frozenset(p[1] for p, t in pos if t is not None)


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
        self._items: list = []      # the scene's top-level items (a new scene retires them)
        self._graveyard: list = []  # items of retired scenes, deleted a slice at a time
        self._old_scenes: list = []
        self.canvas = GraphCanvas(self)
        self.canvas.setScene(self.scene)
        self._layout.addWidget(self.canvas, 1)
        self.info = TextLine(" ")  # changes on every step: a QLabel relaid the window out each time
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
        self._shape = (0.0, 0.0, 0.0, 0.0, frozenset())
        self._todo: deque = deque()  # ("build" | "refresh" | "labels", column) still to do
        self._order: list = []
        self._built: set = set()
        self._occupied: dict = {}
        self._labels_placed = False
        self._view_scale = 1.0
        self._moved_at = 0.0  # when the cursor last moved (slices shrink while it moves)
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.timeout.connect(self._continue_build)
        self._theme_changed()
        self.show_message("No run yet: build a network and record a trace.")

    # -- data ------------------------------------------------------------------------
    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        if trace is None:
            self._abandon_build()
            self._fresh_scene()
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
            self.graph = derived(trace, graph_for_trace)  # built in the recorder's thread
            self._shape = derived(trace, graph_shape)
            self._arch = arch
            self.zoom_mode = "auto"
        nums = derived(trace, graph_numbers)
        self.mean_h, self.mean_c = nums["mean_h"], nums["mean_c"]
        self.act_level, self.c_level = nums["act_level"], nums["c_level"]
        self.grad_log, self.grad_c_log = nums["grad_log"], nums["grad_c_log"]
        self.grad_levels = nums["grad_levels"]
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        self.tokens = derived(trace, step_tokens, self.current_b)
        self.strip.set_data(trace.grad_hidden_norm, self.current_k)
        if new_arch or self._drawn != self._arch:
            hint = self.minimumSizeHint()
            self._layout_and_draw()
            if self.minimumSizeHint() != hint:
                self.updateGeometry()  # a deeper graph may need more height
        elif self._window_for(self.current_time) != self.window:
            self._ensure_window(self.current_time)
            self._follow()
        else:  # the same drawing, new numbers: captions and colours again, column by column
            built = [c for c in self._order if c in self._built]
            self._todo.extendleft(reversed([("refresh", c) for c in built]))
            self._painted = (None, self.current_time)  # nothing is painted for the new numbers yet
            mark_painted(self)  # the slices repaint the columns the cursor does not
            self._run_slices(first=True)
            recolor(self, only=((), ()))  # the colour bar and the caption for the new levels

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        old_b, old_k = self.current_b, self.current_k
        super().set_cursor(t, phase, k, b)
        self._moved_at = time.perf_counter()
        if self.graph is None:
            return
        self._ensure_window(self.current_time)
        if self.current_k != old_k:
            self.strip.set_selected(self.current_k)
        if self._todo and self._todo[0][0] == "window":  # a new drawing comes next turn, in colour
            self._follow()
            return
        if self.current_b != old_b:
            self.tokens = derived(self.trace, step_tokens, self.current_b)
            self._set_captions()
        self._follow()  # first: what is on screen is coloured first
        self._recolor()

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
        """Draw the window of steps around ``t``: on the next event-loop turn, so the timeline
        step that asked for it stays quick (the old drawing shows for that one turn)."""
        win = self._window_for(t)
        if win != self.window:
            self.window = win
            self._todo.clear()
            self._todo.append(("window", None))
            self._build_timer.start(0)

    # -- drawing: the items of a column at a time ----------------------------------------
    @property
    def building(self) -> bool:
        """True while columns of the drawn window are still to be built (a slice per event-loop turn)."""
        return bool(self._todo)

    def finish_build(self) -> None:
        """Build every remaining column now (a screenshot, an export, a test)."""
        while self._todo:
            self._run_slices(budget=None)

    def _abandon_build(self) -> None:
        self._todo.clear()
        self._build_timer.stop()

    def _build_items(self) -> None:
        """Start drawing the window's steps at column spacing ``sx``: the static parts and the
        scene's size now, then the columns nearest what is on screen, then the rest in slices
        of at most BUILD_BUDGET_S across event-loop turns, so a T = 5000 run never freezes the
        window (building all 2500 nodes at once took about a second)."""
        self._abandon_build()
        self._fresh_scene()
        self.node_items, self.label_items, self.edge_items, self.caption_items = {}, {}, {}, {}
        self.node_info, self.edge_info, self.col_nodes, self.col_edges = {}, {}, {}, {}
        self._occupied, self._built = {}, set()
        self._style, self._painted, self._bad = {}, None, set()
        self._labels_placed = False
        self._drawn = self._arch
        a, b = self.window
        N = self._num_steps()
        self.radius = min(RADIUS, 0.42 * self.sx)
        self._fonts = (font(LABEL_PX), font(LABEL_PX * 0.8, italic=True))
        ink = QBrush(theme.color("text"))
        left = self._add_row_labels(ink)
        self.scene.setSceneRect(self._scene_extent(left))
        centre = self.current_time
        if self.visible_steps[1] > self.visible_steps[0] and self.zoom_mode == "manual":
            centre = int(sum(self.visible_steps) / 2)
        centre = min(max(centre, a), b)
        self._order = sorted(range(a, b + 1), key=lambda c: (abs(c - centre), c))
        self._order.insert(min(len(self._order), 2 * (b - centre) + 1), None)  # the total loss, at N-1's turn
        self._todo.extend(("build", c) for c in self._order)
        self._todo.append(("labels", None))
        self.window_text = (f"steps {a + 1}–{b + 1} of {N} drawn (the window follows the cursor)"
                            if (a, b) != (0, N - 1) else f"{N} step{'s' if N != 1 else ''}")
        self._build_timer.start(0)  # the first columns on the next turn: a new run's install stays short

    def _add(self, item) -> None:
        self.scene.addItem(item)
        self._items.append(item)

    def _fresh_scene(self) -> None:
        """Draw into a new scene; the old one's items go a slice at a time (clearing a scene of
        2500 nodes took 100–180 ms in one go)."""
        old = self.scene
        old.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)  # no index to keep while emptying it
        self._graveyard.extend(self._items)
        self._items = []
        self._old_scenes.append(old)
        self.scene = QGraphicsScene(self)
        self.canvas.setScene(self.scene)
        self._build_timer.start(0)

    def _bury(self, budget: float | None) -> None:
        """Delete items of retired scenes for about ``budget`` seconds (None: all)."""
        t0 = time.perf_counter()
        while self._graveyard and (budget is None or time.perf_counter() - t0 < budget):
            chunk, self._graveyard = self._graveyard[-200:], self._graveyard[:-200]
            for item in chunk:
                shiboken6.delete(item)
        if not self._graveyard:
            for old in self._old_scenes:
                old.deleteLater()
            self._old_scenes = []

    def _run_slices(self, budget: float | None = BUILD_BUDGET_S, first: bool = False) -> None:
        """Do queued column work for about ``budget`` seconds (None: all of it), then paint
        what was built and come back on the next event-loop turn if work is left."""
        t0 = time.perf_counter()
        if self._graveyard and not first:
            self._bury(None if budget is None else budget / 2)
        nodes, edges = [], []
        done = 0
        while self._todo:
            if budget is not None and done >= MIN_SLICE and time.perf_counter() - t0 > budget:
                break
            what, c = self._todo.popleft()
            done += 1
            if what == "window":
                self._build_items()  # a fresh drawing with its first slice: enough for this turn
                return
            if what == "build":
                n, e = self._build_column(c)
            elif what == "paint":
                n = self.col_nodes.get(c, [])
                e = self.col_edges.get(c, [])
            elif what == "refresh":
                n = self.col_nodes.get(c, [])
                e = self.col_edges.get(c, [])
                self._set_captions(n)
            else:
                self._place_edge_labels()
                continue
            nodes += n
            edges += e
        if nodes or edges:
            recolor(self, only=(nodes, edges))
            if self._painted is None:  # the first slice: all that is built is painted for the cursor
                mark_painted(self)
        if self._todo or self._graveyard:
            if not self._build_timer.isActive():
                self._build_timer.start(0)
        elif not first and self.graph is not None and self.node_items:
            self.panned()

    def _continue_build(self) -> None:
        scrubbing = time.perf_counter() - self._moved_at < SCRUB_S
        self._run_slices(SCRUB_BUDGET_S if scrubbing else BUILD_BUDGET_S)

    def _column_ids(self, c) -> list:
        """Node ids of column ``c`` (None: the total loss) that the graph has."""
        if c is None:
            return [TOTAL_LOSS] if TOTAL_LOSS in self.graph else []
        G = self.graph
        L, D = int(G.graph["num_layers"]), int(G.graph["num_directions"])
        ids = [("x", c)]
        for layer in range(L):
            for d in range(D):
                ids += [("h", layer, d, c), ("c", layer, d, c)]
        ids += [("y", c), ("L", c)]
        return [n for n in ids if n in G]

    def _build_column(self, c) -> tuple[list, list]:
        """The nodes, labels and captions of column ``c`` and every edge between it and the
        columns already built; returns (nodes, edges) made."""
        G = self.graph
        D = int(G.graph.get("num_directions", 1))
        r0 = self.radius
        label_font, cap_font = self._fonts
        occupied = self._occupied.setdefault(c, [])
        made = self._column_ids(c)
        label_h = font_height(LABEL_PX)
        for n in made:
            d = G.nodes[n]
            px, py = self._scene_pos(n)
            r = r0 * (0.78 if d["kind"] == "c" else 1.0)
            item = QGraphicsEllipseItem(QRectF(px - r, py - r, 2 * r, 2 * r))
            item.setData(0, n)
            item.setZValue(2)
            # painted from a pixmap until it changes: a full repaint took 12 ms, 3 ms cached
            item.setCacheMode(CACHE)
            label = QGraphicsSimpleTextItem(d.get("short", d.get("label", "")), item)
            label.setFont(label_font)
            label.setCacheMode(CACHE)
            br = label.boundingRect()
            fit = min(1.0, 1.8 * r / max(br.width(), 1.0), 1.6 * r / max(br.height(), 1.0))
            label.setScale(fit)
            label.setPos(px - br.width() * fit / 2, py - br.height() * fit / 2)
            label.setVisible(fit * label_h * self._view_scale >= 6.5)  # too small to read: the tooltip says it
            self._add(item)
            self.node_items[n] = item
            self.label_items[n] = label
            self.node_info[n] = (d["kind"], d.get("t"), None if d["kind"] not in ("h", "c") else
                                 d["layer"] * D + d["direction"])
            self.col_nodes.setdefault(d.get("t"), []).append(n)
            occupied.append(item.rect().adjusted(-3, -3, 3, 3))
            if d["kind"] in ("x", "y") and self.sx >= 0.75 * SX:
                cap = QGraphicsSimpleTextItem("")
                cap.setFont(cap_font)
                cap.setZValue(3)
                cap.setCacheMode(CACHE)
                self._add(cap)
                self.caption_items[n] = cap
                # under an input node; between ŷ and L_t, right of the edge joining them
                occupied.append(QRectF(px - self.sx / 2, py + r + 2, self.sx, 18) if d["kind"] == "x"
                                else QRectF(px + 5, py - self.sy / 2 - 9, self.sx - 10, 18))
        self._built.add(c)
        head = min(7.0, 0.5 * r0 + 2)
        edges = []
        for n in made:
            for u, v, d in (*G.in_edges(n, data=True), *G.out_edges(n, data=True)):
                if (u, v) in self.edge_items or u not in self.node_items or v not in self.node_items:
                    continue
                iu, iv = self.node_items[u], self.node_items[v]
                make = bus_path if d.get("weight_name") == "sum" else arrow_path
                path_item = QGraphicsPathItem(make(iu.rect().center(), iv.rect().center(),
                                                   iu.rect().width() / 2, iv.rect().width() / 2, head))
                path_item.setZValue(1)
                self._add(path_item)
                self.edge_items[(u, v)] = path_item
                ut, vt = G.nodes[u].get("t"), G.nodes[v].get("t")
                self.edge_info[(u, v)] = (d.get("weight_name"), ut, vt, d.get("style") == "dashed")
                for col in {ut, vt}:
                    self.col_edges.setdefault(col, []).append((u, v))
                edges.append((u, v))
        self._set_captions(made)
        return made, edges

    def _scene_pos(self, n) -> tuple[float, float]:
        x, y = self.graph.nodes[n]["pos"]
        return (x - self.window[0]) * self.sx, -y * self.sy

    def _scene_extent(self, left: float) -> QRectF:
        """The drawn window's rectangle in the scene, worked out from the layout (every item is
        inside it) before any node exists: the view can zoom and centre on it at once."""
        a, b = self.window
        _x_lo, x_hi, y_lo, y_hi = self._shape[:4]
        right = (min(x_hi, b + 0.45) - a) * self.sx + self.radius
        if TOTAL_LOSS in self.graph:  # the total loss and its "L = Σₜ Lₜ" to its right
            right = max(right, (self.graph.nodes[TOTAL_LOSS]["pos"][0] - a) * self.sx + self.radius + 110)
        top = -y_hi * self.sy - self.radius - 4
        bottom = -y_lo * self.sy + self.radius + 22  # the captions under the inputs
        return QRectF(QPointF(min(left, -0.2 * self.sx - self.radius), top),
                      QPointF(right, bottom)).adjusted(-12, -10, 12, 10)

    def _set_captions(self, nodes=None) -> None:
        """Tokens under the inputs and predictions beside the outputs; tooltips that say them."""
        nodes = self.node_items if nodes is None else nodes
        for n in nodes:
            item = self.node_items[n]
            item.setToolTip(node_tooltip(self.graph, n, self.tokens))
            c = self.caption_items.get(n)
            if c is None:
                continue
            text, color = node_caption(self.graph, n, self.tokens)
            c.setText(text)
            c.setBrush(QBrush(color if color is not None else theme.color("text")))
            c.setToolTip(item.toolTip())
            px, py = self._scene_pos(n)
            cb = c.boundingRect()
            if self.graph.nodes[n]["kind"] == "x":
                c.setPos(px - cb.width() / 2, py + self.radius + 2)
            else:
                c.setPos(px + 5, py - self.sy / 2 - cb.height() / 2)

    def _place_edge_labels(self) -> None:
        """One label per kind of weight, at the first edge of that kind (nearest what is on
        screen) where it covers no node, no caption and no other label (deep and bidirectional
        nets have one W_hh per layer and direction; a label on each made a heap)."""
        if self.sx < 0.75 * SX or self._labels_placed:
            return
        self._labels_placed = True
        ink = QBrush(theme.color("text"))
        small = font(LABEL_PX * 0.75)
        done, placed = set(), []
        for u, v in self.edge_items:
            wn, ut, vt, _ = self.edge_info[(u, v)]
            if wn not in EDGE_LABELS or wn in done:
                continue
            cols = {None} if ut is None or vt is None else set()
            cols |= {c + dc for c in (ut, vt) if c is not None for dc in (-1, 0, 1)}
            occupied = [r for c in cols for r in self._occupied.get(c, ())] + placed
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
                    self._add(text)
                    placed.append(rect.adjusted(-2, -2, 2, 2))
                    done.add(wn)
                    break

    def _add_row_labels(self, ink: QBrush) -> float:
        """Row names at the left ("x", "h", "layer 2 →", "ŷ", "Lₜ"): node labels carry only t.
        Returns the left edge of the widest."""
        bold = font(LABEL_PX * 0.85, bold=True)
        left = 0.0
        for y, text in row_labels(self.graph):
            if y not in self._shape[4]:
                continue
            item = QGraphicsSimpleTextItem(text)
            item.setFont(bold)
            item.setBrush(ink)
            br = item.boundingRect()
            x = -0.2 * self.sx - self.radius - 8 - br.width()
            item.setPos(x, -y * self.sy - br.height() / 2)
            self._add(item)
            left = min(left, x)
        return left

    # -- zoom, pan, follow ---------------------------------------------------------------
    def _label_scales(self) -> tuple[float, float]:
        """View scales that show node labels READ_PX and MIN_PX tall on screen (× the theme's
        scale, so presentation mode reads bigger)."""
        label_h = font_height(LABEL_PX)
        return READ_PX * theme.scale() / label_h, MIN_PX * theme.scale() / label_h

    def minimumSizeHint(self):  # noqa: N802 (Qt naming)
        """Tall enough that a deep or bidirectional graph's labels read (GROW_PX on screen) when
        it fits, at most 35% of the window and 30% of the screen: the splitter above the tabs
        grows the graph for it."""
        hint = super().minimumSizeHint()
        if self.graph is None or self.trace is None or self._drawn is None:
            return hint
        _, rows = self._graph_extent()
        need = rows * SY * GROW_PX * theme.scale() / font_height(LABEL_PX)
        chrome = self.height() - self.canvas.viewport().height()
        top = QWidget.window(self)  # self.window is the drawn steps (first, last)
        # 0.35: the rest of a presentation-mode window needs ~440 px; with half, a 720 px screen
        # grew the window past its height (the cap follows the window's height)
        cap = 0.35 * top.height() if top is not self else need + chrome
        # and at most SCREEN_SHARE of the screen, whatever the window's height does
        screen = self.screen()
        if screen is not None:
            cap = min(cap, SCREEN_SHARE * screen.availableGeometry().height())
        hint.setHeight(int(max(hint.height(), min(need + chrome, cap))))
        return hint

    def _graph_extent(self) -> tuple[float, float]:
        """(columns, rows) the drawn graph spans, in graph units, with room for the row names,
        captions and the total loss."""
        _x_lo, x_hi, y_lo, y_hi = self._shape[:4]
        a, b = self.window
        return (min(x_hi, b + 1.0) - a) + 1.9, (y_hi - y_lo) + 1.3

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
        self._view_scale = s
        self._build_items()
        if self.zoom_mode == "fit":  # the whole drawn graph inside the view, whatever it took
            rect = self.scene.sceneRect()
            s = min(s, vw / rect.width(), vh / rect.height())
        self.canvas.setTransform(QTransform.fromScale(s, s))
        if s != self._view_scale:
            self._view_scale = s
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
        if self.graph is None or self.trace is None or self._drawn is None:
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
        if self.graph is not None and self.trace is not None and self._drawn is not None:
            self._layout_and_draw()

    def fit(self) -> None:
        """Show the whole drawn sequence (the "Whole sequence" button, key 0)."""
        self.set_zoom_mode("fit")

    def _strip_clicked(self, t: int) -> None:
        self.time_clicked.emit(int(t))

    # -- colours, clicks, theme ----------------------------------------------------------
    def _recolor(self) -> None:
        """Colour the drawing for the cursor: the columns it crossed (every column after another
        phase, sample or row). Many columns: those on screen now, the rest a slice at a time (a
        jump across a 250-column window recoloured 1250 nodes, ~45 ms)."""
        prev = self._painted
        if prev is not None and prev[0] == paint_signature(self):
            lo, hi = sorted((prev[1], self.current_time))
            cols = [c for c in range(lo, hi + 1) if c in self._built]
        else:
            cols = [c for c in self._built if c is not None]
        if len(cols) <= PAINT_NOW:
            recolor(self)
            return
        a, b = self.visible_steps
        a, b = int(a) - 2, int(b) + 2
        now = [c for c in cols if a <= c <= b] + [None]
        nodes = [n for c in now for n in self.col_nodes.get(c, ())]
        edges = [e for c in now for e in self.col_edges.get(c, ())]
        recolor(self, only=(nodes, edges))
        mark_painted(self)
        self._todo.extendleft(("paint", c) for c in cols if not a <= c <= b)
        self._build_timer.start(0)

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
