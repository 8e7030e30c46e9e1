"""The Qt boundary: core, export, app, dynamics and the CLI never import PySide6, shiboken6 or pyqtgraph."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUI_FREE = ["rnnviz.core", "rnnviz.export", "rnnviz.app", "rnnviz.io", "rnnviz.dynamics"]
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph")
# An import statement (also inside a function: lazy imports count) or a dynamic import of a Qt name.
QT_IMPORT = re.compile(r"^\s*(?:import|from)\s+(?:PySide6|shiboken6|pyqtgraph)\b"
                       r"|(?:import_module|__import__)\(\s*[\"'](?:PySide6|shiboken6|pyqtgraph)", re.MULTILINE)

PROBE = r"""
import importlib, json, pkgutil, sys
import rnnviz, rnnviz.cli
names = ["rnnviz", "rnnviz.cli"]
for pkg_name in %(packages)r:
    try:
        pkg = importlib.import_module(pkg_name)
    except ModuleNotFoundError:
        continue
    names.append(pkg_name)
    for info in pkgutil.walk_packages(pkg.__path__, pkg_name + "."):
        importlib.import_module(info.name)
        names.append(info.name)
parser = rnnviz.cli.build_parser()  # building the CLI (export hook included) stays Qt-free too
bad = sorted(m for m in sys.modules if m.split(".")[0] in %(forbidden)r)
print(json.dumps({"imported": names, "qt": bad}))
"""


def test_gui_free_packages_import_no_qt_at_runtime():
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(REPO)
    code = PROBE % {"packages": GUI_FREE, "forbidden": FORBIDDEN}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "rnnviz.core.record" in result["imported"] and "rnnviz.cli" in result["imported"]
    assert "rnnviz.dynamics.fixed_points" in result["imported"]
    assert result["qt"] == [], f"GUI-free modules pulled in Qt: {result['qt']}"


def _gui_free_files():
    files = [REPO / "rnnviz" / "cli.py"]
    for pkg in ("core", "export", "app", "io", "dynamics"):
        files += sorted((REPO / "rnnviz" / pkg).rglob("*.py"))
    return files


def test_gui_free_sources_never_mention_a_qt_import():
    pattern = QT_IMPORT
    offenders = []
    for path in _gui_free_files():
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{lineno}: {line.strip()}")
    assert len(_gui_free_files()) > 5
    assert offenders == [], "\n".join(offenders)


def test_the_static_check_catches_an_offender():
    pattern = QT_IMPORT
    for bad in ("from PySide6 import QtCore", "    import pyqtgraph as pg", "import shiboken6",
                "from PySide6.QtWidgets import QWidget", "mod = importlib.import_module('pyqtgraph')"):
        assert pattern.search(bad), bad
    assert not pattern.search("import numpy as np")
    assert not pattern.search("# this module imports neither Qt nor pyqtgraph")
