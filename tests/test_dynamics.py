"""rnnviz.dynamics: Jacobians, fixed points, Lyapunov exponents and connectivity, checked against
what they must equal (BPTT, the linear network's own W_hh, autograd's full Jacobian)."""

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.core.cells import cell_step
from rnnviz.dynamics import connectivity, fixed_points, jacobians, lyapunov, lyapunov_sweep, step_map
from rnnviz.dynamics.lyapunov import _rnn_tangent

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("rnn", "linear"), ("lstm", "tanh"), ("gru", "tanh")]


def _model(cell, activation="tanh", H=16, I=2, O=1, seed=1, **kw):
    cfg = rnnviz.ModelConfig(cell=cell, activation=activation, input_size=I, hidden_size=H, output_size=O,
                             seed=seed, **kw)
    return rnnviz.build_model(cfg)


def _rel(a, b):
    """Relative error per step: ‖a_t − b_t‖ / ‖b_t‖ over (batch, units)."""
    return np.linalg.norm(a - b, axis=(1, 2)) / np.linalg.norm(b, axis=(1, 2))


@pytest.mark.parametrize(("cell", "activation"), CELLS)
def test_jacobian_product_is_the_traces_bptt_gradient(cell, activation):
    """Loss at the last step only: ∂L/∂h_k = J_{k+1}ᵀ⋯J_Tᵀ ∂L/∂h_T equals the Trace's BPTT grad."""
    model = _model(cell, activation)
    x, y = rnnviz.tasks.adding_problem(seq_len=40, batch_size=4, seed=0)  # many-to-one: loss at T only
    trace = rnnviz.record(model, x, y)
    J = jacobians(trace, model=model, keep=True)
    H = 16
    g_end = trace.grad_hidden[0, -1]
    if cell == "lstm":  # the state is [h, c]; nothing reaches c_T except through h_T
        g_end = np.concatenate([g_end, np.zeros_like(g_end)], axis=-1)
    g = J.backprop(g_end)
    ref = trace.grad_hidden[0]
    assert np.all(np.linalg.norm(ref, axis=(1, 2)) > 0)
    assert _rel(g[..., :H], ref).max() < 1e-5
    if cell == "lstm":  # the c half: ∂L/∂c_k with h_k held = total ∂L/∂c_k minus the path through h_k
        o, c = trace.gates["o"][0], trace.cell[0]
        ref_c = trace.grad_cell[0] - trace.grad_hidden[0] * o * (1 - np.tanh(c) ** 2)
        assert _rel(g[:-1, :, H:], ref_c[:-1]).max() < 1e-5
    # a wrong Jacobian would be caught: transposing them breaks the identity
    wrong = J.matrices.transpose(0, 1, 2, 4, 3).copy()
    J.matrices = wrong
    assert _rel(J.backprop(g_end)[:-2, :, :H], ref[:-2]).max() > 1e-3


def test_deep_bidirectional_top_layer_and_model_path_agree_with_the_trace():
    model = _model("gru", num_layers=2, bidirectional=True)
    x, y = rnnviz.tasks.adding_problem(seq_len=25, batch_size=3, seed=4)
    trace = rnnviz.record(model, x, y)
    J = jacobians(trace, model=model, keep=True)
    k = 2  # layer 1, forward direction: only its last step sees the loss directly
    g = J.backprop(trace.grad_hidden[k, -1], k=k)
    assert _rel(g, trace.grad_hidden[k]).max() < 1e-5
    J2 = jacobians(model, x, samples=[2])  # from the model and x instead of the Trace
    assert np.allclose(J2.singular_values[:, :, 0], J.singular_values[:, :, 2], rtol=1e-5, atol=1e-9)
    assert J.singular_values.shape == (4, 25, 3, 16) and J.product_log10.shape == (4, 25, 3)


def test_product_norm_and_singular_values_of_a_linear_network():
    """h_t = W_hh h_{t-1} + …: every J_t is W_hh, the product to the end is W_hh^(T-1-t)."""
    model = _model("rnn", "linear", H=6, init="orthogonal", init_scale=0.8)
    x = torch.randn(12, 2, 2)
    J = jacobians(model, x)
    W = model.layer_weights(0)[1].detach().double().numpy()
    assert np.allclose(J.singular_values[0], np.linalg.svd(W, compute_uv=False), atol=1e-6)
    expected = [np.log10(np.linalg.norm(np.linalg.matrix_power(W, 11 - t), 2)) for t in range(12)]
    assert np.allclose(J.product_log10[0, :, 0], expected, atol=1e-6)
    assert np.allclose(expected[0], 11 * np.log10(0.8), atol=1e-5)  # orthogonal × 0.8
    with pytest.raises(ValueError, match="keep=True"):
        J.backprop(np.zeros((2, 6)))


def test_product_norm_survives_underflow():
    """Far below 1e-300 the running product is still a finite log10 (carried with a scale)."""
    model = _model("rnn", "linear", H=4, init="orthogonal", init_scale=0.1)
    J = jacobians(model, torch.randn(400, 1, 2))
    assert np.isfinite(J.product_log10).all()
    assert J.product_log10[0, 0, 0] == pytest.approx(-399, abs=1e-3)


def test_linear_network_fixed_point_is_the_origin_with_w_hh_eigenvalues():
    rng = np.random.default_rng(0)
    # a random W_hh with all |λ| < 1, and one with two modes pushed out (|λ| = 1.5, 1.2)
    A = rng.normal(size=(8, 8)) / np.sqrt(8)
    A *= 0.9 / np.abs(np.linalg.eigvals(A)).max()
    Q = np.linalg.qr(rng.normal(size=(8, 8)))[0]
    B = Q @ np.diag([1.5, 1.2, 0.9, 0.7, -0.5, 0.3, 0.2, -0.1]) @ Q.T
    for W, kind, n_out in [(A, "stable", 0), (B, "saddle", 2)]:
        model = _model("rnn", "linear", H=8, init="xavier", seed=3)  # xavier: biases zero
        with torch.no_grad():
            model.layer_weights(0)[1].copy_(torch.as_tensor(W))
        W = model.layer_weights(0)[1].detach().double().numpy()
        fp = fixed_points(model, states=rng.normal(size=(32, 8)), n_starts=32)
        assert len(fp) == 1
        assert np.abs(fp.points[0]).max() < 1e-6 and fp.q[0] < 1e-12
        expected = np.linalg.eigvals(W)
        assert np.allclose(np.sort_complex(fp.eigvals[0]), np.sort_complex(expected), atol=1e-8)
        assert np.all(np.diff(np.abs(fp.eigvals[0])) <= 1e-12)  # largest |λ| first
        assert fp.kinds == [kind] and fp.n_unstable[0] == n_out
        if kind == "saddle":
            v = fp.unstable_directions(0)  # the unstable modes' directions really grow under W
            assert v.shape == (2, 8) and np.all(np.linalg.norm(v @ W.T, axis=1) > 1.1)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_found_fixed_points_have_a_small_residual(cell):
    model = _model(cell, H=12, init_scale=1.0, seed=2)
    x = torch.randn(30, 4, 2)
    fp = fixed_points(model, x=x, n_starts=48, adam_steps=100)
    assert len(fp) >= 1 and fp.n_starts == 48
    weights = tuple(w.detach().double() for w in model.layer_weights(0))
    for s in fp.points:  # q recomputed from the cell equations directly
        s = torch.as_tensor(s)[None]
        state = (s[:, :12], s[:, 12:]) if cell == "lstm" else s
        new, _ = cell_step(cell, torch.zeros(1, 2, dtype=torch.float64), state, weights)
        new = torch.cat(new, 1) if cell == "lstm" else new
        assert 0.5 * float(((new - s) ** 2).sum()) < 1e-12
    assert fp.jacobians.shape == (len(fp), fp.points.shape[1], fp.points.shape[1])
    assert set(fp.kinds) <= {"stable", "saddle", "unstable"} and "stable" in fp.summary()


def test_fixed_points_with_a_constant_input_and_bad_arguments():
    model = _model("rnn", H=8, init="xavier", init_scale=0.5)  # contracting: one fixed point
    fp = fixed_points(model, x_const=[1.0, -0.5], states=np.zeros((4, 8)), n_starts=8)
    assert len(fp) == 1 and fp.kinds == ["stable"]
    s = torch.as_tensor(fp.points[0])
    F = step_map(model)
    assert torch.allclose(F(s[None], torch.tensor([[1.0, -0.5]], dtype=torch.float64))[0], s, atol=1e-9)
    assert np.abs(fp.points[0]).max() > 1e-3  # the input moved it off the origin
    with pytest.raises(ValueError, match="2 values"):
        fixed_points(model, x_const=[1.0], states=np.zeros((4, 8)))
    with pytest.raises(ValueError, match="starting states"):
        fixed_points(model)
    with pytest.raises(TypeError, match="RNNModel"):
        fixed_points(torch.nn.GRU(2, 3), states=np.zeros((1, 3)))


def test_lyapunov_of_a_linear_network_is_log_of_its_eigenvalues():
    """h_t = W h_{t-1}: the exponents are log |λ_i(W)| (here distinct, W non-normal)."""
    rng = np.random.default_rng(1)
    P = rng.normal(size=(6, 6))
    lam = np.array([1.3, -0.9, 0.7, 0.5, -0.3, 0.2])
    W = P @ np.diag(lam) @ np.linalg.inv(P)
    model = _model("rnn", "linear", H=6, init="xavier")
    with torch.no_grad():
        model.layer_weights(0)[1].copy_(torch.as_tensor(W))
    ly = lyapunov(model, k=6, steps=800, burn_in=0, n_trajectories=1)
    assert np.allclose(ly.exponents, np.log(np.abs(lam)), atol=1e-2)
    assert ly.largest > 0  # |1.3| > 1: this linear network blows up, and the exponent says so


def test_written_out_rnn_tangent_equals_autograd():
    model = _model("rnn", H=10, init="xavier", init_scale=1.3)
    F = step_map(model)
    s, u = torch.randn(3, 10, dtype=torch.float64), torch.randn(3, 2, dtype=torch.float64)
    V = torch.randn(3, 10, 4, dtype=torch.float64)
    out_a, jv_a = F.jvp(s, u, V)
    out_b, jv_b = _rnn_tangent(F.weights, "tanh")(s, u, V)
    assert torch.allclose(out_a, out_b) and torch.allclose(jv_a, jv_b)
    assert torch.allclose(jv_a, F.jacobian(s, u) @ V)


def test_random_tanh_network_is_orderly_at_gain_08_and_chaotic_at_15():
    sweep = lyapunov_sweep([0.8, 1.0, 1.5], hidden_size=256, steps=300, burn_in=200, seed=0)
    assert sweep.largest[0] < -0.1 and sweep.largest[2] > 0.02
    assert 0.9 < sweep.crossing() < 1.5


def test_batched_sweep_equals_one_network_at_a_time():
    sweep = lyapunov_sweep([0.7, 1.6], hidden_size=32, steps=50, burn_in=10, seed=1)
    for g, lam in zip(sweep.gains, sweep.largest, strict=True):
        model = rnnviz.build_model(rnnviz.ModelConfig(cell="rnn", hidden_size=32, init="xavier",
                                                      init_scale=float(g), seed=1))
        assert lyapunov(model, k=1, steps=50, burn_in=10, seed=1).largest == pytest.approx(lam, abs=1e-9)


def test_gru_and_lstm_lyapunov_run_through_autograd():
    for cell in ("gru", "lstm"):
        ly = lyapunov(_model(cell, H=8), k=3, steps=60, burn_in=10, n_trajectories=2)
        assert ly.exponents.shape == (3,) and np.all(np.diff(ly.exponents) <= 0)
        assert ly.largest < 0.5 and np.isfinite(ly.running).all()


@pytest.mark.parametrize(("cell", "bidirectional"), [("rnn", False), ("lstm", True), ("gru", False)])
def test_connectivity_equals_autograds_full_jacobian(cell, bidirectional):
    model = _model(cell, H=8, O=2, bidirectional=bidirectional)
    x = torch.randn(9, 3, 2)
    C = connectivity(model, x)
    full = torch.autograd.functional.jacobian(lambda z: model(z), x)  # (T, B, O, T, B, I)
    for b in range(3):
        ref = full[:, b, :, :, b, :].pow(2).sum((1, 3)).sqrt().numpy()
        assert np.allclose(C.per_sample[b], ref, rtol=1e-5, atol=1e-8)
    upper = np.triu(C.matrix, k=1)
    assert (upper.max() > 0) == bidirectional  # a causal network cannot see the future
    assert C.row(4).shape == (9,)
