"""What an exported frame shows (:class:`FrameSpec`) and the registry of export frames.

An export frame draws one panel of a Trace into a box of a Scene. It registers itself under
the panel's name (see :mod:`rnnviz.app.panels`) with the :func:`frame` decorator, pyqtgraph
style::

    @frame("hidden")
    def hidden_frame(scene, box, trace, spec): ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rnnviz.app.panels import PANELS

__all__ = ["FRAMES", "FrameSpec", "clamp_spec", "frame", "k_label", "nonfinite_mask", "visible"]

#: panel name → function(scene, box, trace, spec) drawing it.
FRAMES: dict[str, Callable] = {}


def frame(name: str):
    """Register the decorated function as the export frame of panel ``name``."""
    if name not in PANELS:
        raise ValueError(f"no panel {name!r} is registered (rnnviz.app.panels.register_panel first)")

    def register(fn: Callable) -> Callable:
        FRAMES[name] = fn
        return fn

    return register


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


def k_label(trace, k: int) -> str:
    D = trace.num_directions
    layer, d = divmod(k, D)
    out = f"layer {layer + 1}" if trace.num_layers > 1 else ""
    if D == 2:
        out = (out + ", " if out else "") + ("forward" if d == 0 else "backward")
    return f" ({out})" if out else ""


def visible(arr: np.ndarray, spec: FrameSpec, axis: int = -1, gradient: bool = False) -> np.ndarray:
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


def clamp_spec(trace, spec: FrameSpec) -> tuple[int, int]:
    k = min(max(0, spec.k), trace.hidden.shape[0] - 1)
    b = min(max(0, spec.sample), trace.hidden.shape[2] - 1)
    return k, b


def nonfinite_mask(raw: np.ndarray, spec: FrameSpec, gradient: bool = False) -> np.ndarray:
    """Where ``raw`` is NaN/Inf among the values the frame shows (hidden steps stay grey)."""
    raw = np.asarray(raw)
    return ~np.isfinite(raw) & ~np.isnan(visible(np.zeros(raw.shape), spec, gradient=gradient))
