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

from PySide6.QtCore import QTimer
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import (
    QGraphicsScene,
    QHBoxLayout,
    QToolButton,
    QWidget,
)

from rnnviz.app.derived import derived
from rnnviz.app.panel_model import graph_numbers
from rnnviz.app.panels import get_panel
from rnnviz.core.graph import graph_for_trace
from rnnviz.core.graph_text import step_tokens
from rnnviz.qt import theme
from rnnviz.qt.views.base import TextLine, TraceView
from rnnviz.qt.views.graph_build import (
    LABEL_PX,
    MAX_NODES,
    PAINT_NOW,
    RADIUS,
    SX,
    SY,
    GraphBuild,
    graph_shape,
)
from rnnviz.qt.views.graph_canvas import GraphCanvas
from rnnviz.qt.views.graph_paint import (
    font_height,
    mark_painted,
    paint_signature,
    recolor,
)
from rnnviz.qt.views.graph_widgets import ColorBar, GradientStrip

READ_PX = 14.0       # on-screen label height the default zoom aims at (× theme scale)
MIN_PX = 7.5         # never zoom a label below this by default (× theme scale)
GROW_PX = 10.0       # labels this tall fit: the view asks for the height (× theme scale)
SCREEN_SHARE = 0.3    # the graph never asks for more than this share of the screen's height


class GraphView(GraphBuild, TraceView):
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
        self._build_on_screen_first()
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
