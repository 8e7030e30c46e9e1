"""The examples' one shared helper: record a run, and save curves or heatmaps side by side as a PNG.

Drawn with rnnviz's own exporter (numpy + Pillow, the same pictures the app exports), so the
examples need no matplotlib. Each panel is a dict::

    curves:   {"title": ..., "series": {name: (x, y)}, "xlabel": ..., "ylabel": ..., "log": bool}
    heatmaps: {"title": ..., "data": (rows, cols) array, "vmin": ..., "vmax": ..., "cmap": ..., "cbar_label": ...}
"""

from __future__ import annotations

from pathlib import Path

import rnnviz
from rnnviz.core.train import batch_meta, build_run
from rnnviz.export.figures import write_png
from rnnviz.export.frames import SERIES_COLORS, Box, Scene, draw_heatmap, draw_lines


def record_run(**overrides):
    """Record one untrained run (fresh weights, the task's probe batch) of ``RunConfig`` with ``overrides``."""
    model, batch = build_run(rnnviz.RunConfig().with_overrides(**overrides))
    return rnnviz.record(model, batch.x, batch.y, loss=batch.loss, meta=batch_meta(batch))


def _boxes(n: int, width: int, height: int):
    w = (width - 10) / n
    return [Box(10 + i * w, 10, (i + 1) * w, height - 10) for i in range(n)]


def save_curves(path, title: str, panels: list[dict], size=(900, 480)) -> Path:
    """Line plots side by side (one per panel dict), written to ``path``."""
    scene = Scene(*size, title=title)
    for box, p in zip(_boxes(len(panels), *size), panels, strict=True):
        series = [(name, x, y, SERIES_COLORS[i % len(SERIES_COLORS)], False)
                  for i, (name, (x, y)) in enumerate(p["series"].items())]
        draw_lines(scene, box, series, title=p.get("title", ""), xlabel=p.get("xlabel", ""),
                   ylabel=p.get("ylabel", ""), log=p.get("log", False))
    return write_png(path, scene)


def save_heatmaps(path, title: str, panels: list[dict], size=(1000, 420)) -> Path:
    """Heatmaps side by side (one per panel dict), written to ``path``."""
    scene = Scene(*size, title=title)
    for box, p in zip(_boxes(len(panels), *size), panels, strict=True):
        draw_heatmap(scene, box, p["data"], title=p.get("title", ""), cmap=p.get("cmap", "viridis"),
                     vmin=p.get("vmin"), vmax=p.get("vmax"), cbar_label=p.get("cbar_label", ""))
    return write_png(path, scene)
