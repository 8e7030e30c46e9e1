"""The export frames of the trace panels: hidden and cell state, gates, saturation, gradients,
training loss and predictions. Each registers itself under its panel name; colour levels,
gates shown and saturation thresholds come from :mod:`rnnviz.app.panel_model`, the same rules
the window's views use. The graph frame is in :mod:`rnnviz.export.frames_graph`.
"""

from __future__ import annotations

import numpy as np

from rnnviz.app.colormaps import DIVERGING, SEQUENTIAL, gate_colormap
from rnnviz.app.panel_model import (
    SAT_HIGH,
    SAT_LOW,
    cell_display,
    cells_with_state,
    gate_levels,
    gated_cells,
    saturation_fractions,
    state_levels,
    trace_gates,
)
from rnnviz.export.frame_registry import FrameSpec, clamp_spec, frame, k_label, nonfinite_mask, visible
from rnnviz.export.plot import Box, draw_bars, draw_heatmap, draw_lines, fmt_tick, font_sizes, placeholder
from rnnviz.export.scene import INK, SERIES_COLORS, Scene

__all__ = ["panel_cell", "panel_gates", "panel_gradients", "panel_hidden", "panel_loss", "panel_outputs",
           "panel_saturation"]


@frame("hidden")
def panel_hidden(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """h_t of row k, sample b: units × time, levels from :func:`state_levels` (as in the window)."""
    _state_heatmap(scene, box, trace, spec, trace.hidden, "hidden state hₜ", "hₜ", "hidden")


@frame("cell")
def panel_cell(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """The LSTM's c_t, like :func:`panel_hidden`; other cells get a note."""
    if trace.cell is None:
        placeholder(scene, box, "cell state cₜ",
                    f"only an {cells_with_state()} has a cell state ({cell_display(trace.cell_type)} here)")
        return
    _state_heatmap(scene, box, trace, spec, trace.cell, "cell state cₜ", "cₜ", "cell")


def _state_heatmap(scene, box, trace, spec, arr, title, symbol, name) -> None:
    k, b = clamp_spec(trace, spec)
    raw = np.asarray(arr[k, :, b, :], dtype=np.float64).T
    levels = state_levels(arr)
    scene.info[name] = {"levels": (levels.lo, levels.hi), "log": levels.log, "k": k, "b": b}
    lo, hi = levels.shown
    caption = f" · {levels.caption}" if levels.log else ""
    draw_heatmap(scene, box, levels.transform(visible(raw, spec)), title=f"{title}{k_label(trace, k)}{caption}",
                 ylabel="unit", cmap=DIVERGING, vmin=lo, vmax=hi, cbar_label=symbol, highlight=spec.t,
                 bad=nonfinite_mask(raw, spec), log=levels.log)


@frame("gates")
def panel_gates(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """Every gate (candidates included), stacked, each on its own levels from :func:`gate_levels`."""
    gates = trace_gates(trace)
    if not gates:
        placeholder(scene, box, "gates", f"a {cell_display(trace.cell_type)} has no gates: try a {gated_cells()}")
        return
    k, b = clamp_spec(trace, spec)
    raw = np.concatenate([np.asarray(trace.gates[g.key][k, :, b, :], dtype=np.float64).T for g in gates], axis=0)
    bands = [(*gate_levels(trace.cell_type, g.key, trace.gates[g.key]).shown, gate_colormap(g.candidate))
             for g in gates]
    scene.info["gates"] = {"gates": [g.key for g in gates], "levels": {g.key: band[:2] for g, band in
                                                                       zip(gates, bands, strict=True)}}
    labels = [g.symbol + (f" ({fmt_tick(lo)}…{fmt_tick(hi)})" if g.candidate else "")
              for g, (lo, hi, _) in zip(gates, bands, strict=True)]
    draw_heatmap(scene, box, visible(raw, spec), title=f"gate activations{k_label(trace, k)}",
                 cmap=SEQUENTIAL, vmin=0.0, vmax=1.0, cbar_label="σ gates", highlight=spec.t,
                 row_groups=labels, bands=bands, bad=nonfinite_mask(raw, spec))


@frame("saturation")
def panel_saturation(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """Per gate, the share of steps each unit is open (above SAT_HIGH) / shut (below SAT_LOW)."""
    gates = trace_gates(trace)
    if not gates:
        placeholder(scene, box, "gate saturation", f"a {cell_display(trace.cell_type)} has no gates to saturate")
        return
    k, b = clamp_spec(trace, spec)
    tsize, lsize = font_sizes(box)
    scene.text(box.x0 + 4, box.y0 + 3, f"gate saturation{k_label(trace, k)}, sample {b}", tsize, INK, "la",
               bold=True)
    scene.info["saturation"] = {"gates": [g.key for g in gates], "thresholds": (SAT_LOW, SAT_HIGH), "fractions": {}}
    cols = 2 if len(gates) > 1 else 1
    rows = -(-len(gates) // cols)
    top = box.y0 + tsize + 8
    cw, ch = box.w / cols, (box.y1 - top) / rows
    for i, g in enumerate(gates):
        r, c = divmod(i, cols)
        sub = Box(box.x0 + c * cw, top + r * ch, box.x0 + (c + 1) * cw, top + (r + 1) * ch)
        low, high = saturation_fractions(trace.gates[g.key], g.candidate)
        scene.info["saturation"]["fractions"][g.key] = (low[k, b], high[k, b])
        up, down = (f"|v| > {SAT_HIGH:g}", f"|v| < {SAT_LOW:g}") if g.candidate else \
            (f"open > {SAT_HIGH:g}", f"shut < {SAT_LOW:g}")
        draw_bars(scene, sub, high[k, b], low[k, b], title=" ".join(g.title.split()), xlabel="unit",
                  up_label=up, down_label=down, fonts=(lsize, lsize * 0.9))  # the panel's sizes: readable


@frame("gradients")
def panel_gradients(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    T = trace.seq_len
    t = np.arange(1, T + 1)
    series = []
    for k in range(trace.grad_hidden_norm.shape[0]):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        many = trace.grad_hidden_norm.shape[0] > 1
        series.append(((f"‖∂L/∂hₜ‖{k_label(trace, k)}" if many else "‖∂L/∂hₜ‖"), t,
                       visible(trace.grad_hidden_norm[k], spec, gradient=True), color, False))
        if trace.grad_cell_norm is not None:
            series.append((("‖∂L/∂cₜ‖" + (k_label(trace, k) if many else "")), t,
                           visible(trace.grad_cell_norm[k], spec, gradient=True), color, True))
    rng = spec.grad_range
    if rng is None:
        parts = [trace.grad_hidden_norm] + ([trace.grad_cell_norm] if trace.grad_cell_norm is not None else [])
        vals = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])
        vals = vals[np.isfinite(vals) & (vals > 0)]
        rng = (float(vals.min()), float(vals.max())) if vals.size else None
    draw_lines(scene, box, series, title="gradient norm through time", xlabel="time step t",
               ylabel="norm (log)", log=True, marker_x=None if spec.t is None else spec.t + 1,
               x_range=(1, max(2, T)), y_range=rng)


@frame("training")
def panel_loss(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    hist = spec.history
    if hist:
        steps = np.array([r.get("step", i + 1) for i, r in enumerate(hist)], dtype=np.float64)
        loss = np.array([r.get("loss", np.nan) for r in hist], dtype=np.float64)
        xr = (float(steps.min()), float(max(steps.max(), steps.min() + 1)))
        if spec.step is not None:
            loss = np.where(steps <= spec.step, loss, np.nan)
        clipped = np.array([bool(r.get("clipped", False)) for r in hist])
        series = [("loss", steps, loss, SERIES_COLORS[0], False)]
        if clipped.any():
            series.append(("clipped steps", steps, np.where(clipped, loss, np.nan), (230, 50, 30), False))
        positive = loss[np.isfinite(loss) & (loss > 0)]
        use_log = positive.size > 1 and positive.max() / max(positive.min(), 1e-30) > 30
        draw_lines(scene, box, series, title="training loss", xlabel="training step", ylabel="loss (log)" if use_log
                   else "loss", log=use_log, marker_x=spec.step, x_range=xr, y_range=spec.loss_range)
        return
    T = trace.seq_len
    sl = np.asarray(trace.step_loss, dtype=np.float64)
    if np.isfinite(sl).sum() <= 1:
        msg = f"loss L = {trace.loss:.4g} (one target, at the last step)"
        placeholder(scene, box, "loss", msg)
        return
    draw_lines(scene, box, [("Lₜ", np.arange(1, T + 1), visible(sl, spec), SERIES_COLORS[0], False)],
               title=f"loss per time step (L = {trace.loss:.4g})", xlabel="time step t", ylabel="Lₜ",
               marker_x=None if spec.t is None else spec.t + 1, x_range=(1, max(2, T)))


@frame("predictions")
def panel_outputs(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    k, b = clamp_spec(trace, spec)
    out = np.asarray(trace.outputs, dtype=np.float64)
    if out.ndim != 3:
        placeholder(scene, box, "outputs ŷₜ", "no outputs recorded")
        return
    T, _, O = out.shape
    if O > 8:
        draw_heatmap(scene, box, visible(out[:, b, :].T, spec), title="outputs ŷₜ (logits)", ylabel="output",
                     cmap=SEQUENTIAL, highlight=spec.t)
        return
    t = np.arange(1, T + 1)
    series = [(f"ŷ[{o}]" if O > 1 else "ŷₜ", t, visible(out[:, b, o], spec), SERIES_COLORS[o % 8], False)
              for o in range(O)]
    tgt = np.asarray(trace.targets)
    if tgt.dtype.kind == "f" and O == 1:
        if tgt.ndim == 3:
            series.append(("target", t, tgt[:, b, 0].astype(np.float64), (60, 60, 60), True))
        elif tgt.ndim == 2:
            series.append(("target", np.array([T, T + 0.001]), np.array([tgt[b, 0]] * 2, dtype=np.float64),
                           (60, 60, 60), True))
    fin = np.concatenate([np.asarray(s[2], dtype=np.float64) for s in series]) if series else np.zeros(0)
    fin = np.concatenate([fin, out[:, b, :].ravel()])
    fin = fin[np.isfinite(fin)]
    rng = (float(fin.min()), float(fin.max())) if fin.size else None
    draw_lines(scene, box, series, title=f"outputs ŷₜ (sample {b})", xlabel="time step t", ylabel="ŷ",
               marker_x=None if spec.t is None else spec.t + 1, x_range=(1, max(2, T)), y_range=rng)
