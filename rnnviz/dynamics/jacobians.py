"""Why the gradient vanishes: the Jacobians ∂s_t/∂s_{t-1} along a trajectory.

Backpropagation through time multiplies these matrices: with the loss at the last step only,
∂L/∂s_t = J_{t+1}ᵀ ⋯ J_Tᵀ ∂L/∂s_T. So the singular values of each J_t (a band over time) and
the largest singular value of the product ∂s_T/∂s_t say how much of the gradient can reach step
t — the gradient's fate, computed from the dynamics alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.cells import get_cell
from rnnviz.dynamics.trajectory import trajectories

CHUNK_BYTES = 1 << 27  # Jacobians held at once per layer-direction (128 MiB)


@dataclass
class Jacobians:
    """Jacobians of one run, per layer-direction k (k = layer * D + direction).

    singular_values (K, T, B', S)  σ_1 ≥ … ≥ σ_S of J_t = ∂s_t/∂s_{t-1}, per step and sample
    product_log10   (K, T, B')     log10 σ_max(∂s_end/∂s_t): end = the direction's last step
                                   (T-1 forward, 0 backward); 0 at the end itself
    matrices        (K, T, B', S, S) the J_t themselves, only with ``keep=True``
    samples         the batch indices B' they were computed for
    state           "h", or "h,c" for the LSTM (S = 2H: the state is the concatenation)

    J_t at a direction's first step is taken with respect to the zero initial state.
    """

    cell: str
    hidden_size: int
    samples: list[int]
    singular_values: np.ndarray
    product_log10: np.ndarray
    matrices: np.ndarray | None = None
    directions: int = 1

    @property
    def state(self) -> str:
        return "h,c" if get_cell(self.cell).has_cell_state else "h"

    def backprop(self, grad_end: np.ndarray, k: int = 0) -> np.ndarray:
        """∂L/∂s_t for every step from ∂L/∂s at the direction's last step, by Jacobian products.

        grad_end (B', S) → (T, B', S). Needs ``keep=True``. For the LSTM the state is [h, c] and
        the c half is ∂L/∂c_t with h_t held fixed (the h half is the total ∂L/∂h_t).
        """
        if self.matrices is None:
            raise ValueError("backprop needs the Jacobian matrices: call jacobians(..., keep=True)")
        J = self.matrices[k]
        T = J.shape[0]
        backward = k % self.directions == 1
        g = np.empty((T, *np.shape(grad_end)), dtype=np.float64)
        order = list(range(T)) if backward else list(reversed(range(T)))
        cur = np.asarray(grad_end, dtype=np.float64)
        for i, t in enumerate(order):
            if i:
                prev_t = order[i - 1]  # the step whose Jacobian leads from s_t to s_prev_t
                cur = np.einsum("bij,bi->bj", J[prev_t], cur)
            g[t] = cur
        return g


def jacobians(source, x=None, *, model=None, samples=None, keep: bool = False,
              dtype: torch.dtype = torch.float64) -> Jacobians:
    """Jacobians ∂s_t/∂s_{t-1} along the trajectory of ``source`` for every layer-direction.

    ``source``: a model with its input ``x`` (T, B, I), or a Trace with ``model=`` the model
    that made it. ``samples``: batch indices to analyse (default all; the singular values cost
    one SVD per step and sample). ``keep``: also return the matrices (T·B'·S² numbers each).
    Layers above the first are taken with their input (the layer below) held fixed.
    """
    trajs = trajectories(source, x, model=model, dtype=dtype)
    B = trajs[0].states.shape[1]
    samples = list(range(B)) if samples is None else [int(b) for b in samples]
    if not samples or any(not 0 <= b < B for b in samples):
        raise ValueError(f"samples must be batch indices in [0, {B}); got {samples}")
    svals, prods, mats = [], [], []
    for tr in trajs:
        sv, pl, m = _one(tr, samples, keep)
        svals.append(sv)
        prods.append(pl)
        mats.append(m)
    step = trajs[0].step
    directions = 2 if len(trajs) > 1 and trajs[1].step.direction == 1 else 1
    return Jacobians(step.cell, step.hidden_size, samples, np.stack(svals), np.stack(prods),
                     np.stack(mats) if keep else None, directions)


def _one(tr, samples, keep):
    """Singular values, log10 product norms and (optionally) matrices of one layer-direction."""
    step = tr.step
    idx = torch.as_tensor(samples, device=tr.states.device)
    prev, inp = tr.prev[:, idx], tr.inputs[:, idx]  # (T, B', S), (T, B', I)
    T, Bs, S = prev.shape
    backward = step.direction == 1
    chunk = max(1, CHUNK_BYTES // (Bs * S * S * 8))
    svals = np.empty((T, Bs, S))
    plog = np.empty((T, Bs))
    mats = np.empty((T, Bs, S, S)) if keep else None
    # walk time from the direction's end towards its start, carrying G_t = ∂s_end/∂s_t = Ĝ·10^scale
    order = list(range(T)) if backward else list(reversed(range(T)))
    G = torch.eye(S, dtype=prev.dtype, device=prev.device).expand(Bs, S, S).clone()
    scale = torch.zeros(Bs, dtype=torch.float64, device=prev.device)
    for a in range(0, T, chunk):
        ts = order[a:a + chunk]
        tt = torch.as_tensor(ts, device=prev.device)
        J = step.jacobian(prev[tt].reshape(-1, S), inp[tt].reshape(len(ts) * Bs, -1)).view(len(ts), Bs, S, S)
        svals[ts] = torch.linalg.svdvals(J).cpu().numpy()
        if keep:
            mats[ts] = J.cpu().numpy()
        Gs, scales = [], []
        for i in range(len(ts)):
            Gs.append(G)
            scales.append(scale)
            G = G @ J[i]  # ∂s_end/∂s_{t-1} = ∂s_end/∂s_t · J_t
            # renormalise the carried product so long runs neither overflow nor underflow;
            # an exactly zero product (a dead ReLU network) stays zero with log10 0 = -inf
            fro = torch.linalg.matrix_norm(G)
            G = G / fro.clamp_min(torch.finfo(G.dtype).tiny)[:, None, None]
            scale = scale + torch.log10(fro)
        sig = torch.linalg.matrix_norm(torch.stack(Gs), ord=2)  # (n, B')
        plog[ts] = (torch.stack(scales) + torch.log10(sig)).cpu().numpy()
    return svals, plog, mats
