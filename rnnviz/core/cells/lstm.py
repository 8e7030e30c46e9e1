"""LSTM: forget, store (update), output — the notes' Γ_f, Γ_u, Γ_o and the candidate c̃."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rnnviz.core import progress
from rnnviz.core.cells import loops
from rnnviz.core.cells.base import TANH_RANGE, CellSpec, GateSpec
from rnnviz.core.cells.loops import (
    as_torch,
    loop_arrays,
    put_h_prev,
    recurrent_product,
    scan_memory,
    scratch,
    sig_bwd,
    step_rows,
    tanh_bwd,
    time_order,
)


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



def lstm_layer_forward(layer_in, weights, activation="tanh"):
    """Hidden states of one layer, every direction: [(T, B, H)], by torch's LSTM kernel."""
    D, H = len(weights), weights[0][1].shape[1]
    h0 = layer_in.new_zeros(D, layer_in.shape[1], H)
    flat = [w for ws in weights for w in ws]
    out = torch._VF.lstm(layer_in, (h0, h0), flat, True, 1, 0.0, False, D == 2, False)[0]  # (T, B, D*H)
    return list(out.split(H, dim=2))


def _gates(x, Hs, weights, d):
    """Every gate for all steps at once from [x_t, 1, h_{t−1}], and the cell states: (xh, i, f,
    g, o, C), the gates and C (T, B, H) each.

    ``xh`` is [x_t, 1, h_{t−1}] (T, B, I+1+H), the one operand that both the gates here and
    every weight and bias gradient in ``record`` are a single matrix product with (the column of
    ones carries the biases: no pass over (T, B, 4H) to add or to sum them)."""
    W_xh, W_hh, b_xh, b_hh = weights
    T, B, H = Hs.shape
    xh = put_h_prev(step_rows(x, H), Hs, d)
    rows = xh.view(T * B, -1)
    Wb = torch.cat([W_xh, (b_xh + b_hh)[:, None], W_hh], 1)  # (4H, I+1+H)
    # gate-major (4, T, B, H): every gate a contiguous block, on which the activations and the
    # factors below run 2-4x faster than on (T, B, H) slices of (T, B, 4H) rows; one batched
    # product, each gate's block of weights contiguous (I+1+H, H)
    Z = xh.new_empty(4, T, B, H)
    torch.matmul(rows, Wb.view(4, H, -1).transpose(1, 2).contiguous(), out=Z.view(4, T * B, H))
    Z[:2].sigmoid_()  # in place: the pre-activations are not needed again
    Z[3].sigmoid_()
    Z[2].tanh_()
    i, f, g, o = Z.unbind(0)  # (T, B, H) each
    C = scan_memory(f, i * g, d)  # c_t = f ⊙ c_{t−1} + i ⊙ g
    return xh, i, f, g, o, C


def lstm_forward(x, Hs, h_prev, weights, d, activation="tanh"):
    """Every gate for all steps at once from x (T, B, I) and h_{t−1} (T, B, H), the cell states,
    and the factors the backward pass multiplies by (:func:`_factors`)."""
    xh, i, f, g, o, C = _gates(x, Hs, weights, d)
    return _factors(xh, i, f, g, o, C, torch.tanh(C), d)


OWN_LOOP_MIN = 4096  # B·H from which lstm_run_forward's loop beats the kernel + recomputed gates
# torch's kernel runs BPTT while B·H² is at most this: its extra input ε costs ~12·B·H² multiply-
# adds a step, the BPTT loop's Python ~12 µs a step (measured: 7 vs 9 ms at B=1 H=64, 13 vs 14 at
# B=1 H=128, equal at B=2 H=128 and B=8 H=64, 32 vs 24 at B=1 H=256; T=200)
KERNEL_BPTT_WIDTH = 1 << 14
# ... and while T·B·H·(I+H) is at most this (a fraction of a second): one call, which reports no
# progress and cannot be cancelled
KERNEL_BPTT_MAX = 1 << 27


def lstm_run_forward(x, weights, d, activation="tanh"):
    """The forward pass and what BPTT needs, one direction: (h_t (T, B, H), saved) — or None on
    a GPU (and in the tests of its loops), where torch's kernel followed by :func:`lstm_forward`
    and :func:`lstm_backward`'s loop run instead.

    From B·H = :data:`OWN_LOOP_MIN` on, the forward pass written out (:func:`_own_loop`); below,
    torch's kernel runs the forward pass *and* BPTT (:func:`_kernel_with_grad`) when steps and
    run are small (:data:`KERNEL_BPTT_WIDTH`, :data:`KERNEL_BPTT_MAX`), else None."""
    T, B, I = x.shape
    H = weights[1].shape[1]
    if x.device.type != "cpu" or not loops.LOOP_ON_NUMPY:
        return None
    if B * H >= OWN_LOOP_MIN:
        return _own_loop(x, weights, d)
    if B * H * H <= KERNEL_BPTT_WIDTH and T * B * H * (I + H) <= KERNEL_BPTT_MAX:
        return _kernel_with_grad(x, weights, d)
    return None  # BPTT's own loop: cheaper per step here, and it reports every step


def _kernel_with_grad(x, weights, d):
    """Small steps, where Python's per-step calls would dominate BPTT: torch's kernel runs the
    forward pass under autograd, and its backward pass is BPTT.

    A kernel does not hand out dL/dh_t, so the recurrent product is given a second way in: the
    input is [x_t, ε_t] with ε = 0 and input weights [W_ih, W_hh]. The forward pass is unchanged
    (W_hh ε_t = 0), and dL/dε_t = W_hhᵀ dL/dz_t is exactly what step t sends back to h_{t−1}:
    the total dL/dh_{t−1} is that plus the gradient arriving from above. The gates and c_t are
    then recomputed for all steps at once (:func:`_gates`) and dL/dc_t follows from dL/dh_t by
    a scan (:func:`lstm_backward`)."""
    T, B, I = x.shape
    H = weights[1].shape[1]
    leaves = [w.detach().requires_grad_(True) for w in weights]  # W_ih, W_hh, b_ih, b_hh
    xe = x.new_zeros(T, B, I + H)  # [x_t, ε_t]: dL/dx is the gradient passed to the layer below
    xe[..., :I] = x
    xe.requires_grad_(True)
    h0 = x.new_zeros(1, B, H)
    with torch.enable_grad():
        w_in = torch.cat([leaves[0], leaves[1]], 1)  # (4H, I+H)
        flat = [w_in, leaves[1], leaves[2], leaves[3]]
        out = torch._VF.lstm(xe.flip(0) if d else xe, (h0, h0), flat, True, 1, 0.0, False, False, False)[0]
        out = out.flip(0) if d else out  # (T, B, H) in time order
    Hs = out.detach()
    progress.tick(T)
    xh, i, f, g, o, C = _gates(x, Hs, weights, d)
    tc = torch.tanh(C)
    A = tanh_bwd(o, tc, grad_input=tc)  # ∂h/∂c = o ⊙ (1 − tanh² c_t), over tanh(c_t)
    return Hs, {"gates": {"i": i, "f": f, "g": g, "o": o}, "C": C, "A": A,
                "graph": (out, [xe] + leaves)}


def _own_loop(x, weights, d):
    """The forward pass written out: (h_t (T, B, H), what :func:`lstm_forward` returns), every
    gate kept as it is computed.

    torch's kernel does not hand out its gates, so without this loop every gate is computed twice
    (the kernel, then one big product over [x_t, h_{t−1}]): 2.0 G multiply-adds against native
    forward+backward's 1.47 G at B=32, T=200, H=128. Measured there: 45 → 40 ms."""
    W_xh, W_hh, b_xh, b_hh = weights
    T, B, I = x.shape
    H = W_hh.shape[1]
    order = [0, 1, 3, 2]  # i, f, o, g: the three sigmoid gates side by side, one call per step
    Z = x.new_empty(4, T, B, H)
    xh = step_rows(x, H)  # [x_t, 1, h_{t−1}]; the h part is written after the loop
    x1 = xh[..., :I + 1].reshape(T * B, I + 1)  # [x_t, 1]: the biases ride on the ones
    Wx1 = torch.cat([W_xh, (b_xh + b_hh)[:, None]], 1)  # (4H, I+1)
    for k, blk in enumerate(order):  # the input side of every step at once (a contiguous
        # right-hand side and no bias argument: measured 2x faster than addmm with W_xh.T)
        torch.mm(x1, Wx1[blk * H:(blk + 1) * H].T.contiguous(), out=Z[k].view(T * B, H))
    W_rec = W_hh.reshape(4, H, H)[order].reshape(4 * H, H).T.contiguous()  # (H, 4H), blocks i, f, o, g
    rec = x.new_empty(B, 4 * H)
    rec_gates = rec.view(B, 4, H).transpose(0, 1)  # (4, B, H) view
    C, tc, Hs = x.new_empty(T, B, H), scratch(x, T, B, H), x.new_empty(T, B, H)  # tc: a temporary
    z_t, sig_t = Z.unbind(1), Z[:3].unbind(1)  # views made once: indexing in the loop costs µs
    i_, f_, o_, g_ = (Z[k].unbind(0) for k in range(4))
    c_, tc_, h_ = C.unbind(0), tc.unbind(0), Hs.unbind(0)
    mm, mul, tanh = torch.mm, torch.mul, torch.tanh
    c = h = None
    for t in time_order(T, d, ticks=True):  # a long forward reports progress and can be cancelled
        if h is not None:  # h_{−1} = c_{−1} = 0
            mm(h, W_rec, out=rec)
            z_t[t].add_(rec_gates)
        sig_t[t].sigmoid_()
        g_[t].tanh_()
        if c is None:
            mul(i_[t], g_[t], out=c_[t])
        else:
            mul(f_[t], c, out=c_[t])
            c_[t].addcmul_(i_[t], g_[t])
        c = c_[t]
        tanh(c, out=tc_[t])
        h = mul(o_[t], tc_[t], out=h_[t])
    i, f, o, g = Z.unbind(0)
    return Hs, _factors(put_h_prev(xh, Hs, d), i, f, g, o, C, tc, d)


# The factors BPTT multiplies by, per step as six (B, H) blocks side by side; BPTT overwrites
# them in place. The order lets each product of the loop be one call on adjacent blocks:
#   dc ⊙ [f, ∂c/∂z_i, ∂c/∂z_f, ∂c/∂z_g] → [dc ⊙ f (to the step before), dz_i, dz_f, dz_g]
#   dh ⊙ [∂h/∂z_o, ∂h/∂c]                  → [dz_o, dh ⊙ ∂h/∂c]
# and leaves dL/dz_t = [dz_i, dz_f, dz_g, dz_o] (torch's gate order) in blocks 1-4: the operand
# of the recurrent product and of every weight gradient.
F_, DZ_, A_ = 0, slice(1, 5), 5  # block of f, of dL/dz, of ∂h/∂c
BY_DC, BY_DH = slice(0, 4), slice(4, 6)  # the blocks dc multiplies, and dh


def _factors(xh, i, f, g, o, C, tc, d):
    """The saved dict: the gates (T, B, H), c_t, and ``R`` (T, B, 6, H), the factors BPTT
    multiplies by (laid out as above)."""
    T, B, H = C.shape
    R = scratch(xh, T, B, 6, H)  # a temporary: never part of the Trace
    Rk = R.permute(2, 0, 1, 3)  # (6, T, B, H) view
    Rk[F_] = f  # ∂c_t/∂c_{t−1}
    sig_bwd(g, i, grad_input=Rk[1])  # ∂c/∂z_i = g ⊙ σ'
    now, before = (slice(1, None), slice(None, -1)) if d == 0 else (slice(None, -1), slice(1, None))
    sig_bwd(C[before], f[now], grad_input=Rk[2, now])  # ∂c/∂z_f = c_{t−1} ⊙ σ', c_{−1} = 0
    Rk[2, 0 if d == 0 else -1] = 0.0
    tanh_bwd(i, g, grad_input=Rk[3])  # ∂c/∂z_g = i ⊙ tanh'
    sig_bwd(tc, o, grad_input=Rk[4])  # ∂h/∂z_o = tanh(c) ⊙ σ'
    tanh_bwd(o, tc, grad_input=Rk[A_])  # ∂h/∂c = o ⊙ (1 − tanh² c_t)
    return {"gates": {"i": i, "f": f, "g": g, "o": o}, "C": C, "R": R, "xh": xh}


def lstm_backward(saved, direct, weights, d):
    """BPTT through h and c. direct (T, B, H): the gradient arriving from above at each step;
    ``saved["R"]`` the factors of :func:`_factors`, overwritten.

    dh_t = direct_t + W_hhᵀ dz_{t+1};  dc_t = f_{t+1} ⊙ dc_{t+1} + dh_t ⊙ ∂h_t/∂c_t.
    Returns dL/dh_t, dL/dc_t (T, B, H) and dL/dz_t (T, B, 4H) (a view into ``R``), which is both
    the input side and the hidden side (one pre-activation gets both). After
    :func:`_kernel_with_grad`: (dL/dh_t, dL/dc_t, None, None), the parameter gradients and
    dL/dx in ``saved["param_grads"]`` and ``saved["d_input"]``."""
    if "graph" in saved:
        return _kernel_backward(saved, direct, d)
    (dd, R), xp = loop_arrays(direct, saved["R"])
    T, B, H = dd.shape
    times_w = recurrent_product(weights[1], xp, B)
    add, mul = (torch.add, torch.mul) if xp is torch else (np.add, np.multiply)
    dH, dC = xp.empty_like(dd), xp.empty_like(dd)
    DZ = R[:, :, DZ_].reshape(T, B, 4 * H)  # a view: the rows W_hh and the weight gradients take
    # every step's operands as lists of views, made once: indexing in the loop costs µs
    dd_, dh_, dc_ = list(dd), list(dH), list(dC)
    dh3_, dc3_ = list(dH[:, :, None]), list(dC[:, :, None])  # (B, 1, H): broadcast over blocks
    by_dc, by_dh, a_, f_ = (list(R[:, :, k]) for k in (BY_DC, BY_DH, A_, F_))
    dz_ = list(DZ)
    dh_rec, dc_rec = xp.zeros_like(dd[0]), xp.zeros_like(dd[0])  # (B, H) arriving through time
    for t in time_order(T, d, backward=True):
        dh, dc = dh_[t], dc_[t]  # computed in place in the results: no temporaries
        add(dd_[t], dh_rec, out=dh)
        mul(dh3_[t], by_dh[t], out=by_dh[t])  # [dz_o, dh ⊙ ∂h/∂c]
        add(a_[t], dc_rec, out=dc)
        mul(dc3_[t], by_dc[t], out=by_dc[t])  # [dc ⊙ f_t, dz_i, dz_f, dz_g]
        dh_rec = times_w(dz_[t])
        dc_rec = f_[t]
    dH, dC, DZ = as_torch(dH, dC, DZ)
    return dH, dC, DZ, DZ


def _kernel_backward(saved, direct, d):
    """BPTT by torch's kernel (:func:`_kernel_with_grad`): dL/dh_t from the ε inputs, dL/dc_t by
    a scan backward in time: dc_t = dh_t ⊙ ∂h_t/∂c_t + f_{t+1} ⊙ dc_{t+1}."""
    out, inputs = saved.pop("graph")
    d_xe, *d_w = torch.autograd.grad(out, inputs, grad_outputs=direct)
    H = direct.shape[2]
    d_x, d_eps = d_xe[..., :-H], d_xe[..., -H:]
    now, before = (slice(1, None), slice(None, -1)) if d == 0 else (slice(None, -1), slice(1, None))
    dH = direct.clone()
    dH[before] += d_eps[now]  # step t's recurrent product reaches h_{t−1}
    f = saved["gates"]["f"]
    keep = torch.zeros_like(f)  # f_{t+1} (the next step in the direction's order), 0 past the end
    keep[before] = f[now]
    dC = scan_memory(keep, dH * saved["A"], 1 - d)  # a scan in the other direction of time
    saved["param_grads"] = dict(zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), d_w, strict=True))
    saved["d_input"] = d_x
    progress.tick(len(dH))
    return dH, dC, None, None


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
    layer_forward=lstm_layer_forward,
    forward=lstm_forward,
    run_forward=lstm_run_forward,
    backward=lstm_backward,
)
