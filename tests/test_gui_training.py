"""Live training in the window: responsive GUI, growing loss plot, pause/stop, compare mode."""

import time

import pytest
from PySide6.QtCore import QTimer

from rnnviz.qt.workers import warm_up_done


@pytest.fixture
def small_cfg(small_config):
    return lambda **kw: small_config(**{"seq_len": 10, **kw})


@pytest.fixture
def window(make_window, small_cfg):
    return make_window(small_cfg(), size=(1280, 720))


def test_live_training_grows_loss_plot_and_never_blocks(window, qtbot):
    # the window pre-imports torch's optimiser machinery at start-up; that is start-up time
    qtbot.waitUntil(warm_up_done, timeout=9000)
    # the GUI thread's own CPU time between ticks: the work it did without going back to the event
    # loop (wall-clock gaps also count other processes on a busy machine, and made this flaky)
    gaps, last = [], [time.thread_time()]

    def tick():
        now = time.thread_time()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(20)
    updates = []
    window.state.events.subscribe("history", lambda h: updates.append(len(h)))
    window.state.set_config(seq_len=40)  # long enough a run for the timer to tick during it
    recorder = window.training_controller.recorder
    qtbot.waitUntil(lambda: window.state.trace.seq_len == 40 and not recorder.running, timeout=5000)
    first = window.state.trace
    assert window.train(30)
    assert window.state.training == "running"
    qtbot.waitUntil(lambda: window.state.training == "idle", timeout=9000)
    timer.stop()
    curve = window.views["training"].loss_curve
    assert len(curve.getData()[0]) == 30
    assert len(window.state.history) == 30
    assert updates[-1] == 30 and len(updates) >= 1
    assert window.state.trace is not first and window.state.trace.meta["step"] == 30
    assert len(gaps) >= 3 and max(gaps) < 0.25, f"GUI thread busy for {max(gaps):.3f} s without a break"
    assert "trained 30 steps" in window.status_label.text()


def test_pause_resume_stop(window, qtbot):
    state = window.state
    window.train(100000)
    qtbot.waitUntil(lambda: len(state.history) >= 5, timeout=5000)
    window.pause_training()
    assert state.training == "paused"
    qtbot.wait(150)  # a step in flight may still land
    n = len(window.training_controller.worker.trainer.history)
    qtbot.wait(250)
    assert len(window.training_controller.worker.trainer.history) == n
    assert window.actions["resume"].isEnabled() and not window.actions["train"].isEnabled()
    window.resume_training()
    qtbot.waitUntil(lambda: len(window.training_controller.worker.trainer.history) > n + 3, timeout=5000)
    window.stop_training()
    qtbot.waitUntil(lambda: state.training == "idle", timeout=5000)
    assert 5 <= len(state.history) < 100000
    window.reset()
    recorder = window.training_controller.recorder
    qtbot.waitUntil(lambda: not recorder.running and state.trace.meta.get("step") == 0, timeout=5000)
    assert state.history == [] and len(window.views["training"].loss_curve.getData()[0] or []) == 0


def test_compare_mode_shows_two_runs(window, qtbot):
    state = window.state
    assert window.compare({"clip": "norm", "clip_norm": 0.05}, steps=8)
    qtbot.waitUntil(lambda: state.compare is not None, timeout=8000)
    assert state.compare_label == "B: clip=norm, clip_norm=0.05"
    assert len(state.history) == len(state.compare_history) == 8
    for view in window.views.values():
        assert view.compare_trace is state.compare
    training = window.views["training"]
    assert len(training.compare_loss_curve.getData()[0]) == 8
    assert len(training.loss_curve.getData()[0]) == 8
    hidden = window.views["hidden"]
    assert hidden.compare_panel.plot.isVisible()
    window.clear_compare()
    assert state.compare is None and not hidden.compare_panel.plot.isVisible()
    assert all(v.compare_trace is None for v in window.views.values())
