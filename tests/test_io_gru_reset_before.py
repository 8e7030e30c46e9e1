"""GRU with the reset gate before the recurrent matrix (Keras reset_after=False, ONNX linear_before_reset=0).

The cell ``gru_reset_before`` is checked against its equations written out in numpy here, its
recorded gradients against float64 autograd, and real files: a ``.keras`` file written by Keras 3
(torch backend) and ONNX graphs built with ``onnx.helper`` and run by onnxruntime, each opened
through the API, the CLI and the window, equal to the source framework to 1e-4. Then every window
tab, the exporters and rnnviz.dynamics draw and analyse the cell.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.core.cells import get_cell
from rnnviz.io import ModelImportError, load_model

REPO = Path(__file__).resolve().parents[1]
CELL = "gru_reset_before"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", "KERAS_BACKEND": "torch"}


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _by_hand(x, weights):
    """h̃ = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn), written out in float64 from PyTorch's layout."""
    W_xh, W_hh, b_xh, b_hh = (np.asarray(w.detach(), np.float64) for w in weights)
    H = W_hh.shape[1]
    h = np.zeros((x.shape[1], H))
    out = []
    for x_t in np.asarray(x, np.float64):
        a = x_t @ W_xh.T + b_xh
        r = _sig(a[:, :H] + h @ W_hh[:H].T + b_hh[:H])
        z = _sig(a[:, H:2 * H] + h @ W_hh[H:2 * H].T + b_hh[H:2 * H])
        n = np.tanh(a[:, 2 * H:] + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return np.stack(out)


def _model(H=5, I=3, O=2, seed=1, **kw):
    return rnnviz.build_model(rnnviz.ModelConfig(cell=CELL, input_size=I, hidden_size=H, output_size=O,
                                                 seed=seed, **kw))


def test_the_cell_computes_its_equations_and_differs_from_pytorchs_gru():
    spec = get_cell("GRU (reset before)")
    assert spec.name == CELL and spec.torch_class is None and spec.gate_keys == ("r", "z", "n")
    assert spec.forward is None and spec.backward is None  # recorded through autograd of its step
    assert any("W_hh (Γ_r ⊙ h_{t−1})" in line for line in spec.equations)
    model = _model()
    with torch.no_grad():
        for p in model.rnn.parameters():  # bigger weights: r far from 1, where the two GRUs part
            p.mul_(3)
    x = torch.randn(8, 4, 3)
    _, _, rec = model.forward_equations(x, keep=True)
    ours = torch.stack(rec["h"][0]).detach().numpy()
    np.testing.assert_allclose(ours, _by_hand(x, model.layer_weights(0)), atol=1e-5, rtol=0)
    gru = torch.nn.GRU(3, 5)  # the same weights in PyTorch's GRU (reset after the product) differ
    with torch.no_grad():
        for p, q in zip(gru.parameters(), model.rnn.parameters(), strict=True):
            p.copy_(q)
        assert np.abs(gru(x)[0].numpy() - ours).max() > 1e-2


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_recorded_gradients_are_float64_autograds(layers, bidir):
    model = _model(num_layers=layers, bidirectional=bidir)
    x, y = torch.randn(9, 3, 3), torch.randn(9, 3, 2)
    trace = rnnviz.record(model, x, y)
    double = _model(num_layers=layers, bidirectional=bidir).double()
    double.load_state_dict({k: v.double() for k, v in model.state_dict().items()})
    out, _, rec = double.forward_equations(x.double(), keep=True)
    loss = rnnviz.core.losses.task_loss(out, y.double(), "mse")[0]
    hs = [h for per_k in rec["h"] for h in per_k]
    grads = torch.autograd.grad(loss, hs)
    K, T = len(rec["h"]), x.shape[0]
    ref = torch.stack(grads).view(K, T, 3, 5).numpy()
    np.testing.assert_allclose(trace.grad_hidden, ref, rtol=1e-4, atol=1e-7)
    assert np.abs(ref).max() > 1e-3 and trace.whh.shape == (K, 3, 5, 5)
    np.testing.assert_allclose(trace.loss, float(loss.detach()), rtol=1e-5)


# ------------------------------------------------------------------------------------------ Keras
def _keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the .keras files here are written with Keras's torch backend")
    return keras


def _keras_file(tmp_path, name="gru_rb", bidirectional=False, seed=0):
    keras = _keras()
    L = keras.layers

    def gru(last):
        layer = L.GRU(5, reset_after=False, return_sequences=not last)
        return L.Bidirectional(L.GRU(5, reset_after=False, return_sequences=True)) if bidirectional else layer

    model = keras.Sequential([keras.Input((None, 3)), gru(False), gru(True), L.Dense(2)])
    rng = np.random.default_rng(seed)
    for w in model.weights:  # random biases too: each lands where it belongs or the check fails
        w.assign((0.6 * rng.standard_normal(tuple(w.shape))).astype("float32"))
    assert {tuple(w.shape) for w in model.weights if w.path.endswith("/bias")} == {(15,), (2,)}  # one GRU bias
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return model, path


def _keras_out(model, xs_time_major):
    y = model.predict(np.swapaxes(xs_time_major, 0, 1), verbose=0)
    return y if y.ndim == 2 else np.swapaxes(y, 0, 1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("bidirectional", [False, True])
def test_keras_gru_reset_after_false_opens_and_matches_keras(tmp_path, bidirectional):
    model, path = _keras_file(tmp_path, bidirectional=bidirectional)
    imported = load_model(path)
    cfg = imported.model.cfg
    assert (cfg.cell, cfg.num_layers, cfg.bidirectional) == (CELL, 2, bidirectional)
    assert imported.max_diff <= 1e-4 and "reset_after=False" in imported.summary()
    xs = np.random.default_rng(5).standard_normal((11, 2, 3)).astype(np.float32)
    with torch.no_grad():
        ours = imported.model.forward_equations(torch.from_numpy(xs))[0].numpy()
    expected = _keras_out(model, xs)
    np.testing.assert_allclose(ours if expected.ndim == 3 else ours[-1], expected, atol=1e-4, rtol=0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_cli_trace_of_a_keras_reset_before_gru(tmp_path):
    model, path = _keras_file(tmp_path, bidirectional=True, seed=2)
    code = ("import sys; sys.modules['keras'] = None; sys.modules['tensorflow'] = None\n"
            "from rnnviz.cli import main; sys.exit(main(sys.argv[1:]))")
    proc = subprocess.run([sys.executable, "-c", code, "trace", "--model", str(path), "--seq-len", "8",
                           "-o", str(tmp_path / "run.npz")], capture_output=True, text=True, env=ENV, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "max |rnnviz - Keras's equations| = " in proc.stdout and "GRU (reset before)" in proc.stdout
    trace = rnnviz.Trace.load(tmp_path / "run.npz")
    assert trace.cell_type == CELL and set(trace.gates) == {"r", "z", "n"}
    np.testing.assert_allclose(trace.outputs, _keras_out(model, trace.inputs), atol=1e-4, rtol=0)


# ------------------------------------------------------------------------------------------- ONNX
def _onnx_file(tmp_path, layers=2, direction="bidirectional", head=True, lbr=0, name="gru0", seed=0):
    """GRU nodes with linear_before_reset=``lbr`` (a list: per layer), wired like torch's exporter wires
    layers (Y (T, D, B, H) -> Transpose -> Reshape (T, B, D*H)), and a MatMul + Add head; without the
    head the graph's output is the last node's own Y (T, D, B, H)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    H, I, O, D = 4, 3, 2, 2 if direction == "bidirectional" else 1
    rng = np.random.default_rng(seed)
    lbrs = lbr if isinstance(lbr, list) else [lbr] * layers
    inits, nodes, inp = [], [], "x"

    def const(name, value):
        inits.append(helper.make_tensor(name, TensorProto.FLOAT if value.dtype == np.float32 else TensorProto.INT64,
                                        value.shape, value.ravel()))

    for layer in range(layers):
        cols = I if layer == 0 else D * H
        for k, shape in (("W", (D, 3 * H, cols)), ("R", (D, 3 * H, H)), ("B", (D, 6 * H))):
            const(f"{k}{layer}", (0.8 * rng.standard_normal(shape)).astype(np.float32))
        nodes.append(helper.make_node("GRU", [inp, f"W{layer}", f"R{layer}", f"B{layer}"], [f"Y{layer}"],
                                      hidden_size=H, direction=direction, linear_before_reset=lbrs[layer]))
        inp = f"Y{layer}"
        if head or layer < layers - 1:
            nodes.append(helper.make_node("Transpose", [f"Y{layer}"], [f"Yt{layer}"], perm=[0, 2, 1, 3]))
            nodes.append(helper.make_node("Reshape", [f"Yt{layer}", "flat"], [f"h{layer}"]))
            inp = f"h{layer}"
    if any(n.op_type == "Reshape" for n in nodes):
        const("flat", np.array([0, 0, -1], np.int64))
    out = inp
    if head:
        const("Wy", rng.standard_normal((D * H, O)).astype(np.float32))
        const("by", rng.standard_normal(O).astype(np.float32))
        nodes += [helper.make_node("MatMul", [inp, "Wy"], ["yw"]), helper.make_node("Add", ["yw", "by"], ["y"])]
        out = "y"
    graph = helper.make_graph(nodes, "gru_reset_before", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                                        [None, None, I])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [None] * (3 if head else 4))],
                              inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def _ort(path, x):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("layers,direction,head", [(1, "forward", False), (2, "bidirectional", True)])
def test_onnx_gru_linear_before_reset_0_opens_and_matches_onnxruntime(tmp_path, layers, direction, head):
    path = _onnx_file(tmp_path, layers, direction, head)
    imported = load_model(path)
    cfg = imported.model.cfg
    assert (cfg.cell, cfg.num_layers, cfg.bidirectional) == (CELL, layers, direction == "bidirectional")
    assert imported.reference == "onnxruntime" and imported.max_diff <= 1e-4
    xs = np.random.default_rng(3).standard_normal((10, 3, 3)).astype(np.float32)
    with torch.no_grad():
        ours = imported.model.forward_equations(torch.from_numpy(xs))[0].numpy()
    theirs = _ort(path, xs)
    if not head:  # the node's own Y (T, D, B, H): the directions side by side are rnnviz's hidden states
        assert theirs.ndim == 4
        theirs = theirs.transpose(0, 2, 1, 3).reshape(10, 3, -1)
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_the_same_graph_with_linear_before_reset_1_is_pytorchs_gru_and_mixing_them_is_refused(tmp_path):
    one = load_model(_onnx_file(tmp_path, lbr=1, name="gru1"))
    assert one.model.cfg.cell == "gru" and one.max_diff <= 1e-4
    with pytest.raises(ModelImportError, match="mixes GRU nodes with linear_before_reset 0 and 1"):
        load_model(_onnx_file(tmp_path, lbr=[0, 1], name="mixed"))


def test_cli_trace_of_an_onnx_reset_before_gru(tmp_path):
    path = _onnx_file(tmp_path, seed=4)
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "trace", "--model", str(path), "--seq-len", "9",
                           "-o", str(tmp_path / "run.npz")], capture_output=True, text=True, env=ENV, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert "max |rnnviz - onnxruntime| = " in proc.stdout
    trace = rnnviz.Trace.load(tmp_path / "run.npz")
    assert trace.cell_type == CELL and trace.seq_len == 9 and trace.config["bidirectional"]
    np.testing.assert_allclose(trace.outputs, _ort(path, trace.inputs), atol=1e-4, rtol=0)


# ----------------------------------------------------------------------------- window, exports, dynamics
def _ink(pixmap) -> int:
    from PySide6.QtGui import QImage

    img = pixmap.toImage().convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return len(np.unique(arr[:, : img.width() * 4].reshape(-1, 4), axis=0))


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_window_opens_both_files_and_every_tab_draws_the_cell(qtbot, tmp_path):
    from rnnviz.app.state import SessionState
    from rnnviz.qt.main_window import MainWindow
    from rnnviz.qt.open_model import open_model
    from rnnviz.qt.presentation import apply_presentation

    out = Path(os.environ.get("RNNVIZ_SHOTS", tmp_path))
    win = MainWindow(SessionState(rnnviz.RunConfig().with_overrides(hidden_size=8, seq_len=12, batch_size=4)))
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    try:
        assert win.record_sync()
        onnx_path = _onnx_file(tmp_path, seed=6)
        assert open_model(win, str(onnx_path))
        s = win.state
        assert "max |rnnviz - onnxruntime| = " in s.status and s.trace.cell_type == CELL
        np.testing.assert_allclose(s.trace.outputs, _ort(onnx_path, s.trace.inputs), atol=1e-4, rtol=0)
        model, keras_path = _keras_file(tmp_path, seed=7)
        assert open_model(win, str(keras_path))
        assert "max |rnnviz - Keras's equations| = " in s.status and s.trace.cell_type == CELL
        # the file is many-to-one (B, O); the window records every step: the last one is Keras's output
        np.testing.assert_allclose(s.trace.outputs[-1], _keras_out(model, s.trace.inputs), atol=1e-4, rtol=0)
        combo = win.build_panel.controls["cell"]
        assert combo.itemText(combo.findData(CELL)) == "GRU (reset before)" and combo.currentData() == CELL
        trace = s.trace
        for name in ["graph", *win.tab_names]:
            win.show_view(name)
            qtbot.wait(10)
            view = win.views[name]
            assert view.trace is trace, name
            shot = view.grab()
            shot.save(str(out / f"rb_{name}.png"))
            assert _ink(shot) > 3, f"{name} draws nothing"
        assert set(win.views["gates"].gate_panels) == {"r", "z", "n"}
        assert win.views["equations"].lines[:4] == list(get_cell(CELL).equations)
        edges = {d["weight_name"] for _, _, d in win.views["graph"].graph.edges(data=True)}
        assert "W_hh" in edges and "gates" not in edges and "c" not in edges  # no LSTM cell-state path
        apply_presentation(win, True)
        qtbot.wait(10)
        win.grab().save(str(out / "rb_presentation.png"))
        apply_presentation(win, False)
    finally:
        win.shutdown()


def test_exports_and_dynamics_handle_the_cell(tmp_path):
    from PIL import Image

    from rnnviz.dynamics import connectivity, fixed_points, jacobians, lyapunov
    from rnnviz.export import PANELS, figure, write_animation, write_png

    model = _model(H=8, I=2, O=1)
    x, y = rnnviz.tasks.adding_problem(seq_len=20, batch_size=3, seed=0)  # loss at the last step only
    trace = rnnviz.record(model, x, y)
    png = write_png(tmp_path / "all.png", figure(trace, list(PANELS), size=(1280, 900)))
    with Image.open(png) as im:
        assert im.size == (1280, 900) and len(im.convert("RGB").getcolors(1 << 20)) > 20
    with Image.open(write_animation(tmp_path / "b.gif", "backward", trace, frames=3)) as im:
        assert im.n_frames == 3
    # Jacobians: their product carries dL/dh_T back to every step exactly as BPTT did
    J = jacobians(trace, model=model, keep=True)
    g = J.backprop(trace.grad_hidden[0, -1])
    rel = np.linalg.norm(g - trace.grad_hidden[0], axis=(1, 2)) / np.linalg.norm(trace.grad_hidden[0], axis=(1, 2))
    assert rel.max() < 1e-4
    fp = fixed_points(model, x=x, n_starts=16, adam_steps=60)
    weights = tuple(w.detach().double() for w in model.layer_weights(0))
    for s in fp.points:  # F(s) = s, recomputed from the cell's step
        s = torch.as_tensor(s)[None]
        new, _ = get_cell(CELL).step(torch.zeros(1, 2, dtype=torch.float64), s, weights)
        assert 0.5 * float(((new - s) ** 2).sum()) < 1e-10
    ly = lyapunov(model, k=2, steps=40, burn_in=10, n_trajectories=2)
    assert ly.exponents.shape == (2,) and np.isfinite(ly.exponents).all()
    xs = torch.randn(6, 2, 2)
    C = connectivity(model, xs)
    full = torch.autograd.functional.jacobian(lambda z: model(z), xs)  # (T, B, O, T, B, I)
    ref = full[:, 0, :, :, 0, :].pow(2).sum((1, 3)).sqrt().numpy()
    np.testing.assert_allclose(C.per_sample[0], ref, rtol=1e-5, atol=1e-8)
