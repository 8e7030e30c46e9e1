"""The dynamics figure: phase portrait with fixed points, eigenvalues against the unit circle,
Jacobian singular values with the gradient's fate, and the connectivity matrix — one Scene, so
PNG and SVG come from the export module's writers like every other rnnviz figure."""

from __future__ import annotations

import numpy as np

from rnnviz.export.frame_registry import frame
from rnnviz.export.plot import Box, draw_heatmap, draw_lines, fmt_tick, nice_ticks
from rnnviz.export.scene import GRID, INK, MUTED, Scene, colormap

KIND_COLORS = {"stable": (20, 20, 20), "saddle": (214, 39, 40), "unstable": (255, 127, 14)}
SV_COLOR, PROD_COLOR, GRAD_COLOR = (120, 140, 200), (31, 119, 180), (214, 39, 40)


def _axes(scene: Scene, box: Box, title: str, xr, yr, xlabel: str, ylabel: str, square: bool = False):
    """Frame, ticks and labels of an x–y plot; returns the (x, y) → pixel mapping."""
    lsize = max(9.0, min(13.0, box.h / 28))
    scene.text(box.x0 + 4, box.y0 + 3, title, lsize * 1.15, INK, "la", bold=True)
    plot = Box(box.x0 + lsize * 5, box.y0 + lsize * 2.4, box.x1 - 12, box.y1 - lsize * 3.2)
    (xl, xh), (yl, yh) = xr, yr
    if square:  # equal scales on both axes: circles stay round
        sx, sy = plot.w / (xh - xl), plot.h / (yh - yl)
        s = min(sx, sy)
        cx, cy = (xl + xh) / 2, (yl + yh) / 2
        xl, xh = cx - plot.w / s / 2, cx + plot.w / s / 2
        yl, yh = cy - plot.h / s / 2, cy + plot.h / s / 2

    def to_px(x, y):
        return (plot.x0 + (np.asarray(x) - xl) / (xh - xl) * plot.w,
                plot.y1 - (np.asarray(y) - yl) / (yh - yl) * plot.h)

    scene.rect(plot.x0, plot.y0, plot.x1, plot.y1, fill=(252, 252, 253), outline=MUTED)
    for v in nice_ticks(xl, xh, 6):
        px, _ = to_px(v, yl)
        if plot.x0 <= px <= plot.x1:
            scene.line([(px, plot.y0), (px, plot.y1)], GRID, 1)
            scene.text(px, plot.y1 + 4, fmt_tick(v), lsize * 0.9, MUTED, "ma")
    for v in nice_ticks(yl, yh, 5):
        _, py = to_px(xl, v)
        if plot.y0 <= py <= plot.y1:
            scene.line([(plot.x0, py), (plot.x1, py)], GRID, 1)
            scene.text(plot.x0 - 4, py, fmt_tick(v), lsize * 0.9, MUTED, "rm")
    scene.text((plot.x0 + plot.x1) / 2, box.y1 - 3, xlabel, lsize, MUTED, "md")
    scene.text(box.x0 + 2, (plot.y0 + plot.y1) / 2, ylabel, lsize, MUTED, "lm", rotate=90)
    return to_px, plot


def _range(values: np.ndarray, pad: float = 0.08):
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    lo, hi = (float(v.min()), float(v.max())) if v.size else (-1.0, 1.0)
    span = hi - lo or 1.0
    return lo - pad * span, hi + pad * span


def draw_phase_portrait(scene: Scene, box: Box, states_pc: np.ndarray, fixed_pc: np.ndarray, kinds,
                        unstable_pc=None, pcs=(0, 1), cursor: int | None = None, title: str = "") -> None:
    """Trajectories (T, B, P) coloured by time, fixed points by kind, unstable directions as bars."""
    a, b = pcs
    pts = np.concatenate([states_pc[..., [a, b]].reshape(-1, 2), np.asarray(fixed_pc)[:, [a, b]].reshape(-1, 2)])
    to_px, _ = _axes(scene, box, title or "Phase portrait", _range(pts[:, 0]), _range(pts[:, 1]),
                     f"PC{a + 1}", f"PC{b + 1}", square=True)
    T = states_pc.shape[0]
    lut = colormap("viridis")
    chunks = np.linspace(0, T, min(T, 12) + 1).astype(int)
    for s in range(states_pc.shape[1]):
        px, py = to_px(states_pc[:, s, a], states_pc[:, s, b])
        for i in range(len(chunks) - 1):  # colour by time in a dozen pieces (one polyline each)
            lo, hi = chunks[i], min(T, chunks[i + 1] + 1)
            col = tuple(int(c) for c in lut[int(255 * i / max(1, len(chunks) - 2))])
            scene.line(list(zip(px[lo:hi], py[lo:hi], strict=True)), col, 1.0)
        if cursor is not None and 0 <= cursor < T:
            scene.circle(px[cursor], py[cursor], 3.5, fill=(230, 50, 30))
    span = (box.w + box.h) * 0.04
    for i, kind in enumerate(kinds):
        x, y = to_px(fixed_pc[i, a], fixed_pc[i, b])
        if unstable_pc is not None and np.isfinite(unstable_pc[i]).all() and kind != "stable":
            d = np.array([unstable_pc[i, a], unstable_pc[i, b]], dtype=float)
            n = np.hypot(*d)
            if n > 1e-9:
                dx, dy = d / n * span
                scene.line([(x - dx, y + dy), (x + dx, y - dy)], KIND_COLORS[kind], 2.0)
        if kind == "stable":
            scene.circle(x, y, 5, fill=KIND_COLORS[kind], outline=(255, 255, 255), width=1.5)
        else:
            scene.circle(x, y, 5, fill=(255, 255, 255), outline=KIND_COLORS[kind], width=2.0)


@frame("dynamics")
def trace_portrait_panel(scene: Scene, box: Box, trace, spec) -> None:
    """The exported "dynamics" frame: layer-direction ``spec.k``'s trajectories on PC1/PC2, the
    markers at step ``spec.t`` (a Trace alone holds no fixed points: those need the model)."""
    from rnnviz.dynamics.portrait import portrait

    k = min(max(spec.k, 0), trace.hidden.shape[0] - 1)
    pr = portrait(trace, k, "h")
    P = pr.coords.shape[-1]
    ex = pr.projection.explained
    title = f"Phase portrait (PC1 {ex[0]:.0%}, PC2 {ex[1]:.0%} of variance)" if P > 1 else "Phase portrait"
    coords = pr.coords if P > 1 else np.concatenate([pr.coords, np.zeros_like(pr.coords)], axis=-1)
    draw_phase_portrait(scene, box, coords, np.zeros((0, coords.shape[-1])), [], None, (0, 1), cursor=spec.t,
                        title=title)


def draw_eigenvalues(scene: Scene, box: Box, eigvals: np.ndarray, title: str = "") -> None:
    """Eigenvalues in the complex plane with the unit circle (|λ| > 1: an unstable mode)."""
    lam = np.asarray(eigvals)
    r = max(1.15, float(np.abs(lam).max()) * 1.08 if lam.size else 1.15)
    to_px, _ = _axes(scene, box, title or "Eigenvalues", (-r, r), (-r, r), "Re λ", "Im λ", square=True)
    th = np.linspace(0, 2 * np.pi, 121)
    cx, cy = to_px(np.cos(th), np.sin(th))
    scene.line(list(zip(cx, cy, strict=True)), MUTED, 1.5, dashed=True)
    for v in lam:
        x, y = to_px(v.real, v.imag)
        scene.circle(x, y, 3.5, fill=KIND_COLORS["saddle"] if abs(v) > 1 else INK)


def report_scene(report, size=(1400, 900), pcs=(0, 1)) -> Scene:
    """The whole report as one figure (see the module docstring)."""
    W, H = size
    scene = Scene(W, H, title="rnnviz dynamics")
    cfg = report.config
    top = 34
    scene.text(12, 8, f"{cfg.get('cell', '?')} H={cfg.get('hidden_size')} on {report.task}: {report.summary()}",
               14, INK, "la", bold=True)
    half_w, half_h = W / 2, (H - top) / 2
    fp = report.fixed
    pr = report.projection
    fixed_pc = pr.transform(fp.points) if len(fp) else np.zeros((0, pr.components.shape[1]))
    uns = np.full_like(fixed_pc, np.nan)
    for i in range(len(fp)):
        if fp.n_unstable[i]:
            uns[i] = pr.direction(fp.unstable_directions(i)[0])
    states_pc = pr.transform(report.trace_states())
    draw_phase_portrait(scene, Box(0, top, half_w * 1.05, top + half_h), states_pc, fixed_pc, fp.kinds, uns, pcs,
                        title=f"Phase portrait: {fp.count('stable')} stable (●), "
                              f"{fp.count('saddle')} saddles (○ with unstable direction)")
    pick = next((i for i, k in enumerate(fp.kinds) if k == "saddle"), 0 if len(fp) else None)
    if pick is not None:
        draw_eigenvalues(scene, Box(half_w * 1.05, top, half_w * 1.55, top + half_h), fp.eigvals[pick],
                         title=f"Eigenvalues, {fp.kinds[pick]} point {pick}")
    sv = report.jac.singular_values[0, :, 0]  # (T, S)
    t = np.arange(1, len(sv) + 1)
    series = [("σ_max(J_t)", t, sv[:, 0], SV_COLOR, False), ("σ_min(J_t)", t, sv[:, -1], SV_COLOR, True),
              ("‖∂h_T/∂h_t‖", t, 10.0 ** report.jac.product_log10[0, :, 0], PROD_COLOR, False),
              ("‖∂L/∂h_t‖", t, report.trace.grad_hidden_norm[0], GRAD_COLOR, False)]
    draw_lines(scene, Box(0, top + half_h, half_w, H), series, title="Why the gradient vanishes",
               xlabel="time step t", log=True)
    conn = report.conn.matrix
    with np.errstate(divide="ignore"):
        logc = np.log10(np.where(conn > 0, conn, np.nan))
    draw_heatmap(scene, Box(half_w, top + half_h, W, H), logc, title="Memory reach log10 ‖∂y_t/∂x_s‖",
                 xlabel="input step s", ylabel="output step t", cbar_label="log10")
    if pick is None:
        scene.text(half_w * 1.3, top + half_h / 2, "no fixed points found", 13, MUTED, "mm")
    lam = report.lyap.exponents
    scene.text(half_w * 1.58, top + 40, "Lyapunov exponents (autonomous):", 12, INK, "la", bold=True)
    for i, v in enumerate(lam[:6]):
        scene.text(half_w * 1.58, top + 62 + 18 * i, f"λ{i + 1} = {v:+.4f} per step", 12, INK, "la")
    return scene
