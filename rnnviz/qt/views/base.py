"""The :class:`TraceView` contract every rnnviz view implements, and small shared helpers.

A view only *reads* a :class:`rnnviz.Trace`: :meth:`TraceView.set_trace` builds images and
plot items once per run, :meth:`TraceView.set_cursor` only moves lines and overlays (it is
called on every timeline scrub and must stay cheap).
"""

from __future__ import annotations

import html
import re

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QGraphicsItem, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from rnnviz.app.panel_model import bad_runs, finite_absmax, steps_text
from rnnviz.qt import theme

theme.setup_pyqtgraph()

PHASES = ("forward", "backward", "full")


class TraceView(QWidget):
    """Base class of every view: a QWidget that shows one aspect of a Trace.

    Signals:
        time_clicked(int): the user picked a time step (0-based).
        node_clicked(int, int): graph view only, (t, k) with k = layer * D + direction.

    Attributes:
        title: the name shown in tabs / docks.
        trace: the Trace shown (or None).
        current_time, phase, current_k, current_b: the last cursor given to set_cursor.
    """

    title = "View"
    #: A view whose readable minimum is taller or wider than a 1280×720 screen leaves it (Dynamics,
    #: Equations in presentation mode) scrolls inside its tab instead of growing the window past
    #: the screen: its widgets then live in a scroll area, still children of the view.
    scrollable = False
    time_clicked = Signal(int)
    node_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.trace = None
        self.compare_trace = None
        self.compare_label = ""
        self.current_time = 0
        self.phase = "full"
        self.current_k = 0
        self.current_b = 0
        self._layout = QVBoxLayout(self._body() if self.scrollable else self)
        self._layout.setContentsMargins(2, 2, 2, 2)
        self._layout.setSpacing(2)
        self.message = QLabel("")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.hide()
        self._layout.addWidget(self.message)
        theme.on_change(self._theme_changed)

    def _body(self) -> QWidget:
        """The widget the view's layout goes in when it scrolls: a frameless scroll area's page."""
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidgetResizable(True)
        body = QWidget()
        self.scroll_area.setWidget(body)
        outer.addWidget(self.scroll_area)
        return body

    # -- the contract -------------------------------------------------------------
    def set_trace(self, trace) -> None:
        """Show a new run (``None`` clears the view)."""
        self.trace = trace

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        """Move to time step ``t`` of ``phase`` for layer-direction row ``k`` and sample ``b``."""
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(t, phase, k, b)

    def set_history(self, history: list[dict], train_cfg=None) -> None:
        """Training rows so far (only the training view uses them)."""

    def set_compare(self, trace, label: str = "") -> None:
        """A second run to compare with (``None`` ends compare mode)."""
        self.compare_trace = trace
        self.compare_label = label

    def set_compare_runs(self, runs) -> None:
        """The runs to compare with (a list of :class:`~rnnviz.app.state.CompareRun`; empty ends
        compare mode). This default shows the first through :meth:`set_compare`; a view that
        draws several runs overrides it."""
        first = runs[0] if runs else None
        if first is None and self.compare_trace is None:
            return  # nothing compared before or now: nothing to redraw
        self.set_compare(first.trace if first is not None else None, first.label if first is not None else "")

    # -- helpers ----------------------------------------------------------------------
    def _clamp_cursor(self, t, phase, k, b):
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        tr = self.trace
        t, k, b = int(t), int(k), int(b)
        if tr is not None:
            t = min(max(t, 0), tr.seq_len - 1)
            k = min(max(k, 0), tr.hidden.shape[0] - 1)
            b = min(max(b, 0), tr.batch_size - 1)
        return t, phase, k, b

    def show_message(self, text: str) -> None:
        """Show ``text`` centred in place of the plots ('' hides it)."""
        if text != self.message.text():
            self.message.setText(text)
        if bool(text) != self.message.isVisibleTo(self):
            self.message.setVisible(bool(text))
        f = theme.font(12)
        if f != self.message.font():  # an unchanged message costs no new layout (every new run calls this)
            self.message.setFont(f)

    def _theme_changed(self) -> None:
        """Restyle after theme.set_scale / theme.high_contrast (subclasses extend)."""
        self.message.setFont(theme.font(12))


def sample_name(trace, b: int) -> str:
    """Sample ``b`` of ``trace`` as the user knows it: its index in the recorded batch (a trace
    that kept samples 4 and 9 of 16 calls its second sample "9")."""
    kept = trace.kept_samples if trace is not None else []
    return str(kept[b]) if 0 <= b < len(kept) else str(b)


def no_si_prefix(ax: pg.AxisItem) -> None:
    """Show plain tick values: no "(x1e+18)" or milli-scaled labels.

    pyqtgraph 0.14's ``enableAutoSIPrefix(False)`` still computes a prefix for the range of the
    moment and then never updates it, so a heatmap of 32 units could read 0–30000. Reset it.
    """
    ax.enableAutoSIPrefix(False)
    ax.autoSIPrefixScale = 1.0
    ax.labelUnitPrefix = ""
    ax.picture = None
    ax.update()


def style_plot(plot: pg.PlotItem, left: str = "", bottom: str = "", title: str | None = None) -> None:
    """Axis labels, fonts and pens from the theme on a PlotItem (its axes painted from pixmaps)."""
    fg = theme.foreground()
    for name in ("left", "bottom"):
        ax = plot.getAxis(name)
        # its ticks reach 5 px into the plot: every cursor step repainted the whole axis (its
        # picture replayed in Python); from a pixmap it is a blit of the few pixels under the cursor
        ax.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        no_si_prefix(ax)
        ax.setPen(theme.pen(fg, 1))
        ax.setTextPen(theme.pen(fg, 1))
        ax.setTickFont(theme.font(9))
        ax.label.setFont(theme.font(10))
    style = {"color": fg.name(), "font-size": f"{theme.font_px(10)}pt"}
    if left:
        plot.setLabel("left", left, **style)
    if bottom:
        plot.setLabel("bottom", bottom, **style)
    if title is not None:
        set_title(plot, title)


def set_title(plot: pg.PlotItem, title: str) -> None:
    """``plot``'s title as :func:`style_plot` sets it, and nothing else: a title that changes on
    every timeline step must not restyle the axes too (they then draw themselves again: 7 ms a
    step on the language model's predictions)."""
    plot.setTitle(rich(title), color=theme.foreground().name(), size=f"{theme.font_px(11)}pt")


_SUBSCRIPT = re.compile(r"([^\W\d_][\u0300-\u036f]*)_(\{[^}]*\}|[A-Za-z0-9])(?![A-Za-z0-9])")


def rich(text: str) -> str:
    """Plot-title HTML for the notes' plain-text symbols: ``h_t`` → h<sub>t</sub>, ``h_{t−1}`` →
    h<sub>t−1</sub> (also after a letter with a combining accent, such as a candidate's tilde).
    Names such as ``clip_norm`` or ``W_hh`` are left alone."""
    return _SUBSCRIPT.sub(lambda m: f"{m.group(1)}<sub>{m.group(2).strip('{}')}</sub>", text)


def add_legend(plot: pg.PlotItem, offset=(-10, 10)) -> pg.LegendItem:
    """A legend with a translucent white box so it stays readable over curves."""
    legend = plot.addLegend(offset=offset, labelTextColor=theme.foreground(),
                            brush=pg.mkBrush(255, 255, 255, 210), pen=pg.mkPen("#bbbbbb"))
    legend.setLabelTextSize(f"{theme.font_px(9)}pt")  # grows with presentation mode's scale
    return legend


_SAMPLES = {Qt.PenStyle.SolidLine: "━━━", Qt.PenStyle.DashLine: "━ ━", Qt.PenStyle.DashDotLine: "━·━",
            Qt.PenStyle.DotLine: "···"}


class LegendBar(QLabel):
    """A legend in its own strip under (or beside) a plot, so it never covers the data: one
    entry per curve, a line sample in the curve's colour and style, then its name; entries wrap.

    ``entries`` is the list of (name, QColor, sample text) shown; :meth:`names` their names."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setContentsMargins(6, 0, 6, 0)
        self.entries: list[tuple[str, QColor, str]] = []
        self.restyle()

    def clear(self) -> None:  # noqa: D102 - QLabel's
        self.entries = []
        self._render()

    def add(self, name: str, color, style: Qt.PenStyle = Qt.PenStyle.SolidLine, mark: str | None = None) -> None:
        """Add an entry: a line sample in ``style`` (or the text ``mark``, e.g. "✕" or "■") and ``name``."""
        self.entries.append((str(name), QColor(color), mark or _SAMPLES.get(style, "━━━")))
        self._render()

    def remove(self, name: str) -> None:
        """Remove the entries called ``name``."""
        self.entries = [e for e in self.entries if e[0] != name]
        self._render()

    def names(self) -> list[str]:
        return [e[0] for e in self.entries]

    def restyle(self) -> None:
        self.setFont(theme.font(9))
        self._render()

    def _render(self) -> None:
        parts = [f'<span style="color:{c.name()}; font-weight:bold">{sample}</span>&nbsp;{html.escape(name)}'
                 for name, c, sample in self.entries]
        self.setText("&nbsp;&nbsp;&nbsp; ".join(parts))
        self.setVisible(bool(parts))


class CurveLegend(LegendBar):
    """A :class:`LegendBar` fed with curves: each entry takes its curve's pen (colour and dash)
    when drawn, so a theme change restyles it; :meth:`set_shown` hides it whatever it holds."""

    _curves: tuple = ()  # class defaults: LegendBar.__init__ draws before ours runs
    _shown = True

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._curves = []

    def add_curve(self, curve, name: str) -> None:
        """Show ``curve`` as ``name`` (again: renamed, moved to the end)."""
        self._curves = [c for c in self._curves if c[0] is not curve] + [(curve, str(name))]
        self._render()

    def remove_curve(self, curve) -> None:
        self._curves = [c for c in self._curves if c[0] is not curve]
        self._render()

    def set_shown(self, on: bool) -> None:
        self._shown = bool(on)
        self._render()

    def _render(self) -> None:
        self.entries = []
        for curve, name in self._curves:
            pen = pg.mkPen(curve.opts.get("pen"))
            self.entries.append((name, pen.color(), _SAMPLES.get(pen.style(), "━━━")))
        super()._render()
        if not self._shown:
            self.setVisible(False)


class TextLine(QWidget):
    """One line of text that changes often (the caption under the graph, the timeline's step):
    :meth:`setText` repaints it without asking the window to lay itself out again, as a QLabel
    does (on every timeline step that cost several passes through every widget's size hint).
    Too long a text is elided; ``widest`` (optional) is the longest text it must hold, which
    fixes its width; ``lines`` > 1 wraps the text onto up to that many lines (fewer where the
    window has no room: at least one)."""

    def __init__(self, text: str = "", widest: str | None = None, parent: QWidget | None = None,
                 lines: int = 1):
        super().__init__(parent)
        self._text = text
        self._widest = widest
        self._lines = max(1, int(lines))
        # more than one line: as many as fit, down to one on a crowded screen
        self.setSizePolicy(QSizePolicy.Policy.Fixed if widest else QSizePolicy.Policy.Ignored,
                           QSizePolicy.Policy.Preferred if self._lines > 1 else QSizePolicy.Policy.Fixed)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (Qt naming)
        if text != self._text:
            self._text = text
            self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance(self._widest or self._text) + 8, self._height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.sizeHint().width() if self._widest else 0, self._height(1))

    def _height(self, lines: int | None = None) -> int:
        fm = self.fontMetrics()
        return fm.height() + ((lines or self._lines) - 1) * fm.lineSpacing() + 4

    def paintEvent(self, _event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        rect = self.rect().adjusted(4, 0, -4, 0)
        if self._lines > 1:
            p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
                                 | Qt.TextFlag.TextWordWrap), self._text)
        else:
            text = self.fontMetrics().elidedText(self._text, Qt.TextElideMode.ElideRight, rect.width())
            p.drawText(rect, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter), text)
        p.end()


class DecadeAxis(pg.AxisItem):
    """A log axis labelled at whole decades only ("1e-5", "0.1", "1", "10", "1e3"), thinned so the
    labels never overlap. pyqtgraph also labels 2…9 between decades, which pile up on each other."""

    def _label_px(self) -> float:
        return theme.font_px(10) * 1.33 * 1.7  # points → pixels, with a gap

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 (pyqtgraph naming)
        if not self.logMode or not (np.isfinite(minVal) and np.isfinite(maxVal)) or maxVal - minVal < 1:
            return super().tickValues(minVal, maxVal, size)
        per_decade = size / (maxVal - minVal)
        step = max(1, int(np.ceil(self._label_px() / max(per_decade, 1e-9))))
        lo, hi = int(np.ceil(minVal)), int(np.floor(maxVal))
        major = [float(d) for d in range(lo, hi + 1) if d % step == 0]
        minor = [float(d) for d in range(lo, hi + 1) if d % step] if per_decade > 4 else []
        return [(float(step), major), (1.0, minor)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 (pyqtgraph naming)
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        out = []
        for v in values:
            if abs(v - round(v)) > 1e-6:
                out.append(f"{10 ** v:.2g}")
                continue
            d = int(round(v))
            out.append({0: "1", 1: "10", 2: "100", -1: "0.1", -2: "0.01"}.get(d, f"1e{d}"))
        return out


def cached(item):
    """Paint ``item`` (an ImageItem, a PlotDataItem's curve) from a pixmap until it changes. A
    moving cursor or dimming band makes Qt repaint what lies under it; re-rastering a 1000-step
    image or curve there on every timeline step was most of a scrub's time. Returns ``item``."""
    # a PlotDataItem's symbols too: pyqtgraph painted a lone target marker (in Python) on every
    # step, wherever the cursor was (0.8 ms of a predictions step)
    targets = (item.curve, item.scatter) if isinstance(item, pg.PlotDataItem) else (item,)
    for target in targets:
        target.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    return item


class CursorLine(pg.InfiniteLine):
    """An InfiniteLine that never changes its plot's range (it is added with ``ignoreBounds``).

    pyqtgraph tells the ViewBox of every move of any item; a ViewBox that auto-ranges then
    re-computes its range and repaints its whole area, under every curve and image, although
    a cursor does not count in that range. A cursor moves on every timeline step: this one
    keeps the move to the strip it covers."""

    _moving = False

    def informViewBoundsChanged(self) -> None:  # noqa: N802 (pyqtgraph naming)
        pass

    def setPos(self, pos) -> None:  # noqa: N802
        """Moved across itself (the only way a cursor moves), the line keeps its box in its own
        coordinates: the view's extent along it, a few pixels across. pyqtgraph forgot it on
        every move and worked it out again in Python (~0.25 ms a cursor a step)."""
        self._moving = True
        try:
            super().setPos(pos)
        finally:
            self._moving = False

    def viewTransformChanged(self) -> None:  # noqa: N802
        if not self._moving:  # a new view range or size: the box is worked out again
            super().viewTransformChanged()


def make_cursor(plot: pg.PlotItem, angle: float = 90) -> pg.InfiniteLine:
    """A non-movable cursor line added to ``plot`` (a :class:`CursorLine`)."""
    line = CursorLine(pos=0, angle=angle, movable=False, pen=theme.pen("cursor", 2))
    line.setZValue(20)
    plot.addItem(line, ignoreBounds=True)
    return line


class _DimSide(QGraphicsItem):
    """One dimmed side of a :class:`DimBand`: a translucent rectangle whose moves repaint only
    the strip between its old and new edge. (A QGraphicsRectItem repaints all it covered and
    all it covers: half a plot, under every curve and image, on each timeline step.) Its
    bounding rectangle is the band's whole extent, so moving an edge changes no geometry."""

    def __init__(self):
        super().__init__()
        self.rect = QRectF()  # dimmed, in data coordinates; empty: nothing
        self.extent = QRectF()
        self.brush = pg.mkBrush(theme.color("dim"))

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt naming)
        return self.extent

    def paint(self, painter, _option, _widget=None) -> None:
        if not self.rect.isEmpty():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush)
            painter.drawRect(self.rect)

    def set_rect(self, rect: QRectF, extent: QRectF) -> None:
        old = self.rect
        if extent != self.extent:
            self.prepareGeometryChange()
            self.extent, self.rect = extent, rect
            self.update()
            return
        self.rect = rect
        if old == rect:
            return
        if old.isEmpty() or rect.isEmpty() or old.top() != rect.top() or old.bottom() != rect.bottom():
            self.update(old.united(rect) if not old.isEmpty() else rect)
            return
        for a, b in ((old.left(), rect.left()), (old.right(), rect.right())):
            if a != b:  # only the strip between the old and the new edge changed (Qt pads it by 2 px)
                self.update(QRectF(min(a, b), rect.top(), abs(b - a), rect.height()))


class DimBand:
    """Two translucent rectangles that dim the steps before / after a cursor in a plot."""

    def __init__(self, plot: pg.PlotItem):
        self.left = _DimSide()
        self.right = _DimSide()
        for item in (self.left, self.right):
            item.setZValue(15)
            plot.addItem(item, ignoreBounds=True)
        self.y0, self.y1 = -1e9, 2e9

    def set_y(self, y0: float, y1: float) -> None:
        self.y0, self.y1 = y0, y1

    def update(self, lo: float | None, hi: float | None, t0: float, t1: float) -> None:
        """Dim x in [t0, lo) and (hi, t1]; None leaves that side undimmed."""
        extent = QRectF(t0, self.y0, t1 - t0, self.y1 - self.y0)
        for item, a, b in ((self.left, t0, lo), (self.right, hi, t1)):
            if a is None or b is None or b <= a:
                item.set_rect(QRectF(), extent)
            else:
                item.set_rect(QRectF(a, self.y0, b - a, self.y1 - self.y0), extent)

    @property
    def dimmed(self) -> tuple[bool, bool]:
        return not self.left.rect.isEmpty(), not self.right.rect.isEmpty()


__all__ = ["PHASES", "CursorLine", "DecadeAxis", "DimBand", "LegendBar", "TextLine", "TraceView", "add_legend",
           "bad_runs", "cached", "finite_absmax", "make_cursor", "no_si_prefix", "rich", "sample_name", "set_title",
           "steps_text", "style_plot"]
