"""The window and the exported pictures agree: one panel registry, one panel model.

Every panel is drawn for the same trace by the real Qt views and by the real export frames;
both must show the same gates with the same colour levels, count saturation by the same
thresholds, build the same graph, and use the registry's names and titles.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from rnnviz.app import panel_model  # noqa: E402
from rnnviz.app.colormaps import DIVERGING, SEQUENTIAL, colormap  # noqa: E402
from rnnviz.app.lessons import PANELS as LESSON_PANELS  # noqa: E402
from rnnviz.app.panels import PANELS, default_panels, get_panel, resolve  # noqa: E402
from rnnviz.export import frames  # noqa: E402
from rnnviz.qt.main_window import TAB_ORDER  # noqa: E402
from rnnviz.qt.views import VIEW_CLASSES, make_views  # noqa: E402

CASES = {
    "rnn": dict(cell="rnn", task="adding", seq_len=10, batch_size=3, hidden_size=6),
    "lstm": dict(cell="lstm", task="adding", seq_len=10, batch_size=3, hidden_size=5),
    "gru": dict(cell="gru", task="char_lm", seq_len=12, batch_size=2, hidden_size=7),
    "deep": dict(cell="lstm", task="adding", seq_len=8, batch_size=2, hidden_size=4, num_layers=2,
                 bidirectional=True),
    "exploding": dict(cell="rnn", task="adding", seq_len=60, batch_size=2, hidden_size=16, activation="relu",
                      init="identity", init_scale=1.5),
    "reverse": dict(cell="gru", task="reverse", seq_len=8, batch_size=2, hidden_size=5),
}


@pytest.fixture(scope="module")
def traces(make_trace):
    out = {name: make_trace(**cfg) for name, cfg in CASES.items()}
    assert out["exploding"].nonfinite, "this configuration is expected to overflow"
    return out


def test_one_vocabulary():
    names = list(PANELS)
    assert list(VIEW_CLASSES) == names  # every panel has a view, in the registry's order
    assert LESSON_PANELS is PANELS
    assert list(TAB_ORDER) == [n for n in names if n != "graph"]
    assert list(frames.PANELS) == [n for n in names if n in frames.FRAMES]
    for name, cls in VIEW_CLASSES.items():
        assert cls.title == get_panel(name).title
    assert resolve("loss") == "training" and resolve("outputs") == "predictions"
    with pytest.raises(ValueError, match="unknown panel 'nope'; valid panels: graph, hidden"):
        resolve("nope")


def test_default_export_panels_follow_the_cell(traces):
    assert default_panels(traces["rnn"].config) == ["hidden", "gradients", "graph"]
    assert default_panels(traces["lstm"].config) == ["hidden", "gates", "gradients", "graph"]
    scene = frames.figure_scene(traces["rnn"], frames.DEFAULT_PANELS, (960, 540))
    assert set(scene.info) == {"hidden", "graph"}  # no gates placeholder for a SimpleRNN
    with pytest.raises(ValueError, match="unknown panel 'bogus'"):
        frames.parse_panels("hidden,bogus")


def _views_for(qtbot, trace, k, b):
    views = make_views()
    for v in views.values():
        qtbot.addWidget(v)
        v.resize(700, 450)
        v.set_trace(trace)
        v.set_cursor(trace.seq_len // 2, "full", k, b)
    return views


@pytest.mark.parametrize("case", list(CASES))
def test_window_and_export_agree(qtbot, traces, case):
    tr = traces[case]
    k, b = tr.hidden.shape[0] - 1, tr.batch_size - 1
    views = _views_for(qtbot, tr, k, b)
    scene = frames.figure_scene(tr, "all", (1800, 1100), frames.FrameSpec(k=k, sample=b))
    info = scene.info

    # hidden (and cell) state: the same levels and the same log rule
    hv = views["hidden"]
    assert hv.levels == pytest.approx(info["hidden"]["levels"])
    assert hv.symlog == info["hidden"]["log"] == (case == "exploding")
    lv = panel_model.state_levels(tr.hidden)
    np.testing.assert_allclose(hv.panel.levels, lv.shown, rtol=1e-6)
    if tr.cell is not None:
        assert views["cell"].levels == pytest.approx(info["cell"]["levels"])
    else:
        assert "cell" not in info and not views["cell"].message.isHidden()

    # gates: every gate (candidates included), in the same order, on the same levels
    gates = [g.key for g in panel_model.trace_gates(tr)]
    assert gates == list(tr.gates)
    if gates:
        gv = views["gates"]
        assert list(gv.gate_panels) == info["gates"]["gates"] == gates
        for g, panel in gv.gate_panels.items():
            assert tuple(panel.levels) == pytest.approx(info["gates"]["levels"][g])
        cands = [g for g in gates if panel_model.gate_levels(tr.cell_type, g).lo < 0]
        assert cands == ([] if not gates else (["g"] if tr.cell_type == "lstm" else ["n"]))
    else:
        assert "gates" not in info and not views["gates"].message.isHidden()

    # saturation: the same thresholds and therefore the same fractions
    if gates:
        sv = views["saturation"]
        assert info["saturation"]["thresholds"] == (panel_model.SAT_LOW, panel_model.SAT_HIGH)
        assert info["saturation"]["gates"] == list(sv.fractions)
        for g, (low, high) in info["saturation"]["fractions"].items():
            np.testing.assert_array_equal(sv.fractions[g][0][k, b], low)
            np.testing.assert_array_equal(sv.fractions[g][1][k, b], high)
            np.testing.assert_array_equal(sv.bars[g][1].opts["height"], high)
        legend = " ".join(sv.legend.names())
        assert f"> {panel_model.SAT_HIGH:g}" in legend and f"< {panel_model.SAT_LOW:g}" in legend

    # the graph: one function builds it for both
    from rnnviz.export.frames_graph import GRAPH_MAX_STEPS

    G = views["graph"].graph
    assert G.nodes == panel_model.graph_for_trace(tr).nodes
    # a still picture shows a window of steps (at most GRAPH_MAX_STEPS, fewer where labels would
    # not fit) of the same graph, with the total loss when the window holds a loss
    first, steps = info["graph"]["first"], info["graph"]["steps"]
    assert steps <= GRAPH_MAX_STEPS
    window = {n for n, t in G.nodes(data="t") if t is not None and first <= t < first + steps}
    if any(n[0] == "L" for n in window):
        window.add(("L",))
    assert info["graph"]["nodes"] == len(window)
    assert info["graph"]["edges"] == sum(1 for u, v in G.edges if u in window and v in window)
    if case == "reverse":  # the encoder-decoder split comes from the trace
        assert tr.meta["enc_len"] == 4 and sum(1 for n in G.nodes if n[0] == "x") == 4


def test_exported_pixels_use_the_model_levels(traces):
    """The heatmap image in the exported scene is the data through the model's levels."""
    tr = traces["lstm"]
    scene = frames.figure_scene(tr, ["hidden"], (640, 400))
    img = next(op for op in scene.ops if op[0] == "image")[5]
    lv = panel_model.state_levels(tr.hidden)
    want = frames.apply_colormap(tr.hidden[0, :, 0, :].T, lv.lo, lv.hi, DIVERGING)[::-1]  # unit 0 at the bottom
    np.testing.assert_array_equal(img, want)
    # gates: the candidate band is diverging on −1..1, the σ bands sequential on 0..1
    scene = frames.figure_scene(tr, ["gates"], (640, 600))
    img = next(op for op in scene.ops if op[0] == "image")[5]
    H = tr.hidden_size
    g_band = img[2 * H:3 * H][::-1]
    np.testing.assert_array_equal(g_band, frames.apply_colormap(tr.gates["g"][0, :, 0, :].T, -1, 1, DIVERGING))
    f_band = img[H:2 * H][::-1]
    np.testing.assert_array_equal(f_band, frames.apply_colormap(tr.gates["f"][0, :, 0, :].T, 0, 1, SEQUENTIAL))


def test_the_window_paints_with_the_exporters_colour_maps(qtbot, traces):
    """One table per map: the window's diverging and sequential maps are the exporters' tables,
    and a gate heatmap takes the map the panel model gives it."""
    from rnnviz.qt import theme

    for qt_map, name in ((theme.diverging(), DIVERGING), (theme.sequential(), SEQUENTIAL)):
        np.testing.assert_array_equal(qt_map.getLookupTable(0.0, 1.0, 256, alpha=False), colormap(name))
    gv = make_views()["gates"]
    qtbot.addWidget(gv)
    gv.set_trace(traces["lstm"])
    gv.set_cursor(3, "full", 0, 0)
    for g, panel in gv.gate_panels.items():
        got = panel.image.getColorMap().getLookupTable(0.0, 1.0, 256, alpha=False)
        np.testing.assert_array_equal(got, colormap(DIVERGING if g == "g" else SEQUENTIAL))


@pytest.mark.parametrize("mode", ["forward", "backward"])
@pytest.mark.parametrize("case", ["lstm", "deep", "exploding"])
def test_graph_states_take_the_same_colours(qtbot, traces, case, mode):
    """The unrolled graph colours each state by one rule in the window and in exports: mean hₜ
    (cₜ) of the sample on the diverging map in the forward pass, log10 ‖∂L/∂hₜ‖ of the sample on
    the sequential map in BPTT, NaN/Inf magenta."""
    tr = traces[case]
    k, b, t = tr.hidden.shape[0] - 1, tr.batch_size - 1, tr.seq_len // 2
    view = make_views()["graph"]
    qtbot.addWidget(view)
    view.resize(900, 400)
    view.set_trace(tr)
    view.set_cursor(t, mode, k, b)
    qtbot.waitUntil(lambda: len(view.node_items) == view.graph.number_of_nodes(), timeout=10000)
    view.set_cursor(t, mode, k, b)
    info = frames.figure_scene(tr, ["graph"], (1400, 500), frames.FrameSpec(k=k, sample=b, t=t, mode=mode)).info
    shown = [n for n, fill in info["graph"]["fills"].items()
             if n[0] in ("h", "c") and (n[-1] <= t if mode == "forward" else n[-1] >= t)]
    assert len(shown) >= 4
    for n in shown:
        got = view.node_items[n].brush().color().getRgb()[:3]
        assert got == info["graph"]["fills"][n], n
    if case != "exploding":  # there the overflowing steps set the scale: the rest is near white
        assert len({info["graph"]["fills"][n] for n in shown}) > 2  # coloured by the numbers, not one grey


def test_nonfinite_cells_are_magenta_in_both(make_trace, qtbot):
    tr = make_trace(**{**CASES["exploding"], "seq_len": 300})  # long enough for h_t itself to overflow
    b = int(np.flatnonzero(~np.isfinite(tr.hidden[0]).all(axis=(0, 2)))[0])  # a sample that overflowed
    scene = frames.figure_scene(tr, ["hidden"], (800, 500), frames.FrameSpec(sample=b))
    img = next(op for op in scene.ops if op[0] == "image")[5]
    bad = ~np.isfinite(tr.hidden[0, :, b, :].T)[::-1]
    assert bad.any()
    assert (img[bad] == panel_model.NONFINITE_RGB).all()
    assert "NaN/Inf" in panel_model.nonfinite_summary(tr)
    v = make_views()["hidden"]
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.set_cursor(0, "full", 0, b)
    assert v.hover_label.text().startswith("NaN/Inf (magenta) at steps")
