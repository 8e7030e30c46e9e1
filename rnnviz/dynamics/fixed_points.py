"""Fixed points and their stability: where does the hidden state rest, and how does it leave?

Following Sussillo & Barak (2013) and Golub & Sussillo's FixedPointFinder (2018): for a constant
input x, minimise q(s) = ½‖F(s, x) − s‖² from many starting states sampled along trajectories,
all at once (one batched tensor on the model's device): Adam first, then damped Gauss–Newton
(Levenberg–Marquardt) steps that converge quadratically onto true fixed points — stable ones and
saddles alike. The distinct points are linearised (J = ∂F/∂s) and classified by eigenvalues:
|λ| > 1 is an unstable mode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnviz.dynamics.step import step_map
from rnnviz.dynamics.trajectory import _check_model, trajectories

KINDS = ("stable", "saddle", "unstable")


@dataclass
class FixedPoints:
    """Distinct fixed points of s = F(s, x_const) for one layer-direction, most exact first.

    points (P, S)  q (P,) = ½‖F(s) − s‖²  jacobians (P, S, S)
    eigvals (P, S) complex, largest |λ| first; eigvecs (P, S, S) complex, column j ↔ eigvals[:, j]
    n_unstable (P,) modes with |λ| > 1;  kinds: "stable" | "saddle" | "unstable" (all modes out)
    The state is h, or [h, c] for the LSTM (S = 2H).
    """

    cell: str
    hidden_size: int
    x_const: np.ndarray
    points: np.ndarray
    q: np.ndarray
    jacobians: np.ndarray
    eigvals: np.ndarray
    eigvecs: np.ndarray
    n_unstable: np.ndarray
    kinds: list[str]
    layer: int = 0
    direction: int = 0
    n_starts: int = 0
    seconds: float = 0.0
    start_q: np.ndarray = field(default_factory=lambda: np.zeros(0))  # q of every start at the end

    def __len__(self) -> int:
        return len(self.points)

    def count(self, kind: str) -> int:
        """How many points are of ``kind`` ("stable", "saddle" or "unstable")."""
        return sum(k == kind for k in self.kinds)

    def unstable_directions(self, i: int) -> np.ndarray:
        """(n_unstable, S) unit vectors along point i's unstable modes (real parts of eigenvectors)."""
        n = int(self.n_unstable[i])
        v = np.real(self.eigvecs[i][:, :n]).T
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-300)

    def summary(self) -> str:
        """One line: how many of each kind, e.g. '8 stable, 12 saddles (1 unstable mode)'."""
        parts = [f"{self.count('stable')} stable"]
        saddles = [int(n) for n, k in zip(self.n_unstable, self.kinds, strict=True) if k == "saddle"]
        if saddles:
            modes = ", ".join(f"{saddles.count(m)}×{m}" for m in sorted(set(saddles)))
            parts.append(f"{len(saddles)} saddle{'s' * (len(saddles) != 1)} (unstable modes {modes})")
        if self.count("unstable"):
            parts.append(f"{self.count('unstable')} unstable")
        return ", ".join(parts) + f" — from {self.n_starts} starts in {self.seconds:.2f} s"


def _q(F, s, u):
    r = F(s, u) - s
    return 0.5 * (r * r).sum(-1), r


def _starts(model, F, x, states, n_starts, noise, rng, layer, direction, u, settle):
    if states is None:
        if x is None:
            raise ValueError("fixed_points needs starting states: pass x (a batch the network runs on) "
                             "or states (N, S)")
        tr = trajectories(model, x, dtype=F.dtype)[layer * model.cfg.num_directions + direction]
        states = tr.states.reshape(-1, F.state_size)
    states = torch.as_tensor(states, dtype=F.dtype, device=F.device).reshape(-1, F.state_size)
    pick = torch.as_tensor(rng.integers(0, len(states), size=n_starts), device=F.device)
    s0 = states[pick]
    spread = states.std(0).mean().clamp_min(1e-3)
    noise_t = torch.as_tensor(rng.standard_normal(s0.shape), dtype=F.dtype, device=F.device)
    s0 = s0 + noise * spread * noise_t
    # half the starts first follow the network itself under the constant input: stable points
    # attract them, so even memories held by very slow modes get a start close by
    half = n_starts // 2
    with torch.no_grad():
        for _ in range(settle if half else 0):
            s0[:half] = F(s0[:half], u[:half])
    return s0


def _refine(F, s, u, iters: int, q_tol: float):
    """Damped Newton on F(s) − s = 0 with a batched backtracking line search, per point.

    Trained networks have slow modes (|λ| ≈ 0.999): their fixed points sit at the end of long,
    nearly flat valleys of q that gradient steps crawl along, where Newton's step crosses them in
    a few dozen iterations. Points that converged or stopped improving drop out of the batch.
    """
    S = s.shape[1]
    eye = torch.eye(S, dtype=s.dtype, device=s.device)
    alphas = 0.5 ** torch.arange(16, dtype=s.dtype, device=s.device)  # 1, 1/2, … 1/32768
    q, r = _q(F, s, u)
    stalled = torch.zeros(len(s), dtype=torch.long, device=s.device)
    for _ in range(iters):
        active = torch.nonzero((q >= q_tol) & (stalled < 3)).flatten()
        if not len(active):
            break
        sa, ua, ra, qa = s[active], u[active], r[active], q[active]
        A = F.jacobian(sa, ua) - eye  # ∂(F(s) − s)/∂s
        At = A.transpose(1, 2)
        # Gauss–Newton with a whisper of damping: exact Newton where A is invertible, finite where not
        damp = 1e-12 * (A * A).sum((1, 2)).clamp_min(1e-300)
        step = torch.linalg.solve(At @ A + damp[:, None, None] * eye, -(At @ ra.unsqueeze(2))).squeeze(2)
        n, k = len(active), len(alphas)
        trial = sa[:, None, :] + alphas[None, :, None] * step[:, None, :]  # (n, k, S)
        qt, rt = _q(F, trial.reshape(n * k, S), ua.repeat_interleave(k, 0))
        qt, rt = qt.view(n, k), rt.view(n, k, S)
        best = torch.argmin(qt, dim=1)
        qb = qt[torch.arange(n), best]
        better = qb < qa
        pick = torch.arange(n, device=s.device)
        s[active] = torch.where(better[:, None], trial[pick, best], sa)
        r[active] = torch.where(better[:, None], rt[pick, best], ra)
        q[active] = torch.where(better, qb, qa)
        stalled[active] = torch.where(better & (qb < 0.999 * qa), 0, stalled[active] + 1)
    return s, q


def _distinct(points: np.ndarray, q: np.ndarray, tol: float) -> list[int]:
    """Indices of distinct points (greedy, most exact first): none closer than ``tol`` to another."""
    keep: list[int] = []
    for i in np.argsort(q, kind="stable"):
        if all(np.linalg.norm(points[i] - points[j]) > tol for j in keep):
            keep.append(int(i))
    return keep


def fixed_points(model, x_const=None, *, x=None, states=None, n_starts: int = 256, noise: float = 0.05,
                 layer: int = 0, direction: int = 0, adam_steps: int = 300, lr: float = 0.01,
                 newton_steps: int = 60, settle: int = 200, q_tol: float = 1e-12, unique_tol: float = 1e-3,
                 seed: int = 0, dtype: torch.dtype = torch.float64) -> FixedPoints:
    """Find the fixed points of one layer-direction under the constant input ``x_const``.

    x_const  the layer's input held constant: None = zeros, else a vector of the layer's input size
    x        a batch (T, B, I) whose trajectories give the starting states; or ``states`` (N, S)
    n_starts starting states drawn from them, each moved by Gaussian ``noise`` × the states' spread;
             half of them then run ``settle`` steps of the network under ``x_const`` first
    q_tol    points with q below it are fixed points; ``unique_tol`` merges points closer than it
    Everything runs on the model's device, all starts as one batch.
    """
    _check_model(model)
    t0 = time.perf_counter()
    F = step_map(model, layer, direction, dtype)
    if x_const is None:
        u0 = torch.zeros(F.input_size, dtype=dtype, device=F.device)
    else:
        u0 = torch.as_tensor(np.asarray(x_const, dtype=np.float64), dtype=dtype, device=F.device).reshape(-1)
        if u0.numel() != F.input_size:
            raise ValueError(f"x_const must have {F.input_size} values (the layer's input size), "
                             f"got {u0.numel()}")
    rng = np.random.default_rng(seed)
    n_starts = int(n_starts)
    if n_starts < 1:
        raise ValueError(f"n_starts must be at least 1, got {n_starts}")
    u = u0.expand(n_starts, -1)
    s = _starts(model, F, x, states, n_starts, noise, rng, layer, direction, u, settle).clone().requires_grad_(True)
    opt = torch.optim.Adam([s], lr=lr)
    with torch.enable_grad():
        for _ in range(adam_steps):
            opt.zero_grad(set_to_none=True)
            q, _ = _q(F, s, u)
            q.sum().backward()  # the starts are independent: the sum's gradient is each one's own
            opt.step()
    with torch.no_grad():
        s, q = _refine(F, s.detach().clone(), u, newton_steps, q_tol)
    ok = (q < q_tol).cpu().numpy()
    pts_all, q_all = s.cpu().numpy(), q.cpu().numpy()
    cand = np.flatnonzero(ok)
    keep = cand[_distinct(pts_all[cand], q_all[cand], unique_tol)] if len(cand) else cand
    pts = torch.as_tensor(pts_all[keep], dtype=dtype, device=F.device)
    S = F.state_size
    if len(keep):
        J = F.jacobian(pts, u0.expand(len(keep), -1))
        lam, vec = torch.linalg.eig(J)
        order = torch.argsort(lam.abs(), dim=1, descending=True)
        lam = torch.gather(lam, 1, order)
        vec = torch.gather(vec, 2, order[:, None, :].expand(-1, S, -1))
        J, lam, vec = J.cpu().numpy(), lam.cpu().numpy(), vec.cpu().numpy()
    else:
        J, lam, vec = np.zeros((0, S, S)), np.zeros((0, S), complex), np.zeros((0, S, S), complex)
    n_uns = (np.abs(lam) > 1.0).sum(axis=1) if len(keep) else np.zeros(0, int)
    kinds = ["stable" if n == 0 else "unstable" if n == S else "saddle" for n in n_uns]
    return FixedPoints(F.cell, F.hidden_size, u0.cpu().numpy(), pts_all[keep], q_all[keep], J, lam, vec,
                       n_uns, kinds, layer, direction, n_starts, time.perf_counter() - t0, q_all)
