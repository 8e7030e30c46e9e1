"""The screenshot script behind the README's window pictures runs headless and exits 0."""

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_app_screenshots_script(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    run = subprocess.run([sys.executable, str(ROOT / "examples" / "app_screenshots.py"), "--out", str(tmp_path),
                          "--only", "relu_nan"], capture_output=True, text=True, timeout=120, env=env)
    assert run.returncode == 0, run.stderr
    with Image.open(tmp_path / "relu_nan.png") as im:
        assert im.size == (1600, 1000)
        # the red NaN badge of the status bar is in the picture
        px = im.convert("RGB").crop((900, 975, 1500, 1000)).getcolors(100000)
        assert any(r > 150 and g < 80 and b < 80 for _, (r, g, b) in px)
