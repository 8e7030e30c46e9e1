"""Record one run: forward pass and backpropagation through time, nothing updated.

Two engines compute the same numbers:

* ``"bptt"`` (default): torch's native kernel runs the forward pass, the gates are recomputed
  for all steps at once from h_{t-1} and x_t, and the backward pass is BPTT written out from
  the cell equations — one small loop over time that carries dL/dh_t (and dL/dc_t) back, then
  every parameter gradient as one matrix product over all steps. It yields the *total*
  gradient dL/dh_t at every step for the price of an ordinary backward pass.
* ``"autograd"``: the cells of :mod:`rnnviz.core.cells` step by step under torch.autograd, with
  ``torch.autograd.grad`` taken with respect to every h_t. The reference the tests hold the
  fast engine to.
"""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import torch

from rnnviz.core.losses import task_loss
from rnnviz.core.numerics import fast_mode
from rnnviz.core.trace import Trace


def _infer_loss(y: torch.Tensor) -> str:
    return "ce" if not torch.is_floating_point(y) else "mse"


def record(model, x, y, loss: str = "auto", clip_norm: float | None = None, clip_value: float | None = None,
           engine: str = "bptt", meta: dict | None = None) -> Trace:
    """Run ``x`` (T, B, I) through ``model``, backpropagate the task loss against ``y``, return a Trace.

    ``y`` follows :mod:`rnnviz.core.tasks` (float targets → MSE, integer classes → cross-entropy,
    no time axis → only the last step has a target). ``clip_norm`` / ``clip_value`` report what
    clipping would do to the parameter gradients; the weights are never changed. Runs in
    :func:`rnnviz.core.numerics.fast_mode`: subnormals flushed to zero (values below 1.2e-38
    become 0; ``RNNVIZ_FLUSH=0`` keeps them), the caller's settings restored on return.
    """
    if engine not in ("bptt", "autograd"):
        raise ValueError(f"engine must be 'bptt' or 'autograd', not {engine!r}")
    with np.errstate(all="ignore"), fast_mode():
        return _record(model, x, y, loss, clip_norm, clip_value, engine, meta)


def _record(model, x, y, loss, clip_norm, clip_value, engine, meta) -> Trace:
    if x.dim() != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be (T, B, I) with T, B >= 1; got {tuple(x.shape)}")
    cfg = model.cfg
    if x.shape[2] != cfg.input_size:
        raise ValueError(f"x has {x.shape[2]} input features but the model expects {cfg.input_size}")
    device = model.device
    x = x.to(device=device, dtype=torch.float32)
    y = y.to(device)
    loss = _infer_loss(y) if loss == "auto" else loss
    params = dict(model.named_parameters())
    if engine == "autograd":
        states, grads, y_hat, L, per_step = _autograd_engine(model, x, y, loss, params)
    else:
        states, grads, y_hat, L, per_step = _bptt_engine(model, x, y, loss)
    return _make_trace(model, x, y, y_hat, L, per_step, states, grads, clip_norm, clip_value, meta, loss)


# ---------------------------------------------------------------------------------------
# Reference engine: autograd through the step-by-step equations
# ---------------------------------------------------------------------------------------
def _autograd_engine(model, x, y, loss, params):
    cfg = model.cfg
    y_hat, _, rec = model.forward_equations(x, keep=True)
    L, per_step = task_loss(y_hat, y, loss)
    hs = [h for seq in rec["h"] for h in seq]
    cs = [c for seq in rec["c"] for c in seq] if cfg.cell == "lstm" else []
    names = list(params)
    wrt = [params[n] for n in names] + hs + cs
    out = torch.autograd.grad(L, wrt, allow_unused=True)
    zero = [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, out, strict=True)]
    pgrads = dict(zip(names, zero[: len(names)], strict=True))
    K, T = len(rec["h"]), x.shape[0]

    def stack(seqs):  # K lists of T (B, H) tensors → (K, T, B, H)
        return torch.stack([torch.stack(list(s)) for s in seqs]).detach()

    gh = zero[len(names): len(names) + K * T]
    gc = zero[len(names) + K * T:]
    states = {
        "hidden": stack(rec["h"]),
        "cell": stack(rec["c"]) if cfg.cell == "lstm" else None,
        "gates": {g: stack([[step[g] for step in seq] for seq in rec["gates"]]) for g in cfg.gate_names},
    }
    grads = {
        "hidden": stack([gh[k * T:(k + 1) * T] for k in range(K)]),
        "cell": stack([gc[k * T:(k + 1) * T] for k in range(K)]) if cfg.cell == "lstm" else None,
        "params": pgrads,
    }
    return states, grads, y_hat.detach(), L.detach(), per_step


# ---------------------------------------------------------------------------------------
# Fast engine: native forward, vectorised gates, hand-written BPTT
# ---------------------------------------------------------------------------------------
_VF_FN = {"lstm": "lstm", "gru": "gru"}


@torch.no_grad()
def _layer_forward(model, layer_in, layer):
    """Hidden states of one layer, all directions: list of (T, B, H)."""
    cfg = model.cfg
    T, B, _ = layer_in.shape
    D, H = cfg.num_directions, cfg.hidden_size
    weights = [w for d in range(D) for w in model.layer_weights(layer, d)]
    h0 = layer_in.new_zeros(D, B, H)
    if model.native:
        if cfg.cell == "lstm":
            out = torch._VF.lstm(layer_in, (h0, h0), weights, True, 1, 0.0, False, D == 2, False)[0]
        elif cfg.cell == "gru":
            out = torch._VF.gru(layer_in, h0, weights, True, 1, 0.0, False, D == 2, False)[0]
        else:
            fn = torch._VF.rnn_relu if cfg.activation == "relu" else torch._VF.rnn_tanh
            out = fn(layer_in, h0, weights, True, 1, 0.0, False, D == 2, False)[0]
        return list(out.split(H, dim=2))
    # the linear RNN: no native kernel, h_t = W_xh x_t + W_hh h_{t-1} + b
    outs = []
    for d in range(D):
        W_xh, W_hh, b_xh, b_hh = model.layer_weights(layer, d)
        xp = torch.addmm(b_xh + b_hh, layer_in.reshape(T * B, -1), W_xh.T).view(T, B, H)
        h, hs = h0[d], [None] * T
        for t in (reversed(range(T)) if d else range(T)):
            h = torch.addmm(xp[t], h, W_hh.T)
            hs[t] = h
        outs.append(torch.stack(hs))
    return outs


def _shift(Hs, d):
    """h_{t-1} in the direction's own time order: (T, B, H), zeros where the sequence starts."""
    zero = torch.zeros_like(Hs[:1])
    return torch.cat([zero, Hs[:-1]]) if d == 0 else torch.cat([Hs[1:], zero])


_sig_bwd = torch.ops.aten.sigmoid_backward.grad_input  # g·σ(1−σ) in one pass, into a slice
_tanh_bwd = torch.ops.aten.tanh_backward.grad_input  # g·(1−tanh²) in one pass


LOOP_ON_NUMPY = True  # tests switch this off to run the torch loops a GPU uses, on the CPU


def _loop_arrays(*tensors):
    """The time loops run on numpy when on the CPU: a numpy op costs ~1 µs, a torch op ~5 µs.

    (Callers run under ``np.errstate(all="ignore")``: an exploding run overflowing to Inf/NaN
    is data to show, not a warning to print.)"""
    if LOOP_ON_NUMPY and tensors[0].device.type == "cpu":
        return [t.numpy() for t in tensors], np
    return list(tensors), torch


class _TorchRightMatmul:
    """``rows @ W`` for numpy rows, computed by torch's BLAS.

    numpy's own BLAS would start a second pool of threads; its threads keep spinning after
    each product and fight torch's OpenMP threads for the cores (seen here: the native LSTM
    ran up to 2x slower right after a recording)."""

    __array_ufunc__ = None  # makes numpy defer `array @ self` to __rmatmul__

    def __init__(self, W: torch.Tensor):
        self.W = W.detach()

    def __rmatmul__(self, rows: np.ndarray) -> np.ndarray:
        return torch.mm(torch.from_numpy(rows), self.W).numpy()


SMALL_PRODUCT = 1 << 16  # multiply-adds below which numpy's BLAS stays on one thread: call it directly


def _recurrent_weight(W_hh: torch.Tensor, xp, batch: int):
    if xp is not np:
        return W_hh
    if batch * W_hh.shape[0] * W_hh.shape[1] < SMALL_PRODUCT:
        return W_hh.detach().numpy()
    return _TorchRightMatmul(W_hh)


def _scan_cell(f, ig, d):
    """c_t = f ⊙ c_{t-1} + i ⊙ g over time (the direction's own order): (T, B, H)."""
    (f_, ig_), xp = _loop_arrays(f, ig)
    C = xp.empty_like(ig_)
    c = xp.zeros_like(ig_[0])
    for t in (reversed(range(len(C))) if d else range(len(C))):
        c = f_[t] * c + ig_[t]
        C[t] = c
    return C if xp is torch else torch.from_numpy(C)


@torch.no_grad()
def _gates(model, layer_in, Hs, layer, d):
    """Recompute every gate for all steps at once, plus the factors the backward pass needs."""
    cfg = model.cfg
    T, B, _ = layer_in.shape
    H = cfg.hidden_size
    W_xh, W_hh, b_xh, b_hh = model.layer_weights(layer, d)
    h_prev = _shift(Hs, d)
    x_flat, h_flat = layer_in.reshape(T * B, -1), h_prev.reshape(T * B, H)
    out = {"h_prev": h_prev}
    if cfg.cell == "rnn":
        if cfg.activation == "tanh":
            dact = 1 - Hs * Hs
        elif cfg.activation == "relu":
            dact = (Hs > 0).to(Hs.dtype)  # h = relu(a) > 0 exactly where a > 0
        else:
            dact = torch.ones_like(Hs)
        out.update(gates={}, dact=dact)
    elif cfg.cell == "lstm":
        z = torch.addmm(b_xh + b_hh, x_flat, W_xh.T).addmm_(h_flat, W_hh.T).view(T, B, 4 * H)
        sig = torch.sigmoid(z)
        i, f, o = sig[..., :H], sig[..., H:2 * H], sig[..., 3 * H:]
        g = torch.tanh(z[..., 2 * H:3 * H])
        C = _scan_cell(f, i * g, d)
        tc = torch.tanh(C)
        G = torch.empty_like(z)  # dz_t = [dc, dc, dc, dh] ⊙ G_t
        _sig_bwd(g, i, grad_input=G[..., :H])
        _sig_bwd(_shift(C, d), f, grad_input=G[..., H:2 * H])
        _tanh_bwd(i, g, grad_input=G[..., 2 * H:3 * H])
        _sig_bwd(tc, o, grad_input=G[..., 3 * H:])
        A = _tanh_bwd(o, tc, grad_input=torch.empty_like(tc))  # dc_t += dh_t ⊙ o ⊙ (1 − tanh² c_t)
        out.update(gates={"i": i, "f": f, "g": g, "o": o}, C=C, A=A, G=G)
    else:
        xa = torch.addmm(b_xh, x_flat, W_xh.T).view(T, B, 3 * H)
        ha = torch.addmm(b_hh, h_flat, W_hh.T).view(T, B, 3 * H)
        rz = torch.sigmoid(xa[..., :2 * H] + ha[..., :2 * H])
        r, z = rz[..., :H], rz[..., H:]
        hn = ha[..., 2 * H:]
        n = torch.tanh(torch.addcmul(xa[..., 2 * H:], r, hn))
        P1 = (1 - z) * (1 - n * n)  # dh → d(n pre-activation)
        Gx = torch.empty_like(xa)  # dh → input-side pre-activation grads [r, z, n]
        _sig_bwd(P1 * hn, r, grad_input=Gx[..., :H])
        _sig_bwd(h_prev - n, z, grad_input=Gx[..., H:2 * H])
        Gx[..., 2 * H:] = P1
        Gh = Gx.clone()  # hidden side: the n block is gated by r
        Gh[..., 2 * H:] *= r
        out.update(gates={"r": r, "z": z, "n": n}, Z=z, Gx=Gx, Gh=Gh)
    return out


@torch.no_grad()
def _backward_direction(cell, W_hh, direct, fac, d):
    """BPTT for one layer and direction. direct (T, B, H): the gradient arriving from above at
    each step. Returns total dL/dh_t, dL/dc_t (LSTM) and the pre-activation grads (input side,
    hidden side), each stacked over time."""
    T = direct.shape[0]
    order = range(T) if d else reversed(range(T))

    def torch_of(*arrays):
        return [a if xp is torch else torch.from_numpy(a) for a in arrays]

    if cell == "rnn":
        (dd, dact), xp = _loop_arrays(direct, fac["dact"])
        W = _recurrent_weight(W_hh, xp, dd.shape[1])
        dH, DA = xp.empty_like(dd), xp.empty_like(dd)
        dh_rec = xp.zeros_like(dd[0])
        for t in order:  # dh_t = direct_t + W_hhᵀ (dh_{t+1} ⊙ f'(a_{t+1}))
            dh = dd[t] + dh_rec
            dH[t] = dh
            DA[t] = dh * dact[t]
            dh_rec = DA[t] @ W
        dH, DA = torch_of(dH, DA)
        return dH, None, DA, DA
    if cell == "lstm":
        (dd, A, G, F), xp = _loop_arrays(direct, fac["A"], fac["G"], fac["gates"]["f"])
        W = _recurrent_weight(W_hh, xp, dd.shape[1])
        cat = np.concatenate if xp is np else torch.cat
        dH, dC, DZ = xp.empty_like(dd), xp.empty_like(dd), xp.empty_like(G)
        dh_rec, dc_rec = xp.zeros_like(dd[0]), xp.zeros_like(dd[0])
        for t in order:
            dh = dd[t] + dh_rec
            dc = dc_rec + dh * A[t]
            dH[t], dC[t] = dh, dc
            DZ[t] = cat([dc, dc, dc, dh], 1) * G[t]  # dL/d[z_i, z_f, z_g, z_o]
            dh_rec = DZ[t] @ W
            dc_rec = dc * F[t]
        dH, dC, DZ = torch_of(dH, dC, DZ)
        return dH, dC, DZ, DZ
    (dd, Gh, Z), xp = _loop_arrays(direct, fac["Gh"], fac["Z"])
    W = _recurrent_weight(W_hh, xp, dd.shape[1])
    cat = np.concatenate if xp is np else torch.cat
    dH, DZH = xp.empty_like(dd), xp.empty_like(Gh)
    dh_rec = xp.zeros_like(dd[0])
    for t in order:
        dh = dd[t] + dh_rec
        dH[t] = dh
        DZH[t] = cat([dh, dh, dh], 1) * Gh[t]  # hidden-side pre-activation grads
        dh_rec = DZH[t] @ W + dh * Z[t]
    dH, DZH = torch_of(dH, DZH)
    return dH, None, torch.cat([dH, dH, dH], 2).mul_(fac["Gx"]), DZH


def _stack(per_k):
    """(K, T, B, H) from K arrays; a single layer and direction needs no copy."""
    return per_k[0].unsqueeze(0) if len(per_k) == 1 else torch.stack(per_k)


def _bptt_engine(model, x, y, loss):
    cfg = model.cfg
    T, B, _ = x.shape
    D, H = cfg.num_directions, cfg.hidden_size
    layer_inputs, hidden, facs = [], [], []
    layer_in = x
    for layer in range(cfg.num_layers):
        Hs = _layer_forward(model, layer_in, layer)
        layer_inputs.append(layer_in)
        for d in range(D):
            hidden.append(Hs[d])
            facs.append(_gates(model, layer_in, Hs[d], layer, d))
        layer_in = torch.cat(Hs, 2) if D == 2 else Hs[0]
    # the head and the loss: ordinary autograd, they are not recurrent
    top = layer_in.detach().requires_grad_(True)  # (T, B, D*H)
    with torch.enable_grad():
        y_hat = model.head(top)
        L, per_step = task_loss(y_hat, y, loss)
        d_top, g_w, g_b = torch.autograd.grad(L, [top, model.head.weight, model.head.bias])
    pgrads = {"head.weight": g_w, "head.bias": g_b}
    grad_h, grad_c = [None] * len(hidden), [None] * len(hidden)
    direct = d_top
    with torch.no_grad():
        for layer in reversed(range(cfg.num_layers)):
            inp = layer_inputs[layer]
            d_in = torch.zeros_like(inp)
            for d in range(D):
                k = layer * D + d
                W_xh, W_hh, _, _ = model.layer_weights(layer, d)
                dH, dC, dzx, dzh = _backward_direction(cfg.cell, W_hh, direct[..., d * H:(d + 1) * H], facs[k], d)
                grad_h[k], grad_c[k] = dH, dC
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                flat_x, flat_h = dzx.reshape(T * B, -1), dzh.reshape(T * B, -1)
                pgrads["rnn.weight_ih" + sfx] = flat_x.T @ inp.reshape(T * B, -1)
                pgrads["rnn.weight_hh" + sfx] = flat_h.T @ facs[k]["h_prev"].reshape(T * B, H)
                pgrads["rnn.bias_ih" + sfx] = flat_x.sum(0)
                # RNN and LSTM: the same pre-activation gets both biases, so one sum serves
                pgrads["rnn.bias_hh" + sfx] = pgrads["rnn.bias_ih" + sfx] if dzh is dzx else flat_h.sum(0)
                if layer:  # dL/dx of the input sequence itself is not needed
                    d_in += (flat_x @ W_xh).view_as(inp)
            direct = d_in
    order = [n for n, _ in model.named_parameters()]
    states = {"hidden": _stack(hidden),
              "cell": _stack([f["C"] for f in facs]) if cfg.cell == "lstm" else None,
              "gates": {g: _stack([f["gates"][g] for f in facs]) for g in cfg.gate_names}}
    grads = {"hidden": _stack(grad_h), "cell": _stack(grad_c) if cfg.cell == "lstm" else None,
             "params": {n: pgrads[n] for n in order}}
    return states, grads, y_hat.detach(), L.detach(), per_step


# ---------------------------------------------------------------------------------------
def clip_report(grads: dict, clip_norm: float | None, clip_value: float | None):
    """What torch's clip_grad_value_ then clip_grad_norm_ would do to ``grads``, without doing it.

    Returns (global norm before, global norm after, clipped?, {name: norm before}, {name: norm after}).
    """
    before = {n: g.detach().float().norm() for n, g in grads.items()}
    total = float(torch.stack(list(before.values())).norm())
    after = dict(before)
    clipped = False
    if clip_value is not None:
        clipped = any(bool((g.abs() > clip_value).any()) for g in grads.values())
        after = {n: g.detach().float().clamp(-clip_value, clip_value).norm() for n, g in grads.items()}
    norm_after = float(torch.stack(list(after.values())).norm())
    if clip_norm is not None:
        coef = clip_norm / (norm_after + 1e-6)  # the same formula as torch.nn.utils.clip_grad_norm_
        if not math.isfinite(norm_after) or coef < 1:
            clipped = True
            after = {n: v * coef for n, v in after.items()}
            norm_after = norm_after * coef if math.isfinite(norm_after) else math.nan
    return (total, norm_after, clipped, {n: float(v) for n, v in before.items()},
            {n: float(v) for n, v in after.items()})


def _whh_blocks(model) -> np.ndarray:
    """W_hh of every layer and direction as (K, G, H, H) gate blocks (the Trace derives its spectrum)."""
    cfg = model.cfg
    G, H = cfg.num_gates, cfg.hidden_size
    return torch.stack([model.layer_weights(layer, d)[1].detach().view(G, H, H)
                        for layer in range(cfg.num_layers)
                        for d in range(cfg.num_directions)]).float().cpu().numpy().copy()


def _np(t):
    return None if t is None else t.detach().float().cpu().numpy()


def _make_trace(model, x, y, y_hat, L, per_step, states, grads, clip_norm, clip_value, meta, loss):
    total, after, clipped, per_param, per_param_after = clip_report(grads["params"], clip_norm, clip_value)
    gh = grads["hidden"]
    gc = grads["cell"]
    trace = Trace(
        inputs=_np(x), outputs=_np(y_hat), targets=y.detach().cpu().numpy(),
        step_loss=_np(torch.as_tensor(per_step)).astype(np.float32),
        hidden=_np(states["hidden"]), grad_hidden=_np(gh),
        grad_hidden_norm=_np(gh.flatten(2).norm(dim=2)),
        cell=_np(states["cell"]), grad_cell=_np(gc),
        grad_cell_norm=None if gc is None else _np(gc.flatten(2).norm(dim=2)),
        gates={k: _np(v) for k, v in states["gates"].items()},
        loss=float(L), grad_norm=total, grad_norm_clipped=after, clipped=clipped, nonfinite=False,
        param_grad_norms=per_param,
        param_grad_norms_clipped=per_param_after,
        whh=_whh_blocks(model),
        config=asdict(model.cfg), meta={"loss": loss, "clip_norm": clip_norm, "clip_value": clip_value,
                                             **(meta or {})},
    )
    trace.nonfinite = bool(not math.isfinite(trace.loss) or not math.isfinite(total)
                           or trace.nonfinite_steps().any())
    return trace

