"""A long recording runs off the GUI thread with a progress bar and can be cancelled (Esc)."""

import pytest

import rnnviz
from rnnviz.core import progress

LONG = dict(cell="gru", hidden_size=64, seq_len=5000, batch_size=16)  # 5000 BPTT steps


@pytest.fixture
def window(make_window, small_config):
    win = make_window(small_config(), size=(1200, 800), warm_up=False)
    win.training_controller.recorder.progress_interval = 0.005  # many reports even on a fast machine
    return win


def _progress_events(window):
    seen = []
    window.training_controller.progress_changed.connect(seen.append)
    return seen


def test_a_long_recording_shows_progress_and_installs(window, qtbot):
    seen = _progress_events(window)
    old = window.state.trace
    window.state.config = rnnviz.RunConfig().with_overrides(**LONG)
    qtbot.waitUntil(lambda: window.state.trace is not old, timeout=300_000)
    parts = [v for v in seen if v is not None and v[2] == 1000]
    assert parts and all("%p%" in text for text, _, _ in parts)
    values = [v for _, v, _ in parts]
    assert values == sorted(values) and 0 < values[0] < 1000  # it moved while the user waited
    assert window.state.trace.seq_len == 5000 and window.progress.isHidden()


def test_escape_cancels_a_recording_and_keeps_the_previous_run(window, qtbot):
    seen = _progress_events(window)
    old = window.state.trace
    window.state.config = rnnviz.RunConfig().with_overrides(**LONG)
    qtbot.waitUntil(lambda: any(v is not None and 0 < v[1] < 1000 for v in seen), timeout=300_000)
    window.actions["stop"].trigger()  # Esc
    qtbot.waitUntil(lambda: not window.training_controller.recorder.running, timeout=60_000)
    qtbot.wait(50)  # the queued signals
    assert window.state.trace is old
    assert "cancelled" in window.state.status
    assert window.progress.isHidden()
    window.record()  # recording again works: the cancelled job left nothing behind
    qtbot.waitUntil(lambda: window.state.trace is not old, timeout=300_000)
    assert window.state.trace.seq_len == 5000


def test_reporting_outside_a_recording_costs_nothing_and_cancel_stops_record(monkeypatch):
    from rnnviz.core.cells import lstm

    model = rnnviz.build_model(rnnviz.ModelConfig(cell="lstm", input_size=2, hidden_size=8, output_size=1))
    batch = rnnviz.tasks.adding_problem(seq_len=300, batch_size=2, seed=0)
    fractions = []
    with progress.reporting(fractions.append, interval=0.0):  # small: torch's kernel, one report each way
        rnnviz.record(model, batch.x, batch.y)
    assert fractions == [0.5, 1.0, 1.0]
    # a long run's BPTT loop reports every step: forced at this size
    monkeypatch.setattr(lstm, "KERNEL_BPTT_MAX", 0)
    fractions = []
    with progress.reporting(fractions.append, interval=0.0):
        rnnviz.record(model, batch.x, batch.y)
    assert fractions[-1] == 1.0 and fractions == sorted(fractions) and len(fractions) > 100

    def stop_half_way(fraction):
        if fraction > 0.5:
            raise progress.CancelledError

    with pytest.raises(progress.CancelledError), progress.reporting(stop_half_way, interval=0.0):
        rnnviz.record(model, batch.x, batch.y)
    assert rnnviz.record(model, batch.x, batch.y).seq_len == 300  # nothing left switched on
