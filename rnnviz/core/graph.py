"""The unrolled computation graph of a recurrent network, as a :mod:`networkx` DiGraph.

``build_graph(cfg, seq_len, shape)`` unrolls an RNN / LSTM / GRU (deep and/or bidirectional)
over time, the way the lecture notes draw it, and returns a ``networkx.DiGraph`` whose nodes
carry everything a view needs to draw them (``kind``, ``t``, ``layer``, ``direction``,
``label``, ``pos``) and whose edges name the weights they stand for (``weight_name``).
This module is GUI-free: it imports neither Qt nor pyqtgraph.

Node ids (tuples; ``t`` is 0-based, labels are 1-based like the notes)::

    ("x", t)                         input x_t
    ("h", layer, direction, t)       hidden state; direction 0 = forward, 1 = backward
    ("c", layer, direction, t)       LSTM cell state (cell == "lstm" only)
    ("y", t)                         output ŷ_t
    ("L", t)                         loss at step t
    ("L",)                           total loss L = Σ_t L_t

Edge ``weight_name`` values::

    "W_xh"      x_t → h_t of layer 0, and h_t of layer l-1 (every direction) → h_t of layer l
                (every direction). For gated cells it stands for the input entering every gate.
    "W_hh"      h_{t-1} → h_t (forward direction) or h_{t+1} → h_t (backward direction)
    "c"         LSTM c_{t-1} → c_t (backward: c_{t+1} → c_t), the uninterrupted cell-state path
    "gates"     LSTM h_{t-1} → c_t (backward: h_{t+1} → c_t): forget / input / candidate gates
    "o"         LSTM c_t → h_t through the output gate, h_t = o_t ⊙ tanh(c_t)
    "W_hy"      top-layer h_t (every direction) → ŷ_t
    "feedback"  ŷ_{t-1} → h_t of layer 0: the sampled output is fed back as the next input
                (one-to-many, and the decoder of encoder-decoder); edge attr style="dashed"
    "context"   bidirectional encoder-decoder only: the backward encoder's final state
                (h / c at t = 0) → the first decoder state of the same layer
    "loss"      ŷ_t → L_t
    "sum"       L_t → L

Every edge also has ``layer`` and ``direction`` (those of the cell whose weights it uses, or
None) and ``style`` ("solid" or "dashed").

Layout (``pos`` = (x, y) floats, y grows upwards): column x = t (spacing 1.0); with two
directions the forward node of a column sits at t - 0.15 and the backward one at t + 0.15, so
that vertical edges between layers do not run through nodes. Rows: x at y = 0; h of layer l,
direction d at y = 1 + l*D + d (D = number of directions); an LSTM c node sits up-right of
its h node at (x_h + 0.3, y_h + 0.5); ŷ at y = L*D + 1, L_t at L*D + 2 and the total loss
L at the right end of the sequence, up-right of the last L_t, at (N - 1 + 0.9, L*D + 2.55): the
edges L_t → L run up to a bus at that height and along it to L, so L stays attached to every
L_t however many columns are drawn.

Nodes also carry ``short`` (the label without layer and direction, ``h₁₂``; rows name those,
see :func:`row_labels`). The text drawn on nodes (tokens, label colours) is in
:mod:`rnnviz.core.graph_text`.
"""

from __future__ import annotations

import itertools
import operator
import threading
from collections import Counter
from collections.abc import Hashable
from types import SimpleNamespace
from typing import Any

import networkx as nx

from rnnviz.core.cells import CELLS, get_cell  # the cells build_graph understands

__all__ = [
    "CELLS",
    "LOSS_BUS_DY",
    "MAX_SEQ_LEN",
    "SHAPES",
    "TOTAL_LOSS",
    "backward_order",
    "build_graph",
    "forward_order",
    "graph_for_trace",
    "graph_summary",
    "nodes_at",
    "row_labels",
]

#: The shapes ``build_graph`` understands.
SHAPES: tuple[str, ...] = (
    "many-to-many",
    "many-to-one",
    "one-to-many",
    "one-to-one",
    "encoder-decoder",
)
#: Longest sequence (and decoder length) ``build_graph`` accepts.
MAX_SEQ_LEN = 10000
#: The id of the total-loss node.
TOTAL_LOSS: tuple[str] = ("L",)

# Shapes in which every input is known before the outputs are produced (bidirectional is OK).
_BIDIRECTIONAL_OK = ("many-to-many", "many-to-one", "one-to-one", "encoder-decoder")

_DIR_DX = 0.15  # x offset of the two directions of a column (bidirectional)
_C_DX, _C_DY = 0.3, 0.5  # offset of an LSTM c node from its h node
#: Height of the loss bus above the L_t row (graph units); the total loss sits at its right end.
LOSS_BUS_DY = 0.55
_LOSS_DX = 0.9  # the total loss's x offset from the last column

_KIND_RANK = {"x": 0, "h": 1, "c": 2, "y": 3, "L": 4, "loss": 5}

_SUB = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")
_SUP = str.maketrans("0123456789()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁽⁾")


def _sub(n: int) -> str:
    return str(n).translate(_SUB)


def _sup(n: int) -> str:
    return f"({n})".translate(_SUP)


def _as_int(value: Any, name: str) -> int:
    try:
        n = None if value is True or value is False else operator.index(value)
    except TypeError:
        n = None
    if n is None:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return n


def _check_len(value: Any, name: str) -> int:
    n = _as_int(value, name)
    if n < 1 or n > MAX_SEQ_LEN:
        raise ValueError(f"{name} must be between 1 and {MAX_SEQ_LEN}, got {n}")
    return n


def build_graph(cfg: Any, seq_len: int, shape: str = "many-to-many",
                out_len: int | None = None) -> nx.DiGraph:
    """Unroll a recurrent network over time into a computation graph.

    Args:
        cfg: any object with ``cell`` ("rnn" | "lstm" | "gru"), ``num_layers`` (>= 1) and
            ``bidirectional`` (bool), e.g. a ``rnnviz.ModelConfig``.
        seq_len: number of input steps T (1 .. 10000). For "one-to-many" it is the number of
            output steps (there is one input, at t = 0); for "encoder-decoder" it is the number
            of encoder steps; for "one-to-one" it must be 1.
        shape: one of :data:`SHAPES`:

            * "many-to-many": x, ŷ and L_t at every step.
            * "many-to-one": x at every step; ŷ and L_t only at the last step t = T-1 (from the
              top layer's states at T-1, in both directions when bidirectional - the backward
              states before T-1 then get no gradient, as in ``output[-1]``).
            * "one-to-many": x only at t = 0, ŷ and L_t at every step, and "feedback" edges
              ŷ_{t-1} → h_t of layer 0. Not allowed with a bidirectional cfg (ValueError):
              the later inputs are generated one at a time, so no backward pass can see them.
            * "one-to-one": seq_len must be 1 (a plain feed-forward net).
            * "encoder-decoder": T encoder steps with x (bidirectional allowed there), then
              ``out_len`` decoder steps t = T .. T+out_len-1 with no x, forward direction only,
              continuing the chain of every layer (W_hh; the backward encoder's final state at
              t = 0 joins through "context" edges), ŷ / L_t only on decoder steps, and
              "feedback" edges ŷ_{t-1} → h_t of layer 0 between decoder steps.
        out_len: decoder length for "encoder-decoder" (default seq_len); must be None for the
            other shapes.

    Returns:
        A ``networkx.DiGraph`` (a DAG). Node and edge attributes are described in the module
        docstring. ``G.graph`` holds ``cell``, ``num_layers``, ``num_directions``,
        ``bidirectional``, ``shape``, ``seq_len``, ``out_len`` (None unless encoder-decoder)
        and ``num_steps`` (number of columns).

    Raises:
        ValueError: unknown shape or cell, seq_len / out_len outside 1 .. 10000,
            num_layers < 1, seq_len != 1 for "one-to-one", bidirectional "one-to-many",
            out_len given for a shape other than "encoder-decoder".
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; valid shapes: {', '.join(SHAPES)}")
    cell = str(getattr(cfg, "cell", "")).lower()
    if cell not in CELLS:
        raise ValueError(f"unknown cell {getattr(cfg, 'cell', None)!r}; "
                         f"valid cells: {', '.join(CELLS)}")
    num_layers = _as_int(getattr(cfg, "num_layers", None), "num_layers")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}")
    bidirectional = bool(getattr(cfg, "bidirectional", False))
    seq_len = _check_len(seq_len, "seq_len")

    if shape == "encoder-decoder":
        out_len = seq_len if out_len is None else _check_len(out_len, "out_len")
    elif out_len is not None:
        raise ValueError(f"out_len is only used by shape='encoder-decoder', not {shape!r}")
    if shape == "one-to-one" and seq_len != 1:
        raise ValueError(f"shape 'one-to-one' needs seq_len == 1, got {seq_len}")
    if bidirectional and shape not in _BIDIRECTIONAL_OK:
        raise ValueError(
            f"a bidirectional network cannot be unrolled as {shape!r}: the inputs after the "
            "first are generated one step at a time, so there is no whole sequence for the "
            "backward direction to read; use bidirectional=False or a shape from "
            f"{', '.join(_BIDIRECTIONAL_OK)}")

    D = 2 if bidirectional else 1
    T = seq_len
    n_dec = out_len if shape == "encoder-decoder" else 0
    N = T + n_dec  # columns
    lstm = get_cell(cell).has_cell_state  # draws c nodes and the c path

    # Which time steps have x, which have y / L_t, and which directions run at each step.
    if shape == "one-to-many":
        x_steps = [0]
    else:
        x_steps = list(range(T))
    if shape == "many-to-one":
        y_steps = [T - 1]
    elif shape == "encoder-decoder":
        y_steps = list(range(T, N))
    else:
        y_steps = list(range(T))

    def dirs_at(t: int) -> range:
        return range(D) if t < T else range(1)

    top_row = num_layers * D  # y of the top h row
    G = nx.DiGraph(cell=cell, num_layers=num_layers, num_directions=D,
                   bidirectional=bidirectional, shape=shape, seq_len=T,
                   out_len=out_len if shape == "encoder-decoder" else None, num_steps=N)

    def part(t: int) -> dict[str, str]:
        if shape != "encoder-decoder":
            return {}
        return {"part": "encoder" if t < T else "decoder"}

    def col_x(t: int, d: int) -> float:
        if len(dirs_at(t)) == 1:
            return float(t)
        return t - _DIR_DX if d == 0 else t + _DIR_DX

    def short(sym: str, t: int) -> str:
        return sym + _sub(t + 1)

    def state_label(sym: str, layer: int, d: int, t: int) -> str:
        text = sym + _sub(t + 1)
        if num_layers > 1:
            text += _sup(layer + 1)
        if D == 2:
            text = ("→" if d == 0 else "←") + text
        return text

    # ---- nodes
    for t in x_steps:
        G.add_node(("x", t), kind="x", t=t, layer=None, direction=None,
                   label="x" + _sub(t + 1), short=short("x", t), pos=(float(t), 0.0), **part(t))
    for t in range(N):
        for layer in range(num_layers):
            for d in dirs_at(t):
                row = 1.0 + layer * D + d
                hx = col_x(t, d)
                G.add_node(("h", layer, d, t), kind="h", t=t, layer=layer, direction=d,
                           label=state_label("h", layer, d, t), short=short("h", t), pos=(hx, row),
                           **part(t))
                if lstm:
                    G.add_node(("c", layer, d, t), kind="c", t=t, layer=layer, direction=d,
                               label=state_label("c", layer, d, t), short=short("c", t),
                               pos=(hx + _C_DX, row + _C_DY), **part(t))
    for t in y_steps:
        G.add_node(("y", t), kind="y", t=t, layer=None, direction=None,
                   label="ŷ" + _sub(t + 1), short=short("ŷ", t), pos=(float(t), top_row + 1.0), **part(t))
        G.add_node(("L", t), kind="L", t=t, layer=None, direction=None,
                   label="L" + _sub(t + 1), short=short("L", t), pos=(float(t), top_row + 2.0), **part(t))
    G.add_node(TOTAL_LOSS, kind="loss", t=None, layer=None, direction=None, label="L", short="L",
               pos=(N - 1 + _LOSS_DX, top_row + 2.0 + LOSS_BUS_DY))

    def edge(u: Hashable, v: Hashable, weight_name: str, layer: int | None = None,
             direction: int | None = None, style: str = "solid") -> None:
        G.add_edge(u, v, weight_name=weight_name, layer=layer, direction=direction,
                   style=style)

    # ---- input / between-layer edges (W_xh)
    for t in range(N):
        for layer in range(num_layers):
            for d in dirs_at(t):
                if layer == 0:
                    if t in x_steps:
                        edge(("x", t), ("h", 0, d, t), "W_xh", 0, d)
                else:
                    for d_below in dirs_at(t):
                        edge(("h", layer - 1, d_below, t), ("h", layer, d, t), "W_xh", layer, d)

    # ---- recurrent edges, per (layer, direction) chain
    for layer in range(num_layers):
        for d in range(D):
            steps = [t for t in range(N) if d in dirs_at(t)]
            if d == 1:
                steps.reverse()  # the backward direction runs from T-1 down to 0
            for prev, t in itertools.pairwise(steps):
                edge(("h", layer, d, prev), ("h", layer, d, t), "W_hh", layer, d)
                if lstm:
                    edge(("c", layer, d, prev), ("c", layer, d, t), "c", layer, d)
                    edge(("h", layer, d, prev), ("c", layer, d, t), "gates", layer, d)
            if lstm:
                for t in steps:
                    edge(("c", layer, d, t), ("h", layer, d, t), "o", layer, d)
        if D == 2 and n_dec:
            # The backward encoder ends at t = 0; its final state seeds the decoder too.
            edge(("h", layer, 1, 0), ("h", layer, 0, T), "context", layer, 0)
            if lstm:
                edge(("c", layer, 1, 0), ("c", layer, 0, T), "context", layer, 0)

    # ---- outputs, feedback, losses
    top = num_layers - 1
    for t in y_steps:
        for d in dirs_at(t):
            edge(("h", top, d, t), ("y", t), "W_hy")
        edge(("y", t), ("L", t), "loss")
        edge(("L", t), TOTAL_LOSS, "sum")
    if shape in ("one-to-many", "encoder-decoder"):
        for t in y_steps[1:]:
            edge(("y", t - 1), ("h", 0, 0, t), "feedback", 0, 0, style="dashed")
    return G


#: the graphs built last, by what they depend on (see graph_for_trace)
_CACHE: dict = {}
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def graph_for_trace(trace, max_steps: int | None = None):
    """The graph of a recorded run: its cell, layers, directions, shape and length (an
    encoder-decoder split by ``meta["enc_len"]`` / ``meta["dec_len"]``; a shape the trace does not
    fit falls back to many-to-many). The one function the window, the lessons and the exporters
    use. ``max_steps``: at most that many steps (an exported window of a long run; many-to-many
    where the shape cannot be cut).

    The graph depends only on the architecture and the length, and a T = 5000 graph takes most of
    a second to build, so the last few are kept: the same arguments return the same graph object,
    which callers must treat as read-only. (The window's recorder builds it in its background
    thread, so installing a long run does not build it on the GUI thread.)"""
    meta = trace.meta or {}
    key = (trace.cell_type, trace.num_layers, trace.num_directions, meta.get("shape"), trace.seq_len,
           meta.get("enc_len"), meta.get("dec_len"), max_steps)
    with _CACHE_LOCK:
        G = _CACHE.get(key)
    if G is None:
        G = _graph_for_trace(trace, max_steps)
        with _CACHE_LOCK:
            _CACHE[key] = G
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.pop(next(iter(_CACHE)))
    return G


def _graph_for_trace(trace, max_steps: int | None):
    cfg = SimpleNamespace(cell=trace.cell_type, num_layers=trace.num_layers,
                          bidirectional=trace.num_directions == 2)
    meta = trace.meta or {}
    shape = meta.get("shape") or "many-to-many"
    T = trace.seq_len
    out_len = None
    if max_steps is not None and T > max_steps:
        T = int(max_steps)
        if shape in ("encoder-decoder", "one-to-one"):
            shape = "many-to-many"
    if shape == "encoder-decoder":
        enc, dec = meta.get("enc_len"), meta.get("dec_len")
        if enc and dec and int(enc) + int(dec) <= T:  # an odd T leaves one unused last step
            T, out_len = int(enc), int(dec)
        else:
            shape = "many-to-many"
    if shape == "one-to-one" and T != 1:
        shape = "many-to-many"
    try:
        return build_graph(cfg, T, shape, out_len)
    except ValueError:
        return build_graph(cfg, T if max_steps is not None else trace.seq_len, "many-to-many")


def _sort_key(G: nx.DiGraph, num_steps: int):
    def key(node: Hashable) -> tuple[int, int, int, int]:
        a = G.nodes[node]
        t = a.get("t")
        return (num_steps if t is None else t, _KIND_RANK.get(a.get("kind"), 9),
                a.get("layer") or 0, a.get("direction") or 0)
    return key


def _num_steps(G: nx.DiGraph) -> int:
    if "num_steps" in G.graph:
        return int(G.graph["num_steps"])
    ts = [t for _, t in G.nodes(data="t") if t is not None]
    return max(ts) + 1 if ts else 0


def _topo(G: nx.DiGraph) -> list[Hashable]:
    return list(nx.lexicographical_topological_sort(G, key=_sort_key(G, _num_steps(G))))


def nodes_at(G: nx.DiGraph, t: int | None) -> list[Hashable]:
    """The nodes of time step ``t`` (0-based; ``None`` gives the total loss), sorted by kind
    (x, h, c, y, L), then layer, then direction."""
    key = _sort_key(G, _num_steps(G))
    return sorted((n for n, nt in G.nodes(data="t") if nt == t), key=key)


def forward_order(G: nx.DiGraph) -> list[list[Hashable]]:
    """The forward pass, grouped by time step: one list of node ids per column t = 0 .. N-1.

    Within a group the nodes are in topological order (inputs, then layers bottom-up, then
    ŷ and L_t); the total loss ``("L",)`` ends the last group. Every node appears exactly
    once. (With a bidirectional network the concatenation is not a topological order, since
    the backward direction at step t needs step t+1 - the grouping shows *where* each state
    lives, which is what an animation over time steps needs.)
    """
    n = _num_steps(G)
    groups: list[list[Hashable]] = [[] for _ in range(max(n, 1))]
    for node in _topo(G):
        t = G.nodes[node].get("t")
        groups[len(groups) - 1 if t is None else t].append(node)
    return groups


def backward_order(G: nx.DiGraph, include_unreached: bool = False) -> list[Hashable]:
    """The order in which the gradient flows back from the total loss (BPTT).

    A reverse topological order of the total loss and every node that has a path to it,
    starting at ``("L",)``. Nodes the gradient never reaches (e.g. the top backward states
    before the last step in a bidirectional many-to-one net) are left out, or appended at
    the end, in reverse topological order, with ``include_unreached=True``.
    """
    if TOTAL_LOSS not in G:
        raise ValueError("graph has no total-loss node ('L',)")
    reached = nx.ancestors(G, TOTAL_LOSS) | {TOTAL_LOSS}
    order = list(reversed(_topo(G)))
    out = [n for n in order if n in reached]
    if include_unreached:
        out += [n for n in order if n not in reached]
    return out


def graph_summary(G: nx.DiGraph) -> dict[str, Any]:
    """Counts for a graph: ``{"nodes": n, "edges": m, "kinds": {kind: count},
    "weights": {weight_name: count}, "num_steps": N, "shape": ..., "cell": ...,
    "num_layers": ..., "num_directions": ...}`` (graph attributes that are missing are None).
    """
    kinds = Counter(k for _, k in G.nodes(data="kind"))
    weights = Counter(w for _, _, w in G.edges(data="weight_name"))
    return {
        "nodes": G.number_of_nodes(),
        "edges": G.number_of_edges(),
        "kinds": dict(sorted(kinds.items(), key=lambda kv: _KIND_RANK.get(kv[0], 9))),
        "weights": dict(sorted(weights.items())),
        "num_steps": _num_steps(G),
        "shape": G.graph.get("shape"),
        "cell": G.graph.get("cell"),
        "num_layers": G.graph.get("num_layers"),
        "num_directions": G.graph.get("num_directions"),
    }


def row_labels(G: nx.DiGraph) -> list[tuple[float, str]]:
    """``(y, text)`` for each row of the layout, bottom to top: "x", "h" (or "layer 2 →" /
    "layer 2 ←" in deep or bidirectional graphs; "c" rows of an LSTM sit half a row above), "ŷ",
    "L_t". Node labels then only need the time step (``short``)."""
    L = int(G.graph.get("num_layers", 1))
    D = int(G.graph.get("num_directions", 1))
    rows: list[tuple[float, str]] = [(0.0, "x")]
    for layer in range(L):
        for d in range(D):
            name = f"layer {layer + 1}" if L > 1 else ""
            if D == 2:
                name = f"{name} {'→' if d == 0 else '←'}".strip()
            rows.append((1.0 + layer * D + d, f"h {name}".strip() if name else "h"))
    rows += [(L * D + 1.0, "ŷ"), (L * D + 2.0, "Lₜ")]
    return rows
