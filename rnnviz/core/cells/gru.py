"""GRU: relevance gate Γ_r, update gate Γ_u and the candidate h̃ (the notes' c̃; c = h)."""

from __future__ import annotations

import torch
from torch import nn

from rnnviz.core.cells.base import TANH_RANGE, CellSpec, GateSpec
from rnnviz.core.cells.loops import (
    SMALL_SCAN,
    as_torch,
    cat,
    loop_arrays,
    recurrent_product,
    sig_bwd,
    time_order,
)


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



def gru_layer_forward(layer_in, weights, activation="tanh"):
    """Hidden states of one layer, every direction: [(T, B, H)], by torch's GRU kernel."""
    D, H = len(weights), weights[0][1].shape[1]
    h0 = layer_in.new_zeros(D, layer_in.shape[1], H)
    flat = [w for ws in weights for w in ws]
    out = torch._VF.gru(layer_in, h0, flat, True, 1, 0.0, False, D == 2, False)[0]  # (T, B, D*H)
    return list(out.split(H, dim=2))


def gru_forward(x, Hs, h_prev, weights, d, activation="tanh"):
    """Every gate for all steps at once from x (T, B, I) and h_{t−1} (T, B, H), and the factors
    the backward pass multiplies by, gate-major (3, T, B, H): every gate a contiguous block, on
    which the elementwise work runs 2-4x faster than on slices of (T, B, 3H) rows."""
    W_xh, W_hh, b_xh, b_hh = weights
    T, B, H = Hs.shape
    xa, ha = x.new_empty(3, T, B, H), x.new_empty(3, T, B, H)  # input and hidden side [r, z, n]
    x_rows, h_rows = x.reshape(T * B, -1), h_prev.reshape(T * B, H)
    for k in range(3):
        blk = slice(k * H, (k + 1) * H)
        torch.addmm(b_xh[blk], x_rows, W_xh[blk].T, out=xa[k].view(T * B, H))
        torch.addmm(b_hh[blk], h_rows, W_hh[blk].T, out=ha[k].view(T * B, H))
    rz = xa[:2].add_(ha[:2]).sigmoid_()  # in place: the input side's r, z are not needed again
    r, z = rz[0], rz[1]  # (T, B, H) each
    hn = ha[2]
    n = xa[2].addcmul_(r, hn).tanh_()
    P1 = (1 - z) * (1 - n * n)  # ∂h/∂(n pre-activation)
    Gx = torch.empty_like(xa)  # dh → input-side pre-activation grads [r, z, n]
    sig_bwd(P1 * hn, r, grad_input=Gx[0])
    sig_bwd(h_prev - n, z, grad_input=Gx[1])  # ∂h/∂z = h_{t−1} − n
    Gx[2] = P1
    Gh = Gx.clone()  # the hidden side: its n block is gated by r
    Gh[2] *= r
    return {"gates": {"r": r, "z": z, "n": n}, "Gx": Gx, "Gh": Gh}


def gru_backward(saved, direct, weights, d):
    """BPTT: dh_{t−1} = W_hhᵀ dz^h_t + z_t ⊙ dh_t. direct (T, B, H) arrives from above;
    ``saved["Gx"]``, ``saved["Gh"]`` gate-major (3, T, B, H).

    Returns dL/dh_t (T, B, H), no dL/dc, the input-side pre-activation grads (T, B, 3H) and
    the hidden-side ones (T, B, 3H) — they differ in the n block, which Γ_r gates."""
    (dd, Gh, Z), xp = loop_arrays(direct, saved["Gh"], saved["gates"]["z"])
    T, B, H = dd.shape
    times_w = recurrent_product(weights[1], xp, B)
    join = cat(xp)
    mul = xp.mul if xp is torch else xp.multiply
    dH = xp.empty_like(dd)
    DZH = dd.new_empty((T, B, 3 * H)) if xp is torch else xp.empty((T, B, 3 * H), dd.dtype)  # rows W_hh takes
    DZH3 = DZH.reshape(T, B, 3, H).swapaxes(1, 2)  # (T, 3, B, H) view of the rows
    small = B * H <= SMALL_SCAN  # as in lstm_backward: multiply straight into the blocks when small
    dh_rec = xp.zeros_like(dd[0])  # (B, H) arriving through time
    for t in time_order(T, d, backward=True):
        dh = dH[t]  # computed in place in the result: no temporaries
        xp.add(dd[t], dh_rec, out=dh)
        if small:
            mul(dh, Gh[:, t], out=DZH3[t])  # hidden-side pre-activation grads
        else:
            mul(join((dh, dh, dh), 1).reshape(B, 3, H), Gh[:, t].swapaxes(0, 1), out=DZH[t].reshape(B, 3, H))
        dh_rec = times_w(DZH[t])
        dh_rec += dh * Z[t]
    dH, DZH = as_torch(dH, DZH)
    dzx = dH.new_empty(T, B, 3 * H)  # input side: dh ⊙ Gx, as (T, B, 3H) rows
    torch.mul(dH.unsqueeze(2), saved["Gx"].permute(1, 2, 0, 3), out=dzx.view(T, B, 3, H))
    return dH, None, dzx, DZH


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
    layer_forward=gru_layer_forward,
    forward=gru_forward,
    backward=gru_backward,
)
