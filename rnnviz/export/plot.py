"""Plot primitives of the exported pictures, drawn into a :class:`~rnnviz.export.scene.Scene`:
a :class:`Box`, axes and ticks, a heatmap with colour bar, line plots with a legend that never
covers a curve, and bar charts. Panels (``frames_panels.py``, ``frames_graph.py``) build on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rnnviz.app.colormaps import SEQUENTIAL
from rnnviz.export.scene import (
    BACKGROUND,
    GRID,
    INK,
    MUTED,
    NONFINITE,
    Scene,
    apply_colormap,
    colormap,
    text_width,
)

__all__ = ["Box", "draw_bars", "draw_heatmap", "draw_lines", "fmt_tick", "font_sizes", "frame_axes", "nice_ticks",
           "placeholder", "x_ticks"]

def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (about ``n`` of them)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, n)
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    first = math.ceil(lo / step - 1e-9) * step
    ticks, v = [], first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


def fmt_tick(v: float) -> str:
    """Short tick label: 0.5, 12, 1e-04, 3k ..."""
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    if a >= 1000 and float(v).is_integer():
        return f"{v / 1000:g}k"
    return f"{v:.3g}"


@dataclass
class Box:
    """A rectangle in logical pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0


def font_sizes(box: Box) -> tuple[float, float]:
    """(title, label) font sizes that fit a panel of this size."""
    base = max(8.0, min(15.0, min(box.w / 32.0, box.h / 16.0)))
    return base * 1.08, base * 0.85


def frame_axes(scene: Scene, box: Box, title: str, xlabel: str, ylabel: str,
               right_margin: float = 0.0, fonts: tuple[float, float] | None = None, top: float = 0.0) -> Box:
    """Draw title and axis labels of a panel in ``box``; return the plot area inside it.

    ``fonts`` = (title, label) sizes; default: :func:`font_sizes` of the box. ``top``: extra
    room kept between the title and the plot (a legend's rows)."""
    tsize, lsize = fonts or font_sizes(box)
    scene.text(box.x0 + 4, box.y0 + 3, title, tsize, INK, "la", bold=True)
    left = _plot_x(box, lsize)[0]
    plot = Box(left, box.y0 + tsize + 12 + top, box.x1 - 10 - right_margin, box.y1 - lsize * 2.8 - 6)
    if xlabel:
        scene.text((plot.x0 + plot.x1) / 2, box.y1 - 4, xlabel, lsize, MUTED, "md")
    if ylabel:
        scene.text(box.x0 + 3, (plot.y0 + plot.y1) / 2, ylabel, lsize, MUTED, "lm", rotate=90)
    return plot


def x_ticks(scene: Scene, plot: Box, lo: float, hi: float, to_x, lsize: float, integer=True):
    nmax = max(2, int(plot.w / (lsize * 4.5)))
    for v in nice_ticks(lo, hi, min(8, nmax)):
        if integer and not float(v).is_integer():
            continue
        x = to_x(v)
        if plot.x0 - 0.5 <= x <= plot.x1 + 0.5:
            scene.line([(x, plot.y1), (x, plot.y1 + 4)], MUTED, 1)
            scene.text(x, plot.y1 + 6, fmt_tick(v), lsize, MUTED, "ma")


def placeholder(scene: Scene, box: Box, title: str, message: str) -> None:
    tsize, lsize = font_sizes(box)
    scene.text(box.x0 + 4, box.y0 + 3, title, tsize, INK, "la", bold=True)
    scene.rect(box.x0 + 6, box.y0 + tsize + 12, box.x1 - 6, box.y1 - 6, fill=(248, 249, 250), outline=GRID)
    scene.text((box.x0 + box.x1) / 2, (box.y0 + box.y1 + tsize) / 2, message, lsize * 1.05, MUTED, "mm")


# -- generic panels ------------------------------------------------------------------------

def draw_heatmap(scene: Scene, box: Box, data: np.ndarray, *, title: str = "", xlabel: str = "time step t",
                 ylabel: str = "unit", cmap: str = SEQUENTIAL, vmin: float | None = None,
                 vmax: float | None = None, colorbar: bool = True, cbar_label: str = "",
                 x_start: int = 1, highlight: int | None = None, row_groups: Sequence[str] = (),
                 bands: Sequence[tuple[float, float, str]] = (), bad: np.ndarray | None = None,
                 log: bool = False) -> Box:
    """A (rows, cols) array as an image in ``box`` with axes, tick labels and a colour bar.

    Columns are time steps numbered from ``x_start``; ``highlight`` outlines one column (0-based).
    Row 0 is at the bottom, as in the window. ``row_groups`` names equal horizontal bands (e.g.
    gates, first at the top) drawn with separators; ``bands`` gives each band its own (vmin,
    vmax, cmap) (the colour bar shows ``cmap``/``vmin``/``vmax``). ``bad`` (bool, like ``data``)
    marks NaN/Inf values, drawn magenta; other NaN cells (steps a frame has not reached) stay
    grey. ``log``: ``data``, ``vmin`` and ``vmax`` are sign·log₁₀(1+|v|) values; the colour
    bar is labelled in the original values.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.size == 0:
        placeholder(scene, box, title, "nothing to show")
        return box
    finite = data[np.isfinite(data)]
    if vmin is None:
        vmin = float(finite.min()) if finite.size else 0.0
    if vmax is None:
        vmax = float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    tsize, lsize = font_sizes(box)
    cbar_w = (lsize * 1.1 + text_width("-0.00", lsize) + 18 + (lsize * 1.3 if cbar_label else 0)) if colorbar else 0
    plot = frame_axes(scene, box, title, xlabel, "" if row_groups else ylabel, right_margin=cbar_w)
    if plot.w < 4 or plot.h < 4:
        return plot
    rows, cols = data.shape
    groups = max(1, len(row_groups))
    band = rows // groups
    rgb = np.empty((rows, cols, 3), np.uint8)
    for i in range(groups):
        lo, hi, cm = bands[i] if i < len(bands) else (vmin, vmax, cmap)
        rgb[i * band:(i + 1) * band] = apply_colormap(data[i * band:(i + 1) * band], lo, hi, cm)
    if bad is not None and np.any(bad):
        rgb[np.asarray(bad, dtype=bool)] = NONFINITE
    # unit 0 at the bottom of each band (the window's orientation)
    rgb = np.concatenate([rgb[i * band:(i + 1) * band][::-1] for i in range(groups)], axis=0)
    scene.image(plot.x0, plot.y0, plot.x1, plot.y1, rgb)
    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, outline=MUTED, width=1)
    cw = plot.w / cols
    x_ticks(scene, plot, x_start, x_start + cols - 1, lambda v: plot.x0 + (v - x_start + 0.5) * cw, lsize)
    rh = plot.h / rows
    if row_groups:
        for i, name in enumerate(row_groups):
            yc = plot.y0 + (i + 0.5) * band * rh
            scene.text(plot.x0 - 5, yc, name, lsize, INK, "rm")
            if i:
                y = plot.y0 + i * band * rh
                scene.line([(plot.x0, y), (plot.x1, y)], BACKGROUND, 2)
    else:
        nmax = max(2, int(plot.h / (lsize * 2.2)))
        for v in nice_ticks(0, rows - 1, min(6, nmax)):
            if float(v).is_integer():
                y = plot.y1 - (v + 0.5) * rh
                scene.text(plot.x0 - 5, y, fmt_tick(v), lsize, MUTED, "rm")
    if highlight is not None and 0 <= highlight < cols:
        x = plot.x0 + highlight * cw
        scene.rect(x - 1, plot.y0 - 2, x + cw + 1, plot.y1 + 2, outline=(230, 50, 30), width=2)
    if colorbar:
        _colorbar(scene, box, plot, vmin, vmax, cmap, cbar_label, lsize, log)
    return plot


def _colorbar(scene: Scene, box: Box, plot: Box, vmin: float, vmax: float, cmap: str, label: str,
              lsize: float, log: bool) -> None:
    cx0 = plot.x1 + 12
    cx1 = cx0 + max(8.0, lsize * 1.1)
    ramp = colormap(cmap)[::-1][:, None, :].repeat(2, axis=1)
    scene.image(cx0, plot.y0, cx1, plot.y1, ramp)
    scene.rect(cx0, plot.y0, cx1, plot.y1, outline=MUTED, width=1)
    if log:  # ticks at 0, ±10^k in the original values, placed in sign·log10(1+|v|) space
        top = max(abs(vmin), abs(vmax))
        ks = [k for k in range(0, int(math.ceil(top)) + 1) if math.log10(1 + 10.0 ** k) <= top + 1e-9]
        ks = ks[::-1][::max(1, math.ceil(len(ks) / 3))]  # the largest powers first
        ticks = [(0.0, "0")] + [(s * math.log10(1 + 10.0 ** k), f"{'-' if s < 0 else ''}1e{k}")
                                for k in ks for s in (1, -1)]
    else:
        ticks = [(v, fmt_tick(v)) for v in nice_ticks(vmin, vmax, 4)]
    placed: list[float] = []
    for v, text in ticks:
        y = plot.y1 - (v - vmin) / (vmax - vmin) * plot.h
        if vmin - 1e-9 <= v <= vmax + 1e-9 and all(abs(y - p) >= lsize * 1.3 for p in placed):
            placed.append(y)
            scene.line([(cx1, y), (cx1 + 3, y)], MUTED, 1)
            scene.text(cx1 + 5, y, text, lsize, MUTED, "lm")
    if label:
        scene.text(box.x1 - lsize * 1.3, (plot.y0 + plot.y1) / 2, label, lsize, MUTED, "lm", rotate=90)


def draw_lines(scene: Scene, box: Box, series: Sequence[tuple], *, title: str = "", xlabel: str = "",
               ylabel: str = "", log: bool = False, marker_x: float | None = None,
               x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
               integer_x: bool = True) -> Box:
    """Line plot of ``series`` = [(label, x, y, color, dashed), ...] in ``box`` (log y if ``log``).

    Non-finite points (and, on a log axis, non-positive ones) break the line. ``x_range`` and
    ``y_range`` fix the axes (so animation frames do not jump); ``marker_x`` draws a vertical line.
    """
    tsize, lsize = font_sizes(box)
    labels = [s[0] for s in series if s[0]]
    rows = _legend_rows(title, labels, box, tsize, lsize)
    plot = frame_axes(scene, box, title, xlabel, ylabel, top=rows * lsize * 1.4)
    if plot.w < 4 or plot.h < 4:
        return plot
    xs_all = [np.asarray(s[1], dtype=np.float64) for s in series]
    ys_all = [np.asarray(s[2], dtype=np.float64) for s in series]

    def tr(y):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan) if log else y

    if x_range is None:
        fx = np.concatenate([x[np.isfinite(x)] for x in xs_all]) if xs_all else np.zeros(0)
        x_range = (float(fx.min()), float(fx.max())) if fx.size else (0.0, 1.0)
    if y_range is None:
        fy = np.concatenate([tr(y)[np.isfinite(tr(y))] for y in ys_all]) if ys_all else np.zeros(0)
        y_range = (float(fy.min()), float(fy.max())) if fy.size else (0.0, 1.0)
    else:
        y_range = (float(tr(np.array([y_range[0]]))[0]), float(tr(np.array([y_range[1]]))[0]))
    (xl, xh), (yl, yh) = x_range, y_range
    if not (math.isfinite(yl) and math.isfinite(yh)):
        yl, yh = 0.0, 1.0
    if xh <= xl:
        xl, xh = xl - 0.5, xh + 0.5
    if yh <= yl:
        yl, yh = yl - (1.0 if log else max(abs(yl) * 0.1, 0.5)), yh + (1.0 if log else max(abs(yh) * 0.1, 0.5))
    pad = (yh - yl) * 0.06
    yl, yh = yl - pad, yh + pad

    def to_x(v):
        return plot.x0 + (v - xl) / (xh - xl) * plot.w

    def to_y(v):
        return plot.y1 - (v - yl) / (yh - yl) * plot.h

    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, fill=(252, 252, 253), outline=None)
    # y grid + ticks
    if log:
        ticks = [float(e) for e in range(math.ceil(yl), math.floor(yh) + 1)]
        if len(ticks) > 7:
            step = math.ceil(len(ticks) / 6)
            ticks = ticks[::step]
        labels = [f"1e{int(e)}" if e not in (0, 1, -1) else {0: "1", 1: "10", -1: "0.1"}[int(e)] for e in ticks]
    else:
        ticks = nice_ticks(yl, yh, max(2, min(6, int(plot.h / (lsize * 2.4)))))
        labels = [fmt_tick(v) for v in ticks]
    for v, lab in zip(ticks, labels, strict=True):
        y = to_y(v)
        if plot.y0 - 0.5 <= y <= plot.y1 + 0.5:
            scene.line([(plot.x0, y), (plot.x1, y)], GRID, 1)
            scene.text(plot.x0 - 5, y, lab, lsize, MUTED, "rm")
    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, outline=MUTED, width=1)
    x_ticks(scene, plot, xl, xh, to_x, lsize, integer=integer_x)
    legend = []
    for (label, _x, _y, color, *rest), x, y in zip(series, xs_all, ys_all, strict=True):
        dashed = bool(rest[0]) if rest else False
        ty = tr(y)
        ok = np.isfinite(x) & np.isfinite(ty)
        px, py = to_x(x), np.clip(to_y(ty), plot.y0, plot.y1)
        # split into runs of finite points
        idx = np.flatnonzero(ok)
        if idx.size:
            breaks = np.flatnonzero(np.diff(idx) > 1)
            for run in np.split(idx, breaks + 1):
                if run.size == 1:
                    scene.circle(px[run[0]], py[run[0]], 2.0, fill=color)
                else:
                    scene.line(list(zip(px[run], py[run], strict=True)), color, 1.8, dashed)
        if label:
            legend.append((label, color, dashed))
    if marker_x is not None and xl <= marker_x <= xh:
        mx = to_x(marker_x)
        scene.line([(mx, plot.y0), (mx, plot.y1)], (230, 50, 30), 1.5)
    _line_legend(scene, box, plot, title, legend, tsize, lsize)
    return plot


def _legend_rows(title: str, labels: Sequence[str], box: Box, tsize: float, lsize: float) -> int:
    """0 if the legend fits in the title row, else the rows it needs between title and plot."""
    if not labels:
        return 0
    widths = [text_width(lab, lsize) + 34 for lab in labels]
    if box.x1 - 10 - sum(widths) >= box.x0 + 4 + text_width(title, tsize, bold=True) + 12:
        return 0
    x0, x1 = _plot_x(box, lsize)
    rows, room = 1, x1 - x0
    for w in reversed(widths):  # the same greedy packing as _line_legend (right to left)
        if w > room and room < x1 - x0:
            rows, room = rows + 1, x1 - x0
        room -= w
    return rows


def _plot_x(box: Box, lsize: float) -> tuple[float, float]:
    """The x extent frame_axes gives a plot in ``box`` (no right margin)."""
    return box.x0 + lsize * 1.6 + text_width("-0.00", lsize) + 10, box.x1 - 10


def _line_legend(scene: Scene, box: Box, plot: Box, title: str, items, tsize: float, lsize: float) -> None:
    """Right-aligned in the title row, or in rows reserved between the title and the plot: never
    over a curve (a legend at t ≈ T covered the gradient curves where they matter most)."""
    if not items:
        return
    rows = _legend_rows(title, [lab for lab, _, _ in items], box, tsize, lsize)
    ly = box.y0 + 3 + tsize * 0.55 if rows == 0 else box.y0 + tsize + 10 + lsize * 0.7
    lx = plot.x1
    for label, color, dashed in reversed(items):
        w = text_width(label, lsize) + 34
        if rows and lx - w < plot.x0 and lx < plot.x1:  # the next row
            lx, ly = plot.x1, ly + lsize * 1.4
        lx -= w - 30
        scene.text(lx, ly, label, lsize, INK, "lm")
        scene.line([(lx - 22, ly), (lx - 4, ly)], color, 2, dashed)
        lx -= 30


def draw_bars(scene: Scene, box: Box, up: np.ndarray, down: np.ndarray, *, title: str = "",
              xlabel: str = "unit", ylabel: str = "", up_color=(253, 141, 60), down_color=(107, 174, 214),
              up_label: str = "", down_label: str = "", fonts: tuple[float, float] | None = None) -> Box:
    """Bars per x = 0..n-1: ``up`` (fractions 0..1) drawn upwards, ``down`` downwards from a zero line.

    The y axis reads 100% / 50% / 0 / 50% / 100%; ``up_label`` / ``down_label`` are written at the
    top / bottom of the plot (inside it, left) so the bars never hide them."""
    up, down = np.asarray(up, dtype=np.float64), np.asarray(down, dtype=np.float64)
    tsize, lsize = fonts or font_sizes(box)
    plot = frame_axes(scene, box, title, xlabel, ylabel, fonts=(tsize, lsize))
    if plot.w < 4 or plot.h < 4 or up.size == 0:
        return plot
    n = up.size
    zero = (plot.y0 + plot.y1) / 2
    half = plot.h / 2 * 0.95
    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, fill=(252, 252, 253), outline=None)
    for v, text in ((1, "100%"), (0.5, "50%"), (0, "0"), (-0.5, "50%"), (-1, "100%")):
        y = zero - v * half
        scene.line([(plot.x0, y), (plot.x1, y)], GRID if v else MUTED, 1)
        scene.text(plot.x0 - 5, y, text, lsize, MUTED, "rm")
    bw = plot.w / n
    for i in range(n):
        x0, x1 = plot.x0 + (i + 0.1) * bw, plot.x0 + (i + 0.9) * bw
        if np.isfinite(up[i]) and up[i] > 0:
            scene.rect(x0, zero - up[i] * half, x1, zero, fill=up_color)
        if np.isfinite(down[i]) and down[i] > 0:
            scene.rect(x0, zero, x1, zero + down[i] * half, fill=down_color)
    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, outline=MUTED, width=1)
    x_ticks(scene, plot, 0, n - 1, lambda v: plot.x0 + (v + 0.5) * bw, lsize)
    if up_label:
        scene.text(plot.x0 + 4, plot.y0 + 2, up_label, lsize * 0.9, up_color, "la")
    if down_label:
        scene.text(plot.x0 + 4, plot.y1 - 2, down_label, lsize * 0.9, down_color, "ld")
    return plot
