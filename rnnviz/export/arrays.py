"""Numbers out of rnnviz: traces as .npz, per-timestep series as CSV / JSON / .npz, history as CSV.

Series (one row per time step t = 1..T, see :func:`series_table`)::

    t, step_loss, grad_h_norm_k0 [, grad_c_norm_k0], ..., sat_<gate> (fraction of saturated
    gate activations), h_abs_mean_k0 (mean |h_t| over units and batch)

Training history CSV columns: ``step,loss,grad_norm,clipped`` (clipped as 0/1).
Every file is written atomically (temporary file beside it, then a rename).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnviz.app.panel_model import gate_saturation
from rnnviz.core.trace import Trace, atomic_write

__all__ = [
    "HISTORY_COLUMNS",
    "history_arrays",
    "read_csv",
    "safe_write",
    "series_table",
    "write_history_csv",
    "write_series",
    "write_series_csv",
    "write_series_json",
    "write_series_npz",
    "write_trace_npz",
]

HISTORY_COLUMNS = ("step", "loss", "grad_norm", "clipped")


def safe_write(path: str | os.PathLike, write) -> Path:
    """:func:`rnnviz.core.trace.atomic_write`, returning the path."""
    path = Path(path)
    atomic_write(path, write)
    return path


def series_table(trace: Trace) -> dict[str, np.ndarray]:
    """All per-timestep series of ``trace`` as equal-length (T,) arrays, ``t`` first."""
    out = dict(trace.series())
    for name, sat in gate_saturation(trace).items():
        out[f"sat_{name}"] = sat
    h = np.abs(np.asarray(trace.hidden, dtype=np.float64))
    for k in range(h.shape[0]):
        out[f"h_abs_mean_k{k}"] = h[k].mean(axis=(1, 2))
    return out


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    v = float(v)
    if math.isnan(v):
        return "nan"
    return repr(v)  # shortest text that reads back to the same double


def _csv_bytes(columns: dict[str, Sequence]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    names = list(columns)
    w.writerow(names)
    n = len(next(iter(columns.values()))) if columns else 0
    cols = [list(np.asarray(columns[c]).tolist()) if isinstance(columns[c], np.ndarray) else list(columns[c])
            for c in names]
    for i in range(n):
        w.writerow([_fmt(col[i]) for col in cols])
    return buf.getvalue().encode("utf-8")


def write_series_csv(path: str | os.PathLike, trace: Trace) -> Path:
    """Per-timestep series of ``trace`` (see :func:`series_table`) as CSV with a header row."""
    data = _csv_bytes(series_table(trace))
    path = Path(path)
    return safe_write(path, lambda f: f.write(data))


def write_series_json(path: str | os.PathLike, trace: Trace) -> Path:
    """Per-timestep series as JSON ``{"columns": {...}, "loss": ..., "config": ...}`` (NaN → null)."""
    cols = {k: [None if (isinstance(x, float) and not math.isfinite(x)) else x for x in np.asarray(v).tolist()]
            for k, v in series_table(trace).items()}
    doc = {"format": "rnnviz-series", "version": 1, "columns": cols,
           "loss": trace.loss if math.isfinite(trace.loss) else None, "config": trace.config}
    data = json.dumps(doc, indent=1).encode("utf-8")
    path = Path(path)
    return safe_write(path, lambda f: f.write(data))


def write_series_npz(path: str | os.PathLike, trace: Trace) -> Path:
    """Per-timestep series as an .npz of named (T,) arrays (no pickle)."""
    table = series_table(trace)
    path = Path(path)
    return safe_write(path, lambda f: np.savez(f, **table))


def write_series(path: str | os.PathLike, trace: Trace) -> Path:
    """Series in the format chosen by the suffix: .csv, .json or .npz."""
    suffix = Path(path).suffix.lower()
    writers = {".csv": write_series_csv, ".json": write_series_json, ".npz": write_series_npz}
    if suffix not in writers:
        raise ValueError(f"cannot tell the format of {Path(path).name}: use .csv, .json or .npz")
    return writers[suffix](path, trace)


def write_trace_npz(path: str | os.PathLike, trace: Trace) -> Path:
    """The whole trace as .npz (``Trace.save``: no pickle, readable with ``Trace.load``)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"a trace file must end in .npz, got {path.name}")
    return safe_write(path, lambda f: np.savez_compressed(f, **trace.to_arrays()))


def history_arrays(history: Sequence[dict]) -> dict[str, np.ndarray]:
    """Training history rows as columns: step (int64), loss, grad_norm (float64), clipped (bool)."""
    return {
        "step": np.array([int(r.get("step", i + 1)) for i, r in enumerate(history)], dtype=np.int64),
        "loss": np.array([float(r.get("loss", np.nan)) for r in history], dtype=np.float64),
        "grad_norm": np.array([float(r.get("grad_norm", np.nan)) for r in history], dtype=np.float64),
        "clipped": np.array([bool(r.get("clipped", False)) for r in history], dtype=bool),
    }


def write_history_csv(path: str | os.PathLike, history: Sequence[dict]) -> Path:
    """Training history as CSV with columns ``step,loss,grad_norm,clipped``."""
    data = _csv_bytes(history_arrays(history))
    path = Path(path)
    return safe_write(path, lambda f: f.write(data))


def read_csv(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read a CSV written here back into float64 columns (for checks and notebooks)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    return {name: np.array([float(r[i]) for r in body], dtype=np.float64) for i, name in enumerate(header)}
