"""Still figures: PNG (Pillow) and SVG (real vector elements) of one panel or several.

Both formats come from the same :class:`~rnnviz.export.frames.Scene`, so they show the same
picture: curves become ``<polyline>``, labels ``<text>``, heatmaps an embedded PNG ``<image>``
(one pixel per cell, scaled without smoothing). The window's *Export panel* and the command line
call :func:`figure` with the same arguments and get the same pixels.
"""

from __future__ import annotations

import base64
import io
import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np
from PIL import Image

from rnnviz.export.arrays import safe_write
from rnnviz.export.frames import DEFAULT_PANELS, FrameSpec, Scene, figure_scene, rasterize

__all__ = ["figure", "parse_size", "png_bytes", "save_figure", "scene_to_svg", "write_png", "write_svg"]


def parse_size(text: str | tuple) -> tuple[int, int]:
    """``"1280x720"`` (or a (w, h) pair) → (1280, 720); ValueError with a clear message otherwise."""
    if isinstance(text, (tuple, list)):
        w, h = text
    else:
        parts = str(text).lower().replace("×", "x").split("x")
        if len(parts) != 2:
            raise ValueError(f"size must look like 1280x720, got {text!r}")
        try:
            w, h = int(parts[0]), int(parts[1])
        except ValueError:
            raise ValueError(f"size must look like 1280x720, got {text!r}") from None
    w, h = int(w), int(h)
    if not (64 <= w <= 20000 and 48 <= h <= 20000):
        raise ValueError(f"size {w}x{h} is outside 64x48 .. 20000x20000")
    return w, h


def figure(trace, panels=DEFAULT_PANELS, size=(1280, 720), *, history=None, k: int = 0,
           sample: int = 0, t: int | None = None, title: str | None = None) -> Scene:
    """The scene of ``panels`` of ``trace`` (``history`` for the loss panel, ``t`` highlights a step)."""
    spec = FrameSpec(k=k, sample=sample, t=t, mode="static", history=history)
    return figure_scene(trace, panels, parse_size(size), spec, title)


def png_bytes(scene: Scene, scale: float = 1.0) -> bytes:
    """The scene as PNG file bytes at ``scale``."""
    buf = io.BytesIO()
    Image.fromarray(rasterize(scene, scale)).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def write_png(path: str | os.PathLike, scene: Scene, scale: float = 1.0) -> Path:
    """Write the scene as PNG (size = scene size x ``scale``), atomically."""
    data = png_bytes(scene, scale)
    path = Path(path)
    return safe_write(path, lambda f: f.write(data))


def _color(c) -> str:
    r, g, b = (int(v) for v in c[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def _num(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


_H_ANCHOR = {"l": "start", "m": "middle", "r": "end"}
_V_BASELINE = {"a": "hanging", "t": "hanging", "m": "central", "s": "alphabetic", "d": "text-after-edge",
               "b": "text-after-edge"}


def scene_to_svg(scene: Scene, scale: float = 1.0) -> str:
    """The scene as an SVG document (text)."""
    W, H = scene.width, scene.height
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
           f'width="{_num(W * scale)}" height="{_num(H * scale)}" viewBox="0 0 {W} {H}" '
           f'font-family="DejaVu Sans, Verdana, sans-serif">']
    if scene.title:
        out.append(f"<title>{escape(scene.title)}</title>")
    out.append(f'<rect x="0" y="0" width="{W}" height="{H}" fill="{_color(scene.background)}"/>')
    for op in scene.ops:
        kind = op[0]
        if kind == "rect":
            _, x0, y0, x1, y1, fill, outline, width = op
            attrs = f'fill="{_color(fill)}"' if fill else 'fill="none"'
            if outline:
                attrs += f' stroke="{_color(outline)}" stroke-width="{_num(width)}"'
            out.append(f'<rect x="{_num(x0)}" y="{_num(y0)}" width="{_num(x1 - x0)}" height="{_num(y1 - y0)}" '
                       f"{attrs}/>")
        elif kind == "line":
            _, pts, color, width, dashed = op
            p = " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)
            dash = ' stroke-dasharray="6 4"' if dashed else ""
            out.append(f'<polyline points="{p}" fill="none" stroke="{_color(color)}" stroke-width="{_num(width)}" '
                       f'stroke-linejoin="round"{dash}/>')
        elif kind == "text":
            _, x, y, text, size, color, anchor, rotate, bold = op
            weight = ' font-weight="bold"' if bold else ""
            if rotate:
                out.append(f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" fill="{_color(color)}" '
                           f'text-anchor="middle" dominant-baseline="hanging"{weight} '
                           f'transform="rotate(-90 {_num(x)} {_num(y)})">{escape(text)}</text>')
            else:
                out.append(f'<text x="{_num(x)}" y="{_num(y)}" font-size="{_num(size)}" fill="{_color(color)}" '
                           f'text-anchor="{_H_ANCHOR.get(anchor[0], "start")}" '
                           f'dominant-baseline="{_V_BASELINE.get(anchor[1], "alphabetic")}"{weight}>'
                           f"{escape(text)}</text>")
        elif kind == "circle":
            _, cx, cy, r, fill, outline, width = op
            attrs = f'fill="{_color(fill)}"' if fill else 'fill="none"'
            if outline:
                attrs += f' stroke="{_color(outline)}" stroke-width="{_num(width)}"'
            out.append(f'<circle cx="{_num(cx)}" cy="{_num(cy)}" r="{_num(r)}" {attrs}/>')
        elif kind == "image":
            _, x0, y0, x1, y1, rgb = op
            buf = io.BytesIO()
            Image.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, format="PNG")
            href = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
            out.append(f'<image x="{_num(x0)}" y="{_num(y0)}" width="{_num(x1 - x0)}" height="{_num(y1 - y0)}" '
                       f'preserveAspectRatio="none" style="image-rendering:pixelated" '
                       f'href={quoteattr(href)} xlink:href={quoteattr(href)}/>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def write_svg(path: str | os.PathLike, scene: Scene, scale: float = 1.0) -> Path:
    """Write the scene as SVG, atomically."""
    data = scene_to_svg(scene, scale).encode("utf-8")
    path = Path(path)
    return safe_write(path, lambda f: f.write(data))


def save_figure(path: str | os.PathLike, scene: Scene, scale: float = 1.0) -> Path:
    """PNG or SVG by the suffix of ``path``."""
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        return write_png(path, scene, scale)
    if suffix == ".svg":
        return write_svg(path, scene, scale)
    raise ValueError(f"cannot tell the image format of {Path(path).name}: use .png or .svg")
