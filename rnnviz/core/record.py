"""Record one run: forward pass and backpropagation through time, nothing updated.

Two engines compute the same numbers:

* ``"bptt"`` (default): the cell's spec (:mod:`rnnviz.core.cells`) runs the forward pass
  (torch's native kernel where there is one), recomputes its gates for all steps at once from
  h_{t-1} and x_t, and runs its BPTT written out from the cell equations — one small loop over
  time that carries dL/dh_t (and dL/dc_t) back. Here every parameter gradient follows as one
  matrix product over all steps. It yields the *total* gradient dL/dh_t at every step for the
  price of an ordinary backward pass. A cell whose spec has no backward uses autograd.
* ``"autograd"``: the cells of :mod:`rnnviz.core.cells` step by step under torch.autograd, with
  ``torch.autograd.grad`` taken with respect to every h_t. The reference the tests hold the
  fast engine to.
"""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import torch

from rnnviz.core import progress
from rnnviz.core.budget import plan_samples, sample_bytes
from rnnviz.core.cells.loops import scratch_begin, shift, time_order
from rnnviz.core.losses import batch_axis, loss_and_grad, present_per_step, resolve_loss, task_loss
from rnnviz.core.numerics import fast_mode
from rnnviz.core.tasks import TaskBatch
from rnnviz.core.trace import Trace


def record(model, x, y=None, loss: str = "auto", clip_norm: float | None = None,
           clip_value: float | None = None, engine: str = "bptt", meta: dict | None = None,
           keep_samples=None, memory_budget: int | None = None) -> Trace:
    """Run a batch through ``model``, backpropagate its loss, return a Trace (nothing is updated).

    ``record(model, batch)`` with a :class:`~rnnviz.core.tasks.TaskBatch` uses the task's own
    loss and labels the trace with the batch (task, tokens, vocab). ``record(model, x, y)``
    takes x (T, B, I) and targets laid out as in :mod:`rnnviz.core.tasks` (no time axis → only
    the last step has a target); ``loss="auto"`` then uses the task's loss when ``y`` came from
    a task batch, cross-entropy for integer classes, MSE for float targets that cannot be
    binary labels, and refuses to guess between MSE and BCE for float targets in [0, 1]
    (see :func:`rnnviz.core.losses.resolve_loss`). ``clip_norm`` / ``clip_value`` report what
    clipping would do to the parameter gradients; the weights are never changed. Runs in
    :func:`rnnviz.core.numerics.fast_mode`: subnormals flushed to zero (values below 1.2e-38
    become 0; ``RNNVIZ_FLUSH=0`` keeps them), the caller's settings restored on return.

    Memory stays bounded (a full Trace at T=10,000, H=1024, B=16 would be 5 GB): ``keep_samples``
    says which samples the Trace keeps. None (default): all of them when they fit in half of
    ``memory_budget`` (default :func:`rnnviz.core.budget.record_budget`: a quarter of the free
    memory, at most 8 GiB), else as many of the first samples as fit in that and in 1.5 GiB;
    ``"all"``; a number n (the first n); or a list of batch indices. The samples are recorded
    in chunks that fit the budget (they do not interact, so the numbers are the same). Every
    per-sample array (inputs, outputs, targets, states, gates, their gradients) then holds the
    kept samples, ``trace.meta["kept_samples"]`` lists their batch indices and
    ``trace.meta["batch_size"]`` is the batch recorded; the loss, the per-step gradient norms
    and the parameter gradients always cover the whole batch.
    """
    if isinstance(x, TaskBatch):
        if y is not None:
            raise TypeError("record(model, batch) takes its targets from the batch: do not pass y as well")
        from rnnviz.core.train import batch_meta  # train builds on record

        batch = x
        x, y = batch.x, batch.y
        loss = batch.loss if loss == "auto" else loss
        meta = {**batch_meta(batch), **(meta or {})}
    elif y is None:
        raise TypeError("record needs targets: record(model, x, y) or record(model, batch) with a TaskBatch")
    if engine not in ("bptt", "autograd"):
        raise ValueError(f"engine must be 'bptt' or 'autograd', not {engine!r}")
    loss = resolve_loss(y, loss)
    with np.errstate(all="ignore"), fast_mode():
        return _record(model, x, y, loss, clip_norm, clip_value, engine, meta, keep_samples, memory_budget)


def _record(model, x, y, loss, clip_norm, clip_value, engine, meta, keep, budget) -> Trace:
    if x.dim() != 3 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must be (T, B, I) with T, B >= 1; got {tuple(x.shape)}")
    cfg = model.cfg
    if x.shape[2] != cfg.input_size:
        raise ValueError(f"x has {x.shape[2]} input features but the model expects {cfg.input_size}")
    device = model.device
    x = x.to(device=device, dtype=torch.float32)
    y = y.to(device)
    cfg, spec = model.cfg, model.spec
    T, B, I = x.shape
    per_sample = sample_bytes(spec, cfg.num_layers * cfg.num_directions, T, cfg.hidden_size, I, cfg.output_size)
    kept, chunk = plan_samples(B, per_sample, keep, budget)
    run = _autograd_engine if engine == "autograd" or spec.backward is None else _bptt_engine
    if chunk >= B:  # one pass; the arrays are the engine's own (no copies)
        states, grads, y_hat, L, per_step = run(model, x, y, loss)
        part = _part(states, grads)
        out = {**part, "outputs": _np(y_hat), "params": grads["params"], "loss": float(L),
               "per_step": _np(torch.as_tensor(per_step))}
        if len(kept) < B:
            out.update(_select(out, kept))
    else:
        out = _record_in_chunks(model, run, x, y, loss, kept, chunk)
    meta = {**(meta or {}), "batch_size": B}
    if len(kept) < B:
        meta["kept_samples"] = kept
        if kept[0] != 0:  # the tokens describe sample 0
            meta.pop("tokens", None)
    sel = kept if len(kept) < B else slice(None)
    return _make_trace(model, _np(x[:, sel]), _take(y, loss, sel).cpu().numpy(), out,
                       clip_norm, clip_value, meta, loss)


def _part(states, grads) -> dict:
    """The engine's per-sample arrays as numpy (sharing memory), with what covers the whole batch
    computed from them: float64 sums of squares per step and the steps with NaN/Inf."""
    part = {"hidden": _np(states["hidden"]), "cell": _np(states["cell"]),
            "gates": {k: _np(v) for k, v in states["gates"].items()},
            "grad_hidden": _np(grads["hidden"]), "grad_cell": _np(grads["cell"])}
    part["sumsq_hidden"] = step_sumsq(part["grad_hidden"])
    part["sumsq_cell"] = step_sumsq(part["grad_cell"])
    # a NaN/Inf gradient element makes its step's float64 sum of squares NaN/Inf (finite float32
    # squares cannot overflow float64): only the states need a pass of their own
    bad = ~np.isfinite(part["sumsq_hidden"]).all(axis=0) | ~np.isfinite(part["hidden"]).all(axis=(0, 2, 3))
    if part["cell"] is not None:
        bad |= ~np.isfinite(part["cell"]).all(axis=(0, 2, 3))
    part["bad_steps"] = bad
    return part


PER_SAMPLE = ("hidden", "cell", "grad_hidden", "grad_cell")  # (K, T, B, H); gates likewise; outputs (T, B, O)


def _select(part: dict, kept) -> dict:
    """Copies of the per-sample arrays of ``part`` at batch indices ``kept``."""
    out = {k: None if part[k] is None else part[k][:, :, kept] for k in PER_SAMPLE}
    out["gates"] = {g: v[:, :, kept] for g, v in part["gates"].items()}
    out["outputs"] = part["outputs"][:, kept]
    return out


def _record_in_chunks(model, run, x, y, loss, kept, chunk) -> dict:
    """Record samples ``chunk`` at a time; keep the arrays of samples ``kept``; loss, per-step
    norms and parameter gradients of the whole batch.

    Each chunk's loss is weighted by its share of the batch's targets, so its gradients are
    its part of the batch-mean loss's gradients; sums of squares (float64) and gradients add up.
    """
    cfg = model.cfg
    T, B, _ = x.shape
    counts = present_per_step(y, loss, T)
    total = float(counts.sum())
    progress.plan(-(-B // chunk) * 2 * cfg.num_layers * cfg.num_directions * T)
    out: dict = {}
    position = {b: j for j, b in enumerate(kept)}
    loss_sum, step_sum = 0.0, torch.zeros(T, dtype=torch.float64)
    for b0 in range(0, B, chunk):
        b1 = min(B, b0 + chunk)
        yc = _take(y, loss, slice(b0, b1))
        n_t = present_per_step(yc, loss, T)
        share = float(n_t.sum()) / total if total > 0 else 1.0
        states, grads, y_hat, L, per_step = run(model, x[:, b0:b1], yc, loss, scale=share, plan=False)
        part = _part(states, grads)
        part["outputs"] = _np(y_hat)
        loss_sum += float(L) * share
        step_sum += torch.where(n_t > 0, torch.as_tensor(per_step).double().cpu() * n_t, 0.0)
        if not out:
            out = {"params": dict(grads["params"]), "sumsq_hidden": part["sumsq_hidden"],
                   "sumsq_cell": part["sumsq_cell"], "bad_steps": part["bad_steps"]}
            out.update({k: None if part[k] is None else _empty_kept(part[k], len(kept)) for k in PER_SAMPLE})
            out["gates"] = {g: _empty_kept(v, len(kept)) for g, v in part["gates"].items()}
            out["outputs"] = np.empty((T, len(kept)) + part["outputs"].shape[2:], np.float32)
        else:
            for name, g in grads["params"].items():  # not in place: both biases may be one tensor
                out["params"][name] = out["params"][name] + g
            out["sumsq_hidden"] += part["sumsq_hidden"]
            if part["sumsq_cell"] is not None:
                out["sumsq_cell"] += part["sumsq_cell"]
            out["bad_steps"] |= part["bad_steps"]
        here = [b for b in kept if b0 <= b < b1]
        if here:
            src, dst = [b - b0 for b in here], [position[b] for b in here]
            for name, arr in _select(part, src).items():
                if name == "gates":
                    for g, v in arr.items():
                        out["gates"][g][:, :, dst] = v
                elif name == "outputs":
                    out["outputs"][:, dst] = arr
                elif arr is not None:
                    out[name][:, :, dst] = arr
        del states, grads, part  # this chunk's arrays go before the next chunk's come
    counts = counts.numpy()
    out["loss"] = loss_sum
    out["per_step"] = np.where(counts > 0, step_sum.numpy() / np.maximum(counts, 1), np.nan)
    return out


def _empty_kept(arr: np.ndarray, n: int) -> np.ndarray:
    """An empty (K, T, n, H) array for ``n`` kept samples of a chunk's (K, T, b, H) array."""
    return np.empty(arr.shape[:2] + (n,) + arr.shape[3:], arr.dtype)


def _take(y: torch.Tensor, loss: str, which) -> torch.Tensor:
    """Targets of the samples ``which`` (a slice or a list of batch indices)."""
    if isinstance(which, slice):
        return y if which == slice(None) else y.narrow(batch_axis(y, loss), which.start, which.stop - which.start)
    return y.index_select(batch_axis(y, loss), torch.as_tensor(which, device=y.device))


# ---------------------------------------------------------------------------------------
# Reference engine: autograd through the step-by-step equations
# ---------------------------------------------------------------------------------------
def _autograd_engine(model, x, y, loss, scale=1.0, plan=True):
    """``scale`` multiplies the loss the gradients are taken of (a chunk's share of the batch)."""
    cfg = model.cfg
    params = dict(model.named_parameters())
    y_hat, _, rec = model.forward_equations(x, keep=True)
    L, per_step = task_loss(y_hat, y, loss)
    hs = [h for seq in rec["h"] for h in seq]
    has_c = model.spec.has_cell_state
    cs = [c for seq in rec["c"] for c in seq] if has_c else []
    names = list(params)
    wrt = [params[n] for n in names] + hs + cs
    out = torch.autograd.grad(L * scale if scale != 1.0 else L, wrt, allow_unused=True)
    zero = [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, out, strict=True)]
    pgrads = dict(zip(names, zero[: len(names)], strict=True))
    K, T = len(rec["h"]), x.shape[0]

    def stack(seqs):  # K lists of T (B, H) tensors → (K, T, B, H)
        return torch.stack([torch.stack(list(s)) for s in seqs]).detach()

    gh = zero[len(names): len(names) + K * T]
    gc = zero[len(names) + K * T:]
    states = {
        "hidden": stack(rec["h"]),
        "cell": stack(rec["c"]) if has_c else None,
        "gates": {g: stack([[step[g] for step in seq] for seq in rec["gates"]]) for g in cfg.gate_names},
    }
    grads = {
        "hidden": stack([gh[k * T:(k + 1) * T] for k in range(K)]),
        "cell": stack([gc[k * T:(k + 1) * T] for k in range(K)]) if has_c else None,
        "params": pgrads,
    }
    return states, grads, y_hat.detach(), L.detach(), per_step


# ---------------------------------------------------------------------------------------
# Fast engine: each cell's spec computes its gates for all steps and its BPTT step
# (rnnviz.core.cells); here they are chained over layers and directions
# ---------------------------------------------------------------------------------------
@torch.no_grad()
def _layer_forward(model, layer_in, weights):
    """Hidden states of one layer, all directions (``weights`` per direction): list of (T, B, H)."""
    cfg, spec = model.cfg, model.spec
    if spec.layer_forward is not None:
        return spec.layer_forward(layer_in, weights, cfg.activation)
    outs = []  # the cell's own step function, one step at a time
    for d, w in enumerate(weights):
        h0 = layer_in.new_zeros(layer_in.shape[1], cfg.hidden_size)  # (B, H)
        s = (h0, h0.clone()) if spec.has_cell_state else h0
        hs = [None] * layer_in.shape[0]
        for t in time_order(layer_in.shape[0], d):
            s, _ = spec.step(layer_in[t], s, w, cfg.activation)
            hs[t] = s[0] if spec.has_cell_state else s
        outs.append(torch.stack(hs))
    return outs


def _stack(per_k):
    """(K, T, B, H) from K arrays; a single layer and direction needs no copy."""
    return per_k[0].unsqueeze(0) if len(per_k) == 1 else torch.stack(per_k)


def _param_grads(spec, sfx, dzx, dzh, inp, h_prev, xh=None):
    """Every parameter gradient of one layer and direction, one matrix product over all steps.

    ``xh`` (T, B, I+1+H), [x_t, 1, h_{t−1}] side by side (:func:`~rnnviz.core.cells.loops.step_rows`),
    when the cell kept it: with one pre-activation (``dzh is dzx``) every weight and bias
    gradient is then one product."""
    T, B = dzx.shape[:2]
    flat_x = dzx.reshape(T * B, -1)
    if xh is not None and dzh is dzx:
        every = (xh.reshape(T * B, -1).T @ flat_x).T  # (G*H, I+1+H); this order is the faster one
        I = inp.shape[2]
        bias = every[:, I]
        out = {"weight_ih": every[:, :I], "weight_hh": every[:, I + 1:], "bias_ih": bias, "bias_hh": bias}
        return {"rnn." + name + sfx: out[name] for name in spec.params}
    out = {"weight_ih": flat_x.T @ inp.reshape(T * B, -1), "bias_ih": flat_x.sum(0)}
    if dzh is not None:
        flat_h = dzh.reshape(T * B, -1)
        out["weight_hh"] = flat_h.T @ h_prev.reshape(T * B, -1)
        # one pre-activation getting both biases: one sum serves both
        out["bias_hh"] = out["bias_ih"] if dzh is dzx else flat_h.sum(0)
    return {"rnn." + name + sfx: out[name] for name in spec.params}


def _bptt_engine(model, x, y, loss, scale=1.0, plan=True):
    """``scale`` multiplies the loss the gradients are taken of (a chunk's share of the batch);
    ``plan=False``: the caller announced this work to :mod:`rnnviz.core.progress` already."""
    cfg, spec = model.cfg, model.spec
    D, H = cfg.num_directions, cfg.hidden_size
    layer_inputs, hidden, saved, h_prevs = [], [], [], []
    layer_in = x
    weights = [[model.layer_weights(layer, d) for d in range(D)] for layer in range(cfg.num_layers)]
    if plan:
        progress.plan(2 * cfg.num_layers * D * x.shape[0])  # forward, then BPTT's loops (one unit a step)
    scratch_begin()  # this recording's temporaries take the memory the last one's used
    with torch.no_grad():
        for layer in range(cfg.num_layers):
            run = [None] * D  # the cell's own forward loop, where it has one and it pays
            if spec.run_forward is not None:
                run = [spec.run_forward(layer_in, weights[layer][d], d, cfg.activation) for d in range(D)]
            Hs = [r[0] for r in run] if None not in run else _layer_forward(model, layer_in, weights[layer])
            layer_inputs.append(layer_in)
            for d in range(D):
                hidden.append(Hs[d])
                if run[d] is not None:
                    saved.append(run[d][1])
                    h_prevs.append(None)  # the cell kept [x_t, 1, h_{t−1}] in saved["xh"]
                else:
                    h_prevs.append(shift(Hs[d], d))
                    saved.append(spec.forward(layer_in, Hs[d], h_prevs[-1], weights[layer][d], d, cfg.activation))
                    progress.tick(x.shape[0])  # the cell's own loop reported its steps as it ran
            layer_in = torch.cat(Hs, 2) if D == 2 else Hs[0]
    # the head y_hat = W_hy h_t + b_y and the loss: their gradients in closed form
    with torch.no_grad():
        top = layer_in  # (T, B, D*H)
        y_hat = model.head(top)  # (T, B, O)
        L, per_step, dy = loss_and_grad(y_hat, y, loss)
        dy = dy * scale if scale != 1.0 else dy
        d_top = dy @ model.head.weight  # (T, B, D*H)
        flat_dy = dy.reshape(-1, dy.shape[2])
        pgrads = {"head.weight": flat_dy.T @ top.reshape(-1, top.shape[2]), "head.bias": flat_dy.sum(0)}
    grad_h, grad_c = [None] * len(hidden), [None] * len(hidden)
    direct = d_top
    with torch.no_grad():
        for layer in reversed(range(cfg.num_layers)):
            inp = layer_inputs[layer]
            d_in = torch.zeros_like(inp)
            for d in range(D):
                k = layer * D + d
                w = weights[layer][d]
                dH, dC, dzx, dzh = spec.backward(saved[k], direct[..., d * H:(d + 1) * H], w, d)
                grad_h[k], grad_c[k] = dH, dC
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                if dzx is None:  # the cell's backward computed them (torch's kernel did)
                    pgrads.update({"rnn." + n + sfx: g for n, g in saved[k]["param_grads"].items()})
                    if layer:
                        d_in += saved[k]["d_input"]
                    continue
                pgrads.update(_param_grads(spec, sfx, dzx, dzh, inp, h_prevs[k], saved[k].get("xh")))
                if layer:  # dL/dx of the input sequence itself is not needed
                    d_in += (dzx.reshape(-1, dzx.shape[-1]) @ w[0]).view_as(inp)
            direct = d_in
    order = [n for n, _ in model.named_parameters()]
    states = {"hidden": _stack(hidden),
              "cell": _stack([f["C"] for f in saved]) if spec.has_cell_state else None,
              "gates": {g: _stack([f["gates"][g] for f in saved]) for g in spec.gate_keys}}
    grads = {"hidden": _stack(grad_h), "cell": _stack(grad_c) if spec.has_cell_state else None,
             "params": {n: pgrads[n] for n in order}}
    return states, grads, y_hat.detach(), L.detach(), per_step


# ---------------------------------------------------------------------------------------
def clip_report(grads: dict, clip_norm: float | None, clip_value: float | None):
    """What torch's clip_grad_value_ then clip_grad_norm_ would do to ``grads``, without doing it.

    Returns (global norm before, global norm after, clipped?, {name: norm before}, {name: norm after}).
    """
    names = list(grads)
    tensors = [grads[n].detach().float() for n in names]
    before = dict(zip(names, torch._foreach_norm(tensors), strict=True))  # one call for every parameter
    total = float(torch.stack(list(before.values())).norm())
    after = dict(before)
    clipped = False
    if clip_value is not None:
        clipped = any(bool((g.abs() > clip_value).any()) for g in tensors)
        after = dict(zip(names, torch._foreach_norm([g.clamp(-clip_value, clip_value) for g in tensors]),
                         strict=True))
    norm_after = float(torch.stack(list(after.values())).norm()) if clip_value is not None else total
    if clip_norm is not None:
        coef = clip_norm / (norm_after + 1e-6)  # the same formula as torch.nn.utils.clip_grad_norm_
        if not math.isfinite(norm_after) or coef < 1:
            clipped = True
            after = {n: v * coef for n, v in after.items()}
            norm_after = norm_after * coef if math.isfinite(norm_after) else math.nan
    return (total, norm_after, clipped, {n: float(v) for n, v in before.items()},
            {n: float(v) for n, v in after.items()})


def _whh_blocks(model) -> np.ndarray | None:
    """W_hh of every layer and direction as (K, G, H, H) gate blocks (the Trace derives its spectrum).

    None for a cell without a recurrent weight."""
    cfg = model.cfg
    if not model.spec.has_recurrent_weight:
        return None
    G, H = cfg.num_gates, cfg.hidden_size
    return torch.stack([model.layer_weights(layer, d)[1].detach().view(G, H, H)
                        for layer in range(cfg.num_layers)
                        for d in range(cfg.num_directions)]).float().cpu().numpy().copy()


def _np(t):
    return None if t is None else t.detach().float().cpu().numpy()


NORM_CHUNK = 1 << 22  # elements converted to float64 at a time: bounded extra memory at any size


def step_sumsq(grad: np.ndarray | None) -> np.ndarray | None:
    """Σ grad[k, t]² over batch and units, summed in float64: (K, T, B, H) float32 → (K, T) float64.

    In float32 the square of a gradient element below ~1e-19 underflows (to 0 below ~1e-23,
    subnormal in between, and flushed to 0 in fast mode), so a vanishing gradient's norm would
    read 0 around 1e-22 instead of following the truth; huge gradients would overflow. Sums of
    chunks of a batch add up to the batch's."""
    if grad is None:
        return None
    K, T = grad.shape[:2]
    flat = grad.reshape(K, T, -1)
    out = np.empty((K, T), dtype=np.float64)
    step = max(1, NORM_CHUNK // max(1, K * flat.shape[2]))
    for t0 in range(0, T, step):
        part = flat[:, t0:t0 + step]  # einsum casts each element to float64 before squaring
        out[:, t0:t0 + step] = np.einsum("kti,kti->kt", part, part, dtype=np.float64)
    return out


def step_norms(grad: np.ndarray | None) -> np.ndarray | None:
    """‖grad[k, t]‖ over batch and units: (K, T, B, H) float32 → (K, T) float32, from the float64
    sums of :func:`step_sumsq`: every norm above ~1e-38 (float32's smallest normal) is stored
    true to float32 precision."""
    sumsq = step_sumsq(grad)
    return None if sumsq is None else np.sqrt(sumsq).astype(np.float32)


def _make_trace(model, inputs, targets, out, clip_norm, clip_value, meta, loss):
    total, after, clipped, per_param, per_param_after = clip_report(out["params"], clip_norm, clip_value)
    norm = {k: None if out[f"sumsq_{k}"] is None else np.sqrt(out[f"sumsq_{k}"]).astype(np.float32)
            for k in ("hidden", "cell")}
    trace = Trace(
        inputs=inputs, outputs=out["outputs"], targets=targets,
        step_loss=np.asarray(out["per_step"], dtype=np.float32),
        hidden=out["hidden"], grad_hidden=out["grad_hidden"], grad_hidden_norm=norm["hidden"],
        cell=out["cell"], grad_cell=out["grad_cell"], grad_cell_norm=norm["cell"],
        gates=out["gates"],
        loss=float(out["loss"]), grad_norm=total, grad_norm_clipped=after, clipped=clipped, nonfinite=False,
        param_grad_norms=per_param,
        param_grad_norms_clipped=per_param_after,
        whh=_whh_blocks(model),
        config={f.name: getattr(model.cfg, f.name) for f in fields(model.cfg)},  # plain values (asdict: 10x slower)
        meta={"loss": loss, "clip_norm": clip_norm, "clip_value": clip_value,
                                             **(meta or {})},
    )
    # every sample's steps count, kept or not
    trace.nonfinite = bool(not math.isfinite(trace.loss) or not math.isfinite(total) or out["bad_steps"].any())
    return trace
