"""GRU: relevance gate Γ_r, update gate Γ_u and the candidate h̃ (the notes' c̃; c = h)."""

from __future__ import annotations

import torch
from torch import nn

from rnnviz.core.cells.base import TANH_RANGE, CellSpec, GateSpec


def gru_step(x_t, h, weights, activation="tanh"):
    """One step: x_t (B, I), h (B, H) → (h_t (B, H), {r, z, n} each (B, H)).

    Γ_r = σ(·), z = σ(·) = 1 − Γ_u                    (PyTorch's z: the share of h_{t−1} kept)
    h̃_t = tanh(W_xn x_t + b_xn + Γ_r ⊙ (W_hn h_{t−1} + b_hn))
    h_t = (1 − z) ⊙ h̃_t + z ⊙ h_{t−1}  =  Γ_u ⊙ h̃_t + (1 − Γ_u) ⊙ h_{t−1}
    """
    W_xh, W_hh, b_xh, b_hh = weights
    xr, xz, xn = (x_t @ W_xh.T + b_xh).chunk(3, dim=1)  # (B, H) each
    hr, hz, hn = (h @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    h_new = (1 - z) * n + z * h
    return h_new, {"r": r, "z": z, "n": n}


SPEC = CellSpec(
    name="gru",
    display="GRU",
    gates=(
        GateSpec("r", "Γ_r", "relevance (reset) gate Γ_r"),
        # PyTorch's z multiplies h_{t−1}: it is the notes' 1 − Γ_u, so it gets its own symbol
        GateSpec("z", "Γ_z", "keep gate Γ_z = 1 − Γ_u (PyTorch z)"),
        GateSpec("n", "h̃", "candidate h̃_t", candidate=True, value_range=TANH_RANGE),
    ),
    step=gru_step,
    equations=(
        "Γ_r = σ(W_r [h_{t−1}, x_t] + b_r)",
        "Γ_u = σ(W_u [h_{t−1}, x_t] + b_u)",
        "h̃_t = tanh(W_xh x_t + b_xh + Γ_r ⊙ (W_hh h_{t−1} + b_hh))",
        "h_t = Γ_u ⊙ h̃_t + (1 − Γ_u) ⊙ h_{t−1}",
    ),
    torch_mapping=("torch.nn.GRU stacks its gate blocks as r, z, n: r = Γ_r, n = h̃_t (the notes' c̃; "
                   "the GRU's memory cell c is h itself). PyTorch writes h_t = (1 − z) ⊙ n + z ⊙ h_{t−1}, "
                   "so its z is the share of the old state kept: z = 1 − Γ_u (W_u = −W_z, b_u = −b_z). "
                   "The Gates view shows z as Γ_z. Γ_r multiplies W_hh h_{t−1} + b_hh, "
                   "not h_{t−1} itself."),
    summary="GRU: an update gate mixes the old state with a candidate (relevance-gated), with "
            "no separate cell state.",
    num_blocks=3,
    memory_gate="z",
    torch_class=nn.GRU,
)
