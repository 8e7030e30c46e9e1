"""Render the README's window screenshots (offscreen, 1600x1000).

    python examples/app_screenshots.py --out assets/screenshots

Four states a user meets: a SimpleRNN on the adding problem mid forward pass, a 2-layer
bidirectional LSTM, the same LSTM half way through BPTT on the gradient tab, and a ReLU RNN
with W_hh = 3·I whose states overflow to Inf/NaN (the red badge).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHOTS = {  # name: (flat config overrides, view tab, timeline position as a fraction of 2T)
    "rnn_adding": (dict(cell="rnn", task="adding", seq_len=30, hidden_size=32), "hidden", 0.3),
    "lstm_bidir": (dict(cell="lstm", task="copy", seq_len=30, hidden_size=32, num_layers=2,
                        bidirectional=True), "gates", 0.45),
    "lstm_bptt": (dict(cell="lstm", task="copy", seq_len=30, hidden_size=32, num_layers=2,
                       bidirectional=True), "gradients", 0.75),
    "relu_nan": (dict(cell="rnn", activation="relu", init="identity", init_scale=3.0, task="adding",
                      seq_len=120, hidden_size=32), "hidden", 0.35),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/screenshots")
    ap.add_argument("--only", nargs="*", help="names to render (default: all)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PIL import Image

    import rnnviz
    from rnnviz.qt.app import build_window, get_app

    app = get_app()
    for name, (flat, tab, where) in SHOTS.items():
        if args.only and name not in args.only:
            continue
        window = build_window(rnnviz.RunConfig().with_overrides(**flat), warm_up=False)
        window.resize(1600, 1000)
        window.show()
        window.show_view(tab)
        T = window.state.trace.seq_len
        window.state.set_position(int(where * 2 * T))
        for _ in range(5):
            app.processEvents()
        path = out / f"{name}.png"
        window.grab().save(str(path))
        Image.open(path).convert("RGB").save(path, optimize=True)
        print(f"{path}: {flat['cell']} on {flat['task']}, tab {tab}")
        window.shutdown()
        window.deleteLater()
        app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
