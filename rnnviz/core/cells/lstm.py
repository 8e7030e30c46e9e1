"""LSTM: forget, store (update), output — the notes' Γ_f, Γ_u, Γ_o and the candidate c̃."""

from __future__ import annotations

import torch
from torch import nn

from rnnviz.core.cells.base import TANH_RANGE, CellSpec, GateSpec


def lstm_step(x_t, state, weights, activation="tanh"):
    """One step: x_t (B, I), state (h, c) each (B, H) → ((h_t, c_t), {i, f, g, o} each (B, H)).

    Γ_u, Γ_f, Γ_o = σ(·), c̃_t = tanh(·)             (all from [h_{t−1}, x_t])
    c_t = Γ_u ⊙ c̃_t + Γ_f ⊙ c_{t−1}                  (store the relevant, forget the rest)
    h_t = Γ_o ⊙ tanh(c_t)                             (output a filtered cell state)
    """
    W_xh, W_hh, b_xh, b_hh = weights
    h, c = state
    z = x_t @ W_xh.T + b_xh + h @ W_hh.T + b_hh  # (B, 4H)
    zi, zf, zg, zo = z.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return (h_new, c_new), {"i": i, "f": f, "g": g, "o": o}


SPEC = CellSpec(
    name="lstm",
    display="LSTM",
    gates=(
        GateSpec("i", "Γ_u", "update (store) gate Γ_u"),
        GateSpec("f", "Γ_f", "forget gate Γ_f"),
        GateSpec("g", "c̃", "candidate c̃_t", candidate=True, value_range=TANH_RANGE),
        GateSpec("o", "Γ_o", "output gate Γ_o"),
    ),
    step=lstm_step,
    equations=(
        "Γ_f = σ(W_f [h_{t−1}, x_t] + b_f)",
        "Γ_u = σ(W_u [h_{t−1}, x_t] + b_u)",
        "c̃_t = tanh(W_c [h_{t−1}, x_t] + b_c)",
        "Γ_o = σ(W_o [h_{t−1}, x_t] + b_o)",
        "c_t = Γ_u ⊙ c̃_t + Γ_f ⊙ c_{t−1}",
        "h_t = Γ_o ⊙ tanh(c_t)",
    ),
    torch_mapping=("torch.nn.LSTM stacks its gate blocks as i, f, g, o: i = Γ_u (update / store), "
                   "f = Γ_f, g = c̃_t, o = Γ_o; each gate's W [h_{t−1}, x_t] + b is split into "
                   "weight_ih x_t + bias_ih + weight_hh h_{t−1} + bias_hh. The notes' a_t is h_t, and "
                   "they write a_t = Γ_o ⊙ c_t; PyTorch (and this app) squash the cell first: "
                   "h_t = Γ_o ⊙ tanh(c_t)."),
    summary="LSTM: gates decide what to forget, store and output; the cell state c_t is an additive "
            "memory path, so gradients can survive many steps.",
    num_blocks=4,
    has_cell_state=True,
    memory_gate="f",
    forget_bias_gate="f",
    torch_class=nn.LSTM,
)
