"""A recording that kept only some samples (to bound memory) says so in the window, and the
sample picker offers exactly those samples, by their index in the recorded batch."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

import rnnviz  # noqa: E402
from rnnviz.app.state import SessionState  # noqa: E402
from rnnviz.core.train import build_run  # noqa: E402
from rnnviz.qt.main_window import MainWindow  # noqa: E402

CFG = rnnviz.RunConfig().with_overrides(cell="lstm", hidden_size=6, seq_len=9, batch_size=16)


@pytest.fixture
def window(qtbot):
    win = MainWindow(SessionState(CFG), warm_up=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    assert win.record_sync()
    yield win
    win.shutdown()


def kept_trace(samples):
    model, batch = build_run(CFG)
    return rnnviz.record(model, batch, keep_samples=samples)


def test_kept_samples_are_named_and_the_only_ones_offered(window, qtbot):
    from PySide6.QtGui import QValidator

    tl = window.timeline
    assert tl.kept_label.isHidden(), "a full recording says nothing about samples"
    tr = kept_trace([4, 9])
    assert tr.batch_size == 2 and tr.meta["kept_samples"] == [4, 9] and tr.meta["batch_size"] == 16
    window.training_controller.install_trace(tr, CFG)
    assert tl.kept_label.isVisibleTo(window)
    assert tl.kept_label.text() == "samples 4, 9 of 16 kept (memory)"
    assert "whole batch" in tl.kept_label.toolTip() and "16" in tl.kept_label.toolTip()
    box = tl.sample_box
    assert (box.minimum(), box.maximum()) == (0, 1)
    assert box.text() == "4"
    box.setValue(1)
    assert box.text() == "9" and window.state.sample == 1
    assert "sample 9" in window.views["hidden"].panel.title
    window.show_view("equations")
    assert "sample 9" in window.views["equations"].html
    # only a kept sample's index can be typed
    assert box.validate("9", 1)[0] == QValidator.State.Acceptable
    assert box.validate("5", 1)[0] == QValidator.State.Invalid
    assert box.valueFromText("4") == 0
    # a run that kept every sample says nothing again
    window.record_sync()
    assert tl.kept_label.isHidden() and box.maximum() == 15 and box.text() == str(box.value())


def test_the_first_samples_read_as_a_range(window):
    window.training_controller.install_trace(kept_trace(4), CFG)
    assert window.timeline.kept_label.text() == "samples 0–3 of 16 kept (memory)"
    assert window.timeline.sample_box.maximum() == 3
