"""Classroom mode: full screen, large fonts, thick lines, high contrast, clicker-driven.

``apply_presentation(window, on=True)`` switches a :class:`~rnnviz.qt.main_window.MainWindow`
into presentation mode and back. The keys (actions of the window's menus, see
:mod:`rnnviz.qt.menus`) work with a presenter clicker:

=====================  ==========================================================
Page Down / Page Up    next / previous time step; past the last / first step: next / previous lesson
Ctrl+Page Down / Up    next / previous lesson
F5                     presentation mode on / off
=====================  ==========================================================
"""

from __future__ import annotations

import os

from PySide6.QtCore import QSize
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

from rnnviz.qt import theme

SCALE = 1.8  # font and line factor in presentation mode
FONT_FACTOR = 1.6  # widget fonts (menus, labels, lists)
BUTTON_PX = 56  # step / play controls
LIST_FONT_FACTOR = 1.3  # the lesson list: all nine titles visible at 1000 px height
GRAPH_SHARE = 0.6  # the unrolled graph's share of the height: the main picture in a classroom
SMALL_GRAPH_SHARE = 0.45  # below SMALL_HEIGHT px: the views under the graph need the room
SMALL_HEIGHT = 900

_PROP_ON = "rnnviz_presenting"


def is_presenting(window) -> bool:
    """Whether ``window`` is in presentation mode."""
    return bool(window.property(_PROP_ON))


def _theme(on: bool) -> None:
    theme.set_scale(SCALE if on else 1.0)
    theme.high_contrast(on)


def _headless() -> bool:
    app = QApplication.instance()
    platform = app.platformName() if app is not None else os.environ.get("QT_QPA_PLATFORM", "")
    return platform in ("offscreen", "minimal")


def _big_controls(window, on: bool) -> None:
    for b in window.timeline.findChildren(QAbstractButton):
        if on:
            if b.property("rnnviz_normal_size") is None:
                b.setProperty("rnnviz_normal_size", b.iconSize())
            b.setMinimumSize(BUTTON_PX, BUTTON_PX)
            b.setIconSize(QSize(BUTTON_PX - 16, BUTTON_PX - 16))
        elif b.property("rnnviz_normal_size") is not None:
            b.setMinimumSize(0, 0)
            b.setIconSize(b.property("rnnviz_normal_size"))


def _tab_bar(window, on: bool) -> None:
    """View tabs in presentation mode: the window's large font (the strip wraps onto a second
    row rather than hiding a tab)."""
    strip = window.tab_strip
    strip.setFont(window.font() if on else QFont())  # QFont(): follow the window again



def _graph_first(window, on: bool) -> None:
    """Presentation: the unrolled graph takes GRAPH_SHARE of the height (the main picture; less
    on a small screen, where 60% squeezed the views under it into a strip)."""
    splitter = window.splitter
    if on:
        window.setProperty("rnnviz_splitter_sizes", splitter.sizes())
        total = max(sum(splitter.sizes()), 1)
        share = GRAPH_SHARE if window.height() >= SMALL_HEIGHT else SMALL_GRAPH_SHARE
        splitter.setSizes([round(total * share), total - round(total * share)])
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
    else:
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        if window.property("rnnviz_splitter_sizes"):
            splitter.setSizes(window.property("rnnviz_splitter_sizes"))


def apply_presentation(window, on: bool = True) -> None:
    """Presentation mode on or off: full screen (not when rendering offscreen), fonts ×1.6,
    lines ×1.8, the high-contrast theme, big timeline buttons, the Build dock hidden (View menu
    shows it again)."""
    if on == is_presenting(window):
        return
    if on:
        window.setProperty("rnnviz_normal_font", window.font())
        font = window.font()
        size = font.pointSizeF() if font.pointSizeF() > 0 else 10.0
        font.setPointSizeF(size * FONT_FACTOR)
        window.setFont(font)
        window.menuBar().setFont(font)
    else:
        normal = window.property("rnnviz_normal_font")
        if normal is not None:
            window.setFont(normal)
            window.menuBar().setFont(normal)
    window.setProperty(_PROP_ON, on)
    normal = window.property("rnnviz_normal_font")
    base = normal.pointSizeF() if normal is not None and normal.pointSizeF() > 0 else 10.0
    _tab_bar(window, on)
    build = window.build_dock  # room for the views; View ▸ Build brings it back
    if on:
        window.setProperty("rnnviz_build_visible", build.isVisible())
        build.hide()
    elif window.property("rnnviz_build_visible"):
        build.show()
    _theme(on)
    _big_controls(window, on)
    window.run_bar.set_presenting(on)
    _graph_first(window, on)
    # views restyle through theme.on_change; re-push the trace so cached text items pick fonts up
    if window.state.trace is not None:
        window.refresh_views()
    if not _headless() and not window.property("rnnviz_screenshot"):
        if on:
            window.setProperty("rnnviz_was_maximized", window.isMaximized())
            window.showFullScreen()
        elif window.isFullScreen():
            window.showMaximized() if window.property("rnnviz_was_maximized") else window.showNormal()
    window.lesson_browser.set_presenting(on, base * LIST_FONT_FACTOR if on else None)


def toggle_presentation(window) -> None:
    """F5: presentation mode on ↔ off."""
    apply_presentation(window, not is_presenting(window))


def page(window, delta: int) -> None:
    """Page Down (+1) / Page Up (-1): a time step; at the end of the run: the next lesson."""
    state = window.state
    moved = False
    if state.trace is not None:
        state.playing = False
        moved = state.step_forward() if delta > 0 else state.step_back()
    if not moved:
        window.lesson_browser.go(delta)


def widget_font_size(widget: QWidget) -> float:
    """Point size of ``widget``'s font (tests, and views that size their own text)."""
    return widget.font().pointSizeF()


__all__ = ["apply_presentation", "is_presenting", "page", "toggle_presentation",
           "widget_font_size"]
