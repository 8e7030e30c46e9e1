"""The drawing layer of the exporters: a :class:`Scene` of operations, colour maps, fonts and
:func:`rasterize` (Pillow). PNG, SVG and GIF are all drawn from the same Scene, so they show
the same picture. No Qt, no matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rnnviz.app.colormaps import COLORMAPS, SEQUENTIAL, colormap
from rnnviz.app.panel_model import NONFINITE_RGB as NONFINITE

__all__ = ["BACKGROUND", "COLORMAPS", "GRID", "INK", "MISSING", "MUTED", "NONFINITE", "SERIES_COLORS", "Scene",
           "apply_colormap", "colormap", "get_font", "rasterize", "text_width"]

BACKGROUND = (255, 255, 255)
INK = (33, 37, 41)
MUTED = (110, 117, 125)
GRID = (228, 230, 233)
MISSING = (236, 236, 236)  # heatmap cells with no value yet (an animation frame before that step)
SERIES_COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (23, 190, 207)]

# -- colour maps: their tables and which quantity uses which are the panel model's ---------

def apply_colormap(values: np.ndarray, vmin: float, vmax: float, cmap: str = SEQUENTIAL,
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
    #: panel name → what its frame drew with (levels, gates, thresholds ...): for tests and tools
    info: dict = field(default_factory=dict)

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

