"""Smoke tests: each example runs with --quick as a real subprocess and shows what it claims."""

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_example(name, *args):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / name), "--quick", *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def _num(pattern, text):
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return float(match.group(1))


def test_01_irnn_keeps_orders_of_magnitude_more_gradient():
    out = run_example("01_vanishing_vs_irnn.py")
    tanh = _num(r"tanh RNN, default init\s+ratio (\S+)", out)
    irnn = _num(r"IRNN \(ReLU, identity init\)\s+ratio (\S+)", out)
    assert tanh < 1e-6 and irnn > 1e-2
    assert _num(r"keeps (\S+) orders of magnitude", out) > 4


def test_02_forget_bias_one_opens_the_gate_and_carries_gradient_further():
    out = run_example("02_lstm_forget_gates.py")
    f0 = _num(r"forget bias 0: mean forget gate (\S+),", out)
    f1 = _num(r"forget bias 1: mean forget gate (\S+),", out)
    assert abs(f0 - 0.5) < 0.05 and abs(f1 - 0.731) < 0.05
    r0 = _num(r"forget bias 0:.*?= (\S+),", out)
    r1 = _num(r"forget bias 1:.*?= (\S+),", out)
    assert r1 > 100 * r0
    n0 = _num(r"forget bias 0:.*for the last (\d+) of", out)
    n1 = _num(r"forget bias 1:.*for the last (\d+) of", out)
    assert n1 > n0


def test_03_clipping_tames_the_explosion():
    out = run_example("03_clipping.py")
    assert _num(r"no clipping\s+max grad norm (\S+),", out) > 100
    assert _num(r"clip norm 1\s+.*clipped (\d+)/", out) > 0
    assert _num(r"no clipping\s+.*clipped (\d+)/", out) == 0
    final = _num(r"clip norm 1\s+.*-> (\S+) \(mean", out)
    first = _num(r"clip norm 1\s+.*loss (\S+) ->", out)
    assert final < first / 10
    assert "with clipping the final loss is lower" in out


def test_readme_python_api_example_runs(tmp_path):
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:api -->")[1].split("<!-- /section:api -->")[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "(1, 100, 16, 32)" in proc.stdout and "[0, 20, 40]" in proc.stdout
    assert (tmp_path / "run.npz").exists() and (tmp_path / "run.toml").exists()
