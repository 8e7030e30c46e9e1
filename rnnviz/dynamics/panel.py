"""What the Dynamics panel computes and keeps, Qt-free: the analysis of a shown run, the constant
input it is done for, and the found fixed points stored with the Trace for the exporters.

A Trace holds no weights, so fixed points cannot be found from it alone: the window finds them
with its model (:func:`analyse_trace`) and :func:`store_fixed_points` writes them into
``trace.meta["dynamics"]`` (plain lists: the Trace's .npz keeps meta as JSON). The exported
"dynamics" frame reads them back with :func:`stored_fixed_points`, so PNG, SVG and GIF show the
points the window found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from rnnviz.dynamics.fixed_points import FixedPoints, fixed_points
from rnnviz.dynamics.jacobians import Jacobians, jacobians
from rnnviz.dynamics.portrait import trace_states

META_KEY = "dynamics"
INPUTS = ("zero", "cursor")  # the constant input the fixed points are found for


@dataclass
class DynamicsResult:
    """What the analysis hands the panel: fixed points and Jacobians of one trace.

    ``input_note`` says which constant input the fixed points are for ("zero input",
    "input at step 12, sample 0")."""

    fixed: FixedPoints
    jac: Jacobians
    trace_id: int
    seconds: float
    input_note: str = "zero input"


def input_at(trace, t: int, sample: int) -> np.ndarray:
    """The first layer's input x_t of ``sample`` (I,), float64 — the constant input "at the cursor"."""
    x = np.asarray(trace.inputs)
    if x.ndim != 3:
        raise ValueError(f"the run's inputs are {x.ndim}-D, not (T, B, I): no input vector at a step")
    t = min(max(int(t), 0), x.shape[0] - 1)
    sample = min(max(int(sample), 0), x.shape[1] - 1)
    u = x[t, sample].astype(np.float64)
    if not np.isfinite(u).all():
        raise ValueError(f"the input at step {t + 1}, sample {sample} is not finite")
    return u


def input_note(u: np.ndarray | None, t: int | None = None, sample: int | None = None) -> str:
    """Words for the constant input: "zero input" or "input at step 3, sample 0: (1, 0, 0)"."""
    if u is None:
        return "zero input"
    vals = ", ".join(f"{v:.3g}" for v in np.asarray(u).ravel()[:6]) + (", …" if np.size(u) > 6 else "")
    where = f" at step {t + 1}, sample {sample}" if t is not None else ""
    return f"input{where}: ({vals})"


def analyse_trace(model, trace, sample: int = 0, n_starts: int = 256, x_const=None,
                  note: str | None = None) -> DynamicsResult:
    """Fixed points under the constant input ``x_const`` (None: zeros), started from the trace's
    states, and the Jacobians along ``sample``'s trajectory."""
    t0 = time.perf_counter()
    states = trace_states(trace, 0, "h,c")
    fps = fixed_points(model, x_const, states=states.reshape(-1, states.shape[-1]), n_starts=n_starts)
    jac = jacobians(trace, model=model, samples=[sample])
    return DynamicsResult(fps, jac, id(trace), time.perf_counter() - t0, note or input_note(x_const))


def store_fixed_points(trace, fps: FixedPoints, note: str = "zero input", view: dict | None = None) -> None:
    """Keep ``fps`` (and how the panel shows them: ``view`` = {"pcs": [a, b], "part": "h", "rotation":
    [[…]] or None}) in ``trace.meta["dynamics"]`` for the exporters."""
    S = fps.points.shape[1] if len(fps) else 0
    dirs = np.full((len(fps), S), np.nan)
    for i in range(len(fps)):
        if fps.n_unstable[i]:
            dirs[i] = fps.unstable_directions(i)[0]
    trace.meta[META_KEY] = {
        "points": fps.points.tolist(), "kinds": list(fps.kinds), "q": fps.q.tolist(),
        "n_unstable": [int(n) for n in fps.n_unstable],
        "unstable": [[None if not np.isfinite(v) else float(v) for v in row] for row in dirs],
        "x_const": np.asarray(fps.x_const, dtype=float).tolist(), "input": note,
        "layer": int(fps.layer), "direction": int(fps.direction), **(view or {}),
    }


@dataclass
class StoredFixedPoints:
    """Fixed points read back from a trace's meta: points (n, S), unstable (n, S) (NaN: none)."""

    points: np.ndarray
    kinds: list[str]
    unstable: np.ndarray
    n_unstable: np.ndarray
    note: str
    view: dict

    def __len__(self) -> int:
        return len(self.points)

    def count(self, kind: str) -> int:
        return sum(k == kind for k in self.kinds)


def stored_fixed_points(trace) -> StoredFixedPoints | None:
    """The fixed points :func:`store_fixed_points` kept with ``trace`` (None when there are none or
    they do not fit the trace's state size)."""
    d = (trace.meta or {}).get(META_KEY)
    if not isinstance(d, dict) or "points" not in d:
        return None
    try:
        pts = np.asarray(d["points"], dtype=np.float64).reshape(len(d["points"]), -1)
        uns = np.asarray([[np.nan if v is None else v for v in row] for row in d.get("unstable", [])],
                         dtype=np.float64).reshape(pts.shape)
        kinds = [str(k) for k in d["kinds"]]
        n_uns = np.asarray(d.get("n_unstable", [0] * len(kinds)), dtype=int)
    except (TypeError, ValueError):
        return None
    H = trace.hidden_size
    if len(kinds) != len(pts) or (len(pts) and pts.shape[1] not in (H, 2 * H)):
        return None
    view = {k: d[k] for k in ("pcs", "part", "rotation") if k in d}
    return StoredFixedPoints(pts, kinds, uns, n_uns, str(d.get("input", "")), view)
