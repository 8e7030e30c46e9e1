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


# -- factories shared by the test files (panels) ------------------------------------------------

def _small_config(**overrides):
    import rnnviz

    base = dict(hidden_size=8, seq_len=12, batch_size=4)
    base.update(overrides)
    return rnnviz.RunConfig().with_overrides(**base)


def _make_trace(**overrides):
    """A real recorded Trace of a fresh model on its task's probe batch (no training)."""
    import rnnviz
    from rnnviz.core.train import batch_meta, build_run

    model, batch = build_run(rnnviz.RunConfig().with_overrides(**overrides))
    return rnnviz.record(model, batch.x, batch.y, loss=batch.loss, meta=batch_meta(batch))


@pytest.fixture(scope="session")
def small_config():
    """``small_config(**overrides)`` → a RunConfig with H=8, T=12, B=4 unless overridden."""
    return _small_config


@pytest.fixture(scope="session")
def make_trace():
    """``make_trace(**config_overrides)`` → a real Trace (fresh weights, the task's probe batch)."""
    return _make_trace


@pytest.fixture
def make_window(qtbot):
    """``make_window(config=None, size=(1300, 850), record=True, warm_up=True)`` → a shown MainWindow,
    shut down after (unsaved changes dropped, so no question box waits for an answer)."""
    from rnnviz.app.state import SessionState
    from rnnviz.qt.main_window import MainWindow

    made = []

    def make(config=None, size=(1300, 850), record=True, warm_up=True):
        win = MainWindow(SessionState(config if config is not None else _small_config()), warm_up=warm_up)
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        made.append(win)
        if record:
            assert win.record_sync()
        return win

    yield make
    for win in made:
        win.state.dirty = False
        win.shutdown()


@pytest.fixture(autouse=True)
def _tasks_restored():
    """Opening your own data or model registers a task (``data_*``, ``model_*``) for the rest of
    the process, as the app wants; between tests the registry goes back to what it was."""
    from rnnviz.core.tasks import TASKS

    before = dict(TASKS)
    yield
    if TASKS != before:
        TASKS.clear()
        TASKS.update(before)
