"""Pictures of a Trace as plain numpy RGB arrays, drawn with numpy + Pillow (no matplotlib).

Everything is drawn in two steps so that PNG, SVG and GIF show exactly the same picture:

1. a *panel function* appends drawing operations (rectangles, polylines, text, circles and
   heatmap images) to a :class:`Scene`, in logical pixels;
2. a backend turns the scene into pixels (:func:`rasterize`, Pillow) or into SVG elements
   (:func:`rnnviz.export.figures.scene_to_svg`).

Panels (see :data:`PANELS`): ``hidden`` (h_t heatmap), ``cell`` (LSTM c_t), ``gates`` (sigmoid
gate activations), ``gradients`` (per-timestep ||dL/dh_t||, log axis), ``loss`` (training
history or per-step loss), ``outputs`` (ŷ_t vs target) and ``graph`` (the unrolled graph with
nodes coloured from the trace). :func:`figure_scene` lays several panels out in one frame;
:func:`render_frame` returns its pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rnnviz.core.cells import CELLS, GateSpec, display_name, gate_spec

__all__ = [
    "COLORMAPS",
    "PANELS",
    "FrameSpec",
    "Scene",
    "apply_colormap",
    "colormap",
    "compose",
    "figure_scene",
    "gate_saturation",
    "get_font",
    "rasterize",
    "render_frame",
    "render_panel",
]

#: Panel names understood by :func:`figure_scene` (in their default order).
PANELS: tuple[str, ...] = ("hidden", "cell", "gates", "gradients", "loss", "outputs", "graph")

BACKGROUND = (255, 255, 255)
INK = (33, 37, 41)
MUTED = (110, 117, 125)
GRID = (228, 230, 233)
MISSING = (236, 236, 236)  # heatmap cells with no value (NaN, or not yet reached)
SERIES_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (23, 190, 207)]

# -- colour maps ---------------------------------------------------------------------------

_STOPS = {
    # perceptually uniform, for values in [0, 1] (gates)
    "viridis": [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
                (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)],
    # for magnitudes (cell state |c|, gradient colouring)
    "magma": [(0, 0, 4), (28, 16, 68), (79, 18, 123), (129, 37, 129), (181, 54, 122),
              (229, 80, 100), (251, 135, 97), (254, 194, 135), (252, 253, 191)],
    # diverging blue - white - red, for signed values in [-1, 1] (hidden states)
    "coolwarm": [(5, 48, 97), (33, 102, 172), (67, 147, 195), (146, 197, 222), (209, 229, 240),
                 (247, 247, 247), (253, 219, 199), (244, 165, 130), (214, 96, 77), (178, 24, 43),
                 (103, 0, 31)],
    "gray": [(0, 0, 0), (255, 255, 255)],
}
COLORMAPS: tuple[str, ...] = tuple(_STOPS)


@cache
def colormap(name: str) -> np.ndarray:
    """The (256, 3) uint8 lookup table of colour map ``name`` (one of :data:`COLORMAPS`)."""
    if name not in _STOPS:
        raise ValueError(f"unknown colour map {name!r}; choose one of: {', '.join(COLORMAPS)}")
    stops = np.asarray(_STOPS[name], dtype=np.float64)
    xs = np.linspace(0.0, 1.0, len(stops))
    grid = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(grid, xs, stops[:, c]) for c in range(3)], axis=1)
    lut = np.round(lut).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def apply_colormap(values: np.ndarray, vmin: float, vmax: float, cmap: str = "viridis",
                   missing=MISSING) -> np.ndarray:
    """Map a 2-D array to RGB uint8 through ``cmap``; NaN/Inf cells get ``missing``."""
    values = np.asarray(values, dtype=np.float64)
    span = vmax - vmin if vmax > vmin else 1.0
    finite = np.isfinite(values)
    idx = np.clip((np.where(finite, values, vmin) - vmin) / span * 255.0 + 0.5, 0, 255).astype(np.intp)
    rgb = colormap(cmap)[idx]
    if not finite.all():
        rgb = rgb.copy()
        rgb[~finite] = missing
    return rgb


# -- fonts -----------------------------------------------------------------------------------

_FONT_FILES = {False: ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
               True: ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")}


@lru_cache(maxsize=64)
def get_font(size: float, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at ``size`` pixels (bold if asked); Pillow's built-in font if DejaVu is missing."""
    size = max(1, int(round(size)))
    for name in _FONT_FILES[bold]:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` in logical pixels at font ``size``."""
    return float(get_font(size, bold).getlength(text))


# -- the scene ---------------------------------------------------------------------------------

@dataclass
class Scene:
    """A picture as a list of drawing operations in logical pixels (origin top-left, y down).

    Operations (tuples, first item the kind)::

        ("rect", x0, y0, x1, y1, fill, outline, width)
        ("line", points, color, width, dashed)        points = [(x, y), ...] (a polyline)
        ("text", x, y, text, size, color, anchor, rotate, bold)   anchor as in Pillow ("la", "mm" ...)
        ("circle", cx, cy, r, fill, outline, width)
        ("image", x0, y0, x1, y1, rgb)                 rgb (h, w, 3) uint8, stretched, nearest
    """

    width: int
    height: int
    background: tuple = BACKGROUND
    ops: list = field(default_factory=list)
    title: str = ""

    def rect(self, x0, y0, x1, y1, fill=None, outline=None, width=1.0):
        self.ops.append(("rect", x0, y0, x1, y1, fill, outline, width))

    def line(self, points, color=INK, width=1.0, dashed=False):
        pts = [(float(x), float(y)) for x, y in points]
        if len(pts) >= 2:
            self.ops.append(("line", pts, color, width, dashed))

    def text(self, x, y, text, size=12.0, color=INK, anchor="la", rotate=0, bold=False):
        if text:
            self.ops.append(("text", x, y, str(text), size, color, anchor, rotate, bold))

    def circle(self, cx, cy, r, fill=None, outline=None, width=1.0):
        self.ops.append(("circle", cx, cy, r, fill, outline, width))

    def image(self, x0, y0, x1, y1, rgb):
        self.ops.append(("image", x0, y0, x1, y1, np.ascontiguousarray(rgb, dtype=np.uint8)))

    def counts(self) -> dict[str, int]:
        """How many operations of each kind (handy in tests)."""
        out: dict[str, int] = {}
        for op in self.ops:
            out[op[0]] = out.get(op[0], 0) + 1
        return out


def _rgb(color) -> tuple:
    return tuple(int(c) for c in color[:3])


@lru_cache(maxsize=512)
def _rotated_text(text: str, size: int, color: tuple, bold: bool) -> Image.Image:
    font = get_font(size, bold)
    left, top, right, bottom = font.getbbox(text)
    im = Image.new("RGBA", (max(1, right - left + 2), max(1, bottom - top + 2)), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((1 - left, 1 - top), text, font=font, fill=color + (255,))
    return im.rotate(90, expand=True)


def rasterize(scene: Scene, scale: float = 1.0) -> np.ndarray:
    """The scene's pixels: (round(height*scale), round(width*scale), 3) uint8."""
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, got {scale}")
    W, H = max(1, round(scene.width * scale)), max(1, round(scene.height * scale))
    im = Image.new("RGB", (W, H), _rgb(scene.background))
    draw = ImageDraw.Draw(im)
    s = scale
    for op in scene.ops:
        kind = op[0]
        if kind == "rect":
            _, x0, y0, x1, y1, fill, outline, width = op
            x0, x1 = sorted((x0 * s, x1 * s))
            y0, y1 = sorted((y0 * s, y1 * s))
            if fill and not outline:  # a filled cell covers [x0, x1) like the image tiles
                x1, y1 = max(x0, x1 - 1), max(y0, y1 - 1)
            draw.rectangle([x0, y0, x1, y1], fill=_rgb(fill) if fill else None,
                           outline=_rgb(outline) if outline else None, width=max(1, round(width * s)))
        elif kind == "line":
            _, pts, color, width, dashed = op
            w = max(1, round(width * s))
            spts = [(x * s, y * s) for x, y in pts]
            if dashed:
                for a, b in _dash_segments(spts, 6 * s, 4 * s):
                    draw.line([a, b], fill=_rgb(color), width=w)
            else:
                draw.line(spts, fill=_rgb(color), width=w, joint="curve" if w > 2 else None)
        elif kind == "text":
            _, x, y, text, size, color, anchor, rotate, bold = op
            px = max(1, round(size * s))
            if rotate:
                rim = _rotated_text(text, px, _rgb(color), bold)
                rx = round(x * s - rim.width / 2) if anchor[0] == "m" else round(x * s)
                ry = round(y * s - rim.height / 2)
                im.paste(rim, (rx, ry), rim)
            else:
                draw.text((x * s, y * s), text, font=get_font(px, bold), fill=_rgb(color), anchor=anchor)
        elif kind == "circle":
            _, cx, cy, r, fill, outline, width = op
            draw.ellipse([(cx - r) * s, (cy - r) * s, (cx + r) * s, (cy + r) * s],
                         fill=_rgb(fill) if fill else None, outline=_rgb(outline) if outline else None,
                         width=max(1, round(width * s)))
        elif kind == "image":
            _, x0, y0, x1, y1, rgb = op
            w, h = max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))
            tile = Image.fromarray(rgb, "RGB")
            if tile.size != (w, h):
                tile = tile.resize((w, h), Image.Resampling.NEAREST)
            im.paste(tile, (round(x0 * s), round(y0 * s)))
    return np.asarray(im)


def _dash_segments(pts, on, off):
    for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:], strict=True):
        length = math.hypot(xb - xa, yb - ya)
        if length == 0:
            continue
        pos = 0.0
        while pos < length:
            end = min(pos + on, length)
            yield ((xa + (xb - xa) * pos / length, ya + (yb - ya) * pos / length),
                   (xa + (xb - xa) * end / length, ya + (yb - ya) * end / length))
            pos = end + off


# -- axes helpers ----------------------------------------------------------------------------

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


def _font_sizes(box: Box) -> tuple[float, float]:
    """(title, label) font sizes that fit a panel of this size."""
    base = max(8.0, min(15.0, min(box.w / 32.0, box.h / 16.0)))
    return base * 1.08, base * 0.85


def _frame_axes(scene: Scene, box: Box, title: str, xlabel: str, ylabel: str,
                right_margin: float = 0.0) -> Box:
    """Draw title and axis labels of a panel in ``box``; return the plot area inside it."""
    tsize, lsize = _font_sizes(box)
    scene.text(box.x0 + 4, box.y0 + 3, title, tsize, INK, "la", bold=True)
    left = box.x0 + lsize * 1.6 + text_width("-0.00", lsize) + 10
    plot = Box(left, box.y0 + tsize + 12, box.x1 - 10 - right_margin, box.y1 - lsize * 2.8 - 6)
    if xlabel:
        scene.text((plot.x0 + plot.x1) / 2, box.y1 - 4, xlabel, lsize, MUTED, "md")
    if ylabel:
        scene.text(box.x0 + 3, (plot.y0 + plot.y1) / 2, ylabel, lsize, MUTED, "lm", rotate=90)
    return plot


def _x_ticks(scene: Scene, plot: Box, lo: float, hi: float, to_x, lsize: float, integer=True):
    nmax = max(2, int(plot.w / (lsize * 4.5)))
    for v in nice_ticks(lo, hi, min(8, nmax)):
        if integer and not float(v).is_integer():
            continue
        x = to_x(v)
        if plot.x0 - 0.5 <= x <= plot.x1 + 0.5:
            scene.line([(x, plot.y1), (x, plot.y1 + 4)], MUTED, 1)
            scene.text(x, plot.y1 + 6, fmt_tick(v), lsize, MUTED, "ma")


def _placeholder(scene: Scene, box: Box, title: str, message: str) -> None:
    tsize, lsize = _font_sizes(box)
    scene.text(box.x0 + 4, box.y0 + 3, title, tsize, INK, "la", bold=True)
    scene.rect(box.x0 + 6, box.y0 + tsize + 12, box.x1 - 6, box.y1 - 6, fill=(248, 249, 250), outline=GRID)
    scene.text((box.x0 + box.x1) / 2, (box.y0 + box.y1 + tsize) / 2, message, lsize * 1.05, MUTED, "mm")


# -- generic panels ------------------------------------------------------------------------

def draw_heatmap(scene: Scene, box: Box, data: np.ndarray, *, title: str = "", xlabel: str = "time step t",
                 ylabel: str = "unit", cmap: str = "viridis", vmin: float | None = None,
                 vmax: float | None = None, colorbar: bool = True, cbar_label: str = "",
                 x_start: int = 1, highlight: int | None = None, row_groups: Sequence[str] = ()) -> Box:
    """A (rows, cols) array as an image in ``box`` with axes, tick labels and a colour bar.

    Columns are time steps numbered from ``x_start``; ``highlight`` outlines one column (0-based);
    ``row_groups`` names equal horizontal bands (e.g. gates) drawn with separators.
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2 or data.size == 0:
        _placeholder(scene, box, title, "nothing to show")
        return box
    finite = data[np.isfinite(data)]
    if vmin is None:
        vmin = float(finite.min()) if finite.size else 0.0
    if vmax is None:
        vmax = float(finite.max()) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    tsize, lsize = _font_sizes(box)
    cbar_w = (lsize * 1.1 + text_width("-0.00", lsize) + 18 + (lsize * 1.3 if cbar_label else 0)) if colorbar else 0
    plot = _frame_axes(scene, box, title, xlabel, "" if row_groups else ylabel, right_margin=cbar_w)
    if plot.w < 4 or plot.h < 4:
        return plot
    rows, cols = data.shape
    scene.image(plot.x0, plot.y0, plot.x1, plot.y1, apply_colormap(data, vmin, vmax, cmap))
    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, outline=MUTED, width=1)
    cw = plot.w / cols
    _x_ticks(scene, plot, x_start, x_start + cols - 1, lambda v: plot.x0 + (v - x_start + 0.5) * cw, lsize)
    rh = plot.h / rows
    if row_groups:
        band = rows / len(row_groups)
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
                y = plot.y0 + (v + 0.5) * rh
                scene.text(plot.x0 - 5, y, fmt_tick(v), lsize, MUTED, "rm")
    if highlight is not None and 0 <= highlight < cols:
        x = plot.x0 + highlight * cw
        scene.rect(x - 1, plot.y0 - 2, x + cw + 1, plot.y1 + 2, outline=(230, 50, 30), width=2)
    if colorbar:
        cx0 = plot.x1 + 12
        cx1 = cx0 + max(8.0, lsize * 1.1)
        ramp = colormap(cmap)[::-1][:, None, :].repeat(2, axis=1)
        scene.image(cx0, plot.y0, cx1, plot.y1, ramp)
        scene.rect(cx0, plot.y0, cx1, plot.y1, outline=MUTED, width=1)
        for v in nice_ticks(vmin, vmax, 4):
            y = plot.y1 - (v - vmin) / (vmax - vmin) * plot.h
            scene.line([(cx1, y), (cx1 + 3, y)], MUTED, 1)
            scene.text(cx1 + 5, y, fmt_tick(v), lsize, MUTED, "lm")
        if cbar_label:
            scene.text(box.x1 - lsize * 1.3, (plot.y0 + plot.y1) / 2, cbar_label, lsize, MUTED, "lm", rotate=90)
    return plot


def draw_lines(scene: Scene, box: Box, series: Sequence[tuple], *, title: str = "", xlabel: str = "",
               ylabel: str = "", log: bool = False, marker_x: float | None = None,
               x_range: tuple[float, float] | None = None, y_range: tuple[float, float] | None = None,
               integer_x: bool = True) -> Box:
    """Line plot of ``series`` = [(label, x, y, color, dashed), ...] in ``box`` (log y if ``log``).

    Non-finite points (and, on a log axis, non-positive ones) break the line. ``x_range`` and
    ``y_range`` fix the axes (so animation frames do not jump); ``marker_x`` draws a vertical line.
    """
    tsize, lsize = _font_sizes(box)
    plot = _frame_axes(scene, box, title, xlabel, ylabel)
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
    _x_ticks(scene, plot, xl, xh, to_x, lsize, integer=integer_x)
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
    # legend: in the title row, right-aligned, so it never covers a curve; below it if the title is long
    items = legend[:4]
    need = sum(text_width(lab, lsize) + 34 for lab, _, _ in items)
    title_end = box.x0 + 4 + text_width(title, tsize, bold=True) + 12
    lx = plot.x1
    ly = box.y0 + 3 + tsize * 0.55
    if items and plot.x1 - need < title_end:
        ly = plot.y0 + lsize * 0.9
        scene.rect(plot.x1 - need - 4, plot.y0 + 2, plot.x1 - 2, plot.y0 + lsize * 1.8, fill=(255, 255, 255),
                   outline=GRID)
    for label, color, dashed in reversed(items):
        w = text_width(label, lsize)
        lx -= w + 4
        scene.text(lx, ly, label, lsize, INK, "lm")
        scene.line([(lx - 22, ly), (lx - 4, ly)], color, 2, dashed)
        lx -= 30
    return plot


# -- trace panels -------------------------------------------------------------------------------

#: What a figure or animation shows when no panels are named: states, gates, gradients, graph.
DEFAULT_PANELS = ("hidden", "gates", "gradients", "graph")

@dataclass
class FrameSpec:
    """What one frame shows: which layer/direction row ``k``, batch ``sample``, step ``t``, mode.

    ``t`` (0-based) highlights a time step; ``mode`` "forward" hides steps after ``t``,
    "backward" hides gradients before ``t``; "static" shows everything. ``history`` (rows
    {step, loss, grad_norm, clipped}) and ``step`` (training step) drive the loss panel.
    """

    k: int = 0
    sample: int = 0
    t: int | None = None
    mode: str = "static"
    history: Sequence[dict] | None = None
    step: int | None = None
    loss_range: tuple[float, float] | None = None
    grad_range: tuple[float, float] | None = None


def _k_label(trace, k: int) -> str:
    D = trace.num_directions
    layer, d = divmod(k, D)
    out = f"layer {layer + 1}" if trace.num_layers > 1 else ""
    if D == 2:
        out = (out + ", " if out else "") + ("forward" if d == 0 else "backward")
    return f" ({out})" if out else ""


def _visible(arr: np.ndarray, spec: FrameSpec, axis: int = -1, gradient: bool = False) -> np.ndarray:
    """Mask (NaN) what an animation frame has not computed yet.

    Forward frames show states up to ``t`` and no gradients (BPTT has not run); backward frames
    show every state (the forward pass is done) and gradients from ``t`` to the end.
    """
    if spec.t is None or spec.mode == "static" or (spec.mode == "backward" and not gradient):
        return arr
    arr = np.array(arr, dtype=np.float64, copy=True)
    T = arr.shape[axis]
    sl = [slice(None)] * arr.ndim
    if spec.mode == "forward":
        sl[axis] = slice(0, T) if gradient else slice(spec.t + 1, T)
    else:
        sl[axis] = slice(0, spec.t)
    arr[tuple(sl)] = np.nan
    return arr


def _clamp_spec(trace, spec: FrameSpec) -> tuple[int, int]:
    k = min(max(0, spec.k), trace.hidden.shape[0] - 1)
    b = min(max(0, spec.sample), trace.hidden.shape[2] - 1)
    return k, b


def panel_hidden(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    k, b = _clamp_spec(trace, spec)
    data = _visible(trace.hidden[k, :, b, :].T, spec)
    lim = float(np.nanmax(np.abs(trace.hidden[k][np.isfinite(trace.hidden[k])]), initial=0.0)) or 1.0
    cell = CELLS.get(trace.cell_type)
    bounded = cell is not None and not cell.uses_activation  # gated cells: h in (-1, 1)
    lim = 1.0 if trace.config.get("activation", "tanh") == "tanh" or bounded else lim
    draw_heatmap(scene, box, data, title=f"hidden state hₜ{_k_label(trace, k)}", ylabel="unit",
                 cmap="coolwarm", vmin=-lim, vmax=lim, cbar_label="hₜ", highlight=spec.t)


def panel_cell(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    if trace.cell is None:
        with_c = " or ".join(s.display for s in CELLS.values() if s.has_cell_state) or "no cell"
        _placeholder(scene, box, "cell state cₜ",
                     f"only an {with_c} has a cell state ({display_name(trace.cell_type)} here)")
        return
    k, b = _clamp_spec(trace, spec)
    c = trace.cell[k, :, b, :].T
    fin = np.abs(c[np.isfinite(c)])
    lim = float(fin.max()) if fin.size and fin.max() > 0 else 1.0
    draw_heatmap(scene, box, _visible(c, spec), title=f"cell state cₜ{_k_label(trace, k)}", cmap="coolwarm",
                 vmin=-lim, vmax=lim, cbar_label="cₜ", highlight=spec.t)


_NO_GATE = GateSpec("", "", "")  # a gate the registry does not know: labelled by its key


def panel_gates(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    # the sigmoid gates (the colour scale is [0, 1]), labelled with their symbols from the cell registry
    names = [g for g in trace.gates if not (gate_spec(trace.cell_type, g) or _NO_GATE).candidate]
    if not names:
        gated = " or ".join(s.display for s in CELLS.values() if s.gates)
        _placeholder(scene, box, "gates", f"a {display_name(trace.cell_type)} has no gates: try a {gated}")
        return
    k, b = _clamp_spec(trace, spec)
    stacked = np.concatenate([trace.gates[g][k, :, b, :].T for g in names], axis=0)
    draw_heatmap(scene, box, _visible(stacked, spec), title=f"gate activations{_k_label(trace, k)}",
                 cmap="viridis", vmin=0.0, vmax=1.0, cbar_label="σ", highlight=spec.t,
                 row_groups=[(gate_spec(trace.cell_type, g) or _NO_GATE).symbol or g for g in names])


def panel_gradients(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    T = trace.seq_len
    t = np.arange(1, T + 1)
    series = []
    for k in range(trace.grad_hidden_norm.shape[0]):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        many = trace.grad_hidden_norm.shape[0] > 1
        series.append(((f"‖∂L/∂hₜ‖{_k_label(trace, k)}" if many else "‖∂L/∂hₜ‖"), t,
                       _visible(trace.grad_hidden_norm[k], spec, gradient=True), color, False))
        if trace.grad_cell_norm is not None:
            series.append((("‖∂L/∂cₜ‖" + (_k_label(trace, k) if many else "")), t,
                           _visible(trace.grad_cell_norm[k], spec, gradient=True), color, True))
    rng = spec.grad_range
    if rng is None:
        parts = [trace.grad_hidden_norm] + ([trace.grad_cell_norm] if trace.grad_cell_norm is not None else [])
        vals = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        rng = (float(vals.min()), float(vals.max())) if vals.size else None
    draw_lines(scene, box, series, title="gradient norm through time", xlabel="time step t",
               ylabel="norm (log)", log=True, marker_x=None if spec.t is None else spec.t + 1,
               x_range=(1, max(2, T)), y_range=rng)


def panel_loss(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    hist = spec.history
    if hist:
        steps = np.array([r.get("step", i + 1) for i, r in enumerate(hist)], dtype=np.float64)
        loss = np.array([r.get("loss", np.nan) for r in hist], dtype=np.float64)
        xr = (float(steps.min()), float(max(steps.max(), steps.min() + 1)))
        if spec.step is not None:
            loss = np.where(steps <= spec.step, loss, np.nan)
        clipped = np.array([bool(r.get("clipped", False)) for r in hist])
        series = [("loss", steps, loss, SERIES_COLORS[0], False)]
        if clipped.any():
            series.append(("clipped steps", steps, np.where(clipped, loss, np.nan), (230, 50, 30), False))
        positive = loss[np.isfinite(loss) & (loss > 0)]
        use_log = positive.size > 1 and positive.max() / max(positive.min(), 1e-30) > 30
        draw_lines(scene, box, series, title="training loss", xlabel="training step", ylabel="loss (log)" if use_log
                   else "loss", log=use_log, marker_x=spec.step, x_range=xr, y_range=spec.loss_range)
        return
    T = trace.seq_len
    sl = np.asarray(trace.step_loss, dtype=np.float64)
    if np.isfinite(sl).sum() <= 1:
        msg = f"loss L = {trace.loss:.4g} (one target, at the last step)"
        _placeholder(scene, box, "loss", msg)
        return
    draw_lines(scene, box, [("Lₜ", np.arange(1, T + 1), _visible(sl, spec), SERIES_COLORS[0], False)],
               title=f"loss per time step (L = {trace.loss:.4g})", xlabel="time step t", ylabel="Lₜ",
               marker_x=None if spec.t is None else spec.t + 1, x_range=(1, max(2, T)))


def panel_outputs(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    k, b = _clamp_spec(trace, spec)
    out = np.asarray(trace.outputs, dtype=np.float64)
    if out.ndim != 3:
        _placeholder(scene, box, "outputs ŷₜ", "no outputs recorded")
        return
    T, _, O = out.shape
    if O > 8:
        draw_heatmap(scene, box, _visible(out[:, b, :].T, spec), title="outputs ŷₜ (logits)", ylabel="output",
                     cmap="viridis", highlight=spec.t)
        return
    t = np.arange(1, T + 1)
    series = [(f"ŷ[{o}]" if O > 1 else "ŷₜ", t, _visible(out[:, b, o], spec), SERIES_COLORS[o % 8], False)
              for o in range(O)]
    tgt = np.asarray(trace.targets)
    if tgt.dtype.kind == "f" and O == 1:
        if tgt.ndim == 3:
            series.append(("target", t, tgt[:, b, 0].astype(np.float64), (60, 60, 60), True))
        elif tgt.ndim == 2:
            series.append(("target", np.array([T, T + 0.001]), np.array([tgt[b, 0]] * 2, dtype=np.float64),
                           (60, 60, 60), True))
    fin = np.concatenate([np.asarray(s[2], dtype=np.float64) for s in series]) if series else np.zeros(0)
    fin = np.concatenate([fin, out[:, b, :].ravel()])
    fin = fin[np.isfinite(fin)]
    rng = (float(fin.min()), float(fin.max())) if fin.size else None
    draw_lines(scene, box, series, title=f"outputs ŷₜ (sample {b})", xlabel="time step t", ylabel="ŷ",
               marker_x=None if spec.t is None else spec.t + 1, x_range=(1, max(2, T)), y_range=rng)


_KIND_FILL = {"x": (222, 226, 230), "y": (255, 224, 178), "L": (255, 205, 210), "loss": (239, 154, 154)}
GRAPH_MAX_STEPS = 24


def _graph_for(trace, T: int):
    from types import SimpleNamespace

    from rnnviz.core.graph import build_graph

    cfg = SimpleNamespace(cell=trace.cell_type, num_layers=trace.num_layers,
                          bidirectional=bool(trace.config.get("bidirectional", False)))
    shape = str(trace.meta.get("shape", "many-to-many"))
    try:
        return build_graph(cfg, T, shape if shape != "encoder-decoder" else "many-to-many")
    except ValueError:
        return build_graph(cfg, T, "many-to-many")


def panel_graph(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """The unrolled graph; h (and c) nodes coloured by |h_t| (forward) or ||dL/dh_t|| (backward)."""
    T = trace.seq_len
    first = 0
    n = min(T, GRAPH_MAX_STEPS)
    if T > n:  # show a window of steps around the current one
        centre = T - 1 if spec.t is None else spec.t
        first = min(max(0, centre - n // 2), T - n)
    tsize, lsize = _font_sizes(box)
    backward = spec.mode == "backward"
    what = "‖∂L/∂hₜ‖ (backward)" if backward else "mean |hₜ| (forward)"
    window = f", steps {first + 1}–{first + n} of {T}" if T > n else ""
    scene.text(box.x0 + 4, box.y0 + 3, f"unrolled graph: {what}{window}", tsize, INK, "la", bold=True)
    G = _graph_for(trace, n)
    if backward:
        vals = np.asarray(trace.grad_hidden_norm, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.log10(np.where(vals > 0, vals, np.nan))
    else:
        vals = np.nanmean(np.abs(np.asarray(trace.hidden, dtype=np.float64)), axis=(2, 3))
    fin = vals[np.isfinite(vals)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    lut = colormap("magma" if backward else "viridis")
    pos = {node: data["pos"] for node, data in G.nodes(data=True)}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    area = Box(box.x0 + 14, box.y0 + tsize + 16, box.x1 - 14, box.y1 - 10)
    xmin, xmax, ymin, ymax = min(xs), max(xs), min(ys), max(ys)
    sx = area.w / max(1e-9, xmax - xmin + 1.0)
    sy = area.h / max(1e-9, ymax - ymin + 1.0)
    r = max(3.0, min(sx, sy) * 0.3)

    def to_px(p):
        return (area.x0 + (p[0] - xmin + 0.5) * sx, area.y1 - (p[1] - ymin + 0.5) * sy)

    def reached(node) -> bool:
        t = G.nodes[node].get("t")
        if spec.t is None or spec.mode == "static":
            return True
        if t is None:
            return spec.mode == "backward" or spec.t >= T - 1
        t += first
        return t <= spec.t if spec.mode == "forward" else t >= spec.t

    for u, v, data in G.edges(data=True):
        on = reached(u) and reached(v)
        color = (120, 125, 130) if on else (225, 227, 230)
        if on and backward and data.get("weight_name") in ("W_hh", "c"):
            color = (214, 39, 40)
        scene.line([to_px(pos[u]), to_px(pos[v])], color, 1.2 if on else 1.0, data.get("style") == "dashed")
    show_labels = r * 2 >= lsize * 1.6
    for node, data in G.nodes(data=True):
        cx, cy = to_px(pos[node])
        kind = data["kind"]
        fill = _KIND_FILL.get(kind, (200, 200, 200))
        if kind in ("h", "c") and data.get("t") is not None:
            k = data["layer"] * trace.num_directions + data["direction"]
            v = vals[k, data["t"] + first] if k < vals.shape[0] else np.nan
            if np.isfinite(v):
                fill = tuple(int(c) for c in lut[int(np.clip((v - lo) / (hi - lo) * 255, 0, 255))])
        if not reached(node):
            fill, outline = (245, 246, 247), (215, 218, 221)
        else:
            outline = INK
        cur = spec.t is not None and data.get("t") is not None and data["t"] + first == spec.t
        scene.circle(cx, cy, r, fill=fill, outline=(230, 50, 30) if cur else outline, width=2 if cur else 1)
        if show_labels:
            label = data.get("label", "")
            if first and data.get("t") is not None:
                label = label.rstrip("₀₁₂₃₄₅₆₇₈₉") + str(data["t"] + first + 1).translate(
                    str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
            bright = sum(fill) / 3 > 140
            scene.text(cx, cy, label, max(6.0, min(lsize, r * 0.75)), INK if bright else (255, 255, 255), "mm")


PANEL_FUNCS = {"hidden": panel_hidden, "cell": panel_cell, "gates": panel_gates, "gradients": panel_gradients,
               "loss": panel_loss, "outputs": panel_outputs, "graph": panel_graph}


def parse_panels(panels: str | Sequence[str] | None) -> list[str]:
    """``"hidden,gates"`` or a list → a checked list of panel names (``None``/"all": every panel)."""
    if panels is None or panels == "all":
        return list(PANELS)
    if isinstance(panels, str):
        panels = [p.strip() for p in panels.split(",") if p.strip()]
    out = []
    for p in panels:
        p = {"gradient": "gradients", "grads": "gradients", "gate": "gates", "states": "hidden"}.get(p, p)
        if p not in PANEL_FUNCS:
            raise ValueError(f"unknown panel {p!r}; choose from: {', '.join(PANELS)}")
        if p not in out:
            out.append(p)
    if not out:
        raise ValueError(f"no panels chosen; choose from: {', '.join(PANELS)}")
    return out


def grid_shape(n: int, width: float, height: float) -> tuple[int, int]:
    """(rows, cols) for ``n`` panels in a width x height frame (panels as close to 16:10 as possible)."""
    best, best_cost = (n, 1), math.inf
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        aspect = (width / cols) / (height / rows)
        cost = abs(math.log(aspect / 1.6)) + 0.15 * (rows * cols - n)
        if cost < best_cost:
            best, best_cost = (rows, cols), cost
    return best


def run_title(trace) -> str:
    """One line describing the run: cell, task, sizes, loss."""
    cfg = trace.config
    cell = CELLS.get(trace.cell_type)
    bits = [display_name(trace.cell_type)]
    if cell is None or cell.uses_activation:
        bits.append(str(cfg.get("activation", "tanh")))
    if cfg.get("init", "default") != "default":
        bits.append(f"{cfg.get('init')} init")
    if cfg.get("forget_bias") is not None and cell is not None and cell.forget_bias_gate is not None:
        bits.append(f"forget bias {cfg['forget_bias']:g}")
    if trace.meta.get("task"):
        bits.append(f"task {trace.meta['task']}")
    bits.append(f"T={trace.seq_len}, H={trace.hidden_size}")
    if trace.num_layers > 1 or trace.num_directions > 1:
        bits.append(f"{trace.num_layers} layer(s){' bidirectional' if trace.num_directions == 2 else ''}")
    if math.isfinite(trace.loss):
        bits.append(f"loss {trace.loss:.4g}")
    return " · ".join(bits)


def figure_scene(trace, panels: str | Sequence[str] | None = DEFAULT_PANELS,
                 size: tuple[int, int] = (1280, 720), spec: FrameSpec | None = None,
                 title: str | None = None, subtitle: str = "") -> Scene:
    """A whole frame: a title line and ``panels`` of ``trace`` in a grid, ``size`` logical pixels."""
    width, height = int(size[0]), int(size[1])
    if width < 64 or height < 48 or width > 20000 or height > 20000:
        raise ValueError(f"frame size {width}x{height} is outside 64x48 .. 20000x20000")
    names = parse_panels(panels)
    spec = spec or FrameSpec()
    scene = Scene(width, height)
    scene.title = title if title is not None else run_title(trace)
    hsize = max(10.0, min(18.0, height / 36.0, width / 60.0))
    scene.text(12, 8, scene.title, hsize, INK, "la", bold=True)
    if subtitle:
        scene.text(width - 12, 8, subtitle, hsize, (200, 40, 30), "ra", bold=True)
    top = 8 + hsize * 1.6
    rows, cols = grid_shape(len(names), width, height - top)
    cw, ch = (width - 8) / cols, (height - top - 4) / rows
    for i, name in enumerate(names):
        r, c = divmod(i, cols)
        box = Box(4 + c * cw + 4, top + r * ch + 2, 4 + (c + 1) * cw - 4, top + (r + 1) * ch - 2)
        render_panel(scene, box, name, trace, spec)
    return scene


def render_panel(scene: Scene, box: Box, name: str, trace, spec: FrameSpec | None = None) -> None:
    """Append panel ``name`` of ``trace`` inside ``box`` of ``scene``."""
    PANEL_FUNCS[parse_panels([name])[0]](scene, box, trace, spec or FrameSpec())


def render_frame(trace, panels=DEFAULT_PANELS, size=(1280, 720), scale: float = 1.0,
                 spec: FrameSpec | None = None, title: str | None = None, subtitle: str = "") -> np.ndarray:
    """Pixels (H, W, 3) uint8 of :func:`figure_scene` at ``scale``."""
    return rasterize(figure_scene(trace, panels, size, spec, title, subtitle), scale)


def compose(images: Sequence[np.ndarray], cols: int | None = None, gap: int = 4,
            background=BACKGROUND) -> np.ndarray:
    """Tile RGB arrays into one image, row by row (``cols`` default: as square as possible)."""
    if not images:
        raise ValueError("nothing to compose")
    n = len(images)
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    ch = max(im.shape[0] for im in images)
    cw = max(im.shape[1] for im in images)
    out = np.empty((rows * ch + (rows + 1) * gap, cols * cw + (cols + 1) * gap, 3), np.uint8)
    out[:] = background
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = gap + r * (ch + gap), gap + c * (cw + gap)
        out[y:y + im.shape[0], x:x + im.shape[1]] = im[..., :3]
    return out


def gate_saturation(trace, threshold: float = 0.05) -> dict[str, np.ndarray]:
    """Per gate, the (T,) fraction of activations within ``threshold`` of 0 or 1 (all rows k, whole batch).

    For the tanh candidates (LSTM g, GRU n): the fraction with |a| > 1 - threshold.
    """
    out = {}
    for name, a in trace.gates.items():
        a = np.asarray(a, dtype=np.float64)
        if name in ("g", "n"):
            sat = np.abs(a) > 1.0 - threshold
        else:
            sat = (a < threshold) | (a > 1.0 - threshold)
        out[name] = sat.mean(axis=(0, 2, 3))
    return out
