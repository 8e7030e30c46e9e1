"""Recurrent cells written from the equations of the notes.

Weights use PyTorch's layout so they can be shared with ``torch.nn.RNN/LSTM/GRU``:
``W_xh`` is ``weight_ih`` (G*H, I), ``W_hh`` is ``weight_hh`` (G*H, H), gate blocks stacked in
PyTorch's order (LSTM i, f, g, o; GRU r, z, n). Each ``*_step`` takes x_t (B, I) and the previous
state and returns the new state and a dict of gate activations, each (B, H).
"""

from __future__ import annotations

import torch

ACTIVATION_FNS = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


def rnn_step(x_t, h, W_xh, W_hh, b_xh, b_hh, activation="tanh"):
    """SimpleRNN: h_t = f(W_xh x_t + b_xh + W_hh h_{t-1} + b_hh), f = tanh | relu | identity."""
    a = x_t @ W_xh.T + b_xh + h @ W_hh.T + b_hh  # (B, H) pre-activation
    return ACTIVATION_FNS[activation](a), {}


def lstm_step(x_t, state, W_xh, W_hh, b_xh, b_hh):
    """LSTM: forget, store, update, output.

    Γ_i, Γ_f, Γ_o = σ(·), c̃_t = tanh(·)            (gates from [h_{t-1}, x_t])
    c_t = Γ_f ⊙ c_{t-1} + Γ_i ⊙ c̃_t                 (forget irrelevant, store relevant: update)
    h_t = Γ_o ⊙ tanh(c_t)                            (output a filtered cell state)
    """
    h, c = state
    z = x_t @ W_xh.T + b_xh + h @ W_hh.T + b_hh  # (B, 4H)
    zi, zf, zg, zo = z.chunk(4, dim=1)
    i, f, g, o = torch.sigmoid(zi), torch.sigmoid(zf), torch.tanh(zg), torch.sigmoid(zo)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return (h_new, c_new), {"i": i, "f": f, "g": g, "o": o}


def gru_step(x_t, h, W_xh, W_hh, b_xh, b_hh):
    """GRU: relevance gate Γ_r, update gate Γ_z (PyTorch's z: the share of the old state kept).

    Γ_r = σ(W_xr x + b_xr + W_hr h + b_hr),  Γ_z = σ(W_xz x + b_xz + W_hz h + b_hz)
    ñ_t = tanh(W_xn x + b_xn + Γ_r ⊙ (W_hn h + b_hn))
    h_t = (1 − Γ_z) ⊙ ñ_t + Γ_z ⊙ h_{t-1}
    """
    xr, xz, xn = (x_t @ W_xh.T + b_xh).chunk(3, dim=1)  # (B, H) each
    hr, hz, hn = (h @ W_hh.T + b_hh).chunk(3, dim=1)
    r = torch.sigmoid(xr + hr)
    z = torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    h_new = (1 - z) * n + z * h
    return h_new, {"r": r, "z": z, "n": n}


def cell_step(cell: str, x_t, state, weights, activation="tanh"):
    """Dispatch one step of ``cell`` with weights (W_xh, W_hh, b_xh, b_hh)."""
    if cell == "rnn":
        return rnn_step(x_t, state, *weights, activation=activation)
    if cell == "lstm":
        return lstm_step(x_t, state, *weights)
    return gru_step(x_t, state, *weights)
