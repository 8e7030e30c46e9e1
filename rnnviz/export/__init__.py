"""Export: figures (PNG, SVG), animations (GIF, optional MP4) and data (NPZ, CSV, JSON) of traces.

Qt-free: drawn with numpy + Pillow. The window and the ``rnnviz export`` command call the same
functions, so the same state gives the same pixels::

    from rnnviz.export import figure, write_png, write_svg, write_animation, write_series_csv
    scene = figure(trace, ["hidden", "gates", "gradients"], size=(1280, 720))
    write_png("fig.png", scene, scale=2.0); write_svg("fig.svg", scene)
    write_animation("steps.gif", "forward", trace, fps=8)
"""

from rnnviz.export import frames
from rnnviz.export.arrays import (
    series_table,
    write_history_csv,
    write_series,
    write_series_csv,
    write_series_json,
    write_series_npz,
    write_trace_npz,
)
from rnnviz.export.figures import figure, parse_size, save_figure, scene_to_svg, write_png, write_svg
from rnnviz.export.frames import FrameSpec, Scene, figure_scene, rasterize, render_frame
from rnnviz.export.gif import (
    ANIMATIONS,
    ExportCancelled,
    ExportError,
    animation_frames,
    mp4_available,
    write_animation,
    write_gif,
    write_mp4,
)


def __getattr__(name: str):
    """``PANELS``: the exportable panels, read when asked (see :mod:`rnnviz.export.frames`)."""
    if name == "PANELS":
        return frames.exportable()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ANIMATIONS",
    "PANELS",
    "ExportCancelled",
    "ExportError",
    "FrameSpec",
    "Scene",
    "animation_frames",
    "figure",
    "figure_scene",
    "mp4_available",
    "parse_size",
    "rasterize",
    "render_frame",
    "save_figure",
    "scene_to_svg",
    "series_table",
    "write_animation",
    "write_gif",
    "write_history_csv",
    "write_mp4",
    "write_png",
    "write_series",
    "write_series_csv",
    "write_series_json",
    "write_series_npz",
    "write_svg",
    "write_trace_npz",
]
