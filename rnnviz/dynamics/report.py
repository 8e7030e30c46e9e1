"""One dynamics analysis of a model on a batch — what ``rnnviz dynamics`` writes and draws.

:func:`analyse` gathers the phase portrait (states on their principal components), the fixed
points under zero input, the Jacobians along sample 0's trajectory with the BPTT gradient
norms beside them, the Lyapunov exponents of the autonomous network and the connectivity
matrix; :meth:`DynamicsReport.save_npz` writes it without pickle (through the atomic writer);
:func:`report_scene` draws it as one figure.
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass

import numpy as np

from rnnviz.core.record import record
from rnnviz.core.trace import Trace, atomic_write
from rnnviz.dynamics.connectivity import Connectivity, connectivity
from rnnviz.dynamics.fixed_points import FixedPoints, fixed_points
from rnnviz.dynamics.jacobians import Jacobians, jacobians
from rnnviz.dynamics.lyapunov import Lyapunov, LyapunovSweep, lyapunov
from rnnviz.dynamics.projection import Projection, pca

MAX_CONNECTIVITY_STEPS = 200  # the matrix is T×T and costs a backward pass per output step


@dataclass
class DynamicsReport:
    """Everything one ``rnnviz dynamics`` run computed (layer 0, forward direction)."""

    config: dict
    task: str
    trace: Trace
    projection: Projection | None
    fixed: FixedPoints
    jac: Jacobians
    lyap: Lyapunov
    conn: Connectivity
    sweep: LyapunovSweep | None = None  # the gain sweep, when asked for (``rnnviz dynamics --sweep``)

    def arrays(self) -> dict[str, np.ndarray]:
        """The report as named numpy arrays (no objects: the .npz loads without pickle)."""
        fp, pr = self.fixed, self.projection
        out = {
            "states_pc": pr.transform(self.trace_states()),  # (T, B, P)
            "pc_components": pr.components, "pc_mean": pr.mean, "pc_explained": pr.explained,
            "fixed_points": fp.points, "fixed_points_pc": pr.transform(fp.points), "fixed_q": fp.q,
            "fixed_eigvals": fp.eigvals, "fixed_n_unstable": fp.n_unstable,
            "fixed_kinds": np.asarray(fp.kinds, dtype="U8"),
            "jacobian_singular_values": self.jac.singular_values[0, :, 0],  # (T, S) of sample 0
            "jacobian_product_log10": self.jac.product_log10[0, :, 0],
            "grad_hidden_norm": self.trace.grad_hidden_norm[0],
            "lyapunov_exponents": self.lyap.exponents, "lyapunov_running": self.lyap.running,
            "meta_json": np.asarray(json.dumps({"config": self.config, "task": self.task,
                                                "summary": fp.summary()})),
        }
        out["connectivity"] = self.conn.matrix
        if self.sweep is not None:
            out.update(sweep_gains=self.sweep.gains, sweep_lyapunov_largest=self.sweep.largest,
                       sweep_grad_reach_log10=self.sweep.grad_log10)
        return out

    def trace_states(self) -> np.ndarray:
        """(T, B, S) states of layer 0 (h, or [h, c] for a cell with a cell state)."""
        h = self.trace.hidden[0]
        return h if self.trace.cell is None else np.concatenate([h, self.trace.cell[0]], axis=-1)

    def save_npz(self, path) -> None:
        """Write :meth:`arrays` as an .npz, atomically."""
        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays())
        data = buf.getvalue()
        atomic_write(path, lambda f: f.write(data))

    def summary(self) -> str:
        """One line: the fixed points, the largest Lyapunov exponent, the gradient's reach."""
        prod = self.jac.product_log10[0, 0, 0]
        out = (f"{self.fixed.summary()}; largest Lyapunov exponent {self.lyap.largest:+.3f} per step; "
               f"‖∂h_T/∂h_1‖ = 1e{prod:+.1f}")
        if self.sweep is not None:
            cross = self.sweep.crossing()
            out += (f"; gain sweep: λ_max crosses 0 at gain {cross:.2f}" if np.isfinite(cross)
                    else "; gain sweep: λ_max does not cross 0")
        return out


def analyse(model, batch, *, n_starts: int = 256, lyapunov_k: int = 4, connectivity_steps=None,
            seed: int = 0) -> DynamicsReport:
    """Record ``batch`` (a TaskBatch) through ``model`` and run every analysis on it."""
    x, y = batch.x, batch.y
    trace = record(model, x, y, loss=batch.loss, meta={"task": batch.name})
    fixed = fixed_points(model, x=x, n_starts=n_starts, seed=seed)
    jac = jacobians(trace, model=model, samples=[0])
    lyap = lyapunov(model, k=lyapunov_k, seed=seed)
    T = x.shape[0]
    steps = connectivity_steps
    if steps is None and T > MAX_CONNECTIVITY_STEPS:  # evenly spaced output steps keep it affordable
        steps = np.linspace(0, T - 1, MAX_CONNECTIVITY_STEPS).round().astype(int).tolist()
    conn = connectivity(model, x[:, :min(x.shape[1], 8)], steps=steps)
    report = DynamicsReport(asdict(model.cfg), batch.name, trace, None, fixed, jac, lyap, conn)
    report.projection = pca(report.trace_states())
    return report
