"""The exported Dynamics frame: fixed points found in the window reach PNG/SVG/GIF (kept with the
Trace, and through a saved .npz), the 3-D angle and components the panel shows, and a forward GIF
that draws the trajectories up to the cursor. Real models, real files, a real MainWindow."""

import numpy as np
import pytest
from PIL import Image

import rnnviz
from rnnviz.core.tasks import flip_flop
from rnnviz.core.trace import Trace
from rnnviz.dynamics.figure import KIND_COLORS
from rnnviz.dynamics.panel import analyse_trace, store_fixed_points, stored_fixed_points
from rnnviz.dynamics.portrait import rotation
from rnnviz.export.frames import FrameSpec, figure_scene
from rnnviz.export.gif import write_animation


def _run(cell="rnn", H=8, T=30, B=4, seed=1):
    """tanh, gain 1.6, zero biases: the origin is a saddle between two stable points (±h*)."""
    model = rnnviz.build_model(rnnviz.ModelConfig(cell=cell, input_size=3, hidden_size=H, output_size=3,
                                                  init="xavier", init_scale=1.6, seed=seed))
    b = flip_flop(seq_len=T, batch_size=B, seed=seed)
    return model, rnnviz.record(model, b.x, b.y)


def _fixed_circles(scene):
    """Circles drawn as fixed points: filled in the stable colour, or outlined in a saddle's."""
    out = []
    for op in scene.ops:
        if op[0] == "circle" and (op[4] == KIND_COLORS["stable"] or op[5] in (KIND_COLORS["saddle"],
                                                                             KIND_COLORS["unstable"])):
            out.append(op)
    return out


def test_stored_fixed_points_reach_the_exported_frame_and_survive_a_saved_trace(tmp_path):
    model, trace = _run()
    scene = figure_scene(trace, "dynamics", (900, 600), FrameSpec(t=5))
    assert _fixed_circles(scene) == []  # a Trace alone: no fixed points
    res = analyse_trace(model, trace, n_starts=32)
    assert res.fixed.count("stable") >= 1 and res.fixed.count("saddle") >= 1, res.fixed.summary()
    store_fixed_points(trace, res.fixed, res.input_note)
    scene = figure_scene(trace, "dynamics", (900, 600), FrameSpec(t=5))
    assert len(_fixed_circles(scene)) == len(res.fixed)
    title = " ".join(op[3] for op in scene.ops if op[0] == "text")
    assert f"{res.fixed.count('stable')} stable" in title and "zero input" in title
    # through the .npz (meta is JSON there): the same points come back
    trace.save(tmp_path / "t.npz")
    back = Trace.load(tmp_path / "t.npz")
    kept = stored_fixed_points(back)
    assert kept is not None and np.allclose(kept.points, res.fixed.points) and kept.kinds == res.fixed.kinds
    saddles = [i for i, k in enumerate(kept.kinds) if k != "stable"]
    assert saddles and np.isfinite(kept.unstable[saddles]).all()
    assert len(_fixed_circles(figure_scene(back, "dynamics", (900, 600)))) == len(res.fixed)
    # points of another network size are not drawn on this trace (they would be nonsense)
    _, other = _run(H=5)
    other.meta["dynamics"] = trace.meta["dynamics"]
    assert stored_fixed_points(other) is None and _fixed_circles(figure_scene(other, "dynamics", (900, 600))) == []


def test_the_exported_frame_uses_the_panels_components_and_3d_angle():
    model, trace = _run()
    res = analyse_trace(model, trace, n_starts=32)
    store_fixed_points(trace, res.fixed, res.input_note, {"pcs": [0, 1, 2], "part": "h", "rotation": None})
    flat = figure_scene(trace, "dynamics", (900, 600))
    store_fixed_points(trace, res.fixed, res.input_note,
                       {"pcs": [0, 1, 2], "part": "h", "rotation": rotation(0.6, 0.35).tolist()})
    turned = figure_scene(trace, "dynamics", (900, 600))
    texts = " ".join(op[3] for op in turned.ops if op[0] == "text")
    assert "3-D" in texts and "PC3" in texts
    a = np.array([op[1:3] for op in _fixed_circles(flat)])
    b = np.array([op[1:3] for op in _fixed_circles(turned)])
    assert a.shape == b.shape and not np.allclose(a, b)  # the points moved with the angle


def test_forward_gif_of_the_dynamics_panel_draws_the_trajectory_up_to_the_cursor(tmp_path):
    model, trace = _run(T=24)
    res = analyse_trace(model, trace, n_starts=32)
    store_fixed_points(trace, res.fixed, res.input_note)

    def drawn(t):
        scene = figure_scene(trace, "dynamics", (800, 500), FrameSpec(t=t, mode="forward"))
        return sum(len(op[1]) for op in scene.ops if op[0] == "line" and op[2] not in KIND_COLORS.values()
                   and op[3] == 1.0)

    assert drawn(3) < drawn(12) < drawn(23)
    path = write_animation(tmp_path / "dyn.gif", "forward", trace, panels="dynamics", frames=5, size=(640, 400))
    with Image.open(path) as im:
        assert im.n_frames == 5
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    assert all(not np.array_equal(frames[i], frames[i + 1]) for i in range(4))


@pytest.mark.usefixtures("qtbot")
def test_window_export_shows_the_fixed_points_the_panel_found(make_window, tmp_path):
    from rnnviz.core.config import ModelConfig, RunConfig, TaskConfig

    cfg = RunConfig(model=ModelConfig(cell="gru", input_size=3, hidden_size=8, output_size=3, seed=1),
                    task=TaskConfig(name="flipflop", seq_len=30, batch_size=4))
    win = make_window(cfg)
    view = win.views["dynamics"]
    view.analyse(wait=True)
    assert view.result is not None and len(view.result.fixed) >= 1
    scene = win.export_controller.figure_scene(["dynamics"], (900, 600))
    assert len(_fixed_circles(scene)) == len(view.result.fixed)
    assert win.export_controller.export_figure(tmp_path / "d.png", ["dynamics"], (900, 600))
    with Image.open(tmp_path / "d.png") as im:
        assert im.size[0] >= 900
