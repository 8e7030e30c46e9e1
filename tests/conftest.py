"""Shared test set-up: Qt offscreen, small deterministic torch."""

import gc
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


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def collect_garbage_between_tests(request):
    """Python's cyclic GC only between tests, never in the middle of a Qt call.

    Seen here: a collection triggered inside QObject::disconnect destroyed a stale QMenu whose
    destructor waited on the mutex that disconnect held, and the test run hung forever. The app
    does the same with pyqtgraph's GarbageCollector (see rnnviz.qt.app.get_app). Only tests with
    Qt widgets need it (a full collection per test would double the suite's time).
    """
    if not {"qtbot", "qapp"} & set(request.fixturenames):
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()
