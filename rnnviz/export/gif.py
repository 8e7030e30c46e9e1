"""Animations: GIF with Pillow; MP4 only when imageio + imageio-ffmpeg happen to be installed.

Three animations of a run (:data:`ANIMATIONS`):

* ``forward``  - stepping through the forward pass: one frame per time step t, states revealed
  up to t, the current column outlined;
* ``backward`` - the backward pass: gradients revealed from the last step down to t, the graph
  coloured by ||dL/dh_t||;
* ``training`` - training progress: one frame per recorded trace (heatmaps and gradient norms
  of the weights at that step) with the loss curve up to that step.

``animation_frames(...)`` yields RGB arrays; ``write_gif`` / ``write_mp4`` / ``write_animation``
write them atomically (temporary file, then rename), report progress and can be cancelled.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from rnnviz.export.arrays import safe_write
from rnnviz.export.frames import DEFAULT_PANELS, FrameSpec, figure_scene, rasterize

__all__ = [
    "ANIMATIONS",
    "ExportCancelled",
    "ExportError",
    "animation_frames",
    "count_frames",
    "mp4_available",
    "write_animation",
    "write_gif",
    "write_mp4",
]

ANIMATIONS: tuple[str, ...] = ("forward", "backward", "training")
MAX_FRAMES = 2000

Progress = Callable[[int, int], object]  # (done, total) -> anything; return False to cancel


class ExportError(RuntimeError):
    """An export that cannot be done, with a one-line message for the user."""


class ExportCancelled(ExportError):  # noqa: N818 - reads better at call sites
    """The user cancelled an export; nothing was written."""

    def __init__(self, message: str = "export cancelled; nothing was written"):
        super().__init__(message)


def _pick(n: int, frames: int | None) -> list[int]:
    """Indices of at most ``frames`` items spread evenly over ``range(n)`` (first and last kept)."""
    if n <= 0:
        return []
    if not frames or frames >= n:
        return list(range(n))
    if frames == 1:
        return [n - 1]
    return sorted({round(i * (n - 1) / (frames - 1)) for i in range(frames)})


def _plan(animation: str, trace, traces, frames: int | None) -> list[tuple]:
    if animation not in ANIMATIONS:
        raise ExportError(f"unknown animation {animation!r}; choose one of: {', '.join(ANIMATIONS)}")
    if frames is not None and frames < 1:
        raise ExportError(f"--frames must be at least 1, got {frames}")
    if animation == "training":
        traces = list(traces or [])
        if len(traces) < 2:
            raise ExportError("a training animation needs at least two recorded traces: train with "
                              "record_every > 0 and save a session (a single trace has only one step)")
        return [("training", *traces[i]) for i in _pick(len(traces), frames or MAX_FRAMES)]
    if trace is None:
        raise ExportError("there is no trace to animate: record or open a run first")
    T = trace.seq_len
    steps = _pick(T, frames or MAX_FRAMES)
    if animation == "backward":
        steps = steps[::-1]
    return [(animation, t) for t in steps]


def count_frames(animation: str, trace=None, traces=None, frames: int | None = None) -> int:
    """How many frames :func:`animation_frames` will yield."""
    return len(_plan(animation, trace, traces, frames))


def _ranges(traces, history):
    """Fixed axes over a whole training animation, so frames do not jump."""
    g = [np.asarray(tr.grad_hidden_norm, dtype=np.float64).ravel() for _, tr in traces]
    g += [np.asarray(tr.grad_cell_norm, dtype=np.float64).ravel() for _, tr in traces if tr.grad_cell_norm is not None]
    g = np.concatenate(g) if g else np.zeros(0)
    g = g[np.isfinite(g) & (g > 0)]
    loss = np.array([r.get("loss", np.nan) for r in history or []], dtype=np.float64)
    loss = loss[np.isfinite(loss)]
    return ((float(g.min()), float(g.max())) if g.size else None,
            (float(loss.min()), float(loss.max())) if loss.size else None)


def animation_frames(animation: str, trace=None, *, traces: Sequence[tuple] | None = None,
                     history: Sequence[dict] | None = None, panels=DEFAULT_PANELS,
                     size: tuple[int, int] = (960, 540), scale: float = 1.0, frames: int | None = None,
                     k: int = 0, sample: int = 0) -> Iterator[np.ndarray]:
    """Yield the RGB frames (H, W, 3 uint8) of ``animation`` (see the module docstring).

    ``trace`` drives forward/backward; ``traces`` = [(step, Trace), ...] and ``history`` drive
    training. ``frames`` caps the number of frames (evenly spaced).
    """
    plan = _plan(animation, trace, traces, frames)
    if animation == "training":
        panels = list(panels) if not isinstance(panels, str) else panels.split(",")
        if history and "training" not in panels and "loss" not in panels:
            panels = [*panels, "training"]
        grad_range, loss_range = _ranges(list(traces), history)
        for _, step, tr in plan:
            spec = FrameSpec(k=k, sample=sample, history=history, step=step, grad_range=grad_range,
                             loss_range=loss_range)
            yield rasterize(figure_scene(tr, panels, size, spec, subtitle=f"training step {step}"), scale)
        return
    T = trace.seq_len
    for mode, t in plan:
        spec = FrameSpec(k=k, sample=sample, t=t, mode=mode, history=history)
        label = f"forward: t = {t + 1} / {T}" if mode == "forward" else f"backward: t = {t + 1} / {T}"
        yield rasterize(figure_scene(trace, panels, size, spec, subtitle=label), scale)


def _check_fps(fps: float) -> float:
    try:
        fps = float(fps)
    except (TypeError, ValueError):
        raise ExportError(f"frame rate must be a number, got {fps!r}") from None
    if not (0.1 <= fps <= 60) or not math.isfinite(fps):
        raise ExportError(f"frame rate must be between 0.1 and 60 frames per second, got {fps:g}")
    return fps


def _to_palette(frame: np.ndarray) -> Image.Image:
    im = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8), "RGB")
    return im.quantize(colors=255, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)


def _collect(frames: Iterable[np.ndarray], total: int | None, progress: Progress | None, convert):
    out = []
    for i, frame in enumerate(frames):
        out.append(convert(frame))
        if progress is not None and progress(i + 1, total if total is not None else i + 1) is False:
            raise ExportCancelled()
    if not out:
        raise ExportError("no frames to write")
    return out


def write_gif(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 8, *, loop: int = 0,
              total: int | None = None, progress: Progress | None = None) -> Path:
    """Write RGB ``frames`` as an animated GIF at ``fps``, atomically. Returns the path.

    ``progress(done, total)`` is called after each frame; returning ``False`` cancels
    (:class:`ExportCancelled`, nothing written).
    """
    fps = _check_fps(fps)
    path = Path(path)
    ims = _collect(frames, total, progress, _to_palette)
    duration = max(20, int(round(1000.0 / fps / 10.0)) * 10)  # GIF delays are in 1/100 s

    def write(f):
        ims[0].save(f, format="GIF", save_all=True, append_images=ims[1:], duration=duration, loop=loop,
                    optimize=False, disposal=1)

    _atomic(path, write)
    return path


def mp4_available() -> bool:
    """True when imageio and imageio-ffmpeg are installed (MP4 is optional)."""
    return all(importlib.util.find_spec(m) is not None for m in ("imageio", "imageio_ffmpeg"))


MP4_MISSING = ("MP4 needs the optional packages imageio and imageio-ffmpeg "
               "(pip install imageio imageio-ffmpeg); write a GIF instead")


def write_mp4(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 8, *,
              total: int | None = None, progress: Progress | None = None) -> Path:
    """Write ``frames`` as H.264 MP4 through imageio-ffmpeg (if installed; else :class:`ExportError`)."""
    fps = _check_fps(fps)
    if not mp4_available():
        raise ExportError(MP4_MISSING)
    import imageio.v2 as imageio  # optional dependency

    path = Path(path)
    if path.exists() and not path.is_file():
        raise ExportError(f"cannot write {path}: it is not a regular file")
    ims = _collect(frames, total, progress, lambda f: _even(np.ascontiguousarray(f[..., :3], dtype=np.uint8)))
    folder = path.parent if str(path.parent) else Path(".")
    tmp = folder / f".{path.name}.part.mp4"
    try:
        with imageio.get_writer(str(tmp), fps=fps, codec="libx264", macro_block_size=1) as w:
            for im in ims:
                w.append_data(im)
        os.replace(tmp, path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise
        raise ExportError(f"cannot write {path}: {exc}") from None
    return path


def _even(frame: np.ndarray) -> np.ndarray:
    h, w = frame.shape[0] // 2 * 2, frame.shape[1] // 2 * 2
    return frame[:h, :w]


def _atomic(path: Path, write) -> None:
    try:
        safe_write(path, write)
    except ValueError as exc:
        raise ExportError(str(exc)) from None


def write_animation(path: str | os.PathLike, animation: str, trace=None, *, traces=None, history=None,
                    panels=DEFAULT_PANELS, size=(960, 540), scale: float = 1.0, fps: float = 8,
                    frames: int | None = None, progress: Progress | None = None, k: int = 0,
                    sample: int = 0) -> Path:
    """Render ``animation`` and write it to ``path`` (.gif, or .mp4 when available)."""
    path = Path(path)
    total = count_frames(animation, trace, traces, frames)
    gen = animation_frames(animation, trace, traces=traces, history=history, panels=panels, size=size,
                           scale=scale, frames=frames, k=k, sample=sample)
    if path.suffix.lower() == ".mp4":
        return write_mp4(path, gen, fps, total=total, progress=progress)
    if path.suffix.lower() != ".gif":
        raise ExportError(f"cannot tell the animation format of {path.name}: use .gif or .mp4")
    return write_gif(path, gen, fps, total=total, progress=progress)
