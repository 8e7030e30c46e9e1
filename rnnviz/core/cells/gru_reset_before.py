"""GRU with the reset gate applied *before* the recurrent matrix: h̃ = tanh(W_xn x + b_xn + W_hn (Γ_r ⊙ h) + b_hn).

This is the notes' full GRU (c̃ = tanh(W_c [Γ_r ⊙ c_{t−1}, x_t] + b_c)), the original of Cho et al.
2014, Keras's ``GRU(reset_after=False)`` and ONNX's ``GRU`` with ``linear_before_reset=0``.
PyTorch's GRU (and rnnviz's ``gru``) instead gates the product: Γ_r ⊙ (W_hn h + b_hn). The two
agree only when Γ_r = 1, so imported networks of this kind get their own cell.

Weights use PyTorch's GRU layout (blocks r, z, n in ``weight_ih`` / ``weight_hh`` / both biases),
so a GRU's parameters load unchanged. There is no torch.nn class with these equations and no
hand-written BPTT: ``record`` differentiates :func:`gru_reset_before_step` with autograd (the
fast path's contract, a hidden-side pre-activation W_hh h_{t−1} + b_hh, does not hold for the
candidate block, which multiplies Γ_r ⊙ h_{t−1}).
"""

from __future__ import annotations

import torch

from rnnviz.core.cells.base import TANH_RANGE, CellSpec, GateSpec


def gru_reset_before_step(x_t, h, weights, activation="tanh"):
    """One step: x_t (B, I), h (B, H) → (h_t (B, H), {r, z, n} each (B, H)).

    Γ_r = σ(W_xr x + b_xr + W_hr h + b_hr),  z = σ(W_xz x + b_xz + W_hz h + b_hz) = 1 − Γ_u
    h̃_t = tanh(W_xn x_t + b_xn + W_hn (Γ_r ⊙ h_{t−1}) + b_hn)
    h_t = (1 − z) ⊙ h̃_t + z ⊙ h_{t−1}
    """
    W_xh, W_hh, b_xh, b_hh = weights
    H = h.shape[1]
    xr, xz, xn = (x_t @ W_xh.T + b_xh).chunk(3, dim=1)  # (B, H) each
    hr, hz = (h @ W_hh[:2 * H].T + b_hh[:2 * H]).chunk(2, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + (r * h) @ W_hh[2 * H:].T + b_hh[2 * H:])  # the reset gate acts on h, before W_hn
    h_new = (1 - z) * n + z * h
    return h_new, {"r": r, "z": z, "n": n}


SPEC = CellSpec(
    name="gru_reset_before",
    display="GRU (reset before)",
    gates=(
        GateSpec("r", "Γ_r", "relevance (reset) gate Γ_r, applied to h_{t−1}"),
        GateSpec("z", "Γ_z", "keep gate Γ_z = 1 − Γ_u (PyTorch z)"),
        GateSpec("n", "h̃", "candidate h̃_t (from Γ_r ⊙ h_{t−1})", candidate=True, value_range=TANH_RANGE),
    ),
    step=gru_reset_before_step,
    equations=(
        "Γ_r = σ(W_r [h_{t−1}, x_t] + b_r)",
        "Γ_u = σ(W_u [h_{t−1}, x_t] + b_u)",
        "h̃_t = tanh(W_xh x_t + b_xh + W_hh (Γ_r ⊙ h_{t−1}) + b_hh)",
        "h_t = Γ_u ⊙ h̃_t + (1 − Γ_u) ⊙ h_{t−1}",
    ),
    torch_mapping=("Laid out like torch.nn.GRU (blocks r, z, n; z = 1 − Γ_u), but Γ_r multiplies h_{t−1} "
                   "before the recurrent matrix: h̃_t = tanh(W_in x_t + b_in + W_hn (Γ_r ⊙ h_{t−1}) + b_hn), "
                   "where torch.nn.GRU computes Γ_r ⊙ (W_hn h_{t−1} + b_hn). Keras GRU(reset_after=False) "
                   "and ONNX GRU(linear_before_reset=0) compute this cell; torch.nn has no class for it."),
    summary="GRU (reset before): the notes' and Keras's reset_after=False GRU, the relevance gate "
            "scaling h_{t−1} before W_hh.",
    num_blocks=3,
    memory_gate="z",
    aliases=("gru_rb", "gru reset before"),
)
