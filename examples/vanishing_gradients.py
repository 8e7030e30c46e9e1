"""Vanishing gradients: tanh vs ReLU + identity init on the adding problem.

Records ||dL/dh_t|| through time for a SimpleRNN with tanh (default init) and with ReLU and an
identity W_hh (Le et al., 2015), and saves the two curves on a log axis.

    python examples/vanishing_gradients.py --out out/
"""

import argparse
from pathlib import Path

import numpy as np
from _plot import record_run, save_curves


def grad_norms(seq_len, hidden, **overrides):
    return record_run(cell="rnn", task="adding", seq_len=seq_len, batch_size=16, hidden_size=hidden,
                      **overrides).grad_hidden_norm[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out")
    ap.add_argument("--seq-len", type=int, default=100)
    ap.add_argument("--hidden", type=int, default=64)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = {"tanh, default init": grad_norms(args.seq_len, args.hidden, activation="tanh"),
            "ReLU, identity init": grad_norms(args.seq_len, args.hidden, activation="relu", init="identity")}
    t = np.arange(1, args.seq_len + 1)
    path = save_curves(out / "vanishing_gradients.png", "Vanishing gradients", [dict(
        title="Vanishing gradients: ‖∂L/∂hₜ‖ on the adding problem (loss at the last step)",
        series={name: (t, g) for name, g in runs.items()}, xlabel="time step t", ylabel="gradient norm (log)",
        log=True)])
    for name, g in runs.items():
        print(f"{name:22s} ||dL/dh_1|| / ||dL/dh_T|| = {g[0] / g[-1]:.3g}")
    print("With tanh the gradient reaching the first steps shrinks by orders of magnitude;")
    print("ReLU with an identity W_hh carries it back almost unchanged.")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
