"""record(): the fast BPTT engine against autograd, torch.nn and closed forms."""

import numpy as np
import pytest
import torch

import rnnviz

ENGINE_CASES = [(cell, act, layers, bidir)
                for cell, act in [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "linear"), ("lstm", "tanh"),
                                  ("gru", "tanh")]
                for layers, bidir in [(1, False), (2, False), (1, True), (2, True)]]


def _model(cell, act, layers, bidir, O=2, I=3, H=6, **kw):
    return rnnviz.build_model(rnnviz.ModelConfig(cell=cell, activation=act, input_size=I, hidden_size=H,
                                                 output_size=O, num_layers=layers, bidirectional=bidir,
                                                 seed=3, **kw))


def _close(a, b, tol=1e-5):
    np.testing.assert_allclose(a, b, atol=tol, rtol=tol)


@pytest.mark.parametrize("cell,act,layers,bidir", ENGINE_CASES)
@pytest.mark.parametrize("target", ["last-mse", "seq-ce"])
def test_fast_engine_equals_autograd_reference(cell, act, layers, bidir, target):
    torch.manual_seed(1)
    T, B = 9, 4
    x = torch.randn(T, B, 3)
    if target == "last-mse":
        model, y = _model(cell, act, layers, bidir, O=2), torch.randn(B, 2)
    else:
        model, y = _model(cell, act, layers, bidir, O=5), torch.randint(0, 5, (T, B))
        y[:3] = -100  # steps without a target
    fast = rnnviz.record(model, x, y)
    ref = rnnviz.record(model, x, y, engine="autograd")
    _close(fast.loss, ref.loss)
    _close(fast.hidden, ref.hidden)
    _close(fast.grad_hidden, ref.grad_hidden)
    _close(fast.grad_hidden_norm, ref.grad_hidden_norm)
    for g in ref.gates:
        _close(fast.gates[g], ref.gates[g])
    if cell == "lstm":
        _close(fast.cell, ref.cell)
        _close(fast.grad_cell, ref.grad_cell)
    assert fast.param_grad_norms.keys() == ref.param_grad_norms.keys()
    for name in ref.param_grad_norms:
        _close(fast.param_grad_norms[name], ref.param_grad_norms[name])
    _close(fast.grad_norm, ref.grad_norm)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_parameter_gradients_match_torch_nn(cell):
    model = _model(cell, "tanh", 2, True, O=1)
    ref = model.to_torch()
    x, y = rnnviz.tasks.adding_problem(seq_len=12, batch_size=5, seed=0)
    model = _model(cell, "tanh", 2, True, O=1, I=2)
    ref = model.to_torch()
    trace = rnnviz.record(model, x, y)
    loss = torch.nn.functional.mse_loss(ref(x)[-1], y)
    loss.backward()
    _close(trace.loss, loss.item())
    for name, p in ref.named_parameters():
        _close(trace.param_grad_norms[name], float(p.grad.norm()))
    total = float(torch.nn.utils.get_total_norm([p.grad for p in ref.parameters()]))
    _close(trace.grad_norm, total, 1e-4)


def test_total_gradient_includes_the_path_through_time():
    """dL/dh_t is the full derivative, not just the direct term nn.RNN's output .grad gives."""
    model = _model("rnn", "tanh", 1, False, O=1)
    x, y = torch.randn(6, 2, 3), torch.randn(2, 1)  # loss only at the last step
    trace = rnnviz.record(model, x, y)
    assert np.all(trace.grad_hidden_norm[0, :-1] > 0)  # a direct-term-only answer would be 0 here
    out, _ = model.rnn(x)
    out.retain_grad()
    torch.nn.functional.mse_loss(model.head(out)[-1], y).backward()
    _close(trace.grad_hidden[0, -1], out.grad[-1].numpy())
    assert float(out.grad[:-1].abs().sum()) == 0.0


@pytest.mark.parametrize("s", [0.8, 1.0, 1.25])
def test_linear_rnn_gradient_follows_closed_form(s):
    """With W_hh = s·I and a loss at T only, ||dL/dh_k|| = s^(T−k) ||dL/dh_T||."""
    T = 30
    model = _model("rnn", "linear", 1, False, O=1, init="identity", init_scale=s)
    x, y = torch.randn(T, 3, 3), torch.randn(3, 1)
    trace = rnnviz.record(model, x, y)
    g = trace.grad_hidden_norm[0].astype(np.float64)
    expected = g[-1] * s ** (T - 1 - np.arange(T))
    np.testing.assert_allclose(g, expected, rtol=1e-4)


def test_clipping_report_matches_torch_clip_grad_norm():
    model = _model("rnn", "relu", 1, False, O=1, init="identity", init_scale=1.5)
    x, y = torch.randn(40, 4, 3), torch.randn(4, 1)
    trace = rnnviz.record(model, x, y, clip_norm=1.0)
    ref = model.to_torch()
    torch.nn.functional.mse_loss(ref(x)[-1], y).backward()
    pre = float(torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0))
    post = float(torch.nn.utils.get_total_norm([p.grad for p in ref.parameters()]))
    _close(trace.grad_norm, pre, 1e-4)
    _close(trace.grad_norm_clipped, post, 1e-4)
    assert trace.clipped and trace.grad_norm > 1.0
    loose = rnnviz.record(model, x, y, clip_norm=10 * trace.grad_norm)
    assert not loose.clipped and loose.grad_norm_clipped == pytest.approx(loose.grad_norm)
    by_value = rnnviz.record(model, x, y, clip_value=1e-3)
    assert by_value.clipped and by_value.grad_norm_clipped < by_value.grad_norm


def test_nothing_is_updated():
    model = _model("lstm", "tanh", 1, False, O=1)
    before = [p.detach().clone() for p in model.parameters()]
    rnnviz.record(model, torch.randn(5, 2, 3), torch.randn(2, 1), clip_norm=0.1)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert all(p.grad is None for p in model.parameters())


def test_exploding_run_is_data_not_a_crash():
    model = _model("rnn", "relu", 1, False, O=1, init="identity", init_scale=40.0)
    x = torch.rand(400, 2, 3) + 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # overflow is data here: no RuntimeWarning either
        trace = rnnviz.record(model, x, torch.ones(2, 1), loss="mse")
    assert trace.nonfinite
    assert trace.nonfinite_steps().any()
    assert not np.isfinite(trace.loss) or not np.isfinite(trace.grad_norm)


def test_shapes_follow_the_design():
    model = _model("lstm", "tanh", 2, True, O=1, I=2, H=8)
    x, y = rnnviz.tasks.adding_problem(seq_len=20, batch_size=3, seed=0)
    t = rnnviz.record(model, x, y)
    assert t.hidden.shape == (4, 20, 3, 8) and t.hidden.dtype == np.float32
    assert t.grad_hidden_norm.shape == (4, 20)
    assert set(t.gates) == {"i", "f", "g", "o"} and t.gates["f"].shape == t.hidden.shape
    assert t.cell.shape == t.hidden.shape and t.grad_cell_norm.shape == (4, 20)
    assert t.whh_singular.shape == (4, 4, 8) and t.whh_eigvals.shape == (4, 4, 8)
    assert t.step_loss.shape == (20,) and np.isnan(t.step_loss[:-1]).all()
    gru = rnnviz.record(_model("gru", "tanh", 1, False, O=1, I=2), x, y)
    assert set(gru.gates) == {"r", "z", "n"} and gru.cell is None


def test_bad_input_is_explained():
    model = _model("rnn", "tanh", 1, False)
    with pytest.raises(ValueError, match="input features"):
        rnnviz.record(model, torch.randn(4, 2, 7), torch.randn(2, 2))
    with pytest.raises(ValueError, match=r"\(T, B, I\)"):
        rnnviz.record(model, torch.randn(4, 3), torch.randn(2, 2))


def test_per_parameter_norms_after_clipping_match_torch():
    model = _model("gru", "tanh", 1, False, O=1)
    x, y = torch.randn(25, 4, 3) * 3, torch.randn(4, 1) * 5
    ref = model.to_torch()
    torch.nn.functional.mse_loss(ref(x)[-1], y).backward()
    torch.nn.utils.clip_grad_value_(ref.parameters(), 0.05)
    torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.1)
    trace = rnnviz.record(model, x, y, clip_norm=0.1, clip_value=0.05)
    for name, p in ref.named_parameters():
        _close(trace.param_grad_norms_clipped[name], float(p.grad.norm()), 1e-4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_torch_time_loops_used_on_gpus_give_the_same_numbers(cell, monkeypatch):
    import rnnviz.core.cells.loops as rec

    model = _model(cell, "tanh", 1, True, O=1)
    x, y = torch.randn(8, 3, 3), torch.randn(3, 1)
    on_numpy = rnnviz.record(model, x, y)
    monkeypatch.setattr(rec, "LOOP_ON_NUMPY", False)
    on_torch = rnnviz.record(model, x, y)
    _close(on_numpy.grad_hidden, on_torch.grad_hidden)
    _close(on_numpy.hidden, on_torch.hidden)
    if cell == "lstm":
        _close(on_numpy.cell, on_torch.cell)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_record_matches_cpu():
    model = _model("lstm", "tanh", 2, True, O=1)
    x, y = torch.randn(10, 3, 3), torch.randn(3, 1)
    cpu = rnnviz.record(model, x, y)
    gpu = rnnviz.record(model.to("cuda"), x, y)
    _close(cpu.grad_hidden, gpu.grad_hidden, 1e-4)
