"""Lesson browser and classroom mode with real widgets offscreen, and the --present screenshot CLI."""

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QToolButton

import rnnviz.lessons
from rnnviz.app.lessons import list_lessons, load_lesson
from rnnviz.app.state import SessionState
from rnnviz.qt import theme
from rnnviz.qt.lesson_browser import LessonBrowser
from rnnviz.qt.main_window import MainWindow
from rnnviz.qt.presentation import apply_presentation, is_presenting

NAMES = [le.name for le in list_lessons(user_dirs=[])]
#: every lesson file shipped with rnnviz (the browser must list each one, once)
LESSONS = sorted(p.stem for p in Path(rnnviz.lessons.__file__).parent.glob("*.toml"))


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("RNNVIZ_LESSONS_DIR", str(tmp_path / "none"))
    lesson = load_lesson("recurrence")
    state = SessionState(lesson.config)
    state.lesson = lesson.name
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    assert win.record_sync()
    yield win
    apply_presentation(win, False)
    win.state.dirty = False  # no "unsaved changes?" dialog when qtbot closes the window
    win.shutdown()
    assert theme.scale() == 1.0 and not theme.is_high_contrast()


def wait_for_task(qtbot, win, task):
    qtbot.waitUntil(lambda: win.state.trace is not None and win.state.trace.meta.get("task") == task
                    and win.state.config.task.name == task, timeout=10000)


def test_browser_lists_every_lesson_with_its_text(window):
    browser = window.lesson_browser
    assert [le.name for le in browser.lessons] == NAMES and sorted(NAMES) == LESSONS
    assert browser.list.count() == len(LESSONS)
    assert browser.list.item(0).text().startswith("1. Why not a bag of words")
    assert browser.current.name == "recurrence"  # follows the window's lesson
    assert "same weights" in browser.text.toPlainText()
    assert window.lesson_dock.isVisible()
    assert "lesson_open" in window.actions and "lesson_reset" in window.actions


def test_window_without_lesson_selects_nothing(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("RNNVIZ_LESSONS_DIR", str(tmp_path / "none"))
    win = MainWindow(SessionState(), warm_up=False)
    qtbot.addWidget(win)
    browser = win.lesson_browser
    assert browser.current is None and browser.list.currentRow() == -1
    assert "Pick a lesson" in browser.title.text() and "Why not" not in browser.text.toPlainText()
    assert not browser.run_button.isEnabled()
    assert browser.go(+1) and browser.current.name == "order" and win.state.lesson == "order"
    assert browser.run_button.isEnabled() and "bag-of-words" in browser.text.toPlainText()
    win.state.dirty = False
    win.shutdown()


def test_running_a_lesson_installs_its_results(window, qtbot):
    """What --lesson NAME --screenshot and F6 both do: the action's results land in the window."""
    browser = window.lesson_browser
    browser.select("recurrence", emit=True)
    out = window.lesson_controller.run_sync(browser.current)  # a train lesson: the loss curve, the trained trace
    s = window.state
    assert len(s.history) == out.steps == 60 and s.trace is out.trace and s.model is out.model
    assert s.compare is None and (s.phase, s.time) == ("forward", s.seq_len - 1)
    browser.select("vanishing", emit=True)  # a compare lesson: the run [check] compare names is shown
    wait_for_task(qtbot, window, "adding")
    out = window.lesson_controller.run_sync(browser.current)
    assert s.compare is not None and s.compare_label == "ReLU + identity init (IRNN)"
    assert s.compare is out.runs[2].trace and s.trace is out.trace
    assert window.tabs.currentWidget() is window.views["gradients"]
    assert (s.phase, s.time) == ("backward", 0)  # the whole BPTT is drawn
    assert float(s.compare.grad_hidden_norm[0, 0]) > 1e6 * float(s.trace.grad_hidden_norm[0, 0])
    window.actions["lesson_run"].trigger()  # F6: the same in the background
    qtbot.waitUntil(lambda: s.compare is not None and s.compare is not out.runs[2].trace, timeout=20000)
    assert s.compare_label == "ReLU + identity init (IRNN)"


def test_next_previous_lesson_switch_config_and_record(window, qtbot):
    browser = window.lesson_browser
    browser.next_button.click()
    assert window.state.lesson == "exploding" and browser.current.name == "exploding"
    wait_for_task(qtbot, window, "adding")
    assert window.state.config.model.init_scale == 2.0
    assert "W_hh" in browser.text.toPlainText()
    browser.prev_button.click()
    assert window.state.lesson == "recurrence"
    wait_for_task(qtbot, window, "word_lm")
    browser.select("order", emit=True)
    assert not browser.prev_button.isEnabled() and browser.go(-1) is False
    browser.select("ball", emit=True)
    assert window.state.config.task.name == "trajectory"
    browser.select(NAMES[-1], emit=True)  # the last lesson has no next one
    assert not browser.next_button.isEnabled() and browser.go(+1) is False


def test_variants_and_reset_lesson_to_its_start(window, qtbot):
    browser = window.lesson_browser
    browser.select("architectures", emit=True)
    assert browser.variant_box.isVisible() and browser.variant_box.count() == 7
    browser.variant_box.setCurrentIndex(4)
    browser._variant_picked(4)
    wait_for_task(qtbot, window, "reverse")
    window.state.set_config(hidden_size=5)
    window.state.time = 3
    browser.reset_button.click()
    wait_for_task(qtbot, window, "reverse")
    assert window.state.config.model.hidden_size == 16 and window.state.time == 0


def test_presentation_mode_fonts_theme_and_f5(window, qtbot):
    before = window.font().pointSizeF()
    list_before = window.lesson_browser.list.font().pointSizeF()
    apply_presentation(window, True)
    assert is_presenting(window)
    assert window.font().pointSizeF() >= 1.5 * before
    # the lesson list grows less than the rest, so all the titles fit at 1600 x 1000; the view
    # tabs take the large font and wrap onto a second row rather than scroll
    assert 1.2 * list_before <= window.lesson_browser.list.font().pointSizeF() < window.font().pointSizeF()
    strip = window.tab_strip
    assert all(b.font().pointSizeF() >= 1.5 * before and b.toolTip() for b in strip.buttons)
    assert all(b.isVisible() and b.geometry().right() <= strip.width() for b in strip.buttons)
    assert theme.scale() > 1.5 and theme.is_high_contrast()
    buttons = window.timeline.findChildren(QToolButton)
    assert buttons and all(b.minimumHeight() >= 48 for b in buttons)  # big step / play controls
    assert window.lesson_browser.run_button.minimumHeight() >= 48
    assert not window.build_dock.isVisible()  # more room for the views on a projector
    window.activateWindow()
    window.actions["present"].trigger()  # F5
    assert not is_presenting(window)
    assert window.font().pointSizeF() == pytest.approx(before)
    assert theme.scale() == 1.0 and window.build_dock.isVisible()
    assert window.actions["present"].shortcut().toString() == "F5"


def test_page_down_steps_then_moves_to_next_lesson(window, qtbot):
    s = window.state
    s.jump_start()
    t0 = s.position
    window.actions["page_next"].trigger()
    assert s.position == t0 + 1 and s.lesson == "recurrence"
    window.actions["page_prev"].trigger()
    assert s.position == t0
    window.actions["page_prev"].trigger()  # at the start: previous lesson
    assert s.lesson == "order"
    window.actions["lesson_next"].trigger()  # Ctrl+Page Down
    assert s.lesson == "recurrence"
    assert window.actions["page_next"].shortcut().toString() == "PgDown"


def test_open_lesson_file_good_and_bad(window, qtbot, tmp_path):
    from rnnviz.app.lessons import builtin_dir

    text = builtin_dir().joinpath("gru.toml").read_text(encoding="utf-8")
    good = tmp_path / "mygru.toml"
    good.write_text(text.replace('name = "gru"', 'name = "mygru"').replace("hidden_size = 32", "hidden_size = 12"))
    browser = window.lesson_browser
    assert browser.open_file(good).name == "mygru"
    assert browser.current.name == "mygru" and window.state.lesson == "mygru"
    qtbot.waitUntil(lambda: window.state.trace is not None and window.state.trace.hidden_size == 12, timeout=10000)
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("hidden_size = 32", "hidden_size = 'big'"))
    assert browser.open_file(bad) is None
    line = 1 + next(i for i, t in enumerate(text.splitlines()) if t.startswith("hidden_size"))
    assert f"line {line}" in browser.text.toPlainText() and "hidden_size" in browser.text.toPlainText()


def test_standalone_browser_includes_user_lessons(qtbot, tmp_path):
    (tmp_path / "extra.toml").write_text(
        'name = "extra"\ntitle = "Extra"\norder = 1\n[config]\ncell = "gru"\n[action]\nkind = "record"\n')
    browser = LessonBrowser(user_dirs=[tmp_path])
    qtbot.addWidget(browser)
    n = len(LESSONS)  # the built-in lessons come first, the user's after them
    assert browser.list.count() == n + 1 and browser.lessons[-1].name == "extra"
    assert browser.list.item(n).text().startswith("★")
    with qtbot.waitSignal(browser.lesson_chosen) as blocker:
        browser.list.setCurrentRow(n)
    assert blocker.args[0].name == "extra"


@pytest.mark.parametrize("present", [False, True])
def test_lesson_screenshot_subprocess(tmp_path, present):
    out = tmp_path / "shot.png"
    cmd = [sys.executable, "-m", "rnnviz", "--lesson", "vanishing", "--screenshot", str(out)]
    if present:
        cmd.insert(-2, "--present")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1600, 1000)


def test_lesson_screenshot_runs_the_action_subprocess(tmp_path):
    out = tmp_path / "x.png"
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "--lesson", "exploding", "--screenshot", str(out)],
                          capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and QImage(str(out)).width() == 1600


def test_bad_lesson_file_on_command_line_names_the_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntitle = "t"\n[config]\ncell = "lstmm"\n[action]\nkind = "record"\n')
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "--lesson", str(bad), "--screenshot",
                           str(tmp_path / "x.png")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "line 4" in proc.stderr and "lstmm" in proc.stderr and "Traceback" not in proc.stderr

