"""Views with many compared runs, legends beside the data, baselines, and no stale captions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import rnnviz  # noqa: E402
from rnnviz.qt.views import VIEW_CLASSES  # noqa: E402
from rnnviz.qt.views.base import DecadeAxis, LegendBar  # noqa: E402

ADD = dict(task="adding", seq_len=30, batch_size=2, hidden_size=6)
LABELS = ["identity init", "ReLU + identity (IRNN)", "LSTM, forget bias 1", "GRU"]


@pytest.fixture(scope="module")
def runs(make_trace):
    main = make_trace(cell="rnn", **ADD)
    others = [make_trace(cell="rnn", init="identity", **ADD),
              make_trace(cell="rnn", activation="relu", init="identity", **ADD),
              make_trace(cell="lstm", forget_bias=1.0, **ADD), make_trace(cell="gru", **ADD)]

    def history(seed, n=40):
        rng = np.random.default_rng(seed)
        return [{"step": i + 1, "loss": 0.2 + np.exp(-i / 10) + 0.01 * rng.random(), "grad_norm": 1 + rng.random(),
                 "clipped": False, "applied": 1.0} for i in range(n)]

    compare = [SimpleNamespace(label=lab, trace=tr, history=history(j + 1)) for j, (lab, tr) in
               enumerate(zip(LABELS, others, strict=True))]
    return main, history(0), compare


def test_gradient_view_holds_four_compared_runs(qtbot, runs):
    main, _, compare = runs
    v = VIEW_CLASSES["gradients"]()
    qtbot.addWidget(v)
    v.set_trace(main)
    v.set_compare_runs(compare)
    assert {key[0] for key in v.compare_curves} == {0, 1, 2, 3}
    for j, run in enumerate(compare):
        np.testing.assert_array_equal(v.compare_curves[(j, "h", 0)].getOriginalDataset()[1] > 0, True)
        assert any(name.startswith(run.label) for name in v.legend.names())
    pens = {v.compare_curves[(j, "h", 0)].opts["pen"].color().name() for j in range(4)}
    assert len(pens) == 4  # one colour per run
    # the legend is a strip under the plot, not an item over the data
    assert isinstance(v.legend, LegendBar) and v.plot.legend is None
    assert isinstance(v.plot.getAxis("left"), DecadeAxis)
    v.set_compare_runs([])
    assert not v.compare_curves and all(":" not in n for n in v.legend.names())


def test_training_view_compares_runs_and_draws_the_baseline(qtbot, runs):
    main, hist, compare = runs
    v = VIEW_CLASSES["training"]()
    qtbot.addWidget(v)
    v.set_trace(main)
    v.set_history(hist, rnnviz.TrainConfig(clip="none"))
    v.set_compare_runs(compare)
    assert [cs.label for cs in v.compare_sets] == LABELS
    for cs, run in zip(v.compare_sets, compare, strict=True):
        np.testing.assert_allclose(cs.loss_curve.getData()[1], [r["loss"] for r in run.history])
    assert v.compare_loss_curve is v.compare_sets[0].loss_curve
    # the adding problem's trivial baseline (always answer 1): 1/6, from the task spec
    assert v.baseline.isVisible() and v.baseline.value() == pytest.approx(1 / 6)
    names = v.legend.names()
    assert any(n.startswith("trivial baseline 0.167") for n in names)
    assert not any("clip" in n for n in names), names  # clipping off: nothing about clipping
    v.set_compare_runs(compare[:1])
    # this run, one compared run, the baseline anchor and the NaN marks: the three extra curves are gone
    assert len(v.compare_sets) == 1 and len(v.loss_plot.listDataItems()) == 4
    v.set_trace(rnnviz.record(*_char_run()))
    assert not v.baseline.isVisible() and not any("baseline" in n for n in v.legend.names())


def _char_run():
    from rnnviz.core.train import build_run

    model, b = build_run(rnnviz.RunConfig().with_overrides(task="char_lm", seq_len=8, batch_size=2, hidden_size=4))
    return model, b.x, b.y


def test_hidden_nan_caption_goes_with_a_finite_run(qtbot, make_trace):
    bad = make_trace(cell="rnn", task="adding", seq_len=300, batch_size=2, hidden_size=16, activation="relu",
                     init="identity", init_scale=1.5)
    b = int(np.flatnonzero(~np.isfinite(bad.hidden[0]).all(axis=(0, 2)))[0])
    v = VIEW_CLASSES["hidden"]()
    qtbot.addWidget(v)
    v.set_trace(bad)
    v.set_cursor(0, "full", 0, b)
    assert "NaN/Inf (magenta) at steps" in v.hover_label.text()
    v.set_trace(make_trace(cell="rnn", task="adding", seq_len=12, batch_size=2, hidden_size=4))
    v.set_cursor(0, "full", 0, 0)
    assert "NaN" not in v.hover_label.text()


def test_predictions_title_follows_the_run(qtbot, make_trace):
    p = VIEW_CLASSES["predictions"]()
    qtbot.addWidget(p)
    p.set_trace(make_trace(cell="gru", task="char_lm", seq_len=8, batch_size=2, hidden_size=8))
    p.set_cursor(3, "full", 0, 0)
    assert "P(next)" in p.plot.titleLabel.text
    p.set_trace(make_trace(cell="rnn", task="adding", seq_len=8, batch_size=2, hidden_size=4))
    p.set_cursor(3, "full", 0, 0)
    assert "P(next)" not in p.plot.titleLabel.text and "target" in p.plot.titleLabel.text


def test_saturation_and_spectrum_legends_sit_outside_the_plots(qtbot, make_trace):
    lstm = make_trace(cell="lstm", **ADD)
    s = VIEW_CLASSES["saturation"]()
    qtbot.addWidget(s)
    s.set_trace(lstm)
    s.set_compare(make_trace(cell="gru", **ADD), "GRU")
    assert len(s.legend.names()) == 4 and all(p.legend is None for p in s.plots.values())
    s.set_compare(None)
    assert [n[:6] for n in s.legend.names()] == ["↑ open", "↓ shut"]  # the thresholds, without compare too
    s.set_trace(make_trace(cell="rnn", **ADD))
    assert not s.legend.names() and s.info.text().strip() == ""
    sp = VIEW_CLASSES["spectrum"]()
    qtbot.addWidget(sp)
    sp.set_trace(lstm)
    assert len(sp.eig_legend.names()) == 4 and sp.eig_plot.legend is None
