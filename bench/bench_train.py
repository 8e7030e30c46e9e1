"""Training speed: ``rnnviz.Trainer`` (nothing recorded) vs a plain PyTorch loop with native nn.LSTM.

Same settings, same initial weights (``model.to_torch()``), the same batches (``task_batch``),
Adam, the same task loss. The two are timed in alternating rounds so they share the machine's
noise (median round of each); the ratio of steps per second is what matters. Goal: Trainer >= 0.9x
the plain loop. The Trainer's own end-of-run trace is not counted (the timing stops at its last step).

The reference is what a careful engineer writes: subnormals flushed (``torch.set_flush_denormal``)
and the same thread count (``--threads``, default 1). ``--no-flush`` leaves the reference with
subnormals, to show what flushing is worth (the Trainer flushes on its own either way).

    python bench/bench_train.py [--rounds 9] [--steps-per-round 5] [--threads 1] [--device cpu|cuda]
"""

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

import rnnviz
from rnnviz.core.numerics import THREADS_ENV, configure_process
from rnnviz.core.train import build_run, task_batch

CASES = [  # flat config overrides
    dict(cell="lstm", hidden_size=128, task="adding", seq_len=100, batch_size=32, optimizer="adam", lr=1e-3),
    dict(cell="lstm", hidden_size=64, task="adding", seq_len=400, batch_size=8, optimizer="adam", lr=1e-3,
         clip="norm", clip_norm=1.0),
]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_case(overrides, rounds, per_round, device_name):
    cfg = rnnviz.RunConfig().with_overrides(device=device_name, record_every=0, **overrides)
    model, _ = build_run(cfg)
    device = model.device
    native = model.to_torch().to(device)
    opt = torch.optim.Adam(native.parameters(), lr=cfg.train.lr)
    trainer = rnnviz.Trainer(model, cfg.task, cfg.train)
    clip = cfg.train.clip_norm if cfg.train.clip == "norm" else None

    def plain_steps(start, n):
        for i in range(start, start + n):
            batch = task_batch(cfg.task, i)
            x, y = batch.x.to(device), batch.y.to(device)
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(native(x)[-1], y)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(native.parameters(), clip)
            opt.step()
            loss.item()  # the trainer reads the loss every step too

    plain_steps(0, 3)  # warm-up both
    trainer.run(3)
    t_plain, t_trainer = [], []
    done = 3
    for _ in range(rounds):
        _sync(device)
        start = time.perf_counter()
        plain_steps(done, per_round)
        _sync(device)
        t_plain.append(time.perf_counter() - start)
        history = trainer.run(per_round)
        t_trainer.append(history[-1]["elapsed"])
        done += per_round
    # medians over rounds: one round slowed down by another process does not decide the result
    return per_round / statistics.median(t_trainer), per_round / statistics.median(t_plain)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--steps-per-round", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", default="1", help="torch threads for both (default 1)")
    parser.add_argument("--no-flush", action="store_true", help="leave the reference's subnormals unflushed")
    args = parser.parse_args()
    os.environ[THREADS_ENV] = str(args.threads)  # the Trainer uses the same count as the reference
    configure_process(args.threads)
    torch.set_flush_denormal(not args.no_flush)
    flush = "unflushed" if args.no_flush else "flushed"
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"reference {flush}, load average {os.getloadavg()[0]:.1f}")
    for overrides in CASES:
        ours, plain = bench_case(overrides, args.rounds, args.steps_per_round, args.device)
        ratio = ours / plain
        clip = f" clip_norm={overrides['clip_norm']}" if "clip_norm" in overrides else ""
        verdict = "ok" if ratio >= 0.9 else "MISSED"
        print(f"train {overrides['cell'].upper()} H={overrides['hidden_size']} {overrides['task']} "
              f"T={overrides['seq_len']} B={overrides['batch_size']} {overrides['optimizer']}{clip}: "
              f"{ours:.1f} steps/s vs plain PyTorch ({flush}) {plain:.1f} steps/s -> {ratio:.2f}x (goal >= 0.9x) "
              f"{verdict}")


if __name__ == "__main__":
    main()
