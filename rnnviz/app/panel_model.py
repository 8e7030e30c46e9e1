"""The panel model: how every panel reads a Trace, decided once for the window and the exporters.

No Qt here. The Qt views (``rnnviz.qt.views``) and the exported frames (``rnnviz.export``)
both call these functions, so a hidden-state heatmap has the same colour levels on screen and
in a PNG, the same gates are shown, a gate counts as saturated by the same thresholds, the
same unrolled graph is built for a trace, and runs and NaN/Inf are described in the same words.

* colour levels: :func:`state_levels` (h_t, c_t: symmetric ±max|v|, log colours above
  :data:`LOG_ABOVE`), :func:`gate_levels` (a gate's value range);
* gates: :func:`trace_gates` (every gate, candidates included, in the cell's order; the facts
  are the cell registry's, :mod:`rnnviz.core.cells`);
* saturation: :data:`SAT_LOW` / :data:`SAT_HIGH`, :func:`saturation_fractions`, :func:`gate_saturation`;
* graph: :func:`graph_for_trace` (from :mod:`rnnviz.core.graph`), :func:`graph_numbers` (what
  its states are coloured by);
* colour maps: :mod:`rnnviz.app.colormaps` (which quantity takes which map);
* names: :func:`cell_display`, :func:`run_title`, :func:`run_label`, :func:`with_cell`;
* NaN/Inf: :func:`nonfinite_summary`, :func:`nonfinite_steps`, :func:`bad_runs`, :func:`steps_text`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.core.cells import CELLS, GateSpec, canonical_cell_name, display_name, gate_spec
from rnnviz.core.graph import graph_for_trace  # the graph for a trace: one function, in the core

__all__ = ["LOG_ABOVE", "NONFINITE_RGB", "SAT_HIGH", "SAT_LOW", "Levels", "bad_runs", "cell_display", "cell_gates",
           "cell_has_state", "cells_with_state", "counterpart", "finite_absmax", "fmt_number", "gate_levels",
           "gate_saturation", "gate_symbol", "gate_title", "gated_cells", "graph_for_trace", "graph_numbers",
           "is_candidate", "kept_text", "memory_gate", "nonfinite_steps", "nonfinite_summary", "run_label", "run_title",
           "saturation_fractions", "state_levels", "steps_text", "symlog", "trace_gates", "with_cell"]

# -- cells and their gates (facts from the cell registry) ---------------------------------------

def _spec(cell: str):
    return CELLS.get(canonical_cell_name(cell))


def cell_display(cell: str) -> str:
    """The display name of a cell (the registry's ``display``); the key itself if unregistered."""
    return display_name(cell)


def cell_gates(cell: str) -> tuple[GateSpec, ...]:
    """Every gate of ``cell`` in its block order, the candidates included (``()`` if none)."""
    spec = _spec(cell)
    return spec.gates if spec is not None else ()


def cell_has_state(cell: str) -> bool:
    """True if ``cell`` has a cell state c_t apart from h_t."""
    spec = _spec(cell)
    return spec is not None and spec.has_cell_state


def memory_gate(cell: str) -> str | None:
    """The gate that decides how much of the old state is kept (LSTM f, GRU z), or None."""
    spec = _spec(cell)
    return spec.memory_gate if spec is not None else None


def gated_cells() -> str:
    """The registered cells with gates, joined with "or" for messages."""
    return " or ".join(s.display for s in CELLS.values() if s.gates)


def cells_with_state() -> str:
    """The registered cells with a cell state, joined for messages."""
    return " and ".join(s.display for s in CELLS.values() if s.has_cell_state) or "no cell"


def _gate(cell: str, key: str) -> GateSpec:
    # a gate the registry does not know (a trace from elsewhere): a sigmoid gate named by its key
    return gate_spec(cell, key) or GateSpec(key, key, key)


def trace_gates(trace) -> list[GateSpec]:
    """The gates a panel shows for ``trace``: all of them, candidates included, in block order."""
    known = [g for g in cell_gates(trace.cell_type) if g.key in trace.gates]
    return known + [_gate(trace.cell_type, k) for k in trace.gates if k not in {g.key for g in known}]


def is_candidate(cell: str, key: str) -> bool:
    """A candidate value (tanh / linear) rather than a sigmoid gate in (0, 1)."""
    return _gate(cell, key).candidate


def gate_title(cell: str, key: str) -> str:
    """A gate's title (the registry's ``GateSpec.title``)."""
    return _gate(cell, key).title


def gate_symbol(cell: str, key: str) -> str:
    """A gate's symbol in the notes (``GateSpec.symbol``)."""
    return _gate(cell, key).symbol


def counterpart(gate: str, names, cell: str, other_cell: str) -> str | None:
    """The gate of ``names`` (gates of ``other_cell``) that plays the part ``gate`` plays in ``cell``:
    the same key, else the memory gate for a memory gate (LSTM f ↔ GRU z), else the candidate
    for a candidate (LSTM g ↔ GRU n)."""
    names = list(names)
    if gate in names:
        return gate
    if gate == memory_gate(cell) and memory_gate(other_cell) in names:
        return memory_gate(other_cell)
    if is_candidate(cell, gate):
        return next((g.key for g in cell_gates(other_cell) if g.candidate and g.key in names), None)
    return None


# -- colour levels -----------------------------------------------------------------------------

#: NaN / Inf cells of a heatmap, in the window and in exported pictures (no colour map uses it).
NONFINITE_RGB = (230, 0, 230)

#: States whose largest |value| is above this only come from exploding runs: colour by
#: sign·log₁₀(1+|v|) so every step stays visible instead of one dark column.
LOG_ABOVE = 1e3


def symlog(values):
    """sign(v)·log₁₀(1+|v|), elementwise (float64)."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(all="ignore"):
        return np.sign(v) * np.log10(1.0 + np.abs(v))


@dataclass(frozen=True)
class Levels:
    """Colour levels of a heatmap: values ``lo``..``hi``; ``log`` colours by :func:`symlog`."""

    lo: float
    hi: float
    log: bool = False

    @property
    def shown(self) -> tuple[float, float]:
        """The levels in the space the colours are computed in."""
        if self.log:
            return float(symlog(self.lo)), float(symlog(self.hi))
        return float(self.lo), float(self.hi)

    def transform(self, values) -> np.ndarray:
        """``values`` in the space :attr:`shown` refers to."""
        return symlog(values) if self.log else np.asarray(values, dtype=np.float64)

    @property
    def caption(self) -> str:
        """A note for the panel title when the colours are not linear."""
        return "colour: sign·log₁₀(1+|v|)" if self.log else ""


def finite_absmax(*arrays, default: float = 1.0) -> float:
    """The largest finite |value| over ``arrays`` (None skipped); ``default`` if none or all zero."""
    best = 0.0
    for a in arrays:
        if a is None:
            continue
        a = np.asarray(a)
        fin = a[np.isfinite(a)]
        if fin.size:
            best = max(best, float(np.abs(fin).max()))
    return best if best > 0 else default


def _log_norms(g: np.ndarray) -> np.ndarray:
    """log10 ‖g‖ over the last axis, in float64 (float32 squares of a vanishing gradient are
    subnormal, and flushed to 0), a few hundred steps at a time so a T = 10 000, H = 1024 trace
    never needs a float64 copy of itself."""
    out = np.empty(g.shape[:-1], dtype=np.float64)
    step = max(1, (1 << 22) // max(1, g.shape[2] * g.shape[3]))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(0, g.shape[1], step):
            out[:, t:t + step] = np.log10(np.linalg.norm(g[:, t:t + step].astype(np.float64), axis=-1))
    return out


def graph_numbers(trace) -> dict:
    """What the unrolled graph colours its states by, in the window and in exports: mean hₜ (and
    cₜ) over the units, (L*D, T, B), on the diverging map at ±``act_level`` (``c_level``) in the
    forward pass; log10 ‖∂L/∂hₜ‖ (and cₜ) per sample on the sequential map over ``grad_levels``
    in BPTT."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        mean_h = trace.hidden.mean(axis=3)
        mean_c = trace.cell.mean(axis=3) if trace.cell is not None else None
    grad_log = _log_norms(trace.grad_hidden)
    fin = grad_log[np.isfinite(grad_log)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (-8.0, 0.0)
    return {"mean_h": mean_h, "mean_c": mean_c, "act_level": finite_absmax(mean_h),
            "c_level": finite_absmax(mean_c) if mean_c is not None else 1.0, "grad_log": grad_log,
            "grad_c_log": _log_norms(trace.grad_cell) if trace.grad_cell is not None else None,
            "grad_levels": (lo, hi if hi > lo else lo + 1.0)}


def state_levels(*arrays) -> Levels:
    """Levels for h_t / c_t heatmaps: ±max|v| over all the runs shown together (whole trace, so
    animation frames keep one scale), log colours above :data:`LOG_ABOVE`."""
    m = finite_absmax(*arrays)
    return Levels(-m, m, m > LOG_ABOVE)


def gate_levels(cell: str, key: str, values=None) -> Levels:
    """Levels for a gate: its value range (σ gates 0..1, tanh candidates −1..1); an unbounded
    gate (a linear candidate) gets ±max|v| of ``values`` (the whole trace's, so k / b / frames agree)."""
    lo, hi = _gate(cell, key).value_range
    if math.isfinite(lo) and math.isfinite(hi):
        return Levels(float(lo), float(hi))
    m = finite_absmax(values)
    return Levels(-m, m)


# -- saturation --------------------------------------------------------------------------------

#: A σ gate is shut below SAT_LOW and open above SAT_HIGH; a tanh candidate is saturated when
#: |v| > SAT_HIGH (and near zero when |v| < SAT_LOW).
SAT_LOW = 0.1
SAT_HIGH = 0.9


def saturation_fractions(values, candidate: bool) -> tuple[np.ndarray, np.ndarray]:
    """Share of time steps each unit is low / high: (low, high), each (L*D, B, H) float32, from
    gate activations (L*D, T, B, H). Candidates use |v|. Non-finite values count as neither."""
    v = np.abs(values) if candidate else np.asarray(values)
    with np.errstate(invalid="ignore"):
        low = (v < SAT_LOW).mean(axis=1)
        high = (v > SAT_HIGH).mean(axis=1)
    return low.astype(np.float32), high.astype(np.float32)


def gate_saturation(trace) -> dict[str, np.ndarray]:
    """Per gate, the (T,) share of activations (all rows k, whole batch) that are saturated:
    σ gates below :data:`SAT_LOW` or above :data:`SAT_HIGH`; tanh candidates with |v| > SAT_HIGH."""
    out = {}
    for g in trace_gates(trace):
        a = np.asarray(trace.gates[g.key], dtype=np.float64)
        with np.errstate(invalid="ignore"):
            sat = np.abs(a) > SAT_HIGH if g.candidate else (a < SAT_LOW) | (a > SAT_HIGH)
        out[g.key] = sat.mean(axis=(0, 2, 3))
    return out


# -- names of runs -------------------------------------------------------------------------------

def run_title(trace) -> str:
    """One line describing the run: cell, activation / init, task, sizes, loss."""
    cfg = trace.config
    spec = _spec(trace.cell_type)
    bits = [cell_display(trace.cell_type)]
    if spec is None or spec.uses_activation:
        bits.append(str(cfg.get("activation", "tanh")))
    if cfg.get("init", "default") != "default":
        bits.append(f"{cfg.get('init')} init")
    if cfg.get("forget_bias") is not None and spec is not None and spec.forget_bias_gate is not None:
        bits.append(f"forget bias {cfg['forget_bias']:g}")
    if trace.meta.get("task"):
        bits.append(f"task {trace.meta['task']}")
    bits.append(f"T={trace.seq_len}, H={trace.hidden_size}")
    if trace.num_layers > 1 or trace.num_directions > 1:
        bits.append(f"{trace.num_layers} layer(s){' bidirectional' if trace.num_directions == 2 else ''}")
    kept = kept_text(trace)
    if kept:
        bits.append(kept)
    if math.isfinite(trace.loss):
        bits.append(f"loss {trace.loss:.4g}")
    return " · ".join(bits)


def kept_text(trace) -> str:
    """"samples 0–3 of 16 kept" when a recording kept only some samples to bound memory, else ""."""
    kept, batch = trace.kept_samples, trace.recorded_batch_size
    if len(kept) >= batch:
        return ""
    runs, start = [], 0
    for i in range(1, len(kept) + 1):  # consecutive indices as ranges
        if i == len(kept) or kept[i] != kept[i - 1] + 1:
            runs.append(f"{kept[start]}" if i - 1 == start else f"{kept[start]}–{kept[i - 1]}")
            start = i
    return f"sample{'s' if len(kept) > 1 else ''} {', '.join(runs)} of {batch} kept"


def run_label(trace, fallback: str = "this run") -> str:
    """A run's short name: ``trace.meta["label"]`` (lessons and compare set it), else ``fallback``."""
    meta = (trace.meta if trace is not None else None) or {}
    return str(meta.get("label") or fallback)


def with_cell(label: str, cell: str) -> str:
    """``label (LSTM)`` unless the label already names the cell."""
    name = cell_display(cell)
    return label if name.lower() in label.lower() else f"{label} ({name})"


# -- NaN / Inf -----------------------------------------------------------------------------------

def bad_runs(mask) -> list[tuple[int, int]]:
    """Runs of True in a 1-D bool mask as inclusive 0-based (start, end) pairs."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return []
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def steps_text(runs: list[tuple[int, int]], limit: int = 4) -> str:
    """'3–7, 12' style text of 0-based runs, shown 1-based like the notes."""
    parts = [f"{a + 1}" if a == b else f"{a + 1}–{b + 1}" for a, b in runs[:limit]]
    if len(runs) > limit:
        parts.append("…")
    return ", ".join(parts)


def nonfinite_steps(array, time_axis: int = 1) -> np.ndarray:
    """(T,) bool: the steps where ``array`` (L*D, T, B, H) has any NaN/Inf."""
    a = np.asarray(array)
    other = tuple(i for i in range(a.ndim) if i != time_axis % a.ndim)
    return ~np.isfinite(a).all(axis=other)


def fmt_number(x) -> str:
    """4 significant digits; NaN / ±Inf spelled out; "–" for None."""
    if x is None:
        return "–"
    x = float(x)
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("+Inf" if x > 0 else "-Inf")
    return f"{x:.4g}"


def _steps(mask) -> str:
    idx = np.flatnonzero(mask)
    return f"t = {idx[0] + 1}" if idx.size == 1 else f"t = {idx[0] + 1}–{idx[-1] + 1}"


def nonfinite_summary(trace) -> str:
    """One line saying where a trace has NaN/Inf: states (forward) and gradients (BPTT) apart."""
    states = nonfinite_steps(trace.hidden)
    if trace.cell is not None:
        states |= nonfinite_steps(trace.cell)
    grads = nonfinite_steps(trace.grad_hidden)
    parts = []
    if states.any():
        parts.append(f"states NaN/Inf at {_steps(states)}")
    if grads.any():
        parts.append(f"∂L/∂h NaN/Inf at {grads.sum()} of {trace.seq_len} steps")
    if not parts and trace.nonfinite and kept_text(trace):
        parts.append("NaN/Inf in samples that were not kept")
    if not parts:
        parts.append(f"loss {fmt_number(trace.loss)}, gradient norm {fmt_number(trace.grad_norm)}")
    return " · ".join(parts)
