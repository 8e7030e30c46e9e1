"""The phase portrait's numbers, Qt-free: what the dynamics panel and its exported frame draw.

:func:`portrait` takes a Trace and returns the states of one layer-direction (h, c or both for
the LSTM) projected on their principal components, with the time of every point. Fixed points
and their unstable directions are projected with the same components (:meth:`Portrait.place`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnviz.dynamics.fixed_points import FixedPoints
from rnnviz.dynamics.projection import Projection, pca

PARTS = ("h", "c", "h,c")  # which part of the LSTM's state the portrait shows


@dataclass
class Portrait:
    """coords (T, B, P) on the components; part: "h", "c" or "h,c"; k the layer-direction."""

    coords: np.ndarray
    projection: Projection
    part: str
    k: int
    hidden_size: int

    def select(self, states: np.ndarray) -> np.ndarray:
        """The part of full dynamics states (…, S) this portrait shows (S = H or 2H)."""
        H = self.hidden_size
        if self.part == "h":
            return states[..., :H]
        if self.part == "c":
            return states[..., H:2 * H]
        return states

    def place(self, fps) -> tuple[np.ndarray, np.ndarray]:
        """Fixed points (n, P) in this view and, per point, its first unstable direction (n, P)
        (NaN for stable points), scaled to unit length in the view. ``fps``: :class:`FixedPoints`,
        or the :class:`~rnnviz.dynamics.panel.StoredFixedPoints` kept with a trace."""
        if isinstance(fps, FixedPoints):
            S = fps.points.shape[1] if len(fps) else 0
            uns = np.full((len(fps), S), np.nan)
            for i in range(len(fps)):
                if fps.n_unstable[i]:
                    uns[i] = fps.unstable_directions(i)[0]
        else:
            uns = fps.unstable
        return self.place_states(fps.points, uns)

    def place_states(self, points: np.ndarray, unstable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Full states (n, S) and directions (n, S) (NaN rows: none) → the view (n, P), (n, P)."""
        P = self.coords.shape[-1]
        if not len(points):
            return np.zeros((0, P)), np.zeros((0, P))
        pts = self.projection.transform(self.select(points))
        dirs = np.full((len(points), P), np.nan)
        for i in range(len(points)):
            if np.isfinite(unstable[i]).all():
                d = self.projection.direction(self.select(unstable[i]))
                n = np.linalg.norm(d)
                if n > 1e-12:
                    dirs[i] = d / n
        return pts, dirs

    def nearest(self, x: float, y: float, pcs, scale=(1.0, 1.0), rot: np.ndarray | None = None
                ) -> tuple[int, int, float]:
        """(t, sample, distance) of the trajectory point nearest to (x, y) on components ``pcs``
        (turned by ``rot``, see :func:`on_screen`); ``scale`` = data units per pixel on each axis,
        so "near" means near on screen."""
        xy = on_screen(self.coords, pcs, rot)
        dx = (xy[..., 0] - x) / scale[0]
        dy = (xy[..., 1] - y) / scale[1]
        d2 = np.where(np.isfinite(dx) & np.isfinite(dy), dx * dx + dy * dy, np.inf)
        t, s = np.unravel_index(int(np.argmin(d2)), d2.shape)
        return int(t), int(s), float(np.sqrt(d2[t, s]))


def rotation(azimuth: float, elevation: float) -> np.ndarray:
    """(3, 2): three components → screen (x, y) seen from ``azimuth`` / ``elevation`` (radians).

    (0, 0) is the flat view of the first two (x = first, y = second, the third points at the
    viewer); the azimuth turns about the screen's vertical, the elevation tilts towards the viewer."""
    ca, sa, ce, se = np.cos(azimuth), np.sin(azimuth), np.cos(elevation), np.sin(elevation)
    return np.array([[ca, se * sa], [0.0, ce], [sa, -se * ca]])


def best_view(points3: np.ndarray, n_azimuth: int = 36, n_elevation: int = 15) -> tuple[float, float]:
    """(azimuth, elevation) that best separates ``points3`` (n, 3) on the screen: the largest
    smallest distance between any two of them (a grid search) — the cube of the flip-flop's eight
    memories seen at an angle where no corner hides behind another."""
    pts = np.asarray(points3, dtype=np.float64).reshape(-1, 3)
    if len(pts) < 2:
        return 0.0, 0.0
    best, angles = -1.0, (0.0, 0.0)
    iu = np.triu_indices(len(pts), 1)
    for az in np.linspace(0, np.pi, n_azimuth, endpoint=False):  # az + π is the mirror image
        for el in np.linspace(-1.3, 1.3, n_elevation):
            xy = pts @ rotation(az, el)
            d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)[iu].min()
            if d > best + 1e-12:
                best, angles = d, (float(az), float(el))
    return angles


def on_screen(coords: np.ndarray, pcs, rot: np.ndarray | None = None) -> np.ndarray:
    """(…, P) coordinates → (…, 2): components ``pcs[:2]`` as they are, or with ``rot`` (3, 2)
    the three components ``pcs[:3]`` turned onto the screen (a 3-D view drawn in 2-D)."""
    c = np.asarray(coords)
    if rot is None:
        return c[..., list(pcs[:2])]
    return c[..., list(pcs[:3])] @ np.asarray(rot)


def trace_states(trace, k: int = 0, part: str = "h") -> np.ndarray:
    """(T, B, ·) states of layer-direction ``k``: h, c, or [h, c] (only h without a cell state)."""
    h = np.asarray(trace.hidden[k])
    if trace.cell is None or part == "h":
        return h
    c = np.asarray(trace.cell[k])
    return c if part == "c" else np.concatenate([h, c], axis=-1)


def portrait(trace, k: int = 0, part: str = "h", n_components: int = 6) -> Portrait:
    """Project layer-direction ``k``'s trajectories on their first principal components."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    if trace.cell is None:
        part = "h"
    states = trace_states(trace, k, part)
    proj = pca(states.reshape(-1, states.shape[-1]), n_components)
    return Portrait(proj.transform(states), proj, part, k, trace.hidden_size)
