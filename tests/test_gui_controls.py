"""Controls a newcomer finds (issue 10): a visible Train control, unambiguous shortcuts, every view
reachable without scroll arrows, refused or changed values said out loud, and the training
animation offered with the reason it is off."""

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from rnnviz.app.panels import default_panels
from rnnviz.qt.export_actions import ExportOptionsDialog
from rnnviz.qt.presentation import apply_presentation


@pytest.fixture
def window(make_window, small_config):
    return make_window(small_config(seq_len=10), size=(1280, 720), warm_up=False)


def test_no_two_actions_share_a_shortcut(window):
    seen = {}
    for name, act in window.actions.items():
        for key in act.shortcuts():
            text = key.toString()
            assert text not in seen, f"{text} is bound to both {seen[text]!r} and {name!r}"
            seen[text] = name
    assert window.actions["open_session"].shortcut().toString() == "Ctrl+O"
    assert window.actions["open_trace"].shortcut().toString() == "Ctrl+Shift+O"


def test_run_bar_trains_pauses_stops_and_steps(window, qtbot):
    bar, s = window.run_bar, window.state
    assert bar.isVisible() and bar.train_button.isVisible() and bar.train_button.isEnabled()
    assert not bar.stop_button.isEnabled() and "press Train" in bar.info.text()
    assert bar.train_button.height() >= 24  # large enough to find and hit
    bar.step_button.click()  # one training step, shown
    qtbot.waitUntil(lambda: s.training == "idle" and len(s.history) == 1, timeout=60000)
    assert bar.info.text().startswith("step 1 ")
    assert window.train(100000)
    assert bar.pause_button.isEnabled() and bar.stop_button.isEnabled() and not bar.train_button.isEnabled()
    qtbot.waitUntil(lambda: len(s.history) >= 3, timeout=60000)
    bar.pause_button.click()
    assert s.training == "paused" and bar.pause_button.text() == "Resume"
    bar.pause_button.click()
    assert s.training == "running"
    bar.stop_button.click()
    qtbot.waitUntil(lambda: s.training == "idle", timeout=60000)
    n = len(s.history)
    bar.step_button.click()
    qtbot.waitUntil(lambda: s.training == "idle" and len(s.history) == n + 1, timeout=60000)
    assert [r["step"] for r in s.history] == list(range(1, n + 2))


@pytest.mark.parametrize("size", [(1280, 720), (1500, 950)])
@pytest.mark.parametrize("present", [False, True])
def test_every_view_tab_is_reachable_without_scrolling(window, qtbot, size, present):
    window.setProperty("rnnviz_screenshot", True)  # presentation mode stays windowed
    apply_presentation(window, present)
    window.resize(*size)
    qtbot.wait(50)
    strip = window.tab_strip
    assert len(strip.buttons) == window.tabs.count() == len(window.tab_names)
    for b in strip.buttons:
        assert b.isVisible() and b.geometry().left() >= 0 and b.geometry().right() <= strip.width()
        assert b.geometry().bottom() <= strip.height()
    assert not window.tabs.tabBar().isVisible()  # no scroll arrows anywhere
    strip.buttons[-1].click()
    assert window.tabs.currentIndex() == window.tabs.count() - 1
    assert window.state.panel == window.tab_names[-1]
    apply_presentation(window, False)


def test_a_typed_learning_rate_out_of_range_is_refused_out_loud(window, qtbot):
    panel, s = window.build_panel, window.state
    lr = panel.controls["lr"]
    before = s.config.train.lr
    lr.setFocus()
    lr.selectAll()
    QTest.keyClicks(lr, "1000")
    QTest.keyClick(lr, Qt.Key.Key_Return)
    panel.apply_pending()
    assert s.config.train.lr == before and lr.value() == pytest.approx(before)
    text = window.status_label.text()
    assert "lr" in text and "1000" in text and "kept lr" in text, text


def test_the_t_box_says_when_the_task_runs_another_length(window, qtbot):
    s, note = window.state, window.build_panel.seq_len_note
    assert not note.isVisible()
    s.set_config(task="sentiment", seq_len=50)
    qtbot.waitUntil(lambda: s.trace.meta.get("task") == "sentiment", timeout=60000)
    assert note.isVisible() and f"T = {s.trace.seq_len}" in note.text() and s.trace.seq_len != 50
    s.set_config(task="adding", seq_len=12)
    qtbot.waitUntil(lambda: s.trace.meta.get("task") == "adding", timeout=60000)
    assert not note.isVisible()


def test_the_training_animation_is_offered_with_the_reason_it_is_off(qtbot):
    dlg = ExportOptionsDialog(animation=True, training_ok=False, panels=default_panels({"cell": "rnn"}))
    qtbot.addWidget(dlg)
    items = [dlg._anim.itemText(i) for i in range(dlg._anim.count())]
    assert "training" in items
    assert not dlg._anim.model().item(items.index("training")).isEnabled()
    assert "Train" in dlg.training_hint.text() and not dlg.training_hint.isHidden()
    assert "gates" not in dlg.panels()  # a cell without gates: no placeholder third of the frame
    ok = ExportOptionsDialog(animation=True, training_ok=True)
    qtbot.addWidget(ok)
    assert ok._anim.model().item(2).isEnabled() and ok.training_hint.isHidden()
