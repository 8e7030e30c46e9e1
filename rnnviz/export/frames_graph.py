"""The export frame of the unrolled computation graph (PNG / SVG / GIF).

Nodes come from :func:`rnnviz.app.panel_model.graph_for_trace`, the same graph the window's
graph view draws; h (and c) nodes are coloured by mean |h_t| (forward) or ‖∂L/∂h_t‖ (backward).
"""

from __future__ import annotations

import numpy as np

from rnnviz.app.panel_model import graph_for_trace
from rnnviz.export.frame_registry import FrameSpec, frame
from rnnviz.export.plot import Box, font_sizes
from rnnviz.export.scene import INK, Scene, colormap

__all__ = ["GRAPH_MAX_STEPS", "panel_graph"]

_KIND_FILL = {"x": (222, 226, 230), "y": (255, 224, 178), "L": (255, 205, 210), "loss": (239, 154, 154)}
GRAPH_MAX_STEPS = 24


@frame("graph")
def panel_graph(scene: Scene, box: Box, trace, spec: FrameSpec) -> None:
    """The unrolled graph; h (and c) nodes coloured by |h_t| (forward) or ||dL/dh_t|| (backward)."""
    T = trace.seq_len
    first = 0
    n = min(T, GRAPH_MAX_STEPS)
    if T > n:  # show a window of steps around the current one
        centre = T - 1 if spec.t is None else spec.t
        first = min(max(0, centre - n // 2), T - n)
    tsize, lsize = font_sizes(box)
    backward = spec.mode == "backward"
    what = "‖∂L/∂hₜ‖ (backward)" if backward else "mean |hₜ| (forward)"
    window = f", steps {first + 1}–{first + n} of {T}" if T > n else ""
    scene.text(box.x0 + 4, box.y0 + 3, f"unrolled graph: {what}{window}", tsize, INK, "la", bold=True)
    G = graph_for_trace(trace, max_steps=n)
    scene.info["graph"] = {"nodes": G.number_of_nodes(), "edges": G.number_of_edges(), "first": first}
    if backward:
        vals = np.asarray(trace.grad_hidden_norm, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.log10(np.where(vals > 0, vals, np.nan))
    else:
        vals = np.nanmean(np.abs(np.asarray(trace.hidden, dtype=np.float64)), axis=(2, 3))
    fin = vals[np.isfinite(vals)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    lut = colormap("magma" if backward else "viridis")
    pos = {node: data["pos"] for node, data in G.nodes(data=True)}
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    area = Box(box.x0 + 14, box.y0 + tsize + 16, box.x1 - 14, box.y1 - 10)
    xmin, xmax, ymin, ymax = min(xs), max(xs), min(ys), max(ys)
    sx = area.w / max(1e-9, xmax - xmin + 1.0)
    sy = area.h / max(1e-9, ymax - ymin + 1.0)
    r = max(3.0, min(sx, sy) * 0.3)

    def to_px(p):
        return (area.x0 + (p[0] - xmin + 0.5) * sx, area.y1 - (p[1] - ymin + 0.5) * sy)

    def reached(node) -> bool:
        t = G.nodes[node].get("t")
        if spec.t is None or spec.mode == "static":
            return True
        if t is None:
            return spec.mode == "backward" or spec.t >= T - 1
        t += first
        return t <= spec.t if spec.mode == "forward" else t >= spec.t

    for u, v, data in G.edges(data=True):
        on = reached(u) and reached(v)
        color = (120, 125, 130) if on else (225, 227, 230)
        if on and backward and data.get("weight_name") in ("W_hh", "c"):
            color = (214, 39, 40)
        scene.line([to_px(pos[u]), to_px(pos[v])], color, 1.2 if on else 1.0, data.get("style") == "dashed")
    show_labels = r * 2 >= lsize * 1.6
    for node, data in G.nodes(data=True):
        cx, cy = to_px(pos[node])
        kind = data["kind"]
        fill = _KIND_FILL.get(kind, (200, 200, 200))
        if kind in ("h", "c") and data.get("t") is not None:
            k = data["layer"] * trace.num_directions + data["direction"]
            v = vals[k, data["t"] + first] if k < vals.shape[0] else np.nan
            if np.isfinite(v):
                fill = tuple(int(c) for c in lut[int(np.clip((v - lo) / (hi - lo) * 255, 0, 255))])
        if not reached(node):
            fill, outline = (245, 246, 247), (215, 218, 221)
        else:
            outline = INK
        cur = spec.t is not None and data.get("t") is not None and data["t"] + first == spec.t
        scene.circle(cx, cy, r, fill=fill, outline=(230, 50, 30) if cur else outline, width=2 if cur else 1)
        if show_labels:
            label = data.get("label", "")
            if first and data.get("t") is not None:
                label = label.rstrip("₀₁₂₃₄₅₆₇₈₉") + str(data["t"] + first + 1).translate(
                    str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))
            bright = sum(fill) / 3 > 140
            scene.text(cx, cy, label, max(6.0, min(lsize, r * 0.75)), INK if bright else (255, 255, 255), "mm")
