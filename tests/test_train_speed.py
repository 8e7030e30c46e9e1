"""The trainer's fast paths compute exactly what the plain formulation computes.

The reference below is the trainer as it was before the fast paths: the model's full forward
(head on every step), ``task_loss``'s masked mean, clipping over ``model.parameters()``.
"""

import copy
import math

import pytest
import torch

import rnnviz
from rnnviz.core.losses import task_loss
from rnnviz.core.train import Trainer, build_run, make_optimizer, task_batch


def _reference_run(model, cfg, steps):
    model = copy.deepcopy(model)
    opt = make_optimizer(model.parameters(), cfg.train)
    losses = []
    for i in range(steps):
        batch = task_batch(cfg.task, i)
        model.train()
        opt.zero_grad(set_to_none=True)
        loss, _ = task_loss(model(batch.x), batch.y, batch.loss)
        loss.backward()
        params = [p for p in model.parameters() if p.grad is not None]
        if cfg.train.clip == "norm":
            norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.train.clip_norm))
        else:
            norm = float(torch.nn.utils.get_total_norm([p.grad for p in params]))
        if math.isfinite(norm) and math.isfinite(loss.item()):
            opt.step()
        losses.append((loss.item(), norm))
    return model, losses


@pytest.mark.parametrize("overrides", [
    dict(cell="lstm", task="adding", clip="norm", clip_norm=0.1, optimizer="adam"),  # MSE, last step only
    dict(cell="gru", task="sentiment", optimizer="sgd"),  # CE, one class per sequence
    dict(cell="rnn", task="copy", optimizer="momentum"),  # CE at some steps: the general path
    dict(cell="lstm", task="tagging", optimizer="rmsprop"),  # BCE at every step: the general path
])
def test_trainer_matches_the_plain_formulation(overrides):
    cfg = rnnviz.RunConfig().with_overrides(hidden_size=8, seq_len=12, batch_size=4, lr=0.01, record_every=0,
                                            **overrides)
    model, _ = build_run(cfg)
    ref_model, ref = _reference_run(model, cfg, 6)
    trainer = Trainer(model, cfg.task, cfg.train)
    rows = [trainer.train_step(task_batch(cfg.task, i)) for i in range(6)]
    for row, (loss, norm) in zip(rows, ref, strict=True):
        assert row["loss"] == pytest.approx(loss, rel=1e-5)
        assert row["grad_norm"] == pytest.approx(norm, rel=1e-4)
    for (name, a), b in zip(model.named_parameters(), ref_model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)


def test_trainer_history_matches_the_plain_formulation():
    cfg = rnnviz.RunConfig().with_overrides(cell="lstm", task="adding", hidden_size=8, seq_len=20, batch_size=4,
                                            clip="norm", clip_norm=0.05, record_every=0, lr=0.01)
    model, _ = build_run(cfg)
    _, ref = _reference_run(model, cfg, 5)
    history = Trainer(model, cfg.task, cfg.train).run(5)
    assert any(r["clipped"] for r in history)
    for row, (loss, norm) in zip(history, ref, strict=True):
        assert row["loss"] == pytest.approx(loss, rel=1e-5)
        assert row["grad_norm"] == pytest.approx(norm, rel=1e-4)
