"""The edge of chaos with the trainability beside it: the gradient's reach computed by the sweep
equals the Trace's own BPTT ratio, vanishes at low gain and explodes at high gain, and reaches the
CLI's figure and .npz (a real subprocess)."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import rnnviz
from rnnviz.dynamics import lyapunov_sweep, step_map
from rnnviz.dynamics.figure import sweep_scene
from rnnviz.dynamics.lyapunov import gradient_reach

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_gradient_reach_is_the_traces_bptt_ratio(cell):
    """Loss at the last step only: ‖∂L/∂h_1‖/‖∂L/∂h_T‖ from the step map equals the recorded one."""
    cfg = rnnviz.ModelConfig(cell=cell, input_size=2, hidden_size=12, output_size=1, init_scale=1.3, seed=2)
    model = rnnviz.build_model(cfg)
    x, y = rnnviz.tasks.adding_problem(seq_len=25, batch_size=3, seed=1)  # many-to-one: loss at T only
    trace = rnnviz.record(model, x, y)
    g = trace.grad_hidden[0]  # (T, B, H)
    expected = np.log10(np.linalg.norm(g[0], axis=-1) / np.linalg.norm(g[-1], axis=-1))
    F = step_map(model)
    u = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    h1 = torch.as_tensor(trace.hidden[0, 0], dtype=torch.float64)
    got = gradient_reach(F, h1, u[1:], torch.as_tensor(g[-1], dtype=torch.float64)).numpy()
    assert np.allclose(got, expected, atol=1e-4), (got, expected)
    # and a different loss direction would give a different number (the test can fail)
    other = gradient_reach(F, h1, u[1:], torch.ones(3, 12, dtype=torch.float64)).numpy()
    assert not np.allclose(other, expected, atol=1e-4)


def test_trainability_vanishes_at_low_gain_and_explodes_at_high_gain():
    gains = [0.5, 0.8, 1.0, 1.5, 2.0]
    sw = lyapunov_sweep(gains, hidden_size=96, steps=150, burn_in=100, grad_steps=60)
    reach = sw.grad_log10
    assert reach.shape == (5,) and sw.grad_steps == 60
    assert np.all(np.diff(reach) > 0), reach  # more gain, more gradient reaches the first step
    assert reach[0] < -6, reach  # vanishing: a millionth of the gradient or less
    assert reach[-1] > 1, reach  # exploding
    assert sw.largest[1] < 0 < sw.largest[-1]  # the same networks' exponents beside it
    scene = sweep_scene(sw)
    texts = " ".join(op[3] for op in scene.ops if op[0] == "text")
    assert "Trainability" in texts and "Lyapunov" in texts and "gain of W_hh" in texts


def test_gru_sweep_has_a_reach_per_gain():
    sw = lyapunov_sweep([0.5, 2.0], hidden_size=16, cell="gru", steps=60, burn_in=40, grad_steps=30)
    assert np.isfinite(sw.grad_log10).all() and sw.grad_log10[0] < sw.grad_log10[1]


def test_cli_sweep_writes_the_figure_and_the_numbers(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""), OMP_NUM_THREADS="1")
    out, fig = tmp_path / "d.npz", tmp_path / "sweep.png"
    args = ["--task", "flipflop", "--cell", "rnn", "--hidden-size", "16", "--seq-len", "20", "--batch-size", "2",
            "--starts", "16", "--threads", "1", "-o", out, "--sweep", fig]
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "dynamics", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "gain sweep" in proc.stdout and str(fig) in proc.stdout
    with np.load(out, allow_pickle=False) as z:
        assert z["sweep_gains"].shape == z["sweep_grad_reach_log10"].shape == z["sweep_lyapunov_largest"].shape == (15,)
    img = np.asarray(Image.open(fig).convert("RGB"))
    assert img.std() > 10
    bad = subprocess.run([sys.executable, "-m", "rnnviz", "dynamics", *map(str, args[:-1]), tmp_path / "s.gif"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("rnnviz: ") and ".png or .svg" in bad.stderr
