"""The main window with real widgets offscreen: controls, timeline, NaN runs, screenshots."""

import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage


@pytest.fixture
def window(make_window):
    return make_window()


def test_window_has_views_menus_and_tooltips(window):
    assert {"graph", "hidden", "cell", "gates", "gradients", "training"} <= set(window.views)
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles[:5] == ["&File", "&View", "&Run", "&Lessons", "&Help"]
    assert window.file_menu is not None and window.view_menu is not None
    assert window.actions["record"].shortcut().toString() == "Ctrl+R"
    assert window.actions["train"].shortcut().toString() == "Ctrl+T"
    for key, control in window.build_panel.controls.items():
        assert control.toolTip(), f"control {key} has no tooltip"
    for view in window.views.values():
        assert view.trace is window.state.trace


def test_control_change_updates_config_trace_and_graph(window, qtbot):
    panel, state = window.build_panel, window.state
    assert panel.controls["activation"].isEnabled()
    assert not panel.controls["forget_bias_on"].isEnabled()
    panel.set_value("cell", "lstm")
    panel.set_value("num_layers", 2)
    qtbot.waitUntil(lambda: state.config.model.cell == "lstm" and state.config.model.num_layers == 2,
                    timeout=3000)
    qtbot.waitUntil(lambda: state.trace is not None and state.trace.cell_type == "lstm"
                    and state.trace.hidden.shape[0] == 2, timeout=5000)
    assert not panel.controls["activation"].isEnabled()  # LSTM has fixed nonlinearities
    assert "SimpleRNN only" in panel.controls["activation"].toolTip()
    assert panel.controls["forget_bias_on"].isEnabled()
    graph = window.views["graph"]
    assert graph.trace is state.trace and graph.trace.config["num_layers"] == 2
    assert set(window.views["gates"].trace.gates) == {"i", "f", "g", "o"}
    assert window.timeline.layer_box.count() == 2


def test_invalid_combination_is_explained_and_reverted(window, qtbot):
    panel, state = window.build_panel, window.state
    panel.set_value("task", "melody")
    qtbot.waitUntil(lambda: state.config.task.name == "melody", timeout=3000)
    assert not panel.controls["bidirectional"].isEnabled()
    assert state.set_config(bidirectional=True) is False
    assert "bidirectional" in window.status_label.text()
    assert not state.config.model.bidirectional


def test_keyboard_steps_timeline_and_views_follow(window, qtbot):
    state, hidden = window.state, window.views["hidden"]
    T = state.trace.seq_len
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Right)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    # a tab not in front catches up when it is shown (or read through window.views)
    assert state.time == 2 and hidden.current_time == 2 and window.views["gradients"].current_time == 2
    qtbot.keyClick(window, Qt.Key.Key_Left)
    assert hidden.current_time == 1
    qtbot.keyClick(window, Qt.Key.Key_End)
    assert state.time == T - 1 and hidden.phase == "forward"
    qtbot.keyClick(window, Qt.Key.Key_Right)  # into BPTT at t = T-1
    grads = window.views["gradients"]
    assert state.phase == "backward" and grads.phase == "backward" and grads.current_time == T - 1
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.views["gradients"].current_time == T - 2
    assert window.timeline.slider.value() == T + 1
    qtbot.keyClick(window, Qt.Key.Key_Home)
    assert (state.phase, state.time, hidden.current_time) == ("forward", 0, 0)
    state.speed = 200
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert state.playing
    qtbot.waitUntil(lambda: hidden.current_time >= 3, timeout=2000)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert not state.playing
    # sample and layer pickers reach the views too
    window.timeline.sample_box.setValue(2)
    assert hidden.current_b == 2


def test_slider_scrub_and_view_click_select_time(window, qtbot):
    state = window.state
    T = state.trace.seq_len
    window.timeline.slider.setValue(T + 3)  # BPTT half
    assert (state.phase, state.time) == ("backward", T - 4)
    window.views["hidden"].time_clicked.emit(5)
    assert state.time == 5 and window.views["gates"].current_time == 5


def test_hidden_tab_view_is_built_when_first_shown_with_the_current_state(window, qtbot):
    state, views, tabs = window.state, window.views, window.tabs
    assert views.is_created("graph") and views.is_created("hidden")
    assert not views.is_created("gates") and not views.is_created("spectrum")  # start-up skipped them
    assert "gates" in views and len(views) == len(list(views))  # asking does not build
    assert not views.is_created("gates")
    state.set_position(state.seq_len + 3)  # into BPTT: phase "backward"
    state.sample = 2
    assert not views.is_created("gates")  # feeding the views does not build hidden tabs
    index = [tabs.tabText(i) for i in range(tabs.count())].index("Gates")
    tabs.setCurrentIndex(index)  # as a click on the tab does
    gates = tabs.currentWidget()
    assert views.is_created("gates") and gates is views["gates"] and tabs.indexOf(gates) == index
    assert gates.trace is state.trace
    assert (gates.current_time, gates.phase, gates.current_b) == (state.time, "backward", 2)
    state.time = 4  # and it follows from now on
    assert gates.current_time == 4
    spectrum = views["spectrum"]  # reading views[name] builds it too, fed, without a tab change
    assert spectrum.trace is state.trace and spectrum.current_time == 4
    assert tabs.currentWidget() is gates and tabs.indexOf(spectrum) >= 0
    window.show_view("training")
    assert tabs.currentWidget() is views["training"]
    tabs.setCurrentWidget(gates)
    assert window.export_controller.current_panel() == "gates"  # export finds the tab's view


def test_nan_run_shows_a_red_warning_not_a_crash(make_window, small_config, qtbot):
    cfg = small_config(activation="relu", init="identity", init_scale=4.0, seq_len=80)
    win = make_window(cfg)
    assert win.state.trace.nonfinite
    assert win.nonfinite_label.isVisibleTo(win)
    assert "NaN/Inf" in win.nonfinite_label.text()
    assert "exploded" in win.status_label.text()
    win.state.jump_end()
    win.state.step_forward()
    qtbot.wait(20)
    assert win.views["gradients"].current_time == cfg.task.seq_len - 1
    win.state.set_config(init_scale=1.0, init="default")  # a tame run clears the warning
    qtbot.waitUntil(lambda: not win.state.trace.nonfinite, timeout=5000)
    assert not win.nonfinite_label.isVisibleTo(win)


def test_own_text_runs_token_by_token(window, qtbot):
    panel, state = window.build_panel, window.state
    panel.controls["text"].setPlainText("hello rnn")
    panel.text_button.click()
    qtbot.waitUntil(lambda: state.trace.meta.get("task") == "char_lm", timeout=5000)
    assert "".join(state.trace.meta["tokens"]) == "hello rn"
    assert state.config.task.text == "hello rnn"
    panel.controls["text"].setPlainText("x")
    panel.text_button.click()
    assert "too short" in window.status_label.text()


def test_screenshot_subprocess_exits_zero(tmp_path):
    out = tmp_path / "shot.png"
    code = f"from rnnviz.qt.app import run_gui; raise SystemExit(run_gui(screenshot={str(out)!r}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1600, 1000)


def test_unknown_lesson_is_a_clear_error(tmp_path):
    out = tmp_path / "x.png"
    code = ("from rnnviz.qt.app import run_gui; "
            f"raise SystemExit(run_gui(lesson='no-such-lesson', screenshot={str(out)!r}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no-such-lesson" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_own_text_box_follows_the_config_but_keeps_a_draft(window, qtbot, small_config):
    box = window.build_panel.controls["text"]
    window.state.config = small_config(task="char_lm", text="hello there")
    assert box.toPlainText() == "hello there"
    window.state.config = small_config(task="adding")  # a run without text (another lesson, say)
    assert box.toPlainText() == ""
    box.setPlainText("a draft being typed")
    window.state.config = small_config(task="adding", hidden_size=9)
    assert box.toPlainText() == "a draft being typed"
