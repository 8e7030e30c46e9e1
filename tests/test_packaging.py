"""The wheel: built from a copy of the sources, installed into a fresh virtual environment, run.

Offline and quick: ``--no-build-isolation`` uses this Python's setuptools, ``--no-deps
--no-index`` installs only rnnviz, and the venv sees this Python's site-packages (torch, PySide6,
...) through a plain path in a .pth file — which, unlike ``--system-site-packages``, does not
run the editable install's finder, so nothing can import the source tree. Marked ``packaging``
(about a minute); CI runs it with the rest.
"""

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.packaging


def _run(cmd, **kw):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_wheel_installs_into_a_fresh_venv_and_takes_a_screenshot(tmp_path):
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(REPO / "rnnviz", src / "rnnviz", ignore=ignore)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", tmp_path / "dist", src])
    wheel = next((tmp_path / "dist").glob("rnnviz-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(z.read(n).decode() for n in names if n.endswith("entry_points.txt"))
    assert {"rnnviz/data/rnnviz.png", "rnnviz/lessons/recurrence.toml", "rnnviz/io/keras_import.py"} <= names
    assert "[gui_scripts]\nrnnviz-gui = rnnviz.cli:main" in entry_points
    assert "[console_scripts]\nrnnviz = rnnviz.cli:main" in entry_points

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    shared = [p for p in [*site.getsitepackages(), sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (purelib / "_shared_site_packages.pth").write_text("\n".join(dict.fromkeys(shared)) + "\n", encoding="utf-8")
    # --ignore-installed: the editable rnnviz seen through the shared path must not make pip skip (or uninstall)
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "--ignore-installed", "-q",
          wheel])

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(QT_QPA_PLATFORM="offscreen", PYTHONNOUSERSITE="1")
    where = _run([py, "-c", "import rnnviz, rnnviz.io; print(rnnviz.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout  # the wheel's copy, not the sources
    assert (venv / "bin" / "rnnviz-gui").exists()
    shot = tmp_path / "shot.png"
    proc = _run([venv / "bin" / "rnnviz", "--screenshot", shot], cwd=tmp_path, env=env)
    assert "Traceback" not in proc.stderr
    with Image.open(shot) as im:
        assert im.width >= 800 and im.height >= 500
        small = np.asarray(im.convert("RGB").resize((64, 40))).reshape(-1, 3)
        assert len(np.unique(small, axis=0)) > 30  # a window, not a blank image


def test_desktop_entry_and_start_menu_install(tmp_path, monkeypatch):
    from rnnviz.io import desktop

    assert (REPO / "assets" / "rnnviz.desktop").read_text(encoding="utf-8") == desktop.entry_text("rnnviz-gui")
    assert (REPO / "assets" / "rnnviz.png").read_bytes() == (REPO / "rnnviz" / "data" / "rnnviz.png").read_bytes()
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    entry, icon = desktop.install("/opt/rnnviz/bin/rnnviz-gui")
    assert entry == tmp_path / "share" / "applications" / "rnnviz.desktop"
    text = entry.read_text(encoding="utf-8")
    assert "Exec=/opt/rnnviz/bin/rnnviz-gui\n" in text and "Icon=rnnviz\n" in text
    with Image.open(icon) as im:
        assert im.size == (256, 256)
    assert desktop.uninstall() == [entry, icon] and not entry.exists()
