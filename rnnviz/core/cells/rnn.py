"""SimpleRNN: h_t = f(W_xh x_t + b_xh + W_hh h_{t−1} + b_hh), f = tanh | ReLU | identity."""

from __future__ import annotations

import torch
from torch import nn

from rnnviz.core.cells.base import CellSpec
from rnnviz.core.cells.loops import as_torch, loop_arrays, recurrent_product, time_order

ACTIVATION_FNS = {"tanh": torch.tanh, "relu": torch.relu, "linear": lambda a: a}


def rnn_step(x_t, h, weights, activation="tanh"):
    """One step: x_t (B, I), h (B, H) → (h_t (B, H), no gates)."""
    W_xh, W_hh, b_xh, b_hh = weights
    a = x_t @ W_xh.T + b_xh + h @ W_hh.T + b_hh  # (B, H) pre-activation
    return ACTIVATION_FNS[activation](a), {}


def rnn_layer_forward(layer_in, weights, activation="tanh"):
    """Hidden states of one layer, every direction: [(T, B, H)] — torch's kernel for tanh / ReLU."""
    T, B, _ = layer_in.shape
    D, H = len(weights), weights[0][1].shape[1]
    h0 = layer_in.new_zeros(D, B, H)
    if activation != "linear":
        fn = torch._VF.rnn_relu if activation == "relu" else torch._VF.rnn_tanh
        flat = [w for ws in weights for w in ws]
        out = fn(layer_in, h0, flat, True, 1, 0.0, False, D == 2, False)[0]  # (T, B, D*H)
        return list(out.split(H, dim=2))
    # the linear RNN has no native kernel: h_t = (W_xh x_t + b) + W_hh h_{t−1}
    outs = []
    for d, (W_xh, W_hh, b_xh, b_hh) in enumerate(weights):
        xp = torch.addmm(b_xh + b_hh, layer_in.reshape(T * B, -1), W_xh.T).view(T, B, H)
        h, hs = h0[d], [None] * T
        for t in time_order(T, d):
            h = torch.addmm(xp[t], h, W_hh.T)
            hs[t] = h
        outs.append(torch.stack(hs))
    return outs


def rnn_forward(x, Hs, h_prev, weights, d, activation="tanh"):
    """All steps at once from h_t (T, B, H): no gates, and f'(a_t) for the backward pass."""
    if activation == "tanh":
        dact = 1 - Hs * Hs  # tanh' = 1 − tanh²
    elif activation == "relu":
        dact = (Hs > 0).to(Hs.dtype)  # h = relu(a) > 0 exactly where a > 0
    else:
        dact = torch.ones_like(Hs)
    return {"gates": {}, "dact": dact}


def rnn_backward(saved, direct, weights, d):
    """BPTT: dh_t = direct_t + W_hhᵀ (dh_{t+1} ⊙ f'(a_{t+1})). direct (T, B, H) arrives from above.

    Returns dL/dh_t (T, B, H), no dL/dc, and dL/da_t (T, B, H) — the pre-activation gets
    both W_xh x_t + b_xh and W_hh h_{t−1} + b_hh, so it is the input side and the hidden side."""
    (dd, dact), xp = loop_arrays(direct, saved["dact"])
    times_w = recurrent_product(weights[1], xp, dd.shape[1])
    mul = xp.mul if xp is torch else xp.multiply
    dH, DA = xp.empty_like(dd), xp.empty_like(dd)
    dh_rec = xp.zeros_like(dd[0])  # (B, H) the gradient arriving through time
    for t in time_order(len(dd), d, backward=True):
        xp.add(dd[t], dh_rec, out=dH[t])  # in place in the results: no temporaries
        mul(dH[t], dact[t], out=DA[t])
        dh_rec = times_w(DA[t])
    dH, DA = as_torch(dH, DA)
    return dH, None, DA, DA


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
    layer_forward=rnn_layer_forward,
    forward=rnn_forward,
    backward=rnn_backward,
)
