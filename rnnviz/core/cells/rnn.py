"""SimpleRNN: h_t = f(W_xh x_t + b_xh + W_hh h_{t−1} + b_hh), f = tanh | ReLU | identity."""

from __future__ import annotations

import torch
from torch import nn

from rnnviz.core.cells.base import CellSpec

ACTIVATION_FNS = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


def rnn_step(x_t, h, weights, activation="tanh"):
    """One step: x_t (B, I), h (B, H) → (h_t (B, H), no gates)."""
    W_xh, W_hh, b_xh, b_hh = weights
    a = x_t @ W_xh.T + b_xh + h @ W_hh.T + b_hh  # (B, H) pre-activation
    return ACTIVATION_FNS[activation](a), {}


SPEC = CellSpec(
    name="rnn",
    display="SimpleRNN",
    aliases=("simplernn", "simple_rnn", "elman", "vanilla"),
    gates=(),
    step=rnn_step,
    equations=(
        "h_t = {act}(W_hh h_{t−1} + W_xh x_t + b_h)",
    ),
    torch_mapping=("torch.nn.RNN: W_xh = weight_ih, W_hh = weight_hh, b_h = bias_ih + bias_hh. "
                   "torch.nn.RNN has tanh and ReLU but no identity: the linear RNN runs these equations."),
    summary="SimpleRNN: h_t = f(W_hh h_{t−1} + W_xh x_t) — gradients shrink or grow by W_hh at every step.",
    num_blocks=1,
    torch_class=nn.RNN,
    uses_activation=True,
    torch_activations=("tanh", "relu"),
)
