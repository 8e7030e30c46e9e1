"""The Trace: every number one recorded run produced, as numpy arrays.

Views and exporters only read Traces. Layer/direction index ``k = layer * D + direction``.
Files are ``.npz`` written without pickle, with the config and metadata embedded as JSON.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnviz.core.safeio import FileRefused, SafeZip
from rnnviz.core.safewrite import atomic_write
from rnnviz.core.trace_check import (
    ARRAYS,
    FORMAT,
    FORMAT_VERSION,
    SCALARS,
    Spec,
    TraceFileError,
    build_trace,
    check_layout,
    marker_and_config,
    read_trace,
)

__all__ = ["FORMAT", "FORMAT_VERSION", "Trace", "TraceFileError", "atomic_write"]

MAX_SPECTRUM_SIZE = 1024  # larger W_hh blocks get NaN spectra: an SVD of 8192² takes minutes


@dataclass
class Trace:
    """Inputs, states, gates and gradients of one forward + BPTT pass.

    inputs (T,B,I)  outputs (T,B,O)  targets (as given)  step_loss (T,) NaN where no target
    hidden, grad_hidden (L*D,T,B,H)  grad_hidden_norm (L*D,T) = ||dL/dh_t|| over the batch
    cell, grad_cell, grad_cell_norm: the LSTM's c_t and dL/dc_t (None for other cells)
    gates {name: (L*D,T,B,H)}  whh (L*D,G,H,H)  whh_singular (L*D,G,H)  whh_eigvals (L*D,G,H) complex
    loss, grad_norm (global, before clipping), grad_norm_clipped, clipped, nonfinite
    param_grad_norms {name: norm before clipping}  param_grad_norms_clipped {name: after}
    config (ModelConfig as dict)  meta (dict)

    B is the number of samples kept: a long recording may keep only some of the batch to bound
    memory (:attr:`kept_samples`, ``meta["kept_samples"]``); every per-sample array holds those,
    in that order, while the loss, step_loss, the gradient norms and the parameter gradient norms
    cover the whole batch recorded (:attr:`recorded_batch_size`).
    """

    inputs: np.ndarray
    outputs: np.ndarray
    targets: np.ndarray
    step_loss: np.ndarray
    hidden: np.ndarray
    grad_hidden: np.ndarray
    grad_hidden_norm: np.ndarray
    loss: float
    grad_norm: float
    grad_norm_clipped: float
    clipped: bool
    nonfinite: bool
    whh: np.ndarray | None = None  # (L*D, G, H, H) the recurrent weight blocks at record time
    cell: np.ndarray | None = None
    grad_cell: np.ndarray | None = None
    grad_cell_norm: np.ndarray | None = None
    gates: dict[str, np.ndarray] = field(default_factory=dict)
    param_grad_norms: dict[str, float] = field(default_factory=dict)
    param_grad_norms_clipped: dict[str, float] = field(default_factory=dict)  # after clipping
    config: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    # The spectrum of W_hh is derived from ``whh`` on first use: only the spectrum view wants it,
    # and at H=128 the eigenvalues alone cost more than the whole backward pass.
    @property
    def whh_singular(self) -> np.ndarray:
        """(L*D, G, H) singular values of each W_hh block, largest first (NaN if not finite)."""
        return self._spectrum("_singular", lambda b: np.linalg.svd(b, compute_uv=False), np.float32)

    @property
    def whh_eigvals(self) -> np.ndarray:
        """(L*D, G, H) complex eigenvalues of each W_hh block (NaN if not finite)."""
        return self._spectrum("_eigvals", np.linalg.eigvals, np.complex64)

    def _spectrum(self, key: str, fn, dtype) -> np.ndarray:
        cached = self.__dict__.get(key)
        if cached is None:
            K, G, H = self.whh.shape[:3] if self.whh is not None else (0, 0, 0)
            cached = np.full((K, G, H), np.nan, dtype=dtype)
            for k in range(K if H <= MAX_SPECTRUM_SIZE else 0):
                for g in range(G):
                    block = self.whh[k, g]
                    if np.isfinite(block).all():
                        cached[k, g] = fn(block.astype(np.float64))
            self.__dict__[key] = cached
        return cached

    # -- shape helpers --------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        return int(self.config.get("num_layers", 1))

    @property
    def num_directions(self) -> int:
        return 2 if self.config.get("bidirectional") else 1

    @property
    def seq_len(self) -> int:
        return self.hidden.shape[1]

    @property
    def batch_size(self) -> int:
        return self.hidden.shape[2]

    @property
    def kept_samples(self) -> list[int]:
        """The recorded batch's indices of the samples this trace holds, in order (every sample
        unless ``record`` kept some to bound memory: ``meta["kept_samples"]``)."""
        kept = self.meta.get("kept_samples")
        return [int(b) for b in kept] if kept is not None else list(range(self.batch_size))

    @property
    def recorded_batch_size(self) -> int:
        """The batch size recorded (``meta["batch_size"]``), which the loss and the per-step
        gradient norms cover; :attr:`batch_size` counts the samples kept."""
        return int(self.meta.get("batch_size", self.batch_size))

    @property
    def hidden_size(self) -> int:
        return self.hidden.shape[3]

    @property
    def cell_type(self) -> str:
        return str(self.config.get("cell", "rnn"))

    def index(self, layer: int, direction: int = 0) -> int:
        """Row k of the (L*D, ...) arrays for ``layer`` and ``direction``."""
        return layer * self.num_directions + direction

    def nonfinite_steps(self) -> np.ndarray:
        """(T,) bool: time steps where any state or gradient is NaN or ±Inf."""
        bad = ~np.isfinite(self.hidden).all(axis=(0, 2, 3)) | ~np.isfinite(self.grad_hidden).all(axis=(0, 2, 3))
        if self.cell is not None:
            bad |= ~np.isfinite(self.cell).all(axis=(0, 2, 3))
        return bad

    def series(self) -> dict[str, np.ndarray]:
        """Per-timestep 1-D series (for CSV export and plots), each of length T."""
        out = {"t": np.arange(1, self.seq_len + 1), "step_loss": self.step_loss}
        for k in range(self.grad_hidden_norm.shape[0]):
            out[f"grad_h_norm_k{k}"] = self.grad_hidden_norm[k]
            if self.grad_cell_norm is not None:
                out[f"grad_c_norm_k{k}"] = self.grad_cell_norm[k]
        return out

    # -- files ------------------------------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything as named numpy arrays (no objects), the npz layout."""
        arrays = {"format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION)}
        for name in ARRAYS:
            value = getattr(self, name)
            if value is not None:
                arrays[name] = np.asarray(value)
        for name in SCALARS:
            arrays[name] = np.array(getattr(self, name))
        for gate, value in self.gates.items():
            arrays[f"gate_{gate}"] = value
        arrays["param_names"] = np.array(list(self.param_grad_norms), dtype=str)
        arrays["param_grad_norm_values"] = np.array(list(self.param_grad_norms.values()), dtype=np.float64)
        arrays["param_grad_norm_clipped_values"] = np.array(
            [self.param_grad_norms_clipped.get(n, np.nan) for n in self.param_grad_norms], dtype=np.float64)
        arrays["config_json"] = np.array(json.dumps(self.config))
        arrays["meta_json"] = np.array(json.dumps(self.meta, default=_json_default))
        return arrays

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (.npz) atomically: a temporary file beside it, then a rename."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        atomic_write(path, lambda f: np.savez_compressed(f, **self.to_arrays()))
        return path

    @classmethod
    def from_arrays(cls, arrays, source: str = "<arrays>") -> Trace:
        """A Trace from the npz layout (a dict or an open npz), validated whole first."""
        try:
            keys = list(arrays.keys())  # in the order they were saved: gates keep the cell's block order
            layout = {k: Spec(np.shape(arrays[k]), np.asarray(arrays[k]).dtype) for k in keys}
            config = marker_and_config(lambda k: np.asarray(arrays[k]), layout, source)
            check_layout(layout, config, source)
            return build_trace(cls, {k: np.array(arrays[k]) for k in keys}, source)
        except FileRefused as exc:
            raise TraceFileError(str(exc)) from None

    @classmethod
    def load(cls, path: str | os.PathLike) -> Trace:
        """Read a trace written by :meth:`save`; damaged, foreign or hostile files raise TraceFileError.

        The whole file is checked before anything is allocated: it must be a regular file, a
        zip without repeated or escaping member names that expands to no more than its size
        and free memory allow; every array's header (dtype, shape) must fit the embedded config.
        Arrays are then read straight into their final buffers.
        """
        try:
            with SafeZip(path, what="an rnnviz trace (.npz)") as z:
                return read_trace(cls, z, str(path))
        except FileRefused as exc:
            raise TraceFileError(str(exc)) from None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
