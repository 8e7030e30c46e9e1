"""Building the graph panel's items a column at a time, a slice per event-loop turn (so a long
run never freezes the window): the nodes, edges, captions, weight labels and row names of the
drawn window of steps. :class:`GraphBuild` is a mixin of :class:`~rnnviz.qt.views.graph_view.GraphView`,
which holds the state it reads (``graph``, ``window``, ``node_items`` ...)."""

from __future__ import annotations

import itertools
import time

import numpy as np
import shiboken6
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
)

from rnnviz.app.derived import derived, register
from rnnviz.app.panel_model import graph_numbers
from rnnviz.core.graph import TOTAL_LOSS, graph_for_trace, row_labels
from rnnviz.core.graph_text import step_tokens
from rnnviz.qt import theme
from rnnviz.qt.views.graph_paint import (
    arrow_path,
    bus_line,
    bus_stub,
    font,
    font_height,
    mark_painted,
    node_caption,
    node_tooltip,
    recolor,
)

MAX_NODES = 1000     # more nodes than this: draw a window of steps around the cursor (at 1000 a
                     # whole-sequence view draws columns a few pixels wide: the strip above shows more)
SX, SY = 80.0, 62.0  # scene units per graph unit (column, row)
RADIUS = 20.0
LABEL_PX = 15        # node label font, scene units; the zoom decides its size on screen
BUILD_BUDGET_S = 0.006  # GUI-thread time per slice of items: the window answers between slices
SCRUB_BUDGET_S = 0.001  # per slice while the timeline moves (a drag's steps come first)
SCRUB_S = 0.15          # the timeline moved this recently: it is being scrubbed
PAINT_NOW = 40       # columns a cursor move recolours at once; more: those on screen, the rest in slices
CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
MIN_SLICE = 1        # columns per slice at least, however slow the machine
EDGE_LABELS = {"W_xh": "W_xh", "W_hh": "W_hh", "W_hy": "W_hy", "c": "c path", "gates": "gates",
               "feedback": "ŷ→x", "sum": "L = Σₜ Lₜ"}
register(graph_numbers)  # what the graph colours by: computed in the recorder's thread


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




def bsp_depth(columns: int) -> int:
    """The depth of the scene's index for a drawing of ``columns`` steps: its cells (split in x
    and y by turns) then hold about 8 columns each. Qt guesses a depth from the items there are
    when it first indexes (a few dozen: the first slice) and keeps it while slices add the
    rest: a 500-column drawing kept depth 5, 1100 items a cell, and every timeline step's paint
    looked at each of them (2 ms for a 7000-pixel strip, 0.5 ms at this depth)."""
    return int(min(12, max(4, 2 * np.ceil(np.log2(max(columns, 1) / 8)))))


class GraphBuild:
    """The column-by-column drawing half of :class:`~rnnviz.qt.views.graph_view.GraphView`."""

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
        self._bus = None  # (the bus into the total loss, the leftmost L_t → L edge)
        self._drawn = self._arch
        a, b = self.window
        N = self._num_steps()
        self.radius = min(RADIUS, 0.42 * self.sx)
        self._fonts = (font(LABEL_PX), font(LABEL_PX * 0.8, italic=True))
        ink = QBrush(theme.color("text"))
        left = self._add_row_labels(ink)
        self.scene.setSceneRect(self._scene_extent(left))
        self.scene.setBspTreeDepth(bsp_depth(b - a + 1))
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
            # 50 at a time (~0.4 ms): the budget is checked between chunks
            chunk, self._graveyard = self._graveyard[-50:], self._graveyard[:-50]
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

    def _build_on_screen_first(self) -> None:
        """While a drawing is being built, the columns on screen (and one each side) come next:
        a drag of the timeline moves the view faster than the slices build the window, and the
        order chosen when the window began (out from the cursor it had then) left the view empty."""
        if not self._todo or self._todo[0][0] == "window":
            return
        a, b = self.visible_steps
        if b - a > 64:  # most of the window on screen (zoomed out): the order it has will do
            return
        jobs = [("build", c) for c in range(int(a) - 1, int(b) + 2) if c not in self._built]
        if not jobs or list(itertools.islice(self._todo, len(jobs))) == jobs:
            return
        first = []
        for job in jobs:  # deque.remove: a search in C, a few dozen columns on screen at most
            try:
                self._todo.remove(job)
            except ValueError:
                continue  # not in this window
            first.append(job)
        self._todo.extendleft(reversed(first))

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
                if d.get("weight_name") == "sum":
                    # L_t's own stub up to the bus; the bus along to L is one item for all of
                    # them: T paths each as long as the rest of the run were every one painted
                    # again wherever a timeline step repainted the loss row (5 ms a step)
                    path_item = QGraphicsPathItem(bus_stub(iu.rect().center(), iv.rect().center(),
                                                           iu.rect().width() / 2))
                    self._extend_bus((u, v), iu.rect().center(), iv.rect(), head)
                else:
                    path_item = QGraphicsPathItem(arrow_path(iu.rect().center(), iv.rect().center(),
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

    def _extend_bus(self, edge, p1: QPointF, target: QRectF, head: float) -> None:
        """The bus into the total loss reaches back to L_t of ``edge`` if that is the leftmost
        yet; it is drawn in that edge's pen (the union of the L_t → L paths it replaces)."""
        if self._bus is not None and self.node_items[self._bus[1][0]].rect().center().x() <= p1.x():
            return
        path = bus_line(p1.x(), target.center(), target.width() / 2, head)
        if self._bus is None:
            item = QGraphicsPathItem(path)
            item.setZValue(1)
            self._add(item)
        else:
            item = self._bus[0]
            item.setPath(path)
        self._bus = (item, edge)
        self._style.pop(("bus", "p"), None)  # its pen: the new leftmost edge's, at the next colouring
        pen = self._style.get((edge, "p"))
        if pen is not None:
            self._style[("bus", "p")] = pen
            item.setPen(self._styles.pen(pen))

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
