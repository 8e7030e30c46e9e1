"""The cell registry: one spec per cell, read by config, model, graph, views and exporters."""

import re
from pathlib import Path

import pytest
import torch

import rnnviz
from rnnviz.core.cells import CELLS, CellSpec, GateSpec, get_cell, register_cell
from rnnviz.core.cells.base import UnknownCellError, display_name, unregister_cell

RNNVIZ = Path(rnnviz.__file__).parent


def test_builtin_specs_carry_the_notes_symbols_and_pytorchs_keys():
    assert list(CELLS)[:3] == ["rnn", "lstm", "gru"]
    rnn, lstm, gru = get_cell("rnn"), get_cell("lstm"), get_cell("gru")
    assert (rnn.display, lstm.display, gru.display) == ("SimpleRNN", "LSTM", "GRU")
    assert rnn.gates == () and rnn.num_blocks == 1 and rnn.torch_class is torch.nn.RNN
    assert lstm.gate_keys == ("i", "f", "g", "o") and lstm.num_blocks == 4 and lstm.has_cell_state
    assert [g.symbol for g in lstm.gates] == ["Γ_u", "Γ_f", "c̃", "Γ_o"]
    assert lstm.memory_gate == "f" and lstm.gate("g").candidate and lstm.gate("g").value_range == (-1, 1)
    assert gru.gate_keys == ("r", "z", "n") and not gru.has_cell_state and gru.memory_gate == "z"
    # PyTorch's z multiplies h_{t−1}: it is 1 − Γ_u, and says so
    assert gru.gate("z").symbol != "Γ_u" and "1 − Γ_u" in gru.gate("z").title
    assert "z = 1 − Γ_u" in gru.torch_mapping
    assert any("Γ_u ⊙ h̃_t + (1 − Γ_u) ⊙ h_{t−1}" in line for line in gru.equations)
    assert any("c_t = Γ_u ⊙ c̃_t + Γ_f ⊙ c_{t−1}" in line for line in lstm.equations)
    assert rnn.equation_lines("relu")[0].startswith("h_t = relu(")


def test_config_accepts_aliases_and_names_unknown_cells():
    assert rnnviz.ModelConfig(cell="SimpleRNN").cell == "rnn"
    assert rnnviz.ModelConfig(cell="elman").cell == "rnn"
    assert rnnviz.ModelConfig(cell=" LSTM ").num_gates == 4
    with pytest.raises(rnnviz.ConfigError, match="cell = 'mystery' is not one of: rnn, lstm, gru"):
        rnnviz.ModelConfig(cell="mystery")
    with pytest.raises(KeyError, match="valid cells: rnn, lstm, gru") as err:
        get_cell("mystery")
    assert isinstance(err.value, UnknownCellError) and str(err.value).startswith("unknown cell 'mystery'")
    assert display_name("not-a-cell") == "not-a-cell"


def test_register_refuses_duplicates_and_bad_specs():
    with pytest.raises(ValueError, match="already registered"):
        register_cell(get_cell("gru"))
    with pytest.raises(ValueError, match="memory gate"):
        CellSpec(name="bad", display="Bad", gates=(GateSpec("a", "Γ_a", "a gate"),), step=None,
                 equations=(), torch_mapping="", memory_gate="b")
    with pytest.raises(ValueError, match="lower-case identifier"):
        CellSpec(name="Bad Name", display="Bad", gates=(), step=None, equations=(), torch_mapping="")
    with pytest.raises(TypeError):
        register_cell("gru")


def test_a_registered_spec_is_read_by_config_and_removed_again():
    spec = CellSpec(name="gru_copy", display="GRU copy", gates=get_cell("gru").gates, step=get_cell("gru").step,
                    equations=("h_t = …",), torch_mapping="", num_blocks=3, memory_gate="z")
    register_cell(spec)
    try:
        cfg = rnnviz.ModelConfig(cell="GRU copy", input_size=2, hidden_size=3)
        assert cfg.cell == "gru_copy" and cfg.gate_names == ("r", "z", "n")
    finally:
        unregister_cell("gru_copy")
    assert "gru_copy" not in CELLS
    with pytest.raises(rnnviz.ConfigError):
        rnnviz.ModelConfig(cell="gru_copy")


def _python_sources():
    return [p for p in RNNVIZ.rglob("*.py") if "cells" not in p.relative_to(RNNVIZ).parts[:2]]


def test_display_names_and_gate_symbols_live_only_in_the_cell_files():
    """One vocabulary: no module outside rnnviz/core/cells/ keeps a table of cell display names or
    spells a gate's symbol. (Other frameworks' class names, e.g. Keras' SimpleRNN layer or
    torch's "LSTM" mode string, are theirs, not ours, and prose may name a cell.)"""
    symbols = {g.symbol for spec in CELLS.values() for g in spec.gates}
    offenders = []
    for path in _python_sources():
        text = path.read_text(encoding="utf-8")
        for spec in CELLS.values():
            if re.search(rf"[\"']{spec.name}[\"']\s*:\s*[\"']{re.escape(spec.display)}[\"']", text):
                offenders.append(f"{path.relative_to(RNNVIZ)}: a table naming {spec.display}")
        for sym in symbols:
            if sym in text:
                offenders.append(f"{path.relative_to(RNNVIZ)}: {sym}")
    assert not offenders, offenders
    # and the test can see one: the registry's own files hold each symbol
    cell_files = "".join(p.read_text(encoding="utf-8") for p in (RNNVIZ / "core" / "cells").glob("*.py"))
    assert all(sym in cell_files for sym in symbols)


# ---------------------------------------------------------------------------------------
# The proof: a cell registered from this module, with no torch.nn counterpart, works
# everywhere without editing a file under rnnviz/.
# ---------------------------------------------------------------------------------------
import math  # noqa: E402

import numpy as np  # noqa: E402

from rnnviz.core.cells.loops import as_torch, loop_arrays, time_order  # noqa: E402


def min_gru_step(x_t, h, weights, activation="tanh"):
    """minGRU (Feng et al. 2024): z = σ(W_z x), h̃ = W_h x, h_t = (1 − z) ⊙ h_{t−1} + z ⊙ h̃."""
    W_xh, _, b_xh, _ = weights
    a_z, a_h = (x_t @ W_xh.T + b_xh).chunk(2, dim=1)  # (B, H) each
    z = torch.sigmoid(a_z)
    h_new = (1 - z) * h + z * a_h
    return h_new, {"z": z, "h": a_h}


def min_gru_forward(x, Hs, h_prev, weights, d, activation="tanh"):
    """All steps at once: the gates depend on x alone, so one matrix product gives them all."""
    W_xh, _, b_xh, _ = weights
    T, B, H = Hs.shape
    a = torch.addmm(b_xh, x.reshape(T * B, -1), W_xh.T).view(T, B, 2 * H)
    z, h_tilde = torch.sigmoid(a[..., :H]), a[..., H:]  # (T, B, H) each
    Gx = torch.cat([(h_tilde - h_prev) * z * (1 - z), z], 2)  # dh_t → d[a_z, a_h]  (T, B, 2H)
    return {"gates": {"z": z, "h": h_tilde}, "Gx": Gx}


def min_gru_backward(saved, direct, weights, d):
    """BPTT: dh_{t−1} = (1 − z_t) ⊙ dh_t; no W_hh, so nothing else flows back through time."""
    (dd, Z), xp = loop_arrays(direct, saved["gates"]["z"])
    dH = xp.empty_like(dd)
    dh_rec = xp.zeros_like(dd[0])  # (B, H)
    for t in time_order(len(dd), d, backward=True):
        dh = dd[t] + dh_rec
        dH[t] = dh
        dh_rec = dh * (1 - Z[t])
    (dH,) = as_torch(dH)
    return dH, None, torch.cat([dH, dH], 2) * saved["Gx"], None


MIN_GRU = CellSpec(
    name="mingru",
    display="minGRU",
    gates=(GateSpec("z", "z", "update gate z"),
           GateSpec("h", "h̃", "candidate h̃ = W_h x (linear)", candidate=True,
                    value_range=(-math.inf, math.inf))),
    step=min_gru_step,
    equations=("z_t = σ(W_z x_t + b_z)", "h̃_t = W_h x_t + b_h", "h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t"),
    torch_mapping="no torch.nn counterpart: weight_ih stacks [W_z; W_h], bias_ih [b_z; b_h]",
    summary="minGRU: gates from x_t alone, so training can scan in parallel.",
    num_blocks=2,
    memory_gate="z",
    params=("weight_ih", "bias_ih"),
    forward=min_gru_forward,
    backward=min_gru_backward,
)


@pytest.fixture
def min_gru():
    spec = register_cell(MIN_GRU)
    try:
        yield spec
    finally:
        unregister_cell("mingru")
    assert "mingru" not in CELLS  # nothing leaks into other tests


def _min_gru_model(layers=1, bidir=False, **kw):
    cfg = rnnviz.ModelConfig(cell="mingru", input_size=3, hidden_size=5, output_size=2, num_layers=layers,
                             bidirectional=bidir, seed=4, **kw)
    return rnnviz.build_model(cfg)


def test_min_gru_model_has_pytorch_layout_and_runs_its_step(min_gru):
    model = _min_gru_model(layers=2, bidir=True)
    names = [n for n, _ in model.rnn.named_parameters()]
    assert names == ["weight_ih_l0", "bias_ih_l0", "weight_ih_l0_reverse", "bias_ih_l0_reverse",
                     "weight_ih_l1", "bias_ih_l1", "weight_ih_l1_reverse", "bias_ih_l1_reverse"]
    assert model.rnn.weight_ih_l1.shape == (10, 10) and not model.native
    W_xh, W_hh, b_xh, b_hh = model.layer_weights(0)
    assert W_hh is None and b_hh is None
    x = torch.randn(6, 2, 3)
    h = torch.zeros(2, 5)
    one = _min_gru_model()
    for t in range(6):  # the equations by hand
        W, b = one.rnn.weight_ih_l0, one.rnn.bias_ih_l0
        z = torch.sigmoid(x[t] @ W[:5].T + b[:5])
        h = (1 - z) * h + z * (x[t] @ W[5:].T + b[5:])
    torch.testing.assert_close(one(x)[-1], one.head(h))
    with pytest.raises(ValueError, match="no torch.nn counterpart"):
        one.to_torch()


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_min_gru_records_gradients_that_match_autograd(min_gru, layers, bidir, loss):
    torch.manual_seed(0)
    model = _min_gru_model(layers, bidir)
    T, B = 9, 4
    x = torch.randn(T, B, 3)
    y = torch.randn(B, 2) if loss == "mse" else torch.randint(0, 2, (T, B))
    fast = rnnviz.record(model, x, y)
    ref = rnnviz.record(model, x, y, engine="autograd")
    for a, b in [(fast.hidden, ref.hidden), (fast.grad_hidden, ref.grad_hidden),
                 (fast.grad_hidden_norm, ref.grad_hidden_norm), (fast.gates["z"], ref.gates["z"]),
                 (fast.gates["h"], ref.gates["h"])]:
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=1e-5)
    assert fast.param_grad_norms.keys() == ref.param_grad_norms.keys()
    assert set(fast.param_grad_norms) == {n for n, _ in model.named_parameters()}
    for name in ref.param_grad_norms:
        np.testing.assert_allclose(fast.param_grad_norms[name], ref.param_grad_norms[name], rtol=1e-5, atol=1e-6)
    assert np.abs(fast.grad_hidden).max() > 0 and fast.whh is None and fast.cell is None
    # parameter gradients themselves, against autograd through the model's own forward
    L = rnnviz.core.losses.task_loss(model(x), y, loss)[0]
    grads = dict(zip([n for n, _ in model.named_parameters()], torch.autograd.grad(L, list(model.parameters())),
                     strict=True))
    for name, g in grads.items():
        np.testing.assert_allclose(fast.param_grad_norms[name], float(g.norm()), rtol=1e-5, atol=1e-6)


def test_min_gru_trains_records_and_saves(min_gru, tmp_path):
    cfg = rnnviz.RunConfig().with_overrides(cell="mingru", hidden_size=6, seq_len=10, batch_size=4, steps=5)
    trainer = rnnviz.train(cfg)
    assert trainer.step == 5 and all(math.isfinite(row["loss"]) for row in trainer.history)
    trace = trainer.record_trace()
    trace.save(tmp_path / "m.npz")
    back = rnnviz.Trace.load(tmp_path / "m.npz")
    assert set(back.gates) == {"z", "h"} and back.cell_type == "mingru"
    np.testing.assert_array_equal(back.grad_hidden, trace.grad_hidden)


def _ink(image) -> int:
    """How many distinct colours a grabbed widget shows (a blank widget shows one or two)."""
    from PySide6.QtGui import QImage

    img = image.toImage().convertToFormat(QImage.Format.Format_RGB32)
    arr = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    return len(np.unique(arr[:, : img.width() * 4].reshape(-1, 4), axis=0))


def test_min_gru_is_chosen_in_the_build_panel_and_drawn_in_every_view(min_gru, qtbot, tmp_path):
    from rnnviz.app.state import SessionState
    from rnnviz.qt.main_window import MainWindow

    cfg = rnnviz.RunConfig().with_overrides(hidden_size=8, seq_len=12, batch_size=4)
    win = MainWindow(SessionState(cfg))
    qtbot.addWidget(win)
    win.resize(1300, 850)
    win.show()
    try:
        assert win.record_sync()
        combo = win.build_panel.controls["cell"]
        choices = {combo.itemData(i): combo.itemText(i) for i in range(combo.count())}
        assert choices["mingru"] == "minGRU" and choices["rnn"] == "SimpleRNN"
        combo.setCurrentIndex(combo.findData("mingru"))  # as a user picks it
        qtbot.waitUntil(lambda: win.state.trace is not None and win.state.trace.cell_type == "mingru",
                        timeout=10000)
        trace = win.state.trace
        assert set(trace.gates) == {"z", "h"} and not win.build_panel.controls["activation"].isEnabled()
        for name in ["graph", *win.tab_names]:
            win.show_view(name)
            view = win.views[name]
            qtbot.wait(10)
            assert view.trace is trace, name
            shot = view.grab()
            shot.save(str(tmp_path / f"{name}.png"))
            assert _ink(shot) > 3, f"{name} draws nothing"
        gates = win.views["gates"]
        assert set(gates.gate_panels) == {"z", "h"}
        assert gates.gate_panels["h"].title.endswith("candidate h̃ = W_h x (linear)")
        assert win.views["equations"].lines[:3] == list(MIN_GRU.equations)
        spectrum = win.views["spectrum"]
        assert "no recurrent weight" in spectrum.message.text()
        from rnnviz.qt.presentation import apply_presentation

        apply_presentation(win, True)  # every view redraws at the new scale
        qtbot.wait(10)
        win.grab().save(str(tmp_path / "presentation.png"))
        apply_presentation(win, False)
    finally:
        win.shutdown()


def test_min_gru_exports_png_and_gif(min_gru, tmp_path):
    from PIL import Image

    from rnnviz.export import PANELS, figure, write_animation, write_png

    model = _min_gru_model()
    x, y = torch.randn(8, 3, 3), torch.randn(3, 2)
    trace = rnnviz.record(model, x, y)
    png = write_png(tmp_path / "all.png", figure(trace, list(PANELS), size=(1280, 900)))
    with Image.open(png) as im:
        assert im.size == (1280, 900) and len(im.convert("RGB").getcolors(1 << 20)) > 20
    gif = write_animation(tmp_path / "steps.gif", "backward", trace, frames=4)
    with Image.open(gif) as im:
        assert im.n_frames == 4


def test_a_cell_with_only_a_step_function_records_through_autograd():
    """The least a new cell needs: its step. Without forward/backward, record differentiates the step."""
    import dataclasses

    spec = register_cell(dataclasses.replace(MIN_GRU, name="mingru_step_only", forward=None, backward=None))
    try:
        cfg = rnnviz.ModelConfig(cell="mingru_step_only", input_size=3, hidden_size=5, output_size=2, seed=4)
        model = rnnviz.build_model(cfg)
        register_cell(MIN_GRU)
        try:
            with torch.no_grad():  # the same weights in the hand-written cell
                twin = _min_gru_model()
                for p, q in zip(twin.parameters(), model.parameters(), strict=True):
                    p.copy_(q)
            x, y = torch.randn(7, 3, 3), torch.randn(3, 2)
            auto, fast = rnnviz.record(model, x, y), rnnviz.record(twin, x, y)
        finally:
            unregister_cell("mingru")
        np.testing.assert_allclose(auto.grad_hidden, fast.grad_hidden, rtol=1e-5, atol=1e-7)
        assert spec.backward is None and auto.cell_type == "mingru_step_only"
    finally:
        unregister_cell("mingru_step_only")
