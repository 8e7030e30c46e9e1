"""Dynamics goals (issue 13): flip-flop training, fixed-point search, Lyapunov sweep, phase-portrait scrub.

Prints each figure beside its goal, and, where there is one, against a reference timed in the same run:
the flip-flop recipe's training against a plain PyTorch loop (nn.GRU + Adam on the same batches).
Wall time and process CPU time are both printed: on a shared machine the wall time is what the load
left over, the CPU time what the work cost. No asserts: it reports.

    python bench/bench_dynamics.py [--threads 2]
"""

import argparse
import os
import time

import numpy as np
import torch


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def plain_gru_loop(steps, seed=0):
    """The reference: what a user writes by hand for the same recipe (native nn.GRU, Adam)."""
    from rnnviz.core.tasks import flip_flop
    from rnnviz.dynamics.flipflop import RECIPE

    torch.manual_seed(seed)
    rnn, head = torch.nn.GRU(3, RECIPE["hidden_size"]), torch.nn.Linear(RECIPE["hidden_size"], 3)
    opt = torch.optim.Adam([*rnn.parameters(), *head.parameters()], lr=RECIPE["lr"])
    for step in range(1, steps + 1):
        b = flip_flop(seq_len=RECIPE["seq_len"], batch_size=RECIPE["batch_size"], seed=seed * 1_000_003 + step,
                      noise=RECIPE["noise"])
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(head(rnn(b.x)[0]), b.y)
        loss.backward()
        opt.step()


def bench_scrub(T: int = 1000, B: int = 16, H: int = 256, steps: int = 200) -> dict[str, float]:
    """Median ms per cursor step of the phase portrait at T, B, H .

    "scrub": set the cursor and let Qt repaint what changed (what dragging the timeline costs);
    "full": the same with the whole panel repainted every step (the worst case, e.g. a window
    that also changed size)."""
    from PySide6.QtWidgets import QApplication

    from rnnviz.core.trace import Trace
    from rnnviz.qt.views.dynamics import DynamicsView

    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    h = np.tanh(np.cumsum(rng.normal(scale=0.1, size=(1, T, B, H)), axis=1)).astype(np.float32)
    g = np.abs(rng.normal(size=(1, T))).astype(np.float32)
    tr = Trace(inputs=np.zeros((T, B, 1), np.float32), outputs=np.zeros((T, B, 1), np.float32),
               targets=np.zeros((T, B, 1), np.float32), step_loss=np.zeros(T, np.float32), hidden=h,
               grad_hidden=np.zeros_like(h), grad_hidden_norm=g, loss=0.0, grad_norm=0.0, grad_norm_clipped=0.0,
               clipped=False, nonfinite=False, config={"cell": "rnn", "hidden_size": H})
    view = DynamicsView()
    view.resize(1200, 800)
    view.show()
    view.set_trace(tr)
    app.processEvents()
    out = {}
    for mode in ("scrub", "full"):
        times = []
        for i in range(steps):
            t0 = time.perf_counter()
            view.set_cursor(i * 5 % T)
            if mode == "full":
                view.glw.repaint()
            app.processEvents()
            times.append((time.perf_counter() - t0) * 1e3)
        out[mode] = float(np.median(times))
    view.close()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (the goal says 2 CPU cores)")
    ap.add_argument("--scrub-only", action="store_true", help="only the phase-portrait scrub (seconds, not a minute)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"threads {args.threads}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if not args.scrub_only:
        headless_figures()
    scrub()


def headless_figures():
    """Training, fixed points and the Lyapunov sweep: no Qt."""
    from rnnviz.core.tasks import flip_flop
    from rnnviz.dynamics import fixed_points, lyapunov_sweep
    from rnnviz.dynamics.flipflop import RECIPE, memory_codes, train_flip_flop

    run, w, c = timed(train_flip_flop)
    _, wr, cr = timed(lambda: plain_gru_loop(RECIPE["steps"]))
    ok = "ok" if run.error < 0.01 and w <= 60 else "MISSED"
    print(f"flip-flop GRU H={RECIPE['hidden_size']} {run.steps} steps: error {run.error:.3%} in {w:.1f} s wall "
          f"({c:.1f} s CPU) vs plain nn.GRU loop {wr:.1f} s wall ({cr:.1f} s CPU) -> {w / wr:.2f}x "
          f"(goal < 1% within 60 s) {ok}")
    x = flip_flop(seq_len=100, batch_size=16, seed=7).x
    fps, w, c = timed(lambda: fixed_points(run.model, x=x))
    codes = memory_codes(run.model, fps)
    corners = len({cd for cd, k in zip(codes, fps.kinds, strict=True) if k == "stable" and "?" not in cd})
    ok = "ok" if fps.count("stable") == 8 and corners == 8 and fps.count("saddle") >= 1 and w <= 10 else "MISSED"
    print(f"fixed points: {fps.summary()}; {corners} of 8 memories; {w:.2f} s wall ({c:.2f} s CPU) "
          f"(goal 8 stable + a saddle in <= 10 s) {ok}")
    sweep, w, c = timed(lambda: lyapunov_sweep(np.linspace(0.5, 2.0, 15), hidden_size=256))
    lam = dict(zip(np.round(sweep.gains, 3), sweep.largest, strict=True))
    g08 = float(np.interp(0.8, sweep.gains, sweep.largest))
    g15 = float(np.interp(1.5, sweep.gains, sweep.largest))
    ok = "ok" if w <= 20 and g08 < 0 < g15 else "MISSED"
    print(f"Lyapunov sweep tanh H=256, 15 gains: {w:.2f} s wall ({c:.2f} s CPU); λ_max(0.8) ≈ {g08:+.3f}, "
          f"λ_max(1.5) ≈ {g15:+.3f}, zero crossing at gain {sweep.crossing():.2f} (goal <= 20 s, signs) {ok}")
    print("  λ_max per gain: " + "  ".join(f"{g:g}:{v:+.3f}" for g, v in lam.items()))
    print(f"  trainability beside it, log10 ‖∂L/∂h_1‖/‖∂L/∂h_T‖ over {sweep.grad_steps} steps of random input: "
          + "  ".join(f"{g:.2f}:{v:+.1f}" for g, v in zip(sweep.gains, sweep.grad_log10, strict=True)))


def scrub():
    """The phase portrait's cursor step in a real DynamicsView (offscreen unless a display is set)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    load = os.getloadavg()[0]
    ms, w, c = timed(lambda: bench_scrub(T=1000, B=16, H=256))
    print(f"phase portrait scrub T=1000 B=16 H=256: {ms['scrub']:.2f} ms per step (median of 200: cursor set, "
          f"Qt repaints what moved) (goal <= 16 ms) {'ok' if ms['scrub'] <= 16 else 'MISSED'}; whole panel "
          f"repainted every step {ms['full']:.2f} ms; load average {load:.1f} -> {os.getloadavg()[0]:.1f}")

if __name__ == "__main__":
    main()
