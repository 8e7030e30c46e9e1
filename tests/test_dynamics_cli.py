"""``rnnviz dynamics`` as a user runs it (a real subprocess), and the report it writes."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import rnnviz
from rnnviz.core.tasks import flip_flop
from rnnviz.dynamics.figure import report_scene
from rnnviz.dynamics.report import analyse
from rnnviz.export.frames import rasterize

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--task", "flipflop", "--cell", "gru", "--hidden-size", "8", "--seq-len", "30", "--batch-size", "4",
         "--starts", "32", "--threads", "1"]


def _run(*args, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env.pop("RNNVIZ_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "rnnviz", "dynamics", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_cli_writes_the_report_and_the_figure(tmp_path):
    out, png = tmp_path / "ff.npz", tmp_path / "fig.png"
    proc = _run(*SMALL, "--steps", "5", "-o", out, "--png", png)
    assert proc.returncode == 0, proc.stderr
    assert "stable" in proc.stdout and "Lyapunov" in proc.stdout and str(out) in proc.stdout
    with np.load(out, allow_pickle=False) as z:  # loads without pickle
        assert z["states_pc"].shape[:2] == (30, 4)
        assert z["jacobian_singular_values"].shape == (30, 8)
        assert z["connectivity"].shape == (30, 30) and np.all(np.triu(z["connectivity"], 1) == 0)
        assert len(z["fixed_kinds"]) == len(z["fixed_q"]) >= 1 and np.all(z["fixed_q"] < 1e-12)
        assert z["lyapunov_exponents"].shape == (4,)
    img = np.asarray(Image.open(png).convert("RGB"))
    assert img.shape == (900, 1400, 3) and img.std() > 10  # a real picture, not a blank


def test_cli_bad_input_is_one_line(tmp_path):
    proc = _run(*SMALL, "--png", tmp_path / "fig.gif", "-o", tmp_path / "x.npz")
    assert proc.returncode == 2 and proc.stderr.startswith("rnnviz: ") and "Traceback" not in proc.stderr
    assert ".png or .svg" in proc.stderr
    bad = tmp_path / "weights.pt"
    bad.write_bytes(b"not a torch file")
    proc = _run(*SMALL, "--weights", bad, "-o", tmp_path / "x.npz")
    assert proc.returncode == 2 and "does not fit" in proc.stderr and len(proc.stderr.splitlines()) == 1
    proc = _run(*SMALL, "--weights", tmp_path / "missing.pt", "-o", tmp_path / "x.npz")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_cli_starts_from_trained_weights(tmp_path):
    cfg = rnnviz.ModelConfig(cell="gru", input_size=3, hidden_size=8, output_size=3, seed=4)
    model = rnnviz.build_model(cfg)
    with torch.no_grad():
        model.head.bias.fill_(0.25)  # a mark the report's read-out would not have by default
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    proc = _run(*SMALL, "--weights", tmp_path / "weights.pt", "-o", tmp_path / "w.npz")
    assert proc.returncode == 0, proc.stderr
    assert zipfile.is_zipfile(tmp_path / "w.npz")


def test_report_figure_shows_fixed_points_and_unstable_directions():
    model = rnnviz.build_model(rnnviz.ModelConfig(cell="rnn", input_size=3, hidden_size=6, output_size=3,
                                                  init="orthogonal", init_scale=1.3, seed=0))
    report = analyse(model, flip_flop(seq_len=20, batch_size=3, seed=0), n_starts=32, lyapunov_k=2)
    assert len(report.fixed) >= 1 and report.projection.components.shape == (6, 6)
    scene = report_scene(report)
    assert scene.counts()["circle"] >= len(report.fixed)
    rgb = rasterize(scene)
    assert rgb.shape == (900, 1400, 3)
