"""Render every rnnviz view to PNG files, for a look at what users see.

    python examples/view_gallery.py --out gallery/

Records an LSTM on the adding problem, a SimpleRNN that explodes (ReLU, identity init × 1.5,
NaN/Inf included), and a GRU character language model, then saves
``<run>_<view>.png`` for every view of :func:`rnnviz.qt.views.make_views` (with a short
made-up training history for the training view). Runs headless (offscreen Qt).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def record_run(**overrides):
    """A Trace for RunConfig flat ``overrides`` (small, CPU)."""
    import rnnviz
    from rnnviz.core.train import build_run

    cfg = rnnviz.RunConfig().with_overrides(**overrides)
    model, batch = build_run(cfg)
    meta = {"vocab": batch.vocab, "tokens": batch.tokens, "task": batch.name, "shape": batch.shape}
    meta.update({k: v for k, v in (batch.meta or {}).items() if k in ("enc_len", "dec_len", "classes", "out_vocab")})
    return rnnviz.record(model, batch.x, batch.y, loss=batch.loss, meta=meta)


RUNS = {
    "lstm_adding": dict(cell="lstm", task="adding", seq_len=20, batch_size=4, hidden_size=16),
    "rnn_exploding": dict(cell="rnn", task="adding", seq_len=60, batch_size=4, hidden_size=32,
                          activation="relu", init="identity", init_scale=1.5),
    "gru_charlm": dict(cell="gru", task="char_lm", seq_len=40, batch_size=2, hidden_size=32),
}


def fake_history(n: int = 150, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n):
        g = float(np.exp(rng.normal(0.5, 1.2)))
        rows.append({"step": s, "loss": float(1.0 / (1 + 0.05 * s) + 0.02 * rng.random()), "grad_norm": g,
                     "clipped": g > 1.0, "applied": min(g, 1.0), "elapsed": 0.01 * s})
    return rows


def render(out: Path, size=(900, 560), runs=None) -> list[Path]:
    """Save every view for every run in RUNS (or ``runs``) under ``out``; return the paths."""
    from PySide6.QtWidgets import QApplication

    import rnnviz
    from rnnviz.qt.views import make_views

    app = QApplication.instance() or QApplication(sys.argv[:1])
    out.mkdir(parents=True, exist_ok=True)
    saved = []
    train_cfg = rnnviz.TrainConfig(clip="norm", clip_norm=1.0)
    for name in runs or RUNS:
        trace = record_run(**RUNS[name])
        views = make_views()
        T = trace.seq_len
        for key, view in views.items():
            view.resize(*size)
            view.set_trace(trace)
            if key == "training":
                view.set_history(fake_history(), train_cfg)
            if key == "predictions" and trace.meta.get("vocab"):
                view.set_sampled_text("the cat sat on the mat and the dog ...")
            phase = "backward" if key in ("graph", "gradients") else "forward"
            view.set_cursor(T // 2, phase, 0, 0)
            view.show()
            app.processEvents()
            path = out / f"{name}_{key}.png"
            view.grab().save(str(path))
            saved.append(path)
            view.close()
    return saved


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="gallery", help="folder for the PNG files")
    args = ap.parse_args(argv)
    paths = render(Path(args.out))
    print(f"wrote {len(paths)} PNGs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
