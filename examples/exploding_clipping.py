"""Exploding gradients with and without clipping: W_hh scaled above 1, training curves.

A SimpleRNN whose recurrent weights start large (init_scale > 1) is trained with plain SGD, once
without clipping and once with gradient-norm clipping; the loss and the global gradient norm of
every step are saved side by side (log axes).

    python examples/exploding_clipping.py --out out/
"""

import argparse
from pathlib import Path

import numpy as np
from _plot import save_curves

import rnnviz


def run(clip, steps, seq_len, hidden, scale):
    cfg = rnnviz.RunConfig().with_overrides(cell="rnn", task="adding", seq_len=seq_len, batch_size=16,
                                            hidden_size=hidden, init="orthogonal", init_scale=scale,
                                            optimizer="sgd", lr=0.1, clip=clip, clip_norm=1.0, steps=steps)
    return rnnviz.train(cfg).history


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--seq-len", type=int, default=40)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--scale", type=float, default=2.5, help="init scale of W_hh (> 1 explodes)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {"no clipping": run("none", args.steps, args.seq_len, args.hidden, args.scale),
            "clip norm 1.0": run("norm", args.steps, args.seq_len, args.hidden, args.scale)}
    panels = [dict(title=label, xlabel="training step", ylabel=f"{key} (log)", log=True,
                   series={name: (np.array([r["step"] for r in hist], dtype=float),
                                  np.array([r[key] for r in hist], dtype=float)) for name, hist in runs.items()})
              for key, label in (("loss", "training loss"), ("grad_norm", "global gradient norm (before clip)"))]
    path = save_curves(out / "exploding_clipping.png", "Exploding gradients and clipping", panels, size=(1000, 440))
    for name, hist in runs.items():
        g = np.array([r["grad_norm"] for r in hist])
        bad = sum(not r.get("applied", True) for r in hist)
        print(f"{name:14s} max grad norm {np.nanmax(np.where(np.isfinite(g), g, np.nan)):.3g}, "
              f"final loss {hist[-1]['loss']:.4g}, non-finite steps skipped {bad}")
    print("W_hh with gain > 1 makes gradient norms spike; clipping caps each update so training stays stable.")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
