"""The exported graph frame: node labels on every node, tokens under the inputs, a title that
stays inside its panel, the losses joined into the total loss (no Qt; real traces, real PNGs)."""

from __future__ import annotations

import pytest

import rnnviz
from rnnviz.app.actions import record_run
from rnnviz.core.graph_text import contrast_ratio
from rnnviz.export import figures
from rnnviz.export.frame_registry import FrameSpec
from rnnviz.export.frames_graph import panel_graph
from rnnviz.export.plot import Box
from rnnviz.export.scene import Scene, text_width


def run(**flat):
    return record_run(rnnviz.RunConfig().with_overrides(**flat)).trace


def texts(scene):
    return [op for op in scene.ops if op[0] == "text"]


@pytest.mark.parametrize("size", [(1280, 720), (640, 360)])
def test_graph_frame_has_labels_tokens_and_a_title_inside_its_panel(size):
    tr = run(cell="lstm", task="word_lm", seq_len=12, batch_size=2, hidden_size=8)
    scene = figures.figure(tr, ["hidden", "gates", "gradients", "graph"], size)
    info = scene.info["graph"]
    assert info["labels"] == info["nodes"], "every node carries its label"
    ops = texts(scene)
    title = next(op for op in ops if op[3].startswith("unrolled graph"))
    _, x, y, text, tsize, *_ = title
    assert x + text_width(text, tsize, True) <= size[0] + 1, "the title ends inside the figure"
    panel_right = size[0]  # the graph is the right-hand panel of the bottom row
    assert x > size[0] / 2 - 10 and x + text_width(text, tsize, True) <= panel_right
    strings = {op[3] for op in ops}
    assert {"h₁", "x₁", "ŷ₁", "L₁", "c₁"} <= strings
    assert tr.meta["tokens"][0] in strings, "the input token is drawn under x₁"


def test_graph_frame_labels_contrast_and_loss_bus():
    tr = run(cell="rnn", task="word_lm", seq_len=40, batch_size=2, hidden_size=8)
    spec = FrameSpec(t=10, mode="backward")
    scene = Scene(900, 400)
    panel_graph(scene, Box(0, 0, 900, 400), tr, spec)
    circles = [op for op in scene.ops if op[0] == "circle"]
    labels = [op for op in texts(scene) if op[6] == "mm"]
    assert len(labels) == len(circles)
    for c, lab in zip(circles, labels, strict=True):
        assert (c[1], c[2]) == (lab[1], lab[2])
        assert contrast_ratio(lab[5], c[4]) >= 4.5, (lab[3], lab[5], c[4])
    # the total loss sits right of the last drawn step, joined by a bus (a 3-point polyline)
    buses = [op for op in scene.ops if op[0] == "line" and len(op[1]) == 3]
    assert buses and buses[0][1][1][1] == buses[0][1][2][1], "the bus runs level into L"


def test_no_floating_total_loss_in_a_window_without_losses():
    tr = run(cell="rnn", task="adding", seq_len=60, batch_size=2, hidden_size=8)  # many-to-one
    scene = Scene(700, 300)
    panel_graph(scene, Box(0, 0, 700, 300), tr, FrameSpec(t=5, mode="forward"))
    strings = {op[3] for op in texts(scene)}
    assert "L" not in strings and "h₆" in strings, "the window of early steps has no L_t, so no L"
    scene = Scene(700, 300)
    panel_graph(scene, Box(0, 0, 700, 300), tr, FrameSpec(t=59, mode="forward"))
    assert {"L", "L₆₀"} <= {op[3] for op in texts(scene)}
