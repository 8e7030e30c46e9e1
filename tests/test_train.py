"""The trainer: learning, clipping, truncation, callbacks, control from another thread."""

import math
import threading

import pytest
import torch

import rnnviz
from rnnviz.core.train import Trainer, build_run


def _cfg(**kw):
    base = dict(cell="rnn", hidden_size=16, task="adding", seq_len=10, batch_size=16, lr=0.01, steps=60)
    base.update(kw)
    return rnnviz.RunConfig().with_overrides(**base)


def test_training_reduces_the_loss_and_history_has_the_columns():
    trainer = rnnviz.train(_cfg(steps=150, cell="gru"))
    h = trainer.history
    assert len(h) == 150 and {"step", "loss", "grad_norm", "clipped"} <= set(h[0])
    first = sum(r["loss"] for r in h[:10]) / 10
    last = sum(r["loss"] for r in h[-10:]) / 10
    assert last < 0.6 * first


def test_same_seed_same_history_different_seed_differs():
    a = rnnviz.train(_cfg(steps=15)).history
    b = rnnviz.train(_cfg(steps=15)).history
    c = rnnviz.train(_cfg(steps=15, seed=5)).history
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert [r["loss"] for r in a] != [r["loss"] for r in c]


def test_clip_by_norm_records_pre_clip_norm_and_caps_the_update():
    cfg = _cfg(init="identity", init_scale=1.5, activation="relu", seq_len=30, optimizer="sgd", lr=1e-3,
               clip="norm", clip_norm=0.5, steps=5)
    model, _ = build_run(cfg)
    seen = []

    def watch(event, payload):
        if event == "step":
            grads = [p.grad for p in model.parameters()]
            seen.append((payload["grad_norm"], float(torch.nn.utils.get_total_norm(grads))))

    Trainer(model, cfg.task, cfg.train, [watch]).run()
    assert any(pre > 0.5 for pre, _ in seen)
    for pre, post in seen:
        assert post <= 0.5 + 1e-4
        if pre > 0.5:
            assert post == pytest.approx(0.5, rel=1e-3)


def test_clip_by_value():
    cfg = _cfg(clip="value", clip_value=1e-4, steps=3)
    model, _ = build_run(cfg)
    maxes = []
    Trainer(model, cfg.task, cfg.train,
            [lambda e, p: e == "step" and maxes.append(max(float(q.grad.abs().max()) for q in model.parameters()))]
            ).run()
    assert all(m <= 1e-4 + 1e-9 for m in maxes)


def test_truncated_bptt_cuts_the_gradient_path():
    cfg = _cfg(cell="rnn", activation="linear", init="identity", init_scale=1.0, seq_len=20, tbptt=5, steps=1)
    model, batch = build_run(cfg)
    trainer = Trainer(model, cfg.task, cfg.train)
    x = batch.x.clone().requires_grad_(True)
    y_hat = trainer._forward(x)
    y_hat[-1].sum().backward()
    reached = x.grad.abs().sum(dim=(1, 2)) > 0
    assert reached[-5:].all() and not reached[:-5].any()


def test_traces_every_n_steps_and_callbacks():
    events = []
    trainer = rnnviz.train(_cfg(steps=20, record_every=5), callbacks=[lambda e, p: events.append(e)])
    assert [s for s, _ in trainer.traces] == [0, 5, 10, 15, 20]
    assert events.count("step") == 20 and events.count("trace") == 5 and events[-1] == "end"


def test_pause_resume_and_stop_from_another_thread():
    cfg = _cfg(steps=100000)
    model, _ = build_run(cfg)
    trainer = Trainer(model, cfg.task, cfg.train)
    worker = threading.Thread(target=trainer.run)
    worker.start()
    while trainer.step < 3:
        pass
    trainer.pause()
    import time

    time.sleep(0.1)
    paused_at = trainer.step
    time.sleep(0.2)
    assert trainer.step <= paused_at + 1
    trainer.resume()
    while trainer.step < paused_at + 3:
        pass
    trainer.stop()
    worker.join(5)
    assert not worker.is_alive() and trainer.step < 100000


def test_exploding_step_is_recorded_not_applied():
    cfg = _cfg(cell="rnn", activation="relu", init="identity", init_scale=30.0, seq_len=200, steps=2,
               optimizer="sgd")
    trainer = rnnviz.train(cfg)
    assert any(not math.isfinite(r["grad_norm"]) or not r["applied"] for r in trainer.history) or \
        max(r["grad_norm"] for r in trainer.history) > 1e10
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_text_task_sizes_follow_the_text():
    cfg = _cfg(task="char_lm", text="hello world", seq_len=8, batch_size=2, steps=2)
    model, batch = build_run(cfg)
    assert model.cfg.input_size == len(set("hello world")) == model.cfg.output_size
