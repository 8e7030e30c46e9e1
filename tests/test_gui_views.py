"""The Qt views (rnnviz.qt.views) on real traces, real widgets, offscreen."""

from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import rnnviz  # noqa: E402
from rnnviz.qt import theme  # noqa: E402
from rnnviz.qt.views import VIEW_CLASSES, make_views  # noqa: E402
from rnnviz.qt.views.gradients import LOG_FLOOR, log_ready  # noqa: E402

KEYS = ["graph", "hidden", "cell", "gates", "saturation", "gradients", "training", "spectrum",
        "predictions", "equations", "dynamics"]


@pytest.fixture(scope="module")
def traces(make_trace):
    return {
        "rnn": make_trace(cell="rnn", task="adding", seq_len=12, batch_size=3, hidden_size=6),
        "lstm": make_trace(cell="lstm", task="adding", seq_len=10, batch_size=3, hidden_size=5),
        "gru": make_trace(cell="gru", task="char_lm", seq_len=14, batch_size=2, hidden_size=8),
        "deep": make_trace(cell="lstm", task="adding", seq_len=8, batch_size=2, hidden_size=4,
                           num_layers=2, bidirectional=True),
    }


@pytest.fixture(scope="module")
def exploding(make_trace):
    # W_hh = 3·I over 120 steps: the states themselves overflow (at 1.5·I over 60 steps only the
    # float32 squares of the gradient norms did, before they were summed in float64)
    tr = make_trace(cell="rnn", task="adding", seq_len=120, batch_size=2, hidden_size=16,
                    activation="relu", init="identity", init_scale=3.0)
    assert tr.nonfinite and not np.isfinite(tr.hidden).all(), "this configuration is expected to overflow"
    return tr


def test_make_views_keys_and_contract(qtbot):
    views = make_views()
    assert list(views) == KEYS
    for key, v in views.items():
        qtbot.addWidget(v)
        assert isinstance(v, VIEW_CLASSES[key])
        assert isinstance(v.title, str) and v.title
        assert hasattr(v, "time_clicked") and hasattr(v, "node_clicked")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru", "deep"])
def test_every_view_takes_trace_cursor_compare(qtbot, traces, cell):
    tr = traces[cell]
    other = traces["rnn"] if cell != "rnn" else traces["lstm"]
    for key, v in make_views().items():
        qtbot.addWidget(v)
        v.resize(500, 350)
        v.set_trace(tr)
        for phase in ("forward", "backward", "full"):
            v.set_cursor(tr.seq_len // 2, phase, tr.hidden.shape[0] - 1, tr.batch_size - 1)
            assert v.current_time == tr.seq_len // 2
        v.set_cursor(10_000, "full", 99, 99)  # clamped, no error
        assert v.current_time == tr.seq_len - 1
        v.set_compare(other, "other run")
        v.set_cursor(0, "forward", 0, 0)
        v.set_compare(None)
        v.set_history([{"step": 0, "loss": 1.0, "grad_norm": 2.0, "clipped": False, "applied": 2.0}])
        v.set_trace(None)
        v.set_cursor(3, "full", 0, 0)  # nothing shown: still no error


def test_bad_phase_is_a_clear_error(qtbot, traces):
    v = VIEW_CLASSES["hidden"]()
    qtbot.addWidget(v)
    v.set_trace(traces["rnn"])
    with pytest.raises(ValueError, match="phase must be one of"):
        v.set_cursor(0, "sideways", 0, 0)


def test_hidden_heatmap_numbers_cursor_dim_hover(qtbot, traces):
    tr = traces["lstm"]
    v = VIEW_CLASSES["hidden"]()
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.set_cursor(4, "forward", 0, 2)
    np.testing.assert_array_equal(v.panel.data, tr.hidden[0, :, 2, :].T)
    np.testing.assert_array_equal(v.panel.image.image, tr.hidden[0, :, 2, :].T)
    assert v.panel.cursor.value() == 4
    assert v.panel.dim.dimmed == (False, True)  # the future is dimmed in the forward pass
    v.set_cursor(7, "full", 0, 1)
    assert v.panel.cursor.value() == 7
    assert v.panel.dim.dimmed == (False, False)
    np.testing.assert_array_equal(v.panel.data, tr.hidden[0, :, 1, :].T)
    text = v.hover_at(v.panel, 3.2, 1.9)
    assert text == f"unit 2, step 4, value {tr.hidden[0, 3, 1, 2]:.4g}"
    lo, hi = v.levels
    assert lo == -hi and hi == pytest.approx(np.abs(tr.hidden).max())
    # tokens as tick labels (T <= 60)
    ticks = v.panel.plot.getAxis("bottom")._tickLevels
    assert ticks is not None and ticks[0][0][1] == tr.meta["tokens"][0]


def test_hidden_compare_shares_levels(qtbot, traces):
    a, b = traces["lstm"], traces["gru"]
    v = VIEW_CLASSES["hidden"]()
    qtbot.addWidget(v)
    v.set_trace(a)
    v.set_compare(b, "GRU")
    assert v.compare_panel.plot.isVisible() or not v.isVisible()
    np.testing.assert_array_equal(v.compare_panel.data, b.hidden[0, :, 0, :].T)
    assert v.compare_panel.levels == v.panel.levels
    m = max(np.abs(a.hidden).max(), np.abs(b.hidden).max())
    assert v.levels[1] == pytest.approx(m)


def test_cell_view_message_and_data(qtbot, traces):
    v = VIEW_CLASSES["cell"]()
    qtbot.addWidget(v)
    v.set_trace(traces["rnn"])
    assert "only the lstm has a cell state" in v.message.text().lower()
    v.set_trace(traces["lstm"])
    assert v.message.isHidden()
    np.testing.assert_array_equal(v.panel.data, traces["lstm"].cell[0, :, 0, :].T)


def test_gates_and_saturation(qtbot, traces):
    g = VIEW_CLASSES["gates"]()
    s = VIEW_CLASSES["saturation"]()
    qtbot.addWidget(g)
    qtbot.addWidget(s)
    g.set_trace(traces["rnn"])
    assert "no gates" in g.message.text()
    tr = traces["lstm"]
    g.set_trace(tr)
    s.set_trace(tr)
    assert list(g.gate_panels) == ["i", "f", "g", "o"]
    assert "Γ_f" in g.gate_panels["f"].title and "forget" in g.gate_panels["f"].title
    g.set_cursor(2, "full", 0, 1)
    np.testing.assert_array_equal(g.gate_panels["f"].data, tr.gates["f"][0, :, 1, :].T)
    low, high = s.fractions["f"]
    np.testing.assert_allclose(high, (tr.gates["f"] > 0.9).mean(axis=1))
    np.testing.assert_allclose(low, (tr.gates["f"] < 0.1).mean(axis=1))
    low_g, high_g = s.fractions["g"]
    np.testing.assert_allclose(high_g, (np.abs(tr.gates["g"]) > 0.9).mean(axis=1))
    g.set_trace(traces["gru"])
    assert list(g.gate_panels) == ["r", "z", "n"]
    assert "relevance" in g.gate_panels["r"].title


def test_gradient_curves_equal_trace(qtbot, traces):
    tr = traces["lstm"]
    v = VIEW_CLASSES["gradients"]()
    qtbot.addWidget(v)
    v.set_trace(tr)
    np.testing.assert_array_equal(v.series[("h", 0)], tr.grad_hidden_norm[0])
    np.testing.assert_array_equal(v.series[("c", 0)], tr.grad_cell_norm[0])
    x, y = v.curves[("h", 0)].getOriginalDataset()
    np.testing.assert_allclose(y, log_ready(tr.grad_hidden_norm[0], v.floor))
    v.set_cursor(6, "backward", 0, 0)
    assert v.cursor.value() == 6
    assert v.dim.dimmed == (True, False)  # steps BPTT has not reached yet
    v.set_compare(traces["rnn"], "plain")
    assert (0, "h", 0) in v.compare_curves
    deep = traces["deep"]
    v.set_trace(deep)
    assert len([k for k in v.curves if k[0] == "h"]) == deep.hidden.shape[0]


def test_gradient_zero_and_nonfinite(qtbot, exploding):
    v = VIEW_CLASSES["gradients"]()
    qtbot.addWidget(v)
    v.set_trace(exploding)
    assert v.bad_regions, "NaN/Inf steps are shaded"
    assert "NaN/Inf" in v.info.text()
    y = log_ready(np.array([0.0, 1.0, np.inf, np.nan]), 1e-12)
    assert y[0] == 1e-12 and y[1] == 1.0 and np.isnan(y[2]) and np.isnan(y[3])
    v.series[("h", 0)] = np.array([0.0] * exploding.seq_len)
    assert "= 0" in v.value_text(0)
    assert LOG_FLOOR > 0


def test_views_handle_nan_trace(qtbot, exploding, make_trace):
    for key, v in make_views().items():
        qtbot.addWidget(v)
        v.set_trace(exploding)
        for phase in ("forward", "backward", "full"):
            v.set_cursor(exploding.seq_len - 1, phase, 0, 0)
    g = VIEW_CLASSES["graph"]()
    qtbot.addWidget(g)
    g.set_trace(exploding)
    qtbot.waitUntil(lambda: not g.building)  # the drawn steps are built a slice per event-loop turn
    g.set_cursor(0, "backward", 0, 0)
    bad = [n for n, it in g.node_items.items() if it.brush().color() == theme.NONFINITE]
    assert bad and g.n_bad == len(bad) and "NaN/Inf" in g.info.text()
    # gradients huge but finite (~1e19; their norms summed in float64 too): no magenta node
    huge = make_trace(cell="rnn", task="adding", seq_len=60, batch_size=2, hidden_size=16,
                      activation="relu", init="identity", init_scale=1.5)
    assert np.isfinite(huge.grad_hidden).all() and huge.grad_hidden_norm.max() > 1e15
    g.set_trace(huge)
    qtbot.waitUntil(lambda: not g.building)
    g.set_cursor(0, "backward", 0, 0)
    assert g.n_bad == 0 and "NaN/Inf" not in g.info.text()


def test_graph_nodes_colours_and_clicks(qtbot, traces):
    tr = traces["lstm"]
    v = VIEW_CLASSES["graph"]()
    qtbot.addWidget(v)
    v.resize(900, 500)
    v.show()
    v.set_trace(tr)
    qtbot.waitUntil(lambda: not v.building)  # the drawn steps are built a slice per event-loop turn
    assert set(v.node_items) == set(v.graph.nodes)
    assert len(v.edge_items) == v.graph.number_of_edges()
    assert "W_hh" in {d["weight_name"] for *_, d in v.graph.edges(data=True)}
    # backward: colour of h nodes follows the log gradient norm
    v.set_cursor(0, "backward", 0, 0)
    gl = v.grad_log[0, :, 0]
    order = np.argsort(gl)
    lo_node, hi_node = ("h", 0, 0, int(order[0])), ("h", 0, 0, int(order[-1]))
    assert v.node_items[lo_node].brush().color() != v.node_items[hi_node].brush().color()
    before = {n: it.brush().color().name() for n, it in v.node_items.items()}
    v.set_cursor(tr.seq_len - 1, "forward", 0, 0)
    after = {n: it.brush().color().name() for n, it in v.node_items.items()}
    assert before != after
    # clicking a node emits (t, k) and t
    got = []
    v.node_clicked.connect(lambda t, k: got.append(("node", t, k)))
    v.time_clicked.connect(lambda t: got.append(("time", t)))
    v.click_node(("h", 0, 0, 3))
    assert got == [("node", 3, 0), ("time", 3)]
    item = v.node_items[("x", 5)]
    pos = v.canvas.mapFromScene(item.sceneBoundingRect().center())
    from PySide6.QtCore import Qt
    with qtbot.waitSignal(v.time_clicked) as blocker:
        qtbot.mouseClick(v.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert blocker.args == [5]
    # deep bidirectional: k = layer * D + direction
    deep = traces["deep"]
    v.set_trace(deep)
    with qtbot.waitSignal(v.node_clicked) as blocker:
        v.click_node(("h", 1, 1, 2))
    assert blocker.args == [2, 3]


def test_heatmap_click_emits_time(qtbot, traces):
    v = VIEW_CLASSES["hidden"]()
    qtbot.addWidget(v)
    v.set_trace(traces["rnn"])
    with qtbot.waitSignal(v.time_clicked) as blocker:
        v.click_x(4.4)
    assert blocker.args == [4]


def test_training_curves_grow(qtbot):
    v = VIEW_CLASSES["training"]()
    qtbot.addWidget(v)
    cfg = rnnviz.TrainConfig(clip="norm", clip_norm=1.0)
    rows = [{"step": i, "loss": 1.0 / (i + 1), "grad_norm": 0.5 + i % 3, "clipped": i % 3 > 0,
             "applied": min(0.5 + i % 3, 1.0), "elapsed": 0.0} for i in range(50)]
    v.set_history(rows[:10], cfg)
    assert len(v.loss_curve.getOriginalDataset()[0]) == 10
    curve_id = id(v.loss_curve)
    v.set_history(rows[:30], cfg)
    x, y = v.loss_curve.getOriginalDataset()
    assert len(x) == 30 and id(v.loss_curve) == curve_id
    np.testing.assert_allclose(y, [r["loss"] for r in rows[:30]])
    np.testing.assert_allclose(v.grad_curve.getOriginalDataset()[1], [r["grad_norm"] for r in rows[:30]])
    assert v.threshold.isVisible() or v.threshold.value() == 0.0
    assert v.threshold.value() == pytest.approx(0.0)  # log10(1.0)
    assert len(v.clipped_points.data) == sum(r["clipped"] for r in rows[:30])
    v.set_history(rows[:5], rnnviz.TrainConfig(clip="none"))  # a new run: starts over
    assert len(v.loss_curve.getOriginalDataset()[0]) == 5
    assert not v.threshold.isVisible()
    v.set_compare_history(rows[:20], "no clipping")
    assert len(v.compare_loss_curve.getOriginalDataset()[0]) == 20


def test_predictions_and_equations(qtbot, traces):
    lm = traces["gru"]
    p = VIEW_CLASSES["predictions"]()
    qtbot.addWidget(p)
    p.set_trace(lm)
    p.set_cursor(3, "full", 0, 1)
    z = lm.outputs[3, 1].astype(np.float64)
    probs = np.exp(z - z.max())
    probs /= probs.sum()
    assert p.mode == "classes"
    np.testing.assert_allclose(p.top_probs[0], probs.max(), rtol=1e-5)
    assert int(lm.targets[3, 1]) in p.top_indices and p.target_index == int(lm.targets[3, 1])
    p.set_sampled_text("hello world")
    assert p.text_box.toPlainText() == "hello world" and p.text_box.isReadOnly()
    p.set_trace(traces["lstm"])
    assert p.mode == "series"
    np.testing.assert_allclose(p.output_curve.getOriginalDataset()[1], traces["lstm"].outputs[:, p.current_b, 0])
    e = VIEW_CLASSES["equations"]()
    qtbot.addWidget(e)
    e.set_trace(traces["lstm"])
    e.set_cursor(2, "full", 0, 1)
    # the equations are typeset pictures (tests/test_equations_view.py); their text is e.lines,
    # the mapping to PyTorch is rich text
    assert any(line.startswith("Γ_f") for line in e.lines) and "Γ<sub>f</sub>" in e.html and "tanh" in e.lines[2]
    assert e.numbers["h_norm"] == pytest.approx(np.linalg.norm(traces["lstm"].hidden[0, 2, 1]))
    e.set_trace(traces["gru"])
    assert "Γ<sub>r</sub>" in e.html and "Γ<sub>u</sub>" in e.html
    e.set_trace(traces["rnn"])
    assert any("W_hh h_{t−1}" in line for line in e.lines)


def test_spectrum(qtbot, traces):
    tr = traces["lstm"]
    v = VIEW_CLASSES["spectrum"]()
    qtbot.addWidget(v)
    v.set_trace(tr)
    assert len(v.sv_bars) == tr.whh_singular.shape[1] == 4
    assert v.radius == pytest.approx(np.abs(tr.whh_eigvals[0]).max())


def test_theme_hooks_restyle(qtbot, traces):
    views = make_views()
    for v in views.values():
        qtbot.addWidget(v)
        v.set_trace(traces["lstm"])
    try:
        theme.set_scale(1.5)
        theme.high_contrast(True)
        assert theme.font_px(10) == 15 and theme.line_width(2) > 3
    finally:
        theme.set_scale(1.0)
        theme.high_contrast(False)
    with pytest.raises(ValueError, match="scale factor"):
        theme.set_scale(0)


def test_scrub_timing_measurement(qtbot, make_trace):
    """Prints the median time of set_cursor on every view (H=256, T=1000); no timing assert."""
    tr = make_trace(cell="lstm", task="adding", seq_len=1000, batch_size=2, hidden_size=256)
    views = make_views()
    for v in views.values():
        qtbot.addWidget(v)
        v.resize(700, 450)
        v.show()
        v.set_trace(tr)
    from PySide6.QtWidgets import QApplication
    app = QApplication.instance()
    times = []
    steps = [("forward", t) for t in range(300, 340)] + [("backward", t) for t in range(700, 660, -1)]
    for phase, t in steps:  # scrubbing: one step at a time, forward then back
        t0 = time.perf_counter()
        for v in views.values():
            v.set_cursor(t, phase, 0, 0)
        app.processEvents()
        times.append(time.perf_counter() - t0)
    med = 1000 * float(np.median(times))
    print(f"\nscrub (set_cursor on all {len(views)} views + processEvents), H=256 T=1000: "
          f"median {med:.1f} ms, max {1000 * max(times):.1f} ms")


def test_view_gallery_smoke(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "view_gallery.py"
    spec = importlib.util.spec_from_file_location("view_gallery", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    saved = mod.render(tmp_path, size=(500, 320), runs=["rnn_exploding"])
    assert len(saved) == len(KEYS)
    assert all(p.exists() and p.stat().st_size > 2000 for p in saved)


def test_gates_and_saturation_compare_runs(qtbot, traces, make_trace):
    lstm = make_trace(cell="lstm", task="adding", seq_len=10, batch_size=3, hidden_size=5, forget_bias=1.0)
    main = traces["lstm"]
    g = VIEW_CLASSES["gates"]()
    qtbot.addWidget(g)
    g.set_trace(main)
    g.set_compare(lstm, "forget bias 1")
    g.set_cursor(3, "full", 0, 2)
    assert g.pair == ("f", "f") and g.selector.isVisibleTo(g)
    np.testing.assert_array_equal(g.gate_panels["f"].data, main.gates["f"][0, :, 2, :].T)
    np.testing.assert_array_equal(g.compare_panel.data, lstm.gates["f"][0, :, 2, :].T)
    assert g.compare_panel.levels == g.gate_panels["f"].levels == (0.0, 1.0)
    assert "forget bias 1" in g.compare_panel.title and "Γ_f" in g.compare_panel.title
    g.select_pair("o")
    np.testing.assert_array_equal(g.compare_panel.data, lstm.gates["o"][0, :, 2, :].T)
    # GRU vs LSTM: the compared run's own gates, labelled; the keep gates (z, f) paired first
    gru = traces["gru"]
    lstm_lm = make_trace(cell="lstm", task="char_lm", seq_len=14, batch_size=2, hidden_size=8)
    g.set_trace(gru)
    g.set_compare(lstm_lm, "LSTM")
    assert g.pair == ("z", "f")
    np.testing.assert_array_equal(g.compare_panel.data, lstm_lm.gates["f"][0, :, g.current_b, :].T)
    assert "LSTM" in g.compare_panel.title and "forget" in g.compare_panel.title
    assert [g.compare_box.itemData(i) for i in range(g.compare_box.count())] == ["i", "f", "g", "o"]
    with pytest.raises(ValueError, match="no gate"):
        g.select_pair("z", "r")
    g.set_compare(None)
    assert list(g.gate_panels) == ["r", "z", "n"] and g.compare_panel is None and not g.selector.isVisibleTo(g)

    s = VIEW_CLASSES["saturation"]()
    qtbot.addWidget(s)
    s.set_trace(gru)
    s.set_compare(lstm_lm, "LSTM")
    s.set_cursor(0, "full", 0, 1)
    assert s.compare_of == {"z": "f", "n": "g", "compare:i": "i", "compare:o": "o"}
    low, high = s.compare_fractions["f"]
    np.testing.assert_allclose(high, (lstm_lm.gates["f"] > 0.9).mean(axis=1))
    np.testing.assert_allclose(s.compare_bars["z"][1].opts["height"], high[0, 1])
    np.testing.assert_allclose(s.compare_bars["z"][0].opts["height"], -low[0, 1])
    labels = s.legend.names()
    assert any("LSTM" in t for t in labels) and len(labels) == 4
    s.set_compare(None)
    assert not s.compare_bars and list(s.plots) == ["r", "z", "n"]


def test_training_loss_log_axis_and_nonfinite(qtbot):
    v = VIEW_CLASSES["training"]()
    qtbot.addWidget(v)
    cfg = rnnviz.TrainConfig(clip="norm", clip_norm=1.0)
    rows = [{"step": i, "loss": 0.5 - 0.001 * i, "grad_norm": 2.0, "clipped": True, "applied": 1.0}
            for i in range(20)]
    v.set_history(rows, cfg)
    assert not v.loss_log  # 0.48..0.5: linear
    labels = v.legend.names()
    assert labels.count("clipped step") == 1 and "‖∇‖ after clipping" in labels
    rows += [{"step": 20, "loss": 6.9e36, "grad_norm": float("inf"), "clipped": True, "applied": 1.0},
             {"step": 21, "loss": float("inf"), "grad_norm": float("nan"), "clipped": True, "applied": 1.0},
             {"step": 22, "loss": float("nan"), "grad_norm": float("nan"), "clipped": True, "applied": 1.0}]
    v.set_history(rows, cfg)
    assert v.loss_log and v.loss_plot.getAxis("left").logMode
    x, y = v.loss_curve.getOriginalDataset()
    assert np.isfinite(y).all() and len(y) == 21 and y.max() == pytest.approx(6.9e36)
    np.testing.assert_array_equal(np.sort(v.bad_points.data["x"]), [21, 22])
    assert "NaN/Inf at 2 steps" in v.info.text()
    assert v.legend.names().count("loss NaN / Inf") == 1
    v.set_history(rows[:10], rnnviz.TrainConfig())  # a new, tame run: linear again, no marks
    assert not v.loss_log and len(v.bad_points.data) == 0
    # clipping off: nothing about clipping is drawn or listed (the rows still say "clipped")
    assert not any("clip" in name for name in v.legend.names()), v.legend.names()
    x = v.applied_curve.getData()[0]
    assert len(v.clipped_points.data) == 0 and (x is None or len(x) == 0)


def test_predictions_classifier_labels(qtbot, make_trace):
    tr = make_trace(cell="rnn", task="agreement", seq_len=12, batch_size=4, hidden_size=8)
    assert tr.meta["classes"] == ["was", "were"]  # the task's class names travel in the trace
    p = VIEW_CLASSES["predictions"]()
    qtbot.addWidget(p)
    p.set_trace(tr)
    p.set_cursor(tr.seq_len - 1, "full", 0, 1)
    assert p.mode == "classes"
    assert p.plot.getAxis("left").labelText == "P(class)" and p.plot.getAxis("bottom").labelText == "class"
    assert "P(class)" in p.plot.titleLabel.text and "P(next)" not in p.plot.titleLabel.text
    assert set(p.labels) == {"was", "were"}
    lm = make_trace(cell="gru", task="char_lm", seq_len=8, batch_size=2, hidden_size=8)
    p.set_trace(lm)
    assert p.plot.getAxis("left").labelText == "P(next)"


def test_predictions_trajectory_extrapolation(qtbot, make_trace):
    tr = make_trace(cell="gru", task="trajectory", seq_len=12, batch_size=3, hidden_size=8)
    p = VIEW_CLASSES["predictions"]()
    qtbot.addWidget(p)
    p.set_trace(tr)
    p.set_cursor(4, "full", 0, 1)
    assert p.mode == "series" and p.xy_pw.isVisibleTo(p)
    np.testing.assert_allclose(p.xy_now.data["x"], [tr.targets[4, 1, 0]])
    x, y = p.xy_target_curve.getOriginalDataset()
    np.testing.assert_allclose(x, tr.targets[:, 1, 0])
    np.testing.assert_allclose(y, tr.targets[:, 1, 1])
    np.testing.assert_allclose(p.xy_output_curve.getOriginalDataset()[1], tr.outputs[:, 1, 1])
    rng = np.random.default_rng(0)
    pred, true = rng.random((4, 3, 2)), rng.random((4, 3, 2))
    p.set_extrapolation(true, pred, start=7)
    x, y = p.xy_extrap_curve.getOriginalDataset()
    np.testing.assert_allclose(x, pred[:, 1, 0])
    np.testing.assert_allclose(y, pred[:, 1, 1])
    t, v = p.extrap_curve.getOriginalDataset()
    np.testing.assert_allclose(t, [7, 8, 9, 10])
    np.testing.assert_allclose(v, pred[:, 1, 0])
    p.set_cursor(4, "full", 0, 2)  # another sample: its extrapolation
    np.testing.assert_allclose(p.xy_extrap_curve.getOriginalDataset()[1], pred[:, 2, 1])
    p.set_extrapolation(true[:, 0], pred[:, 0])  # one sample (n, 2): the last n steps
    np.testing.assert_allclose(p.extrap_curve.getOriginalDataset()[0], [8, 9, 10, 11])
    with pytest.raises(ValueError, match="equal shape"):
        p.set_extrapolation(true[:2], pred)
    p.set_extrapolation(None, None)
    assert p.xy_extrap_curve.getOriginalDataset()[0] is None or len(p.xy_extrap_curve.getOriginalDataset()[0]) == 0
    p.set_trace(traces_adding := make_trace(cell="rnn", task="adding", seq_len=6, batch_size=2, hidden_size=4))
    assert p.mode == "series" and not p.xy_pw.isVisibleTo(p) and traces_adding is p.trace
