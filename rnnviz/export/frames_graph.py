"""The export frame of the unrolled computation graph (PNG / SVG / GIF), drawn like the window's
graph view: short node labels (h₁₂) in black or white by the WCAG contrast rule, row names at
the left, the input tokens under the inputs, the losses joined by a bus into the total loss (no
total loss in a window without losses), and a title that fits its panel.
"""

from __future__ import annotations

import math

from rnnviz.app.colormaps import DIVERGING, SEQUENTIAL
from rnnviz.app.derived import derived
from rnnviz.app.panel_model import NONFINITE_RGB as NONFINITE
from rnnviz.app.panel_model import graph_for_trace, graph_numbers
from rnnviz.core.graph import row_labels
from rnnviz.core.graph_text import label_color, step_tokens
from rnnviz.export.frame_registry import FrameSpec, clamp_spec, frame
from rnnviz.export.plot import Box, font_sizes
from rnnviz.export.scene import INK, Scene, colormap, text_width

__all__ = ["GRAPH_MAX_STEPS", "fit_text", "panel_graph"]

GRAPH_MAX_STEPS = 24
_KIND_FILL = {"x": (222, 226, 230), "y": (255, 224, 178), "L": (255, 205, 210), "loss": (239, 154, 154)}
_OFF_FILL, _OFF_LINE = (245, 246, 247), (215, 218, 221)


def fit_text(text: str, size: float, width: float, bold: bool = False, min_size: float = 7.0) -> tuple[str, float]:
    """``text`` and a font size at most ``size`` with which it fits ``width``; below
    ``min_size`` the text is cut with an ellipsis instead."""
    w = text_width(text, size, bold)
    if w <= width:
        return text, size
    size2 = max(min_size, size * width / max(w, 1e-9))
    while len(text) > 1 and text_width(text, size2, bold) > width:
        text = text[:-2] + "…"
    return text, size2


def _state_colours(trace, b: int, backward: bool):
    """``rgb(kind, k, t)`` of an h or c node of sample ``b``, by the window's rule
    (:func:`rnnviz.app.panel_model.graph_numbers`): mean hₜ / cₜ on the diverging map, or in
    BPTT log10 ‖∂L/∂hₜ‖ / ‖∂L/∂cₜ‖ on the sequential map; NaN/Inf magenta."""
    nums = derived(trace, graph_numbers)  # once per trace (the window may have computed it already)
    div, seq = colormap(DIVERGING), colormap(SEQUENTIAL)
    lo, hi = nums["grad_levels"]

    def rgb(kind: str, k: int, t: int) -> tuple[int, int, int]:
        if backward:
            logs = nums["grad_log"] if kind == "h" else nums["grad_c_log"]
            v = float(logs[k, t, b]) if logs is not None else math.nan
            if v == -math.inf:  # an exact zero gradient: the bottom of the scale
                return tuple(int(c) for c in seq[0])
            if not math.isfinite(v):
                return NONFINITE
            return tuple(int(c) for c in seq[int(round(255 * min(1.0, max(0.0, (v - lo) / (hi - lo)))))])
        means, level = (nums["mean_h"], nums["act_level"]) if kind == "h" else (nums["mean_c"], nums["c_level"])
        v = float(means[k, t, b])
        if not math.isfinite(v):
            return NONFINITE
        return tuple(int(c) for c in div[int(round(255 * (0.5 + 0.5 * max(-1.0, min(1.0, v / level)))))])
    return rgb


@frame("graph")
def panel_graph(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """The unrolled graph of ``trace`` for ``spec`` (k, sample, t, mode) in ``box``: a window of
    at most :data:`GRAPH_MAX_STEPS` steps (fewer where the labels would not fit) around
    ``spec.t``. ``scene.info["graph"]`` says what was drawn: nodes, edges, first step, labels."""
    ink = INK
    T = trace.seq_len
    tsize, lsize = font_sizes(box)
    area_w = box.w - 28
    n = int(min(T, GRAPH_MAX_STEPS, max(4, area_w // (2.8 * lsize))))
    first = 0
    if T > n:  # a window of steps around the current one
        centre = T - 1 if spec.t is None else spec.t
        first = min(max(0, centre - n // 2), T - n)
    backward = spec.mode == "backward"
    _, b = clamp_spec(trace, spec)
    sample = f" of sample {trace.kept_samples[b]}" if trace.recorded_batch_size > 1 else ""
    what = f"‖∂L/∂hₜ‖{sample}, log scale (BPTT)" if backward else f"mean hₜ{sample} (forward)"
    window = f" · steps {first + 1}–{first + n} of {T}" if T > n else ""
    title, tsize = fit_text(f"unrolled graph: {what}{window}", tsize, box.w - 8, bold=True)
    scene.text(box.x0 + 4, box.y0 + 3, title, tsize, ink, "la", bold=True)

    G = graph_for_trace(trace)
    keep = {v for v, d in G.nodes(data=True) if d.get("t") is not None and first <= d["t"] < first + n}
    if any(G.nodes[v]["kind"] == "L" for v in keep):  # the total loss only with a loss to join it
        keep.add(("L",))
    state_rgb = _state_colours(trace, b, backward)
    pos = {v: G.nodes[v]["pos"] for v in keep}
    last_col = max(p[0] for v, p in pos.items() if G.nodes[v].get("t") is not None)
    loss_x = last_col + 0.9  # the total loss ends the drawn window
    if ("L",) in pos:
        pos[("L",)] = (loss_x, pos[("L",)][1])
    tokens = step_tokens(trace, spec.sample)
    has_tokens = any(tok is not None for tok in tokens["inputs"][first:first + n])
    rows = [(y, name) for y, name in row_labels(G) if any(p[1] == y for p in pos.values())]
    label_w = max((text_width(name, lsize, True) for _, name in rows), default=0.0) + 6
    top = box.y0 + tsize + 12
    bottom = box.y1 - (lsize * 1.4 if has_tokens else 0.0) - 6
    x0 = box.x0 + 8 + label_w
    xs = [p[0] - first for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    xmin, xmax, ymin, ymax = 0.0, max(xs), min(ys), max(ys)
    sx = (box.x1 - 10 - x0) / max(1e-9, xmax - xmin + 1.0)
    sy = (bottom - top) / max(1e-9, ymax - ymin + 1.0)
    r = max(3.0, min(sx, sy) * 0.34)

    def to_px(p):
        return (x0 + (p[0] - first - xmin + 0.5) * sx, bottom - (p[1] - ymin + 0.5) * sy)

    def reached(v) -> bool:
        t = G.nodes[v].get("t")
        if spec.t is None or spec.mode == "static":
            return True
        if t is None:
            return spec.mode == "backward" or spec.t >= T - 1
        return t <= spec.t if spec.mode == "forward" else t >= spec.t

    for y, name in rows:
        scene.text(x0 - 6, to_px((first, y))[1], name, lsize, ink, "rm", bold=True)
    for u, v, data in G.edges(data=True):
        if u not in keep or v not in keep:
            continue
        on = reached(u) and reached(v)
        color = (120, 125, 130) if on else (225, 227, 230)
        if on and backward and data.get("weight_name") in ("W_hh", "c"):
            color = (214, 39, 40)
        a, b = to_px(pos[u]), to_px(pos[v])
        if data.get("weight_name") == "sum":  # up from L_t to the bus, along it into L
            points = [(a[0], a[1] - r), (a[0], b[1]), (b[0] - r, b[1])]
        else:
            d = math.hypot(b[0] - a[0], b[1] - a[1]) or 1.0
            ux, uy = (b[0] - a[0]) / d, (b[1] - a[1]) / d
            points = [(a[0] + ux * r, a[1] + uy * r), (b[0] - ux * r, b[1] - uy * r)]
        scene.line(points, color, 1.2 if on else 1.0, data.get("style") == "dashed")
    shown, fills = 0, {}
    for v in keep:
        data = G.nodes[v]
        cx, cy = to_px(pos[v])
        kind, t = data["kind"], data.get("t")
        fill = _KIND_FILL.get(kind, (200, 200, 200))
        if kind in ("h", "c") and t is not None:
            fill = state_rgb(kind, data["layer"] * trace.num_directions + data["direction"], t)
        outline = ink
        if not reached(v):
            fill, outline = _OFF_FILL, _OFF_LINE
        cur = spec.t is not None and t == spec.t
        fills[v] = fill
        rr = r * (0.78 if kind == "c" else 1.0)
        scene.circle(cx, cy, rr, fill=fill, outline=(230, 50, 30) if cur else outline, width=2 if cur else 1)
        label = data.get("short", data.get("label", ""))
        text, size = fit_text(label, min(lsize, rr * 0.95), 1.8 * rr, min_size=6.0)
        if rr >= 5.0 and not text.endswith("…"):
            scene.text(cx, cy, text, size, label_color(fill), "mm")
            shown += 1
        if kind == "x" and t is not None and tokens["inputs"][t] is not None:
            tok, tok_size = fit_text(tokens["inputs"][t], lsize * 0.9, sx * 0.95, min_size=6.0)
            scene.text(cx, cy + rr + 2, tok, tok_size, ink, "ma")
    scene.info["graph"] = {"fills": fills, "nodes": len(keep),
                           "edges": sum(1 for u, v in G.edges() if u in keep and v in keep),
                           "first": first, "steps": n, "labels": shown, "title": title, "title_size": tsize}
