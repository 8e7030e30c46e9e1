"""One coherent run on screen (issue 10): what the window shows always comes from one run.

Each test drives the real window (real torch training in the worker thread, real session files)
the way a user does, and fails on the pre-controller window: an edit during training kept the
old loss curve, Train after Stop restarted at step 1, a stopped trainer's late signals landed
in the next session or lesson, a refused setting trained the old model, and sessions forgot the
tab in front.
"""

import numpy as np
import pytest

from rnnviz.app.state import SessionState
from rnnviz.qt.main_window import MainWindow


@pytest.fixture
def small_cfg(small_config):
    """H=8, T=10, B=4 unless overridden: training reaches several rows in a moment."""
    return lambda **kw: small_config(**{"seq_len": 10, **kw})


@pytest.fixture
def window(make_window, small_cfg):
    return make_window(small_cfg(), size=(1280, 720), warm_up=False)


def steps_of(history):
    return [int(r["step"]) for r in history]


def train_until(window, qtbot, rows: int):
    """Start a long training and wait until ``rows`` history rows are on screen."""
    assert window.train(100000)
    qtbot.waitUntil(lambda: len(window.state.history) >= rows, timeout=60000)


def stop(window, qtbot):
    window.stop_training()
    qtbot.waitUntil(lambda: window.state.training == "idle", timeout=60000)


def watch(state):
    """Every history and status the window shows from now on."""
    seen = {"history": [], "status": []}
    state.events.subscribe("history", lambda h: seen["history"].append(list(h)))
    state.events.subscribe("status", lambda m: seen["status"].append(m))
    return seen


def test_edit_during_training_starts_a_fresh_run(window, qtbot):
    s = window.state
    train_until(window, qtbot, 5)
    seen = watch(s)
    s.set_config(hidden_size=12)  # the user edits a setting while the network trains
    assert s.training == "idle" and s.history == []  # at once: no old curve beside the new setting
    qtbot.waitUntil(lambda: s.trace.hidden_size == 12 and s.training == "idle", timeout=60000)
    qtbot.wait(600)  # anything the stopped trainer still sends has arrived by now
    assert s.trace.hidden_size == 12 and s.training == "idle"
    assert s.history == [], "the old network's loss curve stays beside the new network"
    assert "trained" not in window.status_label.text()
    assert not any(seen["history"]), "the stopped trainer's rows came back after the edit"
    assert not any("trained" in m for m in seen["status"])
    curve = window.views["training"].loss_curve.getData()[0]
    assert curve is None or len(curve) == 0
    assert window.train(4)
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    assert steps_of(s.history) == [1, 2, 3, 4]  # the new run alone, from its first step


def test_train_again_after_stop_continues_the_step_count(window, qtbot, tmp_path):
    s = window.state
    train_until(window, qtbot, 3)
    stop(window, qtbot)
    n = steps_of(s.history)[-1]
    assert steps_of(s.history) == list(range(1, n + 1))
    assert window.train(4)
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    assert steps_of(s.history) == list(range(1, n + 5)), "Train again restarted at step 1"
    x = window.views["training"].loss_curve.getData()[0]
    assert len(x) == n + 4 and np.all(np.diff(x) > 0)  # no line back to the start
    assert s.trace.meta["step"] == n + 4
    # and after the session is saved and reopened: the count and the optimizer continue
    ctl = window.session_controller
    assert ctl.save(tmp_path / "run.rnnviz"), ctl.last_error
    assert ctl.open(tmp_path / "run.rnnviz"), ctl.last_error
    assert window.train(2)
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    assert steps_of(s.history) == list(range(1, n + 7))


def test_opening_a_session_during_training_drops_the_stopped_run(window, qtbot, tmp_path):
    s = window.state
    assert window.train(4)
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    ctl = window.session_controller
    assert ctl.save(tmp_path / "four.rnnviz"), ctl.last_error
    saved = s.trace.hidden.copy()
    window.reset()
    qtbot.waitUntil(lambda: s.history == [] and s.trace.meta.get("step") == 0, timeout=60000)
    train_until(window, qtbot, 3)
    seen = watch(s)
    assert ctl.open(tmp_path / "four.rnnviz"), ctl.last_error  # while the trainer still runs
    qtbot.wait(800)  # the stopped trainer's last progress and traces arrive now
    assert len(seen["history"]) and all(steps_of(h) == [1, 2, 3, 4] for h in seen["history"])
    assert steps_of(s.history) == [1, 2, 3, 4], "rows of the stopped run were mixed into the session"
    assert np.array_equal(s.trace.hidden, saved) and s.training == "idle"
    assert ctl.save(tmp_path / "again.rnnviz")  # Save writes the session, not a mixture
    from rnnviz.app.session import load_session

    assert steps_of(load_session(tmp_path / "again.rnnviz").history) == [1, 2, 3, 4]


def test_choosing_a_lesson_during_training_drops_the_stopped_run(window, qtbot):
    s = window.state
    train_until(window, qtbot, 3)
    seen = watch(s)
    window.lesson_browser.select("recurrence", emit=True)
    lesson_cfg = window.lesson_browser.current.config
    qtbot.waitUntil(lambda: s.training == "idle" and s.trace.config["hidden_size"] == lesson_cfg.model.hidden_size
                    and s.trace.seq_len == lesson_cfg.task.seq_len, timeout=60000)
    qtbot.wait(800)
    assert not any(seen["history"]), "the stopped trainer's rows were shown in the new lesson"
    assert s.history == [] and s.lesson == "recurrence" and s.config == lesson_cfg
    assert s.trace.seq_len == lesson_cfg.task.seq_len and s.training == "idle"


def test_train_after_a_refused_setting_does_not_run_the_old_model(window, qtbot, capfd):
    s = window.state
    s.set_config(task="agreement", seq_len=1)  # the task refuses T = 1 when it is recorded
    qtbot.waitUntil(lambda: "seq_len" in window.status_label.text(), timeout=60000)
    old_trace = s.trace
    started = window.train(5)
    qtbot.wait(800)
    err = capfd.readouterr().err
    assert "Traceback" not in err, err
    assert not started and s.training == "idle" and s.history == []
    assert "seq_len" in window.status_label.text() and "training failed" not in window.status_label.text()
    assert s.trace is old_trace
    s.set_config(seq_len=6)  # a setting the task accepts: Train works again
    qtbot.waitUntil(lambda: s.trace.meta.get("task") == "agreement", timeout=60000)
    assert window.train(2)
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    assert steps_of(s.history) == [1, 2]


def test_a_session_restores_the_tab_in_front(window, qtbot, tmp_path):
    window.show_view("gradients")
    ctl = window.session_controller
    assert ctl.save(tmp_path / "tab.rnnviz"), ctl.last_error
    window.show_view("hidden")
    assert ctl.open(tmp_path / "tab.rnnviz"), ctl.last_error
    assert window.tabs.currentWidget() is window.views["gradients"]


def test_closing_during_a_gif_export_finishes_it(qtbot, tmp_path, small_cfg):
    from PIL import Image

    win = MainWindow(SessionState(small_cfg(seq_len=60)), warm_up=False)
    qtbot.addWidget(win)
    win.show()
    assert win.record_sync()
    win.state.dirty = False
    ctl = win.export_controller
    path = tmp_path / "forward.gif"
    assert ctl.export_animation(path, "forward", ["hidden", "gradients"], 8, (480, 270)), ctl.last_error
    win.close()  # headless: nobody can answer "finish it?", so it is finished
    assert path.exists()
    with Image.open(path) as im:
        assert im.n_frames == 60


def test_a_refused_session_leaves_the_window_as_it_was(window, qtbot, tmp_path, small_cfg):
    """Issue 11, item 3: everything is checked before anything is installed."""
    from rnnviz.app.session import load_session, save_session

    s = window.state
    assert window.train(3)
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    ctl = window.session_controller
    assert ctl.save(tmp_path / "good.rnnviz"), ctl.last_error
    session = load_session(tmp_path / "good.rnnviz")
    session.config = small_cfg(hidden_size=5).to_dict()  # another network ...
    session.weights = {}
    session.view = {**session.view, "phase": "sideways"}  # ... and a view the window cannot show
    save_session(tmp_path / "bad.rnnviz", session)
    before = (s.config, s.model, s.trace, list(s.history), s.panel, s.time)
    assert not ctl.open(tmp_path / "bad.rnnviz")
    assert "sideways" in ctl.last_error
    assert (s.config, s.model, s.trace, list(s.history), s.panel, s.time) == before
    assert window.views["hidden"].trace is s.trace
