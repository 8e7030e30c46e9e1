"""Smoke-run every export example as a subprocess with small sizes; check exit 0 and the PNG."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = {
    "vanishing_gradients": ["--seq-len", "20", "--hidden", "8"],
    "exploding_clipping": ["--steps", "8", "--seq-len", "10", "--hidden", "8"],
    "lstm_forget_bias": ["--seq-len", "12", "--hidden", "6"],
    "gru_vs_lstm": ["--seq-len", "15", "--hidden", "8"],
}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_runs(tmp_path, name):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py"), "--out", str(tmp_path / "o"),
                        *EXAMPLES[name]], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    png = tmp_path / "o" / f"{name}.png"
    assert f"wrote {png}" in r.stdout
    with Image.open(png) as im:
        assert im.size[0] >= 800 and im.size[1] >= 400


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_committed_image_small(name):
    p = ROOT / "assets" / "examples" / f"{name}.png"
    assert p.exists() and p.stat().st_size < 200_000
