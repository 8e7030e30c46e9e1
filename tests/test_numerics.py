"""The numerics policy: subnormals flushed inside rnnviz and restored for the caller; threads."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.core import numerics
from rnnviz.core.numerics import fast_floats, flush_denormal_active
from rnnviz.core.train import Trainer, build_run


@pytest.fixture
def unflushed():
    """Start with gradual underflow (the default of a fresh Python process) and leave it so."""
    torch.set_flush_denormal(False)
    yield
    torch.set_flush_denormal(False)


def _numpy_keeps_subnormals() -> bool:
    return np.float32(1e-39) * np.float32(1.0) != 0 and np.array([1e-39], np.float32)[0] * 2 != 0


def test_fast_floats_flushes_numpy_too_and_restores(unflushed):
    assert not flush_denormal_active() and _numpy_keeps_subnormals()
    with fast_floats():
        assert flush_denormal_active()
        # numpy has no switch of its own: it obeys the thread's FTZ/DAZ bits that torch set
        assert (np.full(8, 1e-30, np.float32) * np.float32(1e-10) == 0).all()
        assert (torch.full((8,), 1e-30) * 1e-10 == 0).all()
        with fast_floats():  # nesting keeps the outer state
            pass
        assert flush_denormal_active()
    assert not flush_denormal_active() and _numpy_keeps_subnormals()


def test_fast_floats_off_inside_a_flushed_process_restores_flushing():
    torch.set_flush_denormal(True)
    try:
        with fast_floats(False):
            assert not flush_denormal_active()
            assert np.float32(1e-30) * np.float32(1e-10) != 0
        assert flush_denormal_active()
    finally:
        torch.set_flush_denormal(False)


def test_flushing_is_per_thread(unflushed):
    seen = {}
    inside, release = threading.Event(), threading.Event()

    def worker():
        with fast_floats():
            seen["worker"] = flush_denormal_active()
            inside.set()
            release.wait(5)

    t = threading.Thread(target=worker)
    t.start()
    inside.wait(5)
    seen["main while worker flushes"] = flush_denormal_active()
    release.set()
    t.join(5)
    assert seen == {"worker": True, "main while worker flushes": False}


def _small_rnn_run(seq_len=200):
    cfg = rnnviz.ModelConfig(cell="rnn", input_size=2, hidden_size=32, output_size=1, seed=0)
    model = rnnviz.build_model(cfg)
    batch = rnnviz.tasks.adding_problem(seq_len=seq_len, batch_size=16, seed=0)
    return model, batch


def test_record_and_trainer_leave_the_callers_state(unflushed):
    model, batch = _small_rnn_run(seq_len=20)
    torch.set_num_threads(2)
    try:
        for flushed in (False, True):
            torch.set_flush_denormal(flushed)
            rnnviz.record(model, batch.x, batch.y, loss="mse")
            assert flush_denormal_active() == flushed
            assert torch.get_num_threads() == 2
        cfg = rnnviz.RunConfig().with_overrides(cell="lstm", hidden_size=8, seq_len=10, batch_size=4, steps=2)
        m, _ = build_run(cfg)
        torch.set_flush_denormal(False)
        Trainer(m, cfg.task, cfg.train).run(2)
        assert not flush_denormal_active() and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(2)


def test_rnnviz_threads_env_applies_inside_record_only(monkeypatch):
    seen = []
    monkeypatch.setenv(numerics.THREADS_ENV, "1")
    torch.set_num_threads(2)
    try:
        with numerics.fast_mode():
            seen.append(torch.get_num_threads())
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(2)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_bad_thread_counts_get_one_clear_message(monkeypatch, value):
    with pytest.raises(ValueError, match="whole number of threads"):
        numerics.choose_threads(value)
    monkeypatch.setenv(numerics.THREADS_ENV, value)
    with pytest.raises(ValueError, match="RNNVIZ_THREADS"):
        numerics.choose_threads()


def test_choose_threads_order_flag_then_env_then_free_cores(monkeypatch):
    monkeypatch.setenv(numerics.THREADS_ENV, "3")
    assert numerics.choose_threads("5") == 5
    assert numerics.choose_threads() == 3
    monkeypatch.delenv(numerics.THREADS_ENV)
    monkeypatch.setenv("OMP_NUM_THREADS", "5")  # an explicit OpenMP choice is torch's count
    assert numerics.choose_threads() == torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS")
    n = numerics.choose_threads(limit=64)
    assert 1 <= n <= numerics.free_cores()
    assert numerics.choose_threads(limit=1) == 1


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_flushing_loses_nothing_above_the_subnormal_range(monkeypatch, cell):
    """The stored per-step norms and gradients are the same flushed and unflushed wherever the
    values are above 1e-30 (float32 subnormals start at 1.2e-38)."""
    cfg = rnnviz.ModelConfig(cell=cell, input_size=2, hidden_size=32, output_size=1, seed=0)
    model = rnnviz.build_model(cfg)
    batch = rnnviz.tasks.adding_problem(seq_len=200, batch_size=16, seed=0)
    flushed = rnnviz.record(model, batch.x, batch.y, loss="mse")
    monkeypatch.setenv(numerics.FLUSH_ENV, "0")
    exact = rnnviz.record(model, batch.x, batch.y, loss="mse")
    arrays = [("grad_hidden", flushed.grad_hidden, exact.grad_hidden, flushed.grad_hidden_norm,
               exact.grad_hidden_norm)]
    if cell == "lstm":
        arrays.append(("grad_cell", flushed.grad_cell, exact.grad_cell, flushed.grad_cell_norm,
                       exact.grad_cell_norm))
    for name, a, b, stored_a, stored_b in arrays:  # per-step norms of the stored gradients, taken in float64
        na, nb = (np.linalg.norm(g.astype(np.float64).reshape(*g.shape[:2], -1), axis=2) for g in (a, b))
        keep = nb > 1e-30
        assert keep.sum() > 20, name  # the run really reaches small values
        np.testing.assert_allclose(na[keep], nb[keep], rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(stored_a[keep], stored_b[keep], rtol=1e-5, err_msg=name + "_norm")
        np.testing.assert_allclose(stored_b[keep], nb[keep], rtol=1e-5, err_msg=name + "_norm vs float64")
    big = np.abs(exact.grad_hidden) > 1e-30
    np.testing.assert_allclose(flushed.grad_hidden[big], exact.grad_hidden[big], rtol=1e-4, atol=0)
    if cell == "rnn":  # the tanh RNN really vanishes to 1e-30 and below here
        assert (np.abs(exact.grad_hidden[:, :50]) < 1e-30).all()


# -- the command line: --threads / RNNVIZ_THREADS, flushed for the whole program -------------
REPO = Path(__file__).resolve().parents[1]
_PROBE_MAIN = """
import sys, torch
from rnnviz.cli import main
from rnnviz.core.numerics import flush_denormal_active
rc = main(sys.argv[1:])
print(rc, torch.get_num_threads(), flush_denormal_active())
"""


def _run(args, **env_over):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", numerics.THREADS_ENV)}
    env["PYTHONPATH"] = str(REPO)
    env.update(env_over)
    return subprocess.run([sys.executable, "-c", _PROBE_MAIN, *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_threads_flag_and_env_are_applied_and_the_run_is_flushed(tmp_path):
    tiny = ["trace", "--hidden-size", "4", "--seq-len", "8", "--batch-size", "2", "-o", tmp_path / "t.npz"]
    proc = _run([*map(str, tiny), "--threads", "3"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 3 True"
    proc = _run(list(map(str, tiny)), RNNVIZ_THREADS="3")
    assert proc.stdout.splitlines()[-1] == "0 3 True", proc.stderr


@pytest.mark.parametrize("flag, env", [(["--threads", "0"], {}), ([], {"RNNVIZ_THREADS": "many"})])
def test_cli_bad_threads_is_one_line_error(tmp_path, flag, env):
    proc = _run(["trace", "--hidden-size", "4", "--seq-len", "8", "-o", str(tmp_path / "t.npz"), *flag], **env)
    assert proc.stdout.splitlines()[-1].startswith("2 "), proc.stdout
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnviz: ") and "threads" in lines[0].lower(), proc.stderr
    assert not (tmp_path / "t.npz").exists()
