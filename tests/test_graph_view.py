"""The unrolled graph view: whole sequence, zoom / pan / follow, tokens, label contrast, and
the graph as the main picture in presentation mode (real widgets, real traces, offscreen)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import rnnviz  # noqa: E402
from rnnviz.app.actions import record_run  # noqa: E402
from rnnviz.core.graph import TOTAL_LOSS  # noqa: E402
from rnnviz.core.graph_text import contrast_ratio, label_color, step_tokens  # noqa: E402
from rnnviz.qt import theme  # noqa: E402
from rnnviz.qt.views.graph_view import GraphView  # noqa: E402


def run(**flat):
    return record_run(rnnviz.RunConfig().with_overrides(**flat)).trace


@pytest.fixture(scope="module")
def long_run():
    return run(cell="rnn", task="adding", seq_len=100, batch_size=2, hidden_size=6)


@pytest.fixture(scope="module")
def words():
    return run(cell="rnn", task="sentiment", batch_size=2, hidden_size=6)


def make_view(qtbot, trace, size=(1000, 420)):
    v = GraphView()
    qtbot.addWidget(v)
    v.resize(*size)
    v.show()
    qtbot.waitExposed(v)
    v.set_trace(trace)
    built(qtbot, v)
    return v


def built(qtbot, v):
    """Let the event loop build the rest of the drawn steps (the view builds them in slices)."""
    qtbot.waitUntil(lambda: not v.building, timeout=20000)


def on_screen(v, item):
    """The item's bounding rect in viewport pixels."""
    return v.canvas.mapFromScene(item.sceneBoundingRect()).boundingRect()


def test_fit_shows_the_whole_sequence_of_a_long_run(qtbot, long_run):
    v = make_view(qtbot, long_run)
    assert set(v.node_items) == set(v.graph.nodes), "every step is drawn"
    v.set_cursor(50, "backward", 0, 0)
    assert v.zoom_mode == "auto" and v.visible_steps[1] - v.visible_steps[0] < 99, \
        "by default a T=100 run shows readable columns, not all of them"
    v.set_zoom_mode("fit")
    built(qtbot, v)
    port = v.canvas.viewport().rect()
    for n, item in v.node_items.items():
        assert port.contains(on_screen(v, item)), f"{n} is outside the view in fit mode"
    assert v.visible_steps == (0.0, 99.0)
    # the total loss is drawn and joined to L_T however the view is zoomed
    assert TOTAL_LOSS in v.node_items and (("L", 99), TOTAL_LOSS) in v.edge_items


def test_zoom_keys_pan_and_follow(qtbot, long_run):
    from PySide6.QtCore import Qt

    v = make_view(qtbot, long_run)
    v.canvas.setFocus()
    qtbot.keyClick(v.canvas, Qt.Key.Key_0)
    assert v.zoom_mode == "fit"
    fit_col = v.col_px
    qtbot.keyClick(v.canvas, Qt.Key.Key_Plus)
    assert v.zoom_mode == "manual" and v.col_px > fit_col
    for _ in range(8):
        qtbot.keyClick(v.canvas, Qt.Key.Key_Plus)
    assert v.visible_steps[1] - v.visible_steps[0] < 30
    v.set_cursor(90, "forward", 0, 0)  # the view follows the timeline cursor
    first, last = v.visible_steps
    assert first <= 90 <= last
    v.set_cursor(3, "backward", 0, 0)
    first, last = v.visible_steps
    assert first <= 3 <= last
    big = v.col_px
    qtbot.keyClick(v.canvas, Qt.Key.Key_Minus)
    assert v.col_px < big
    # the overview strip shades what is on screen and carries every step's gradient norm
    assert v.strip.band.isVisible()
    lo, hi = v.strip.band.getRegion()
    assert lo <= 4 <= hi
    assert len(v.strip.curves[0].getData()[0]) == long_run.seq_len


def test_tokens_on_inputs_and_outputs(qtbot, words):
    v = make_view(qtbot, words)
    tokens = words.meta["tokens"]
    T = words.seq_len
    for t in range(T):
        cap = v.caption_items[("x", t)].text()
        assert cap == tokens[t][:9] or cap.endswith("…"), (t, cap, tokens[t])
        assert f"'{tokens[t]}'" in v.node_items[("x", t)].toolTip()
    pred = v.caption_items[("y", T - 1)].text()
    assert pred.split()[0] in ("negative", "positive") and pred.endswith(("✓", "✗"))
    assert "target" in v.node_items[("y", T - 1)].toolTip()
    # another sample: its own tokens, decoded from its one-hot inputs
    v.set_cursor(0, "forward", 0, 1)
    assert v.tokens == step_tokens(words, 1)
    assert [v.caption_items[("x", t)].text() for t in range(T)] == [s[:9] if len(s) <= 9 else s[:8] + "…"
                                                                    for s in step_tokens(words, 1)["inputs"]]


@pytest.mark.parametrize("flat", [
    dict(cell="rnn", task="adding", seq_len=30, hidden_size=6, batch_size=2),
    dict(cell="lstm", task="tagging", hidden_size=6, batch_size=2, num_layers=2, bidirectional=True),
    dict(cell="rnn", task="adding", seq_len=60, hidden_size=16, batch_size=2, activation="relu",
         init="identity", init_scale=1.5),  # overflows: magenta nodes
])
def test_every_label_contrasts_with_its_node(qtbot, flat):
    tr = run(**flat)
    v = make_view(qtbot, tr)
    seen = set()
    for phase in ("forward", "backward", "full"):
        for t in range(0, tr.seq_len, max(1, tr.seq_len // 5)):
            v.set_cursor(t, phase, 0, 0)
            for n, label in v.label_items.items():
                fill = v.node_items[n].brush().color()
                text = label.brush().color()
                bg, fg = (fill.red(), fill.green(), fill.blue()), (text.red(), text.green(), text.blue())
                seen.add(bg)
                assert contrast_ratio(fg, bg) >= 4.5, (n, phase, t, fg, bg)
    assert len(seen) > 10, "the nodes really were coloured"


def test_contrast_rule():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    for rgb in [(128, 128, 128), (119, 119, 119), (68, 1, 84), (253, 231, 37), (230, 0, 230), (0, 0, 128)]:
        assert contrast_ratio(label_color(rgb), rgb) >= 4.5
    assert label_color((68, 1, 84)) == (255, 255, 255) and label_color((253, 231, 37)) == (0, 0, 0)


def test_weight_labels_never_cover_nodes(qtbot):
    from PySide6.QtWidgets import QGraphicsSimpleTextItem

    for flat in (dict(cell="lstm", task="tagging", hidden_size=4, batch_size=1, num_layers=3, bidirectional=True),
                 dict(cell="rnn", task="melody", seq_len=6, hidden_size=4, batch_size=1)):
        v = make_view(qtbot, run(**flat))
        nodes = [it.sceneBoundingRect() for it in v.node_items.values()]
        texts = [it for it in v.scene.items() if isinstance(it, QGraphicsSimpleTextItem) and it.parentItem() is None
                 and it not in v.caption_items.values()]
        weights = [it for it in texts if it.text() in ("W_xh", "W_hh", "W_hy", "c path", "gates", "ŷ→x")]
        assert len(weights) >= 3
        for it in weights:
            r = it.sceneBoundingRect()
            assert not any(r.intersects(n) for n in nodes), it.text()


def test_presentation_labels_are_24px_at_1920x1080(qtbot):
    from rnnviz.app.lessons import load_lesson
    from rnnviz.qt.app import build_window
    from rnnviz.qt.presentation import apply_presentation

    lesson = load_lesson("vanishing")
    window = build_window(lesson.config, lesson, record=True, warm_up=False)
    qtbot.addWidget(window)
    window.setProperty("rnnviz_screenshot", True)
    window.resize(1920, 1080)
    window.show()
    qtbot.waitExposed(window)
    try:
        g = window.views["graph"]
        normal_h = g.height()
        apply_presentation(window, True)
        window.resize(1920, 1080)
        qtbot.wait(50)
        qtbot.waitUntil(lambda: not g.building, timeout=10_000)  # its columns come a slice a turn
        assert g.height() > 1.3 * normal_h, "the graph becomes the main picture"
        heights = [on_screen(g, lab).height() for lab in g.label_items.values() if lab.isVisible()]
        assert len(heights) >= 10
        assert min(heights) >= 24, f"node labels {min(heights)} px tall on screen"
        assert g.colorbar.height() >= 1.5 * 30  # the legend grows too
    finally:
        apply_presentation(window, False)
        theme.set_scale(1.0)
        window.shutdown()


def test_huge_runs_draw_a_window_that_follows_the_cursor(qtbot):
    tr = run(cell="rnn", task="adding", seq_len=3000, batch_size=1, hidden_size=2)
    v = make_view(qtbot, tr)
    v.set_cursor(2500, "forward", 0, 0)
    a, b = v.window
    assert a <= 2500 <= b and len(v.node_items) < v.graph.number_of_nodes()
    assert "of 3000" in v.window_text
    first, last = v.visible_steps
    assert first <= 2500 <= last
    assert np.isfinite(v.strip.levels).all()


def test_vanishing_gradient_norms_survive_flushed_subnormals(qtbot):
    """float32 squares of a 1e-21 gradient are subnormal; with subnormals flushed (record's
    fast mode) the norm read 0 and the vanishing lesson said "nothing reaches the first step"."""
    tr = run(cell="rnn", task="adding", seq_len=100, batch_size=4, hidden_size=16)
    exact = np.sqrt((np.linalg.norm(tr.grad_hidden.astype(np.float64), axis=3) ** 2).sum(axis=2))
    assert exact[0, 0] < 1e-15, "this run's gradient really vanishes"
    np.testing.assert_allclose(tr.grad_hidden_norm, exact, rtol=1e-4)
    v = make_view(qtbot, tr)
    assert np.isfinite(v.grad_log[0, 0]).all(), "every sample's gradient at step 1 is drawn, none is 0"
