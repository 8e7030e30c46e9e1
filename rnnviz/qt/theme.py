"""Colours, pens and fonts shared by every rnnviz view, with presentation-mode hooks.

Views read sizes from here instead of hard-coding them, and register a callback with
:func:`on_change` so that :func:`set_scale` (bigger fonts and lines for a projector) and
:func:`high_contrast` restyle every open view at once.

Colour maps: :func:`diverging` (states, centred at 0: blue < 0 < red), :func:`sequential`
(gradient magnitudes, gate openings), and :data:`NONFINITE` for NaN/Inf, which no colour map
produces.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from functools import cache

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QPen

from rnnviz.app import colormaps

__all__ = [
    "NONFINITE",
    "background",
    "color",
    "diverging",
    "font",
    "font_px",
    "foreground",
    "high_contrast",
    "is_high_contrast",
    "line_width",
    "on_change",
    "pen",
    "scale",
    "sequential",
    "series_color",
    "set_scale",
    "setup_pyqtgraph",
]


def pin_none_refcount() -> None:
    """Work around PySide6 6.12 on CPython < 3.12: every call of a void Qt method
    (setPen, setText, setZValue, ...) drops one reference to ``None`` (or True / False); after a few thousand
    calls CPython aborts with "none_dealloc: deallocating None". ``None`` is never freed
    anyway, so give it a reference count no program can exhaust (CPython 3.12+ makes it
    immortal itself, and this does nothing there)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return
    import ctypes

    for obj in (None, True, False):
        ref = ctypes.c_ssize_t.from_address(id(obj))
        if ref.value < 1 << 40:
            ref.value += 1 << 50


pin_none_refcount()

_state = {"scale": 1.0, "high_contrast": False}
_listeners: list[weakref.ref | Callable[[], None]] = []
_configured = False

#: The colour of NaN / ±Inf values everywhere (a magenta no colour map uses).
NONFINITE = QColor(230, 0, 230)

_SERIES = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#e377c2"]
_SERIES_HC = ["#0033cc", "#cc0000", "#007700", "#cc6600", "#6600aa", "#000000", "#008888", "#aa0066"]

_ROLES = {
    # role: (normal, high contrast)
    "cursor": ("#e6a100", "#ff8800"),
    "dim": ((255, 255, 255, 150), (255, 255, 255, 200)),
    "bad": ((230, 0, 230, 70), (230, 0, 230, 110)),
    "threshold": ("#d62728", "#cc0000"),
    "target": ("#2ca02c", "#007700"),
    "bar": ("#1f77b4", "#0033cc"),
    "bar_low": ("#6baed6", "#0055ff"),
    "bar_high": ("#fd8d3c", "#dd4400"),
    "unit_circle": ("#888888", "#000000"),
    "node_idle": ("#f2f2f2", "#ffffff"),
    "node_outline": ("#555555", "#000000"),
    "edge": ("#9a9a9a", "#333333"),
    "select": ("#e6a100", "#ff6600"),
    "text": ("#222222", "#000000"),
}


def setup_pyqtgraph() -> None:
    """Set pyqtgraph's global options once (antialiasing, row-major images)."""
    global _configured
    if not _configured:
        pg.setConfigOptions(antialias=True, imageAxisOrder="row-major")
        _configured = True


def scale() -> float:
    """The current size factor (1.0 = normal; presentation mode uses more)."""
    return _state["scale"]


def is_high_contrast() -> bool:
    return _state["high_contrast"]


def set_scale(factor: float) -> None:
    """Scale every font and line width by ``factor`` (0.5 .. 4) and restyle open views."""
    try:
        factor = float(factor)
    except (TypeError, ValueError):
        raise ValueError(f"scale factor must be a number, got {factor!r}") from None
    if not np.isfinite(factor) or not 0.5 <= factor <= 4.0:
        raise ValueError(f"scale factor must be between 0.5 and 4, got {factor}")
    _state["scale"] = factor
    _notify()


def high_contrast(on: bool) -> None:
    """Switch the high-contrast palette (black text, thicker darker lines) on or off."""
    _state["high_contrast"] = bool(on)
    _notify()


def on_change(callback: Callable[[], None]) -> None:
    """Call ``callback()`` whenever the scale or contrast changes.

    Bound methods are held weakly, so a closed view is simply forgotten.
    """
    if hasattr(callback, "__self__"):
        _listeners.append(weakref.WeakMethod(callback))
    else:
        _listeners.append(lambda cb=callback: cb)


def _notify() -> None:
    alive = []
    for ref in _listeners:
        cb = ref()
        if cb is None:
            continue
        alive.append(ref)
        try:
            cb()
        except RuntimeError:  # the C++ widget is gone
            alive.pop()
    _listeners[:] = alive


def font_px(base: float = 11.0) -> int:
    """A font size in points for a ``base`` size, scaled."""
    return max(6, round(base * _state["scale"]))


def font(base: float = 11.0, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSize(font_px(base))
    f.setBold(bold or _state["high_contrast"] and base >= 11)
    return f


def line_width(base: float = 1.5) -> float:
    w = base * _state["scale"]
    return w * 1.6 if _state["high_contrast"] else w


def color(role: str) -> QColor:
    """A named colour: cursor, dim, bad, threshold, target, bar, edge, text, ..."""
    value = _ROLES[role][1 if _state["high_contrast"] else 0]
    return QColor(*value) if isinstance(value, tuple) else QColor(value)


def series_color(i: int) -> QColor:
    palette = _SERIES_HC if _state["high_contrast"] else _SERIES
    return QColor(palette[i % len(palette)])


def pen(role_or_color, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    """A cosmetic pen of a role name or QColor, its width scaled by the theme."""
    c = color(role_or_color) if isinstance(role_or_color, str) else QColor(role_or_color)
    p = QPen(c)
    p.setWidthF(line_width(width))
    p.setCosmetic(True)
    p.setStyle(style)
    return p


def background() -> str:
    return "w"


def foreground() -> QColor:
    return color("text")


@cache
def _map(name: str) -> pg.ColorMap:
    lut = colormaps.colormap(name)
    return pg.ColorMap(np.linspace(0.0, 1.0, len(lut)), lut)


def diverging() -> pg.ColorMap:
    """Blue - white - red, centred at 0 (hidden / cell states, candidates): the exporters' map
    (:data:`rnnviz.app.colormaps.DIVERGING`)."""
    return _map(colormaps.DIVERGING)


def sequential() -> pg.ColorMap:
    """Dark to bright (gradient magnitudes on a log scale, gate openings 0..1): the exporters'
    map (:data:`rnnviz.app.colormaps.SEQUENTIAL`)."""
    return _map(colormaps.SEQUENTIAL)


def gate_map(candidate: bool) -> pg.ColorMap:
    """The map of a gate's heatmap (:func:`rnnviz.app.colormaps.gate_colormap`)."""
    return _map(colormaps.gate_colormap(candidate))
