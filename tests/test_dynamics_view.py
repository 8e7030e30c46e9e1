"""The Dynamics panel: a real DynamicsView on real traces (pytest-qt), fixed points from a real
model, and the lesson that opens on it."""

import numpy as np
import torch

import rnnviz
from rnnviz.core.tasks import flip_flop
from rnnviz.dynamics.portrait import portrait
from rnnviz.qt.views import VIEW_CLASSES
from rnnviz.qt.views.dynamics import DynamicsView, analyse_trace


def _run(cell="gru", H=8, T=30, B=4, seed=0):
    model = rnnviz.build_model(rnnviz.ModelConfig(cell=cell, input_size=3, hidden_size=H, output_size=3, seed=seed))
    b = flip_flop(seq_len=T, batch_size=B, seed=seed)
    return model, rnnviz.record(model, b.x, b.y)


def test_view_is_registered_and_scrubs_markers_along_every_trajectory(qtbot):
    assert VIEW_CLASSES["dynamics"] is DynamicsView
    model, trace = _run()
    view = DynamicsView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.set_trace(trace)
    assert view.paths.image is not None and view.paths.image.shape[2] == 4  # trajectories painted once
    ref = portrait(trace, 0, "h").coords
    for t in (0, 7, 29):
        view.set_cursor(t)
        x, y = view.markers.getData()
        assert np.allclose(x, ref[t, :, 0]) and np.allclose(y, ref[t, :, 1])
    assert view.cursor_line.value() == 30
    view.pc_x.setCurrentIndex(2)  # PC3 against PC2
    x, _ = view.markers.getData()
    assert np.allclose(x, ref[29, :, 2])
    g = 10.0 ** view.grad.getData()[1]  # the band is a log axis: items hold log10 values
    assert np.allclose(g, trace.grad_hidden_norm[0], rtol=1e-5)
    assert not view.part_box.isVisibleTo(view)  # a GRU has no cell state to choose



def test_scrub_moves_only_the_markers_everything_else_is_cached(qtbot):
    """The per-step work is the markers and the cursor line: the trajectories' image, the curves
    and the axes (whose grids span the plot) keep their device-resolution caches."""
    from PySide6.QtWidgets import QGraphicsItem

    model, trace = _run(T=40, B=6)
    view = DynamicsView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.set_trace(trace)
    image = view.paths.image
    curve = view.grad.getData()[1].copy()
    for t in (3, 17, 39):
        view.set_cursor(t)
        qtbot.wait(1)
    assert view.paths.image is image  # not painted again
    assert np.array_equal(view.grad.getData()[1], curve)
    cached = QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert view.paths.cacheMode() == cached
    for plot in (view.pplot, view.band):
        assert plot.getAxis("left").cacheMode() == cached and plot.getAxis("bottom").cacheMode() == cached
    assert view.markers.getData()[0].shape == (6,)

def test_fixed_points_and_band_arrive_from_the_worker(qtbot):
    model, trace = _run(cell="rnn", H=6)
    view = DynamicsView()
    qtbot.addWidget(view)
    view.set_trace(trace)
    assert view.fp_items.data.size == 0
    with qtbot.waitSignal(view.result_ready, timeout=120_000):
        view.analyse(model)
    res = view.result
    assert res is not None and len(res.fixed) >= 1
    assert len(view.fp_items.data) == len(res.fixed)
    lam = res.fixed.eigvals[view.selected]
    assert np.allclose(np.sort(view.eig_points.getData()[0]), np.sort(lam.real))
    x, y = view.sv_hi.getData()
    assert len(x) == 30 and np.allclose(10.0 ** y, res.jac.singular_values[0, :, 0, 0], rtol=1e-6)
    assert "stable" in view.status.text() or "saddle" in view.status.text()
    view.set_trace(_run(cell="rnn", H=6, seed=1)[1])  # a new run drops the old run's points
    assert view.result is None and view.fp_items.data.size == 0


def test_lstm_state_choice_and_hover(qtbot):
    model, trace = _run(cell="lstm", H=5)
    view = DynamicsView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.set_trace(trace)
    assert view.part_box.isVisible()
    for index, part, width in ((1, "c", 5), (2, "h,c", 10)):
        view.part_box.setCurrentIndex(index)
        assert view.portrait.part == part and view.portrait.projection.mean.shape == (width,)
    t, s, _ = view.portrait.nearest(*view.portrait.coords[12, 3, :2], (0, 1))
    assert (t, s) == (12, 3)
    res = analyse_trace(model, trace, sample=2, n_starts=16)
    assert res.jac.samples == [2] and res.fixed.points.shape[1] == 10  # [h, c]
    view.set_dynamics(res)
    assert len(view.fp_items.data) == len(res.fixed)


def test_lesson_blackbox_shows_the_cube_of_memories_found_in_3d(make_window):
    """The lesson's run (as ``--lesson blackbox --screenshot`` does it): trained, the fixed points
    found before it returns, eight memories drawn apart in the 3-D view — also in presentation mode."""
    from rnnviz.app.lessons import load_lesson
    from rnnviz.qt.presentation import apply_presentation

    lesson = load_lesson("blackbox")
    assert lesson.panels[0] == "dynamics" and lesson.config.task.name == "flipflop"
    assert lesson.config.model.cell == "gru" and 16 <= lesson.config.model.hidden_size <= 64
    assert lesson.check == {**lesson.check, "kind": "fixed_points", "view": "3d"}
    torch.manual_seed(0)
    win = make_window(lesson.config, size=(1600, 1000))
    win.lesson_controller.run_sync(lesson)
    view = win.views["dynamics"]
    assert win.state.panel == "dynamics" and view.three_d and view.check_3d.isChecked()
    res = view.result
    assert res is not None, view.status.text()
    assert res.fixed.count("stable") == 8 and res.fixed.count("saddle") >= 1, res.fixed.summary()
    assert len(view.fp_items.data) == len(res.fixed) and "8 stable" in view.status.text()
    stable = view._fp_xy[[i for i, k in enumerate(res.fixed.kinds) if k == "stable"]]
    d = np.linalg.norm(stable[:, None] - stable[None], axis=-1)[np.triu_indices(8, 1)]
    span = np.ptp(stable, axis=0).max()
    assert d.min() > 0.1 * span  # no memory hides behind another at the chosen angle
    apply_presentation(win)
    try:
        assert view.result is res and len(view.fp_items.data) == len(res.fixed)
        assert view.glw.minimumSizeHint().width() < 400  # titles do not force the panel wider than the window
    finally:
        apply_presentation(win, False)  # the theme's scale is global: later tests expect 1.0


def test_long_trajectories_are_thinned_not_dropped(qapp):
    """A T=5000 run whose state jumps across the picture at every step is painted from a budget
    of its own segments (it froze the tab for seconds); a state resting at a point is one dot."""
    from rnnviz.qt.views.dynamics_paint import _on_pixels, paint_paths

    rest = np.zeros((500, 2))
    rest[-1] = [3.0, 0.0]
    assert _on_pixels(rest).tolist() == [[0.0, 0.0], [3.0, 0.0]]  # 499 steps at rest: one point
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(-1, 1, (5000, 4)), rng.uniform(-1, 1, (5000, 4))
    X[100:200, 1] = np.nan  # a NaN stretch is skipped, not drawn to the origin
    img = paint_paths(X, Y, (-1, 1), (-1, 1), 400)
    ink = img[..., 3] > 0
    assert 0.05 < ink.mean() < 0.95  # lines everywhere the trajectories go, not a filled square
