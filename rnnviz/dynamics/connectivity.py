"""Memory reach: the connectivity matrix ‖∂y_t/∂x_s‖ (output step × input step).

Row t says how strongly each input step s still moves the output at step t — the picture of
Distill's "Visualizing memorization in RNNs". A causal network has zeros above the diagonal
(s > t); a bidirectional one does not. Any cell: the derivatives come from autograd through the
model's own forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.dynamics.trajectory import _check_model

BUDGET = 1 << 28  # bytes of activations per chunk of output steps (the batch is replicated per step)


@dataclass
class Connectivity:
    """per_sample (B, T_out, T_in) = ‖∂y_t/∂x_s‖ (Frobenius over output and input features);
    matrix (T_out, T_in) its mean over the batch."""

    per_sample: np.ndarray

    @property
    def matrix(self) -> np.ndarray:
        return self.per_sample.mean(0)

    def row(self, t: int, sample: int | None = None) -> np.ndarray:
        """How much each input step reaches output step t (one sample, or the batch mean)."""
        return (self.matrix if sample is None else self.per_sample[sample])[t]


def connectivity(model, x, *, steps=None) -> Connectivity:
    """‖∂y_t/∂x_s‖ for every output step t (or only ``steps``) and every input step s.

    x (T, B, I). Each output step's derivatives are computed on its own copy of the batch, many
    steps at once, so one backward pass per output unit covers a whole chunk of steps.
    """
    _check_model(model)
    cfg = model.cfg
    x = torch.as_tensor(x, dtype=torch.float32)
    if x.dim() != 3 or x.shape[2] != cfg.input_size:
        raise ValueError(f"x must be (T, B, {cfg.input_size}); got {tuple(x.shape)}")
    T, B, _ = x.shape
    x = x.to(model.device)
    steps = list(range(T)) if steps is None else [int(t) for t in steps]
    if any(not 0 <= t < T for t in steps):
        raise ValueError(f"steps must lie in [0, {T})")
    per_step = T * B * cfg.hidden_size * cfg.num_gates * cfg.num_layers * cfg.num_directions * 4 * 4
    chunk = max(1, min(len(steps), BUDGET // max(per_step, 1)))
    out = np.zeros((B, len(steps), T))
    for a in range(0, len(steps), chunk):
        ts = steps[a:a + chunk]
        c = len(ts)
        xr = x.repeat(1, c, 1).requires_grad_(True)  # (T, c·B, I): copy j answers for output step ts[j]
        with torch.enable_grad():
            y = model(xr).view(T, c, B, -1)
            picked = y[torch.as_tensor(ts, device=x.device), torch.arange(c, device=x.device)]  # (c, B, O)
            sq = torch.zeros(T, c, B, device=x.device)
            O = picked.shape[-1]
            for o in range(O):
                (g,) = torch.autograd.grad(picked[..., o].sum(), xr, retain_graph=o < O - 1)
                sq += g.view(T, c, B, -1).pow(2).sum(-1)
        out[:, a:a + c] = sq.sqrt().permute(2, 1, 0).cpu().numpy()
    return Connectivity(out)
