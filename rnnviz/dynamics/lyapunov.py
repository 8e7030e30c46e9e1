"""Lyapunov exponents and the edge of chaos.

The largest Lyapunov exponents say how fast nearby states separate (λ > 0: chaos, tiny
differences explode) or merge (λ < 0: the network forgets where it came from). The QR method
(Benettin et al. 1980) carries k orthonormal tangent vectors along the trajectory,
Q_t R_t = J_t Q_{t-1}, and averages log |diag R_t|. For a random tanh network with W_hh of gain g
the largest exponent crosses zero near g = 1, as mean-field theory predicts for large networks —
the same gain where gradients neither vanish nor explode.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.config import ModelConfig
from rnnviz.core.model import build_model
from rnnviz.dynamics.step import step_map
from rnnviz.dynamics.trajectory import _check_model


@dataclass
class Lyapunov:
    """exponents (k,) natural log per step, largest first, averaged over the trajectories;
    per_trajectory (n, k); running (steps,) the largest exponent's running estimate (mean)."""

    exponents: np.ndarray
    per_trajectory: np.ndarray
    running: np.ndarray
    steps: int
    burn_in: int
    seconds: float

    @property
    def largest(self) -> float:
        return float(self.exponents[0])


def _inputs(F, x_const, x, n, steps, burn_in):
    """The input u_t at every step (burn_in + steps, n, I): constant, or a given sequence."""
    if x is not None:
        x = torch.as_tensor(x, dtype=F.dtype, device=F.device)
        if x.dim() != 3 or x.shape[2] != F.input_size:
            raise ValueError(f"x must be (T, B, {F.input_size}); got {tuple(x.shape)}")
        return x, x.shape[1], x.shape[0] - burn_in
    u = torch.zeros(F.input_size, dtype=F.dtype, device=F.device) if x_const is None else \
        torch.as_tensor(np.asarray(x_const, dtype=np.float64), dtype=F.dtype, device=F.device).reshape(-1)
    if u.numel() != F.input_size:
        raise ValueError(f"x_const must have {F.input_size} values, got {u.numel()}")
    return u.expand(burn_in + steps, n, -1), n, steps


def _rnn_tangent(weights, activation):
    """F and J·V for SimpleRNN cells written out: J = diag(f'(a)) W_hh, no autograd overhead.

    ``weights`` may carry a leading model axis G (W_hh (G, S, S)) with states (G, n, S) and
    tangents (G, n, S, k): a whole gain sweep then advances as one batch.
    """
    W_xh, W_hh, b_xh, b_hh = weights

    def step(s, u, V):
        # [W_hh s | W_hh V] for every trajectory as one product with the S axis first: a single
        # pass over W_hh (broadcasting it over the n trajectories would copy it each step)
        n, S, k = V.shape[-3:]
        X = torch.cat([s.unsqueeze(-1), V], dim=-1).transpose(-3, -2).reshape(*V.shape[:-3], S, n * (k + 1))
        WX = (W_hh @ X).reshape(*V.shape[:-3], S, n, k + 1).transpose(-3, -2)  # (…, n, S, k+1)
        a = WX[..., 0] + u @ W_xh.transpose(-1, -2) + (b_xh + b_hh).unsqueeze(-2)
        WV = WX[..., 1:]
        if activation == "tanh":
            out = torch.tanh(a)
            return out, (1 - out * out).unsqueeze(-1) * WV
        if activation == "relu":
            return torch.relu(a), (a > 0).to(a.dtype).unsqueeze(-1) * WV
        return a, WV

    return step


def _tangent_step(F):
    return _rnn_tangent(F.weights, F.activation) if F.cell == "rnn" else F.jvp


def _qr_run(tangent, s, u, Q, burn_in: int, steps: int):
    """Burn in, then carry Q along: returns the summed log |diag R| (…, k) and the running largest."""
    sums = torch.zeros(*Q.shape[:-2], Q.shape[-1], dtype=Q.dtype, device=Q.device)
    running = np.empty(steps)
    zero = torch.zeros_like(Q[..., :1])
    with torch.no_grad():
        for t in range(burn_in):
            s, _ = tangent(s, u[t], zero)
        for t in range(steps):
            s, JQ = tangent(s, u[burn_in + t], Q)
            Q, R = torch.linalg.qr(JQ)
            sums += torch.log(R.diagonal(dim1=-2, dim2=-1).abs())
            running[t] = float(sums[..., 0].mean()) / (t + 1)
    return sums, running


def lyapunov(model, x_const=None, *, x=None, k: int = 4, steps: int = 400, burn_in: int = 200,
             n_trajectories: int = 4, init_scale: float = 0.5, layer: int = 0, direction: int = 0,
             seed: int = 0, dtype: torch.dtype = torch.float64) -> Lyapunov:
    """The k largest Lyapunov exponents of one layer-direction by the QR method.

    Autonomous by default: the input is held at ``x_const`` (None = zeros) and
    ``n_trajectories`` random initial states (normal × ``init_scale``) run ``burn_in`` steps onto
    the attractor before ``steps`` steps are averaged. With ``x`` (T, B, I) the network is driven
    by that sequence instead (B trajectories, the first ``burn_in`` steps discarded).
    """
    _check_model(model)
    t0 = time.perf_counter()
    F = step_map(model, layer, direction, dtype)
    S = F.state_size
    k = int(min(max(1, k), S))
    u, n, steps = _inputs(F, x_const, x, int(n_trajectories), int(steps), int(burn_in))
    if steps < 1:
        raise ValueError(f"need at least one step after the burn-in of {burn_in}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    s = (init_scale * torch.randn(n, S, generator=gen, dtype=dtype)).to(F.device)
    Q = torch.linalg.qr(torch.randn(n, S, k, generator=gen, dtype=dtype))[0].to(F.device)
    sums, running = _qr_run(_tangent_step(F), s, u, Q, burn_in, steps)
    per = (sums / steps).cpu().numpy()
    per = -np.sort(-per, axis=1)  # QR's diagonal is ordered by growth only on average
    return Lyapunov(per.mean(0), per, running, steps, burn_in, time.perf_counter() - t0)


@dataclass
class LyapunovSweep:
    """gains (G,), largest (G,) exponent per gain, exponents (G, k), seconds for the sweep.

    Trainability beside it: ``grad_log10`` (G,) = log10 ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ for a loss at the
    last of ``grad_steps`` steps, the network driven by random inputs as in training (mean over
    the trajectories): how much of the gradient BPTT carries back to the first step — below
    about −3 a memory task cannot learn from it (vanishing), far above 0 updates blow up
    (exploding)."""

    gains: np.ndarray
    largest: np.ndarray
    exponents: np.ndarray
    seconds: float
    hidden_size: int
    cell: str
    grad_log10: np.ndarray | None = None
    grad_steps: int = 0

    def crossing(self) -> float:
        """The gain where the largest exponent crosses zero (linear interpolation; NaN if none)."""
        g, lam = self.gains, self.largest
        for i in range(len(g) - 1):
            if lam[i] < 0 <= lam[i + 1]:
                return float(g[i] + (g[i + 1] - g[i]) * (-lam[i]) / (lam[i + 1] - lam[i]))
        return float("nan")


def gradient_reach(step, s1: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """log10 ‖∂L/∂s_1‖ / ‖∂L/∂s_T‖ per trajectory for L = v·s_T, s_{t+1} = step(s_t, u_t) driven by
    the inputs ``u`` (T − 1, …, I): the part of the last step's gradient BPTT carries back to s_1."""
    s1 = s1.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        s = s1
        for t in range(len(u)):
            s = step(s, u[t])
        (g,) = torch.autograd.grad((s * v).sum(), s1)
    return torch.log10(g.norm(dim=-1) / v.norm(dim=-1))


def lyapunov_sweep(gains=None, *, hidden_size: int = 256, cell: str = "rnn", init: str = "xavier",
                   k: int = 1, steps: int = 300, burn_in: int = 200, n_trajectories: int = 4,
                   grad_steps: int = 100, seed: int = 0, device: str = "cpu") -> LyapunovSweep:
    """The largest Lyapunov exponent of the autonomous random network against the gain of W_hh,
    and beside it the network's trainability: the BPTT gradient's reach over ``grad_steps``
    steps of random input (:func:`gradient_reach`; see :class:`LyapunovSweep`).

    One network per gain, all from the same seed (so with ``init="xavier"`` W_hh = g·W: only the
    gain changes), zero input and zero biases. Default gains: 15 from 0.5 to 2.0.
    """
    gains = np.linspace(0.5, 2.0, 15) if gains is None else np.asarray(gains, dtype=float).reshape(-1)
    if not len(gains) or not np.all(np.isfinite(gains)) or np.any(gains <= 0):
        raise ValueError("gains must be positive, finite numbers")
    t0 = time.perf_counter()
    models = [build_model(ModelConfig(cell=cell, input_size=1, hidden_size=hidden_size, output_size=1,
                                      init=init, init_scale=float(g), seed=seed), device) for g in gains]
    gen = torch.Generator(device="cpu").manual_seed(seed + 1)
    x = torch.randn(max(1, int(grad_steps)), n_trajectories, 1, generator=gen, dtype=torch.float64)  # as in training
    if cell == "rnn":  # every gain in one batch: the same steps, G times wider
        maps = [step_map(m) for m in models]
        weights = tuple(torch.stack([F.weights[i] for F in maps]) for i in range(4))
        F0, G, S = maps[0], len(gains), maps[0].state_size
        gen = torch.Generator(device="cpu").manual_seed(seed)
        s = (0.5 * torch.randn(n_trajectories, S, generator=gen, dtype=F0.dtype)).to(F0.device)
        Q = torch.linalg.qr(torch.randn(n_trajectories, S, k, generator=gen, dtype=F0.dtype))[0].to(F0.device)
        u = torch.zeros(burn_in + steps, G, n_trajectories, 1, dtype=F0.dtype, device=F0.device)
        tangent = _rnn_tangent(weights, F0.activation)
        sums, _ = _qr_run(tangent, s.expand(G, -1, -1).clone(), u, Q.expand(G, -1, -1, -1).clone(), burn_in, steps)
        per = -np.sort(-(sums / steps).cpu().numpy(), axis=2)  # (G, n, k)
        rows = list(per.mean(1))
        none = torch.zeros(G, n_trajectories, S, 0, dtype=F0.dtype, device=F0.device)

        def step(s, u):
            return tangent(s, u, none)[0]

        xs = x.to(F0.device).unsqueeze(1).expand(-1, G, -1, -1)  # (T, G, n, 1): the same inputs for every gain
        s1 = step(torch.zeros(G, n_trajectories, S, dtype=F0.dtype, device=F0.device), xs[0])
        vs = torch.randn(n_trajectories, S, generator=gen, dtype=F0.dtype).to(F0.device).expand(G, -1, -1)
        reach = gradient_reach(step, s1, xs[1:], vs).mean(-1).cpu().numpy()
    else:
        rows, reach = [], []
        for m in models:
            rows.append(lyapunov(m, k=k, steps=steps, burn_in=burn_in, n_trajectories=n_trajectories,
                                 seed=seed).exponents)
            F = step_map(m)
            xs = x.to(F.device)
            s1 = F(torch.zeros(n_trajectories, F.state_size, dtype=F.dtype, device=F.device), xs[0])
            vs = torch.randn(n_trajectories, F.state_size, generator=gen, dtype=F.dtype).to(F.device)
            reach.append(float(gradient_reach(F, s1, xs[1:], vs).mean()))
        reach = np.asarray(reach)
    ex = np.stack(rows)
    return LyapunovSweep(gains, ex[:, 0], ex, time.perf_counter() - t0, hidden_size, cell, reach, int(grad_steps))
