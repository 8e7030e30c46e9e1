"""record() tells the truth: tiny gradient norms that do not underflow, and the task's own loss."""

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.core.losses import resolve_loss, task_loss
from rnnviz.core.train import build_run

TINY = 1e-30  # the norms must be true down to here (the plots' floor)


def _vanishing_trace(cell):
    x, y = rnnviz.tasks.adding_problem(seq_len=200, batch_size=16, seed=0)
    model = rnnviz.build_model(rnnviz.ModelConfig(cell=cell, input_size=2, hidden_size=32, output_size=1, seed=0))
    return rnnviz.record(model, x, y)


def _check_norms(grad, stored):
    g64 = grad.astype(np.float64)
    true = np.sqrt((g64 * g64).sum(axis=(2, 3)))  # (K, T) float64 on the very same gradients
    present = true > TINY
    np.testing.assert_allclose(stored[present], true[present], rtol=1e-5, atol=0)
    # the case the fix is for: steps whose float32 sum of squares underflows
    naive = torch.from_numpy(grad).flatten(2).norm(dim=2).numpy()
    assert ((naive == 0) & present).sum() > 10
    return true


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_norms_follow_float64_down_to_1e30(cell):
    trace = _vanishing_trace(cell)
    true = _check_norms(trace.grad_hidden, trace.grad_hidden_norm)
    assert true.max() > 1e-3 and ((true > TINY) & (true < 1e-25)).sum() > 10  # the curve really falls that far
    if cell == "lstm":
        _check_norms(trace.grad_cell, trace.grad_cell_norm)
    else:
        assert trace.grad_cell_norm is None


def test_huge_gradients_do_not_overflow_in_the_squares():
    model = rnnviz.build_model(rnnviz.ModelConfig(cell="rnn", activation="linear", input_size=1, hidden_size=4,
                                                  output_size=1, init="identity", init_scale=1.0))
    with torch.no_grad():
        model.head.weight.fill_(1e22)  # dL/dh ~ 1e22 per element: squares ~1e44 overflow float32
        model.head.bias.fill_(1.0)
    # zero inputs keep h = 0 (the identity init zeroes the biases), so ŷ = 1 and the loss stays finite
    trace = rnnviz.record(model, torch.zeros(5, 2, 1), torch.zeros(2, 1), loss="mse")
    assert np.isfinite(trace.loss)
    true = np.sqrt((trace.grad_hidden.astype(np.float64) ** 2).sum(axis=(2, 3)))
    assert np.isfinite(true).all() and true.max() ** 2 > np.finfo(np.float32).max
    assert np.isinf(torch.from_numpy(trace.grad_hidden).flatten(2).norm(dim=2).numpy()).all()  # float32's answer
    np.testing.assert_allclose(trace.grad_hidden_norm, true, rtol=1e-5)


# ---------------------------------------------------------------------------------------
# The task's own loss
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tagging():
    cfg = rnnviz.RunConfig().with_overrides(task="tagging")
    model, probe = build_run(cfg)[:2]
    return model, probe


def test_tagging_is_recorded_with_its_bce_loss(tagging):
    model, batch = tagging
    assert batch.loss == "bce" and torch.is_floating_point(batch.y)
    with torch.no_grad():
        bce = float(task_loss(model(batch.x), batch.y, "bce")[0])
        mse = float(task_loss(model(batch.x), batch.y, "mse")[0])
    assert abs(bce - mse) > 0.1  # the two losses are far apart on this task
    by_batch = rnnviz.record(model, batch)
    x, y = batch
    unpacked = rnnviz.record(model, x, y)  # as the README writes it
    for trace in (by_batch, unpacked):
        assert trace.meta["loss"] == "bce"
        np.testing.assert_allclose(trace.loss, bce, rtol=1e-6)
    assert by_batch.meta["task"] == "tagging" and by_batch.meta["tokens"] == batch.tokens
    np.testing.assert_allclose(rnnviz.record(model, x, y, loss="mse").loss, mse, rtol=1e-6)  # when asked


def test_auto_refuses_to_guess_between_mse_and_bce(tagging):
    model, batch = tagging
    with pytest.raises(ValueError, match="pass loss='mse' or loss='bce'"):
        rnnviz.record(model, batch.x, batch.y.clone())  # 0/1 floats of unknown origin
    with pytest.raises(TypeError, match="do not pass y"):
        rnnviz.record(model, batch, batch.y)
    with pytest.raises(TypeError, match="needs targets"):
        rnnviz.record(model, batch.x)
    assert resolve_loss(torch.tensor([[0.5, 2.0]])) == "mse"  # outside [0, 1]: cannot be labels
    assert resolve_loss(torch.tensor([1, 0])) == "ce"
    assert resolve_loss(torch.full((3, 1), float("nan"))) == "mse"  # no target at all: nothing to get wrong
    assert resolve_loss(torch.tensor([[0.0, 1.0]]), "bce") == "bce"
    with pytest.raises(ValueError, match="loss must be"):
        resolve_loss(torch.tensor([1.0]), "hinge")


def test_every_task_records_with_its_own_loss():
    for name in rnnviz.tasks.TASKS:
        cfg = rnnviz.RunConfig().with_overrides(task=name, hidden_size=4, seq_len=12, batch_size=2)
        model, batch = build_run(cfg)[:2]
        x, y = batch
        assert rnnviz.record(model, x, y).meta["loss"] == batch.loss, name
