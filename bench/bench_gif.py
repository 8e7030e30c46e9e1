"""GIF of a 100-step run: rnnviz's numpy + Pillow writer vs matplotlib FuncAnimation + PillowWriter.

Both draw the same frames (hidden-state heatmap with the steps reached so far, and the gradient
norm through time on a log axis, up to the current step) at the same size, in the same run.

    python bench/bench_gif.py [--steps 100] [--size 800x400] [--out out/bench]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import rnnviz
from rnnviz.core.train import build_run
from rnnviz.export import gif


def make_trace(steps: int):
    cfg = rnnviz.RunConfig().with_overrides(cell="lstm", task="adding", seq_len=steps, batch_size=4, hidden_size=32)
    model, b = build_run(cfg)
    return rnnviz.record(model, b.x, b.y, loss=b.loss, meta={"task": b.name, "shape": b.shape})


def ours(trace, path, size, fps):
    return gif.write_animation(path, "forward", trace, panels=["hidden", "gradients"], size=size, fps=fps)


def matplotlib_gif(trace, path, size, fps):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    h = trace.hidden[0, :, 0, :].T
    g = trace.grad_hidden_norm[0]
    T = h.shape[1]
    dpi = 100
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(size[0] / dpi, size[1] / dpi), dpi=dpi)
    img = ax1.imshow(np.full_like(h, np.nan), aspect="auto", cmap="coolwarm", vmin=-1, vmax=1,
                     interpolation="nearest")
    fig.colorbar(img, ax=ax1)
    ax1.set_title("hidden state h_t")
    ax1.set_xlabel("time step t")
    ax1.set_ylabel("unit")
    (line,) = ax2.semilogy([], [])
    ax2.set_xlim(1, T)
    ax2.set_ylim(g[g > 0].min(), g.max())
    ax2.set_title("gradient norm through time")
    ax2.set_xlabel("time step t")
    t = np.arange(1, T + 1)

    def update(i):
        shown = h.copy()
        shown[:, i + 1:] = np.nan
        img.set_data(shown)
        line.set_data(t[: i + 1], g[: i + 1])
        return img, line

    anim = FuncAnimation(fig, update, frames=T, blit=False)
    anim.save(path, writer=PillowWriter(fps=fps))
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--size", default="800x400")
    ap.add_argument("--fps", type=float, default=10)
    ap.add_argument("--out", default=None, help="keep the two GIFs in this folder")
    args = ap.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    trace = make_trace(args.steps)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="rnnviz-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    ours(trace, out / "warmup.gif", (320, 200), args.fps)  # fonts and caches, as in a running app
    t0 = time.perf_counter()
    ours(trace, out / "rnnviz.gif", size, args.fps)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    matplotlib_gif(trace, out / "matplotlib.gif", size, args.fps)
    t_mpl = time.perf_counter() - t0
    for name in ("rnnviz.gif", "matplotlib.gif"):
        with Image.open(out / name) as im:
            print(f"{name:15s} {im.n_frames} frames {im.size[0]}x{im.size[1]}")
    print(f"rnnviz (numpy + Pillow):               {t_ours:6.2f} s  ({t_ours / args.steps * 1000:.1f} ms/frame)")
    print(f"matplotlib FuncAnimation+PillowWriter: {t_mpl:6.2f} s  ({t_mpl / args.steps * 1000:.1f} ms/frame)")
    print(f"ratio: rnnviz is {t_mpl / t_ours:.1f}x faster (goal >= 5x)")


if __name__ == "__main__":
    main()
