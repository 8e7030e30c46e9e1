"""Exploding gradients and clipping: a ReLU RNN whose W_hh is scaled above 1.

With W_hh = 1.2·I (identity init, scale 1.2) and ReLU, the hidden state and the gradient grow
like 1.2^T through time. We train the same network twice with plain SGD on the adding problem:
once without clipping, once clipping the global gradient norm to 1. We print the largest
gradient norm seen (before clipping), how many steps were clipped or skipped, and the final loss.

    python examples/03_clipping.py [--steps 60] [--quick]
"""

import argparse
import math

import rnnviz
from rnnviz.core.train import build_run


def train(clip_norm, steps, seq_len, hidden):
    overrides = dict(cell="rnn", activation="relu", init="identity", init_scale=1.2, hidden_size=hidden,
                     task="adding", seq_len=seq_len, batch_size=16, optimizer="sgd", lr=0.05, seed=0)
    if clip_norm is not None:
        overrides.update(clip="norm", clip_norm=clip_norm)
    cfg = rnnviz.RunConfig().with_overrides(**overrides)
    model, _ = build_run(cfg)
    trainer = rnnviz.Trainer(model, cfg.task, cfg.train)
    history = trainer.run(steps)
    finite = [r["loss"] for r in history[-5:] if math.isfinite(r["loss"])]
    return {
        "max_norm": max(r["grad_norm"] for r in history),
        "clipped": sum(r["clipped"] for r in history),
        "skipped": sum(not r["applied"] for r in history),
        "first_loss": history[0]["loss"],
        "final_loss": sum(finite) / len(finite) if finite else math.nan,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--quick", action="store_true", help="fewer steps (for the smoke test)")
    args = parser.parse_args()
    steps, seq_len, hidden = (30, 20, 16) if args.quick else (args.steps, 20, 32)
    print(f"ReLU RNN, W_hh = 1.2*I, adding problem T={seq_len}, SGD lr=0.05, {steps} steps "
          f"(MSE of always guessing the mean: 0.167)")
    results = {}
    for label, clip in (("no clipping", None), ("clip norm 1", 1.0)):
        r = train(clip, steps, seq_len, hidden)
        results[label] = r
        print(f"  {label:12s} max grad norm {r['max_norm']:.3g}, clipped {r['clipped']}/{steps} steps, "
              f"skipped (non-finite) {r['skipped']}, loss {r['first_loss']:.3g} -> {r['final_loss']:.3g} "
              f"(mean of the last 5 steps)")
    a, b = results["no clipping"], results["clip norm 1"]
    better = "lower" if (b["final_loss"] < a["final_loss"] or math.isnan(a["final_loss"])) else "not lower"
    print(f"with clipping the final loss is {better}: {b['final_loss']:.3g} vs {a['final_loss']:.3g}")
    if a["skipped"]:
        print(f"without clipping the gradient blew the weights up: {a['skipped']} later steps were non-finite "
              "and skipped")


if __name__ == "__main__":
    main()
