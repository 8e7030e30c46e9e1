"""Pictures of a Trace as plain numpy RGB arrays, drawn with numpy + Pillow (no matplotlib).

Everything is drawn in two steps so that PNG, SVG and GIF show exactly the same picture:

1. an *export frame* (one per panel, registered by panel name: :mod:`rnnviz.export.frames_panels`,
   :mod:`rnnviz.export.frames_graph`) appends drawing operations to a
   :class:`~rnnviz.export.scene.Scene` in logical pixels, using the plot primitives of
   :mod:`rnnviz.export.plot`;
2. a backend turns the scene into pixels (:func:`rasterize`, Pillow) or into SVG elements
   (:func:`rnnviz.export.figures.scene_to_svg`).

Panel names are those of :mod:`rnnviz.app.panels` (the window's tabs, lessons and the CLI use the
same ones); :data:`PANELS` lists those that can be exported, "default" the defaults that apply
to the run (no gates panel for a cell without gates). :func:`figure_scene` lays several panels out in one
frame; :func:`render_frame` returns its pixels. This module is the public face of the exporters:
it re-exports the scene and plot names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

import rnnviz.dynamics.figure  # noqa: F401 - registers the dynamics frame (the phase portrait)
import rnnviz.export.frames_graph  # noqa: F401 - registers the graph frame
import rnnviz.export.frames_panels  # noqa: F401 - registers the trace panels' frames
from rnnviz.app import panels as registry
from rnnviz.app.panel_model import gate_saturation, run_title
from rnnviz.export.frame_registry import FRAMES, FrameSpec, frame
from rnnviz.export.plot import Box, draw_bars, draw_heatmap, draw_lines, fmt_tick, nice_ticks
from rnnviz.export.scene import (
    BACKGROUND,
    COLORMAPS,
    GRID,
    INK,
    MISSING,
    MUTED,
    NONFINITE,
    SERIES_COLORS,
    Scene,
    apply_colormap,
    colormap,
    get_font,
    rasterize,
    text_width,
)

__all__ = [
    "BACKGROUND", "COLORMAPS", "DEFAULT_PANELS", "FRAMES", "GRID", "INK", "MISSING", "MUTED", "NONFINITE",
    "SERIES_COLORS", "Box", "FrameSpec", "Scene", "apply_colormap", "colormap", "compose", "draw_bars",
    "draw_heatmap", "draw_lines", "exportable", "figure_scene", "fmt_tick", "frame", "gate_saturation", "get_font",
    "grid_shape", "nice_ticks", "parse_panels", "rasterize", "render_frame", "render_panel", "run_title",
    "text_width",
]

#: Panels named this way show the defaults that apply to the run (``rnnviz.app.panels.default_panels``).
DEFAULT_PANELS = "default"


def exportable() -> tuple[str, ...]:
    """The panels with an export frame, in the registry's display order."""
    return tuple(name for name in registry.PANELS if name in FRAMES)


def __getattr__(name: str):
    """``PANELS``: the exportable panels now (a frame may register after this module was imported:
    ``rnnviz.dynamics.figure`` imports ``rnnviz.export``, which imports this module, so whichever
    is imported first decides the order; a constant taken at import time could miss one)."""
    if name == "PANELS":
        return exportable()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_panels(panels: str | Sequence[str] | None, config: Mapping | None = None) -> list[str]:
    """``"hidden,gates"`` or a list → a checked list of exportable panel names.

    ``None`` / "all": every exportable panel; "default": the default panels that apply to a run
    with ``config`` (``trace.config``; all defaults without one). Older names ("loss",
    "outputs", ...) are accepted (:data:`rnnviz.app.panels.ALIASES`).
    """
    names = exportable()
    if panels is None:
        panels = "all"
    if isinstance(panels, str):
        panels = [p.strip() for p in panels.split(",") if p.strip()]
    out: list[str] = []
    for p in panels:
        if p == "all":
            expanded = list(names)
        elif p == "default":
            expanded = registry.default_panels(config, names)
        else:
            try:
                expanded = [registry.resolve(p)]
            except ValueError:
                expanded = [""]
            if expanded[0] not in FRAMES:
                raise ValueError(f"unknown panel {p!r}; choose from: {', '.join(names)} (or all, default)")
        out += [e for e in expanded if e not in out]
    if not out:
        raise ValueError(f"no panels chosen; choose from: {', '.join(names)}")
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


def figure_scene(trace, panels: str | Sequence[str] | None = DEFAULT_PANELS,
                 size: tuple[int, int] = (1280, 720), spec: FrameSpec | None = None,
                 title: str | None = None, subtitle: str = "") -> Scene:
    """A whole frame: a title line and ``panels`` of ``trace`` in a grid, ``size`` logical pixels."""
    width, height = int(size[0]), int(size[1])
    if width < 64 or height < 48 or width > 20000 or height > 20000:
        raise ValueError(f"frame size {width}x{height} is outside 64x48 .. 20000x20000")
    names = parse_panels(panels, trace.config)
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
    FRAMES[parse_panels([name])[0]](scene, box, trace, spec or FrameSpec())


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
