"""The window fits a 1280×720 screen (a classroom projector, a small laptop) in normal and
presentation mode, whatever tab is in front.

Seen before: the graph asked for half the window's height, which grew the window, which raised
the graph's ask, until a presentation-mode window was 1305 pixels tall; the Dynamics panel, the
Equations tab and one long info line each made the window taller or wider than the screen.
"""

import pytest

from rnnviz.qt.app import build_window, resolve_lesson
from rnnviz.qt.presentation import apply_presentation
from rnnviz.qt.views.graph_view import SCREEN_SHARE

SCREEN = (1280, 720)


@pytest.mark.parametrize("present", [False, True], ids=["normal", "presentation"])
@pytest.mark.parametrize("lesson", ["recurrence", "charlm", "blackbox"])
def test_the_window_fits_a_1280x720_screen_on_every_tab(qtbot, lesson, present):
    config, lesson_obj = resolve_lesson(lesson)
    win = build_window(config, lesson_obj, warm_up=False)
    qtbot.addWidget(win)
    try:
        if present:
            apply_presentation(win)
        win.resize(*SCREEN)
        win.show()
        qtbot.wait(20)
        need = win.minimumSizeHint()
        for i in range(win.tabs.count()):
            win.tabs.setCurrentIndex(i)
            qtbot.wait(5)
            need = need.expandedTo(win.minimumSizeHint())
            assert need.width() <= SCREEN[0] and need.height() <= SCREEN[1], (
                f"{lesson} ({'presentation' if present else 'normal'}): the window needs "
                f"{need.width()}×{need.height()} with the {win.tabs.tabText(i)!r} tab in front")
        screen_h = win.views["graph"].screen().availableGeometry().height()
        assert win.views["graph"].minimumSizeHint().height() <= SCREEN_SHARE * screen_h + 1
    finally:
        if present:
            apply_presentation(win, False)  # the theme's scale is global: later tests expect 1.0
        win.state.dirty = False
        win.shutdown()


def test_a_long_status_message_is_elided_not_a_wider_window(make_window, qtbot):
    win = make_window(size=SCREEN)
    before = win.minimumSizeHint().width()
    win.state.status = "a very long message " * 40
    qtbot.wait(20)
    assert win.status_label.text().startswith("a very long message")
    assert win.minimumSizeHint().width() == before
    assert win.width() <= SCREEN[0]
