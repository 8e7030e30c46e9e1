"""The Dynamics panel's choices: fixed points for the input at the cursor (checked against the
linear network's closed form), the 3-D view turned by a drag, and the found points kept with the
Trace for the exporters. Real torch models, real Qt widgets (pytest-qt)."""

import numpy as np
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

import rnnviz
from rnnviz.core.tasks import flip_flop
from rnnviz.dynamics import fixed_points
from rnnviz.dynamics.panel import analyse_trace, input_at, stored_fixed_points
from rnnviz.dynamics.portrait import on_screen, portrait, rotation
from rnnviz.qt.views.dynamics import DynamicsView


def _linear_model(H=6, I=3, seed=4, O=1):
    """A linear RNN with W_hh's spectrum inside the unit circle and non-zero biases."""
    cfg = rnnviz.ModelConfig(cell="rnn", activation="linear", input_size=I, hidden_size=H, output_size=O,
                             seed=seed)
    model = rnnviz.build_model(cfg)
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(H, H))
    W *= 0.8 / np.abs(np.linalg.eigvals(W)).max()
    with torch.no_grad():
        W_xh, W_hh, b_xh, b_hh = model.layer_weights(0)
        W_hh.copy_(torch.as_tensor(W))
        b_xh.copy_(torch.as_tensor(rng.normal(size=H)))
        b_hh.copy_(torch.as_tensor(rng.normal(size=H)))
    return model


def test_linear_rnn_fixed_point_under_a_constant_input_is_the_closed_form():
    """h* = W_hh h* + W_ih x + b  ⇒  h* = (I − W_hh)⁻¹ (W_ih x + b_ih + b_hh); J = W_hh."""
    model = _linear_model()
    W_xh, W_hh, b_xh, b_hh = (w.detach().double().numpy() for w in model.layer_weights(0))
    rng = np.random.default_rng(0)
    for x in (np.array([1.0, -0.5, 2.0]), np.array([0.0, 3.0, -1.0])):
        expected = np.linalg.solve(np.eye(6) - W_hh, W_xh @ x + b_xh + b_hh)
        fp = fixed_points(model, x, states=rng.normal(size=(16, 6)), n_starts=16)
        assert len(fp) == 1 and fp.kinds == ["stable"]
        assert np.allclose(fp.points[0], expected, atol=1e-8)
        assert np.allclose(fp.x_const, x)
        assert np.allclose(np.sort_complex(fp.eigvals[0]), np.sort_complex(np.linalg.eigvals(W_hh)), atol=1e-8)
    # and a different input really moves the point (the test would not notice an ignored x otherwise)
    a = fixed_points(model, [1.0, 0, 0], states=np.zeros((4, 6)), n_starts=4).points[0]
    b = fixed_points(model, [0, 0, 0], states=np.zeros((4, 6)), n_starts=4).points[0]
    assert np.linalg.norm(a - b) > 0.1


def test_input_at_the_cursor_is_the_traces_input_and_bad_steps_are_clamped():
    b = flip_flop(seq_len=20, batch_size=3, seed=1)
    model = rnnviz.build_model(rnnviz.ModelConfig(cell="gru", input_size=3, hidden_size=5, output_size=3))
    trace = rnnviz.record(model, b.x, b.y)
    assert np.array_equal(input_at(trace, 7, 2), trace.inputs[7, 2])
    assert np.array_equal(input_at(trace, 999, -4), trace.inputs[19, 0])
    trace.inputs[3, 1, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        input_at(trace, 3, 1)


def _pulse_step(trace):
    """A (step, sample) where the flip-flop input carries a pulse (non-zero)."""
    t, s = np.argwhere(np.abs(trace.inputs).sum(-1) > 0)[0]
    return int(t), int(s)


def test_panel_finds_fixed_points_for_the_input_at_the_cursor_and_keeps_them_with_the_trace(qtbot):
    model = _linear_model(H=6, I=3, O=3)
    b = flip_flop(seq_len=30, batch_size=4, seed=2)
    trace = rnnviz.record(model, b.x, b.y)
    view = DynamicsView()
    qtbot.addWidget(view)
    view.set_trace(trace)
    t, s = _pulse_step(trace)
    view.set_cursor(t, b=s)
    view.input_box.setCurrentIndex(1)
    assert view.input_choice == "cursor"
    with qtbot.waitSignal(view.result_ready, timeout=120_000):
        view.analyse(model)
    res = view.result
    x = trace.inputs[t, s].astype(np.float64)
    assert np.allclose(res.fixed.x_const, x) and np.abs(x).sum() > 0
    W_xh, W_hh, b_xh, b_hh = (w.detach().double().numpy() for w in model.layer_weights(0))
    expected = np.linalg.solve(np.eye(6) - W_hh, W_xh @ x + b_xh + b_hh)
    assert len(res.fixed) == 1 and np.allclose(res.fixed.points[0], expected, atol=1e-8)
    assert f"step {t + 1}, sample {s}" in view.status.text()
    kept = stored_fixed_points(trace)  # kept with the trace for the exporters
    assert kept is not None and np.allclose(kept.points, res.fixed.points) and kept.kinds == res.fixed.kinds
    assert f"step {t + 1}" in kept.note and kept.view["pcs"] == [0, 1, 2]
    # zero input again: a different point
    view.input_box.setCurrentIndex(0)
    with qtbot.waitSignal(view.result_ready, timeout=120_000):
        view.analyse(model)
    assert np.allclose(view.result.fixed.x_const, 0) and "zero input" in view.status.text()
    assert not np.allclose(view.result.fixed.points[0], expected)


def test_three_d_view_turns_three_components_onto_the_screen_and_a_drag_rotates_it(qtbot):
    model = rnnviz.build_model(rnnviz.ModelConfig(cell="gru", input_size=3, hidden_size=8, output_size=3, seed=1))
    b = flip_flop(seq_len=40, batch_size=5, seed=0)
    trace = rnnviz.record(model, b.x, b.y)
    view = DynamicsView()
    qtbot.addWidget(view)
    view.resize(900, 650)
    view.show()
    view.set_trace(trace)
    view.set_cursor(11)
    C = portrait(trace, 0, "h").coords
    assert np.allclose(np.column_stack(view.markers.getData()), C[11, :, :2])  # 2-D: PC1, PC2 as they are
    assert not view.pc_z.isVisible()
    view.check_3d.setChecked(True)
    assert view.three_d and view.pc_z.isVisible() and view.rot_box.rotating
    R = rotation(view.azimuth, view.elevation)
    assert np.allclose(np.column_stack(view.markers.getData()), C[11, :, :3] @ R)
    assert view.triad_labels[2].toPlainText() == "PC3"
    # a drag on the portrait turns it (instead of panning)
    az, image = view.azimuth, view.paths.image
    vb = view.pplot.getViewBox()
    centre = view.pplot.mapToScene(vb.boundingRect().center())
    centre = view.glw.mapFromScene(centre)  # a QPoint in the viewport
    qtbot.mousePress(view.glw.viewport(), Qt.MouseButton.LeftButton,
                     pos=centre)
    for dx in (10, 20, 40):
        qtbot.mouseMove(view.glw.viewport(), centre + QPoint(dx, 5))
    qtbot.mouseRelease(view.glw.viewport(), Qt.MouseButton.LeftButton,
                       pos=centre + QPoint(40, 5))
    assert view.azimuth != pytest.approx(az)
    assert view.paths.image is not image  # the trajectories were drawn again, turned
    R = rotation(view.azimuth, view.elevation)
    assert np.allclose(np.column_stack(view.markers.getData()), on_screen(C[11], (0, 1, 2), R))
    # z = PC4 instead of PC3; back to 2-D restores the flat view
    view.pc_z.setCurrentIndex(3)
    assert np.allclose(np.column_stack(view.markers.getData()), C[11][:, [0, 1, 3]] @ R)
    view.check_3d.setChecked(False)
    assert np.allclose(np.column_stack(view.markers.getData()), C[11, :, :2])
    res = analyse_trace(model, trace, n_starts=16)
    view.set_dynamics(res)
    view.set_three_d(True, 0.4, 0.2)
    pts, _ = view.portrait.place(res.fixed)
    assert view.pcs == (0, 1, 3) and np.allclose(view._fp_xy, pts[:, [0, 1, 3]] @ rotation(0.4, 0.2))
    assert np.allclose(stored_fixed_points(trace).view["rotation"], rotation(0.4, 0.2))


def test_best_view_shows_every_corner_of_a_cube_apart():
    import itertools

    from rnnviz.dynamics.portrait import best_view

    cube = np.array(list(itertools.product([-1.0, 1.0], repeat=3)))

    def closest(az, el):
        xy = cube @ rotation(az, el)
        return np.linalg.norm(xy[:, None] - xy[None], axis=-1)[np.triu_indices(8, 1)].min()

    assert closest(0.0, 0.0) < 1e-9  # seen flat along an axis, corners hide behind each other
    az, el = best_view(cube)
    assert closest(az, el) > 1.0 and closest(az, el) >= closest(0.6, 0.35)


def test_lesson_point_with_a_given_angle_and_a_bad_one(qtbot):
    model = _linear_model(H=6, I=3, O=3)
    b = flip_flop(seq_len=20, batch_size=3, seed=0)
    trace = rnnviz.record(model, b.x, b.y)
    view = DynamicsView()  # no window: no session model to search with, and it says so
    qtbot.addWidget(view)
    view.set_trace(trace)
    view.show_lesson_point({"kind": "fixed_points", "view": "3d", "azimuth": 30, "elevation": 10})
    assert view.three_d and view.azimuth == pytest.approx(np.radians(30))
    assert view.elevation == pytest.approx(np.radians(10))
    assert "no model" in view.status.text() and view.result is None
    view.show_lesson_point({"kind": "fixed_points", "view": "3d", "azimuth": "sideways"})
    assert view.three_d and np.isfinite(view.azimuth)  # a word instead of a number: the default angle
