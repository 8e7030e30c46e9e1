"""The dynamics figure: phase portrait with fixed points, eigenvalues against the unit circle,
Jacobian singular values with the gradient's fate, and the connectivity matrix — one Scene, so
PNG and SVG come from the export module's writers like every other rnnviz figure."""

from __future__ import annotations

import weakref

import numpy as np

from rnnviz.app.colormaps import SEQUENTIAL
from rnnviz.export.frame_registry import frame
from rnnviz.export.plot import Box, draw_heatmap, draw_lines, fmt_tick, nice_ticks
from rnnviz.export.scene import GRID, INK, MUTED, Scene, colormap

KIND_COLORS = {"stable": (20, 20, 20), "saddle": (214, 39, 40), "unstable": (255, 127, 14)}
SV_COLOR, PROD_COLOR, GRAD_COLOR = (120, 140, 200), (31, 119, 180), (214, 39, 40)
REACH_COLOR = (44, 150, 44)  # not red: the marker line at the crossing is


def _axes(scene: Scene, box: Box, title: str, xr, yr, xlabel: str, ylabel: str, square: bool = False,
          ticks: bool = True):
    """Frame, ticks and labels of an x–y plot (``ticks=False``: a bare frame, for a turned 3-D
    view whose screen coordinates mean nothing); returns the (x, y) → pixel mapping."""
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
    for v in nice_ticks(xl, xh, 6) if ticks else ():
        px, _ = to_px(v, yl)
        if plot.x0 <= px <= plot.x1:
            scene.line([(px, plot.y0), (px, plot.y1)], GRID, 1)
            scene.text(px, plot.y1 + 4, fmt_tick(v), lsize * 0.9, MUTED, "ma")
    for v in nice_ticks(yl, yh, 5) if ticks else ():
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
                        unstable_pc=None, pcs=(0, 1), cursor: int | None = None, title: str = "",
                        rot=None, until: int | None = None, labels: tuple[str, str] | None = None) -> None:
    """Trajectories (T, B, P) coloured by time, fixed points by kind, unstable directions as bars.

    ``rot`` (3, 2): a 3-D view of components ``pcs[:3]`` turned onto the page (see
    :func:`rnnviz.dynamics.portrait.on_screen`); ``until``: draw the trajectories only up to that
    step (an animation of the forward pass); ``cursor``: a marker on every trajectory there."""
    from rnnviz.dynamics.portrait import on_screen

    xy = on_screen(states_pc, pcs, rot)  # (T, B, 2)
    fxy = on_screen(np.asarray(fixed_pc), pcs, rot).reshape(-1, 2)
    pts = np.concatenate([xy.reshape(-1, 2), fxy])  # every step, not only those drawn: GIF frames keep their axes
    xr, yr = _range(pts[:, 0]), _range(pts[:, 1])
    a, b = pcs[0], pcs[1]
    xl, yl = labels or ((f"PC{a + 1}", f"PC{b + 1}") if rot is None else
                        (", ".join(f"PC{i + 1}" for i in pcs[:3]) + " turned in 3-D", ""))
    to_px, _ = _axes(scene, box, title or "Phase portrait", xr, yr, xl, yl, square=True, ticks=rot is None)
    T = xy.shape[0]
    end = T if until is None else min(max(until + 1, 0), T)
    lut = colormap(SEQUENTIAL)  # time: early dark, late bright (as the window)
    chunks = np.linspace(0, T, min(T, 12) + 1).astype(int)
    for s in range(xy.shape[1]):
        px, py = to_px(xy[:, s, 0], xy[:, s, 1])
        for i in range(len(chunks) - 1):  # colour by time in a dozen pieces (one polyline each)
            lo, hi = chunks[i], min(end, chunks[i + 1] + 1)
            if hi - lo < 2:
                continue
            col = tuple(int(c) for c in lut[int(255 * i / max(1, len(chunks) - 2))])
            scene.line(list(zip(px[lo:hi], py[lo:hi], strict=True)), col, 1.0)
    span = (box.w + box.h) * 0.04
    dxy = on_screen(np.asarray(unstable_pc), pcs, rot).reshape(-1, 2) if unstable_pc is not None else None
    for i, kind in enumerate(kinds):
        x, y = to_px(fxy[i, 0], fxy[i, 1])
        if dxy is not None and np.isfinite(dxy[i]).all() and kind != "stable":
            n = np.hypot(*dxy[i])
            if n > 1e-9:
                dx, dy = dxy[i] / n * span
                scene.line([(x - dx, y + dy), (x + dx, y - dy)], KIND_COLORS[kind], 2.0)
        if kind == "stable":
            scene.circle(x, y, 5.5, fill=KIND_COLORS[kind], outline=(255, 255, 255), width=1.5)
        else:
            scene.circle(x, y, 5, fill=(255, 255, 255), outline=KIND_COLORS[kind], width=2.0)
    if cursor is not None and 0 <= cursor < T:  # over the points: the moving state is the story
        px, py = to_px(xy[cursor, :, 0], xy[cursor, :, 1])
        for x, y in zip(px, py, strict=True):
            if np.isfinite(x) and np.isfinite(y):
                scene.circle(x, y, 3.5, fill=(230, 50, 30), outline=(255, 255, 255), width=0.8)


_PORTRAIT_CACHE: dict = {}  # (id(trace), k, part) → (weakref to trace, Portrait): one PCA per trace, not per GIF frame


def _cached_portrait(trace, k: int, part: str):
    from rnnviz.dynamics.portrait import portrait

    key = (id(trace), k, part)
    hit = _PORTRAIT_CACHE.get(key)
    if hit is not None and hit[0]() is trace:
        return hit[1]
    pr = portrait(trace, k, part)
    _PORTRAIT_CACHE.clear()  # keep one: a GIF asks for the same trace frame after frame
    _PORTRAIT_CACHE[key] = (weakref.ref(trace), pr)
    return pr


@frame("dynamics")
def trace_portrait_panel(scene: Scene, box: Box, trace, spec) -> None:
    """The exported "dynamics" frame: layer-direction ``spec.k``'s trajectories with markers at
    step ``spec.t`` (a forward animation draws them up to ``spec.t``), and the fixed points the
    window found, with its components, state part and 3-D angle, when they were kept with the
    trace (:func:`rnnviz.dynamics.panel.store_fixed_points`; a Trace alone holds no weights)."""
    from rnnviz.dynamics.panel import stored_fixed_points

    k = min(max(spec.k, 0), trace.hidden.shape[0] - 1)
    fps = stored_fixed_points(trace) if k == 0 else None  # found for layer 0, forward
    view = fps.view if fps is not None else {}
    part = view.get("part", "h") if view.get("part") in ("h", "c", "h,c") else "h"
    pr = _cached_portrait(trace, k, part)
    P = pr.coords.shape[-1]
    coords = pr.coords if P > 2 else np.concatenate([pr.coords, np.zeros(pr.coords.shape[:-1] + (3 - P,))], -1)
    pcs = [int(i) for i in view.get("pcs", [0, 1, 2]) if 0 <= int(i) < coords.shape[-1]][:3]
    rot = np.asarray(view["rotation"], dtype=float) if view.get("rotation") is not None else None
    if len(pcs) < 3 or (rot is not None and rot.shape != (3, 2)):
        pcs, rot = [0, 1, 2], None
    ex = pr.projection.explained
    if rot is not None:
        title = "Phase portrait in 3-D (" + ", ".join(f"PC{i + 1} {ex[i]:.0%}" for i in pcs if i < len(ex)) + ")"
    elif P > 1:
        title = f"Phase portrait (PC{pcs[0] + 1} {ex[pcs[0]]:.0%}, PC{pcs[1] + 1} {ex[pcs[1]]:.0%} of variance)"
    else:
        title = "Phase portrait"
    fixed, uns, kinds = np.zeros((0, coords.shape[-1])), None, []
    if fps is not None and len(fps):
        fixed, uns = pr.place_states(fps.points, fps.unstable)
        if fixed.shape[1] < coords.shape[-1]:
            pad = ((0, 0), (0, coords.shape[-1] - fixed.shape[1]))
            fixed, uns = np.pad(fixed, pad), np.pad(uns, pad)
        kinds = fps.kinds
        title += f": {fps.count('stable')} stable ●, {fps.count('saddle')} saddles ○ for {fps.note}"
    until = spec.t if spec.mode == "forward" else None
    draw_phase_portrait(scene, box, coords, fixed, kinds, uns, pcs, cursor=spec.t, title=title, rot=rot,
                        until=until)


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


def sweep_scene(sweep, size=(1100, 760)) -> Scene:
    """The edge of chaos: the largest Lyapunov exponent against the gain of W_hh, and on the same
    gain axis the network's trainability — the BPTT gradient's reach ‖∂L/∂h_1‖/‖∂L/∂h_T‖ (log)."""
    W, H = size
    scene = Scene(W, H, title="rnnviz edge of chaos")
    cross = sweep.crossing()
    head = (f"random {sweep.cell} H={sweep.hidden_size}, W_hh = gain × W: λ_max crosses 0 at gain {cross:.2f}"
            if np.isfinite(cross) else f"random {sweep.cell} H={sweep.hidden_size}, W_hh = gain × W")
    scene.text(12, 8, head, 14, INK, "la", bold=True)
    top, mid = 34, 34 + (H - 34) / 2
    g = np.asarray(sweep.gains, dtype=np.float64)
    marker = cross if np.isfinite(cross) else None
    xr = (float(g.min()), float(g.max()))
    draw_lines(scene, Box(0, top, W, mid), [("λ_max (per step)", g, sweep.largest, PROD_COLOR, False),
                                            ("0: neither forgets nor explodes", g, np.zeros_like(g), MUTED, True)],
               title="Largest Lyapunov exponent of the autonomous network", xlabel="gain of W_hh",
               marker_x=marker, x_range=xr, integer_x=False)
    if sweep.grad_log10 is not None:
        reach = 10.0 ** np.clip(np.asarray(sweep.grad_log10, dtype=np.float64), -300, 300)
        draw_lines(scene, Box(0, mid, W, H),
                   [(f"‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ over T = {sweep.grad_steps} steps", g, reach, REACH_COLOR, False),
                    ("1: the gradient arrives whole", g, np.ones_like(g), MUTED, True)],
                   title="Trainability: how much of the last step's gradient reaches the first (log)",
                   xlabel="gain of W_hh", log=True, marker_x=marker, x_range=xr, integer_x=False)
    return scene
