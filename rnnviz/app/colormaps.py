"""The colour maps of every picture, and which quantity each one shows: one rule for the window
(``rnnviz.qt.theme`` builds its maps from these tables) and the exporters.

* :data:`DIVERGING` — signed values centred at 0: h_t and c_t, the candidate gates, the graph's
  mean h_t / c_t in the forward pass;
* :data:`SEQUENTIAL` — magnitudes and values in [0, 1]: gate openings, ‖∂L/∂h_t‖ on a log
  scale (the gradient panels and the graph in BPTT), time along a trajectory.

No Qt here.
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["COLORMAPS", "DIVERGING", "SEQUENTIAL", "colormap", "gate_colormap"]

_STOPS = {
    # perceptually uniform: magnitudes, values in [0, 1]
    "viridis": [(68, 1, 84), (72, 40, 120), (62, 74, 137), (49, 104, 142), (38, 130, 142),
                (31, 158, 137), (53, 183, 121), (109, 205, 89), (180, 222, 44), (253, 231, 37)],
    # another sequential map, for a reader's own pictures
    "magma": [(0, 0, 4), (28, 16, 68), (79, 18, 123), (129, 37, 129), (181, 54, 122),
              (229, 80, 100), (251, 135, 97), (254, 194, 135), (252, 253, 191)],
    # diverging blue - white - red, for signed values centred at 0
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


DIVERGING = "coolwarm"
SEQUENTIAL = "viridis"


def gate_colormap(candidate: bool) -> str:
    """σ gates (openings in [0, 1]) sequential; tanh candidates (in [−1, 1]) diverging."""
    return DIVERGING if candidate else SEQUENTIAL
