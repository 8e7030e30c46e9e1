"""Tests for the unrolled computation graph (rnnviz.core.graph)."""

from __future__ import annotations

import dataclasses
import itertools
import types

import networkx as nx
import pytest

from rnnviz.core.graph import (
    SHAPES,
    TOTAL_LOSS,
    backward_order,
    build_graph,
    forward_order,
    graph_summary,
    nodes_at,
)

CELLS = ("rnn", "lstm", "gru")
LAYERS = (1, 2, 3)
WEIGHT_NAMES = {"W_xh", "W_hh", "W_hy", "c", "gates", "o", "feedback", "context", "loss", "sum"}
KINDS = {"x", "h", "c", "y", "L", "loss"}


def cfg(cell="rnn", num_layers=1, bidirectional=False):
    return types.SimpleNamespace(cell=cell, num_layers=num_layers, bidirectional=bidirectional)


@dataclasses.dataclass
class DataCfg:
    cell: str = "lstm"
    num_layers: int = 2
    bidirectional: bool = True


def expected_counts(shape, cell, L, D, T, M=None):
    """Closed-form node counts per kind and edge counts per weight name.

    Written from the definition of each shape, independently of the implementation.
    """
    lstm = cell == "lstm"
    if shape == "many-to-many":
        n_x, n_h, n_y = T, L * D * T, T
        w = {
            "W_xh": D * T + (L - 1) * D * D * T,
            "W_hh": L * D * (T - 1),
            "W_hy": D * T,
        }
    elif shape == "many-to-one":
        n_x, n_h, n_y = T, L * D * T, 1
        w = {
            "W_xh": D * T + (L - 1) * D * D * T,
            "W_hh": L * D * (T - 1),
            "W_hy": D,
        }
    elif shape == "one-to-many":
        assert D == 1
        n_x, n_h, n_y = 1, L * T, T
        w = {
            "W_xh": 1 + (L - 1) * T,
            "W_hh": L * (T - 1),
            "W_hy": T,
            "feedback": T - 1,
        }
    elif shape == "one-to-one":
        assert T == 1
        n_x, n_h, n_y = 1, L * D, 1
        w = {"W_xh": D + (L - 1) * D * D, "W_hh": 0, "W_hy": D}
    elif shape == "encoder-decoder":
        M = T if M is None else M
        # encoder: T steps, D directions; decoder: M steps, forward only, x-less
        n_x, n_h, n_y = T, L * D * T + L * M, M
        w = {
            "W_xh": D * T + (L - 1) * D * D * T + (L - 1) * M,
            # encoder chains + decoder chain of M links (the first one from h_{T-1})
            "W_hh": L * D * (T - 1) + L * M,
            "W_hy": M,
            "feedback": M - 1,
            "context": (D - 1) * L * (2 if lstm else 1),
        }
    else:  # pragma: no cover
        raise AssertionError(shape)
    kinds = {"x": n_x, "h": n_h, "y": n_y, "L": n_y, "loss": 1}
    w["loss"] = n_y
    w["sum"] = n_y
    if lstm:
        kinds["c"] = n_h
        w["o"] = n_h
        w["c"] = w["W_hh"]
        w["gates"] = w["W_hh"]
    w = {k: v for k, v in w.items() if v}
    return kinds, w


def cases():
    for shape, cell, L, bidi in itertools.product(SHAPES, CELLS, LAYERS, (False, True)):
        if bidi and shape == "one-to-many":
            continue
        lens = (1,) if shape == "one-to-one" else (1, 2, 5)
        for T in lens:
            outs = (None, 1, 3) if shape == "encoder-decoder" else (None,)
            for M in outs:
                yield shape, cell, L, bidi, T, M


ALL_CASES = list(cases())


def _id(case):
    shape, cell, L, bidi, T, M = case
    return f"{shape}-{cell}-L{L}-{'bi' if bidi else 'uni'}-T{T}" + ("" if M is None else f"-M{M}")


@pytest.mark.parametrize("case", ALL_CASES, ids=[_id(c) for c in ALL_CASES])
def test_counts_and_invariants(case):
    shape, cell, L, bidi, T, M = case
    D = 2 if bidi else 1
    G = build_graph(cfg(cell, L, bidi), T, shape, out_len=M)
    kinds, weights = expected_counts(shape, cell, L, D, T, M)

    assert G.number_of_nodes() == sum(kinds.values())
    assert G.number_of_edges() == sum(weights.values())
    s = graph_summary(G)
    assert s["nodes"] == G.number_of_nodes() and s["edges"] == G.number_of_edges()
    assert s["kinds"] == kinds
    assert s["weights"] == weights

    assert nx.is_directed_acyclic_graph(G)
    for n, a in G.nodes(data=True):
        assert isinstance(n, tuple)
        assert a["kind"] in KINDS
        x, y = a["pos"]
        assert isinstance(x, float) and isinstance(y, float)
        assert isinstance(a["label"], str) and a["label"]
        assert "t" in a and "layer" in a and "direction" in a
    for _, _, a in G.edges(data=True):
        assert a["weight_name"] in WEIGHT_NAMES

    # forward_order: every node exactly once, one group per column
    groups = forward_order(G)
    flat = [n for g in groups for n in g]
    assert len(flat) == len(set(flat)) == G.number_of_nodes()
    n_cols = T + ((T if M is None else M) if shape == "encoder-decoder" else 0)
    assert len(groups) == n_cols
    for t, g in enumerate(groups):
        assert all(G.nodes[n]["t"] in (t, None) for n in g)
    assert flat[-1] == TOTAL_LOSS

    # backward_order: starts at the total loss and never visits a node before its successors
    order = backward_order(G)
    assert order[0] == TOTAL_LOSS
    rank = {n: i for i, n in enumerate(order)}
    for u, v in G.edges():
        if v in rank:  # whatever reaches a reached node is reached, and later
            assert u in rank and rank[v] < rank[u]
    full = backward_order(G, include_unreached=True)
    assert sorted(map(repr, full)) == sorted(map(repr, G.nodes))


@pytest.mark.parametrize("shape", ["many-to-many", "many-to-one", "encoder-decoder"])
@pytest.mark.parametrize("cell", CELLS)
def test_bidirectional_recurrent_edges_run_backwards(shape, cell):
    T = 4
    G = build_graph(cfg(cell, 2, True), T, shape)
    seen = {0: 0, 1: 0}
    for u, v, a in G.edges(data=True):
        if a["weight_name"] in ("W_hh", "c", "gates"):
            d = G.nodes[v]["direction"]
            assert G.nodes[u]["direction"] == d == a["direction"]
            step = G.nodes[v]["t"] - G.nodes[u]["t"]
            assert step == (1 if d == 0 else -1)
            seen[d] += 1
    assert seen[0] and seen[1]
    assert G.has_edge(("h", 0, 1, 3), ("h", 0, 1, 2))
    assert not G.has_edge(("h", 0, 1, 2), ("h", 0, 1, 3))


def test_many_to_many_rnn_edges_and_labels():
    G = build_graph(cfg("rnn", 1, False), 4)
    assert G.edges[("x", 0), ("h", 0, 0, 0)]["weight_name"] == "W_xh"
    assert G.edges[("h", 0, 0, 0), ("h", 0, 0, 1)]["weight_name"] == "W_hh"
    assert G.edges[("h", 0, 0, 3), ("y", 3)]["weight_name"] == "W_hy"
    assert G.edges[("y", 3), ("L", 3)]["weight_name"] == "loss"
    assert G.edges[("L", 3), TOTAL_LOSS]["weight_name"] == "sum"
    assert G.nodes[("x", 0)]["label"] == "x₁"
    assert G.nodes[("h", 0, 0, 1)]["label"] == "h₂"
    assert G.nodes[("y", 3)]["label"] == "ŷ₄"
    assert G.nodes[("L", 3)]["label"] == "L₄"
    assert G.nodes[TOTAL_LOSS]["label"] == "L"
    assert G.nodes[TOTAL_LOSS]["kind"] == "loss" and G.nodes[TOTAL_LOSS]["t"] is None
    deep = build_graph(cfg("lstm", 2, False), 12)
    assert deep.nodes[("h", 0, 0, 1)]["label"] == "h₂⁽¹⁾"
    assert deep.nodes[("c", 1, 0, 11)]["label"] == "c₁₂⁽²⁾"


def test_deep_layers_connect_every_direction():
    G = build_graph(cfg("gru", 3, True), 3)
    for layer in (1, 2):
        for d_below, d in itertools.product(range(2), range(2)):
            a = G.edges[("h", layer - 1, d_below, 1), ("h", layer, d, 1)]
            assert a["weight_name"] == "W_xh" and a["layer"] == layer
    for d in range(2):
        assert G.edges[("h", 2, d, 0), ("y", 0)]["weight_name"] == "W_hy"


def test_lstm_cell_state_path():
    T = 6
    G = build_graph(cfg("lstm", 1, False), T)
    path = [("c", 0, 0, t) for t in range(T)]
    assert nx.is_path(G, path)
    assert all(G.edges[u, v]["weight_name"] == "c" for u, v in itertools.pairwise(path))
    assert G.edges[("c", 0, 0, 2), ("h", 0, 0, 2)]["weight_name"] == "o"
    assert G.edges[("h", 0, 0, 1), ("c", 0, 0, 2)]["weight_name"] == "gates"
    assert not any(a["kind"] == "c" for _, a in build_graph(cfg("gru"), T).nodes(data=True))


def test_many_to_one_output_only_at_last_step():
    G = build_graph(cfg("rnn", 2, False), 5, "many-to-one")
    assert [n for n in G if G.nodes[n]["kind"] == "y"] == [("y", 4)]
    assert G.has_edge(("L", 4), TOTAL_LOSS)
    assert len(backward_order(G)) == G.number_of_nodes()
    # bidirectional: the top backward states before T-1 get no gradient
    B = build_graph(cfg("rnn", 1, True), 5, "many-to-one")
    unreached = set(B) - set(backward_order(B))
    assert unreached == {("h", 0, 1, t) for t in range(4)}


def test_one_to_many_feedback():
    G = build_graph(cfg("lstm", 2, False), 4, "one-to-many")
    assert [n for n in G if G.nodes[n]["kind"] == "x"] == [("x", 0)]
    for t in range(1, 4):
        a = G.edges[("y", t - 1), ("h", 0, 0, t)]
        assert a["weight_name"] == "feedback" and a["style"] == "dashed"
    assert len(backward_order(G)) == G.number_of_nodes()


def test_encoder_decoder_structure():
    G = build_graph(cfg("lstm", 2, True), 3, "encoder-decoder", out_len=2)
    assert G.graph["num_steps"] == 5
    assert not any(("x", t) in G for t in (3, 4))
    assert {n for n in G if G.nodes[n]["kind"] == "y"} == {("y", 3), ("y", 4)}
    assert G.edges[("h", 1, 0, 2), ("h", 1, 0, 3)]["weight_name"] == "W_hh"
    assert G.edges[("c", 1, 0, 2), ("c", 1, 0, 3)]["weight_name"] == "c"
    assert G.edges[("h", 0, 1, 0), ("h", 0, 0, 3)]["weight_name"] == "context"
    assert G.edges[("y", 3), ("h", 0, 0, 4)]["weight_name"] == "feedback"
    assert ("h", 0, 1, 3) not in G  # decoder is forward-only
    assert G.nodes[("h", 0, 0, 4)]["part"] == "decoder"
    assert G.nodes[("x", 0)]["part"] == "encoder"
    assert len(backward_order(G)) == G.number_of_nodes()
    assert build_graph(cfg(), 4, "encoder-decoder").graph["num_steps"] == 8


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("bidi", [False, True])
def test_layout(cell, bidi):
    L, T = 3, 5
    D = 2 if bidi else 1
    G = build_graph(cfg(cell, L, bidi), T)
    pos = nx.get_node_attributes(G, "pos")
    for t in range(T):
        assert pos[("x", t)] == (float(t), 0.0)
        for layer, d in itertools.product(range(L), range(D)):
            x, y = pos[("h", layer, d, t)]
            assert y == 1 + layer * D + d
            assert abs(x - t) < 0.5
            if cell == "lstm":
                cx, cy = pos[("c", layer, d, t)]
                assert y < cy < y + 1 and abs(cx - t) < 0.5
        top_h = max(pos[("h", L - 1, d, t)][1] for d in range(D))
        assert pos[("y", t)][0] == t and pos[("y", t)][1] > top_h
        assert pos[("L", t)][1] > pos[("y", t)][1]
    tx, ty = pos[TOTAL_LOSS]
    assert tx > T - 1  # the total loss ends the sequence, right of the last step, on the loss bus
    assert ty == max(p[1] for p in pos.values()) and ty > pos[("L", T - 1)][1]
    assert len(set(pos.values())) == len(pos)  # no two nodes on the same spot


def test_nodes_at():
    G = build_graph(cfg("lstm", 1, False), 3)
    assert nodes_at(G, 1) == [("x", 1), ("h", 0, 0, 1), ("c", 0, 0, 1), ("y", 1), ("L", 1)]
    assert nodes_at(G, None) == [TOTAL_LOSS]
    assert nodes_at(G, 7) == []


def test_accepts_any_config_object():
    G = build_graph(DataCfg(), 3)
    assert G.graph["num_directions"] == 2 and G.graph["cell"] == "lstm"
    assert build_graph(cfg("GRU"), 2).graph["cell"] == "gru"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seq_len": 0}, "seq_len"),
        ({"seq_len": -3}, "seq_len"),
        ({"seq_len": 10001}, "seq_len"),
        ({"seq_len": 2.5}, "seq_len"),
        ({"seq_len": True}, "seq_len"),
        ({"seq_len": 3, "shape": "many-to-few"}, "many-to-many"),
        ({"seq_len": 3, "shape": "one-to-one"}, "one-to-one"),
        ({"seq_len": 3, "shape": "encoder-decoder", "out_len": 0}, "out_len"),
        ({"seq_len": 3, "shape": "encoder-decoder", "out_len": 10001}, "out_len"),
        ({"seq_len": 3, "out_len": 2}, "out_len"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_graph(cfg(), **kwargs)


def test_unknown_shape_lists_valid_shapes():
    with pytest.raises(ValueError) as err:
        build_graph(cfg(), 3, "sideways")
    for s in SHAPES:
        assert s in str(err.value)


def test_bad_config():
    with pytest.raises(ValueError, match="num_layers"):
        build_graph(cfg(num_layers=0), 3)
    with pytest.raises(ValueError, match="cell"):
        build_graph(cfg(cell="transformer"), 3)
    with pytest.raises(ValueError, match="bidirectional"):
        build_graph(cfg(bidirectional=True), 3, "one-to-many")
    assert build_graph(cfg(num_layers=1), 10000).number_of_nodes() == 4 * 10000 + 1
