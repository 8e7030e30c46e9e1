"""Shared test set-up: Qt offscreen, small deterministic torch."""

import os
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
# keep tests away from the user's real settings, recent files, autosaves and lessons
_home = tempfile.mkdtemp(prefix="rnnviz-test-home-")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_home, "config")
os.environ["XDG_DATA_HOME"] = os.path.join(_home, "data")
os.environ["XDG_CACHE_HOME"] = os.path.join(_home, "cache")

import torch  # noqa: E402

torch.set_num_threads(2)
