"""The cells, written from the equations, against torch.nn with copied weights."""

import itertools

import pytest
import torch

import rnnviz
from rnnviz.core.model import RNNModel

CASES = [(cell, act, layers, bidir)
         for cell, act in [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]
         for layers, bidir in itertools.product((1, 2), (False, True))]


def _cfg(cell, act, layers, bidir, **kw):
    return rnnviz.ModelConfig(cell=cell, activation=act, input_size=3, hidden_size=5, output_size=2,
                              num_layers=layers, bidirectional=bidir, seed=1, **kw)


@pytest.mark.parametrize("cell,act,layers,bidir", CASES)
def test_equations_match_torch_nn_outputs_and_gradients(cell, act, layers, bidir):
    torch.manual_seed(0)
    model = rnnviz.build_model(_cfg(cell, act, layers, bidir))
    ref = model.to_torch()
    x = torch.randn(7, 4, 3)
    y_eq, state_eq, _ = model.forward_equations(x)
    y_ref = ref(x)
    torch.testing.assert_close(y_eq, y_ref, atol=1e-5, rtol=1e-5)
    _, state_ref = ref.rnn(x)
    for a, b in zip(state_eq if cell == "lstm" else [state_eq], state_ref if cell == "lstm" else [state_ref],
                    strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
    w = torch.randn_like(y_ref)
    g_eq = torch.autograd.grad((y_eq * w).sum(), list(model.parameters()))
    g_ref = torch.autograd.grad((y_ref * w).sum(), list(ref.parameters()))
    for a, b in zip(g_eq, g_ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_native_forward_equals_equations_for_every_cell():
    for cell, act, layers, bidir in CASES:
        model = rnnviz.build_model(_cfg(cell, act, layers, bidir))
        x = torch.randn(6, 2, 3)
        torch.testing.assert_close(model(x), model.forward_equations(x)[0], atol=1e-5, rtol=1e-5)


def test_from_torch_round_trip_is_exact():
    lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True)
    head = torch.nn.Linear(8, 2)
    model = rnnviz.from_torch(lstm, head)
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(model(x), head(lstm(x)[0]))
    back = model.to_torch()
    assert torch.equal(back.rnn.weight_hh_l1_reverse, lstm.weight_hh_l1_reverse)
    with pytest.raises(TypeError):
        rnnviz.from_torch(torch.nn.Linear(2, 2))


def test_linear_rnn_runs_equations_and_refuses_torch_export():
    model = rnnviz.build_model(_cfg("rnn", "linear", 1, False))
    assert not model.native
    x = torch.randn(4, 2, 3)
    W_xh, W_hh, b_xh, b_hh = model.layer_weights(0)
    h = torch.zeros(2, 5)
    for t in range(4):
        h = x[t] @ W_xh.T + b_xh + h @ W_hh.T + b_hh
    torch.testing.assert_close(model(x)[-1], model.head(h))
    with pytest.raises(ValueError, match="linear"):
        model.to_torch()


def test_default_init_is_exactly_pytorchs():
    cfg = _cfg("lstm", "tanh", 2, True)
    model = RNNModel(cfg)
    torch.manual_seed(cfg.seed)
    ref = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True)
    for (n, a), (_, b) in zip(model.rnn.named_parameters(), ref.named_parameters(), strict=True):
        assert torch.equal(a, b), n


def test_identity_init_and_forget_bias():
    model = rnnviz.build_model(_cfg("rnn", "relu", 2, False, init="identity", init_scale=0.5))
    for layer in range(2):
        _, W_hh, b_xh, b_hh = model.layer_weights(layer)
        torch.testing.assert_close(W_hh, 0.5 * torch.eye(5))
        assert not b_xh.any() and not b_hh.any()
    lstm = rnnviz.build_model(_cfg("lstm", "tanh", 1, False, forget_bias=1.0))
    _, _, b_xh, b_hh = lstm.layer_weights(0)
    assert torch.all(b_xh[5:10] + b_hh[5:10] == 1.0)
    ortho = rnnviz.build_model(_cfg("rnn", "tanh", 1, False, init="orthogonal", init_scale=2.0))
    W = ortho.layer_weights(0)[1]
    torch.testing.assert_close(W @ W.T, 4.0 * torch.eye(5), atol=1e-5, rtol=1e-5)


def test_seed_makes_models_reproducible_and_different_seeds_differ():
    a = rnnviz.build_model(_cfg("gru", "tanh", 1, False))
    b = rnnviz.build_model(_cfg("gru", "tanh", 1, False))
    c = rnnviz.build_model(rnnviz.ModelConfig(cell="gru", input_size=3, hidden_size=5, output_size=2, seed=2))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.rnn.weight_hh_l0, c.rnn.weight_hh_l0)


def test_missing_gpu_falls_back_to_cpu_with_one_message():
    said = []
    dev = rnnviz.resolve_device("cuda", warn=said.append)
    if torch.cuda.is_available():
        assert dev.type == "cuda" and not said
    else:
        assert dev.type == "cpu" and len(said) == 1 and "CUDA" in said[0]
    with pytest.raises(ValueError, match="unknown device"):
        rnnviz.resolve_device("tpu")


def test_bad_model_configs_name_the_key():
    for kw, key in [({"cell": "transformer"}, "cell"), ({"hidden_size": 0}, "hidden_size"),
                    ({"num_layers": 99}, "num_layers"), ({"activation": "gelu"}, "activation"),
                    ({"init_scale": float("nan")}, "init_scale")]:
        with pytest.raises(rnnviz.ConfigError, match=key):
            rnnviz.ModelConfig(**kw)
