"""How much does recording cost? ``rnnviz.record`` vs native ``torch.nn.LSTM`` forward + backward.

Both run the same weights (``model.to_torch()``) on the same batch with an MSE loss on the last
step; the reference is timed in the same run, so the ratio is what matters. Median of several
runs after a warm-up. Goals: <= 1.2x for B=32, T=200, I=32, H=128; <= 2x for B=1, T=200, H=64.

The reference is what a careful engineer writes: subnormals flushed (``torch.set_flush_denormal``)
and the same thread count (``--threads``, default 1). ``--no-flush`` leaves the reference with
subnormals, to show what flushing is worth (``record`` flushes on its own either way).

    python bench/bench_record.py [--repeats 9] [--threads 1] [--device cpu|cuda] [--cell lstm|gru|rnn]
"""

import argparse
import os
import statistics
import time

import torch

import rnnviz
from rnnviz.core.numerics import THREADS_ENV, configure_process

CASES = [  # (B, T, I, H, goal)
    (32, 200, 32, 128, 1.2),
    (1, 200, 32, 64, 2.0),
]


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _ms(fn, device):
    """(wall ms, CPU ms of this process): on a shared machine the CPU time is the steadier one."""
    _sync(device)
    start, cpu = time.perf_counter(), time.process_time()
    fn()
    _sync(device)
    return (time.perf_counter() - start) * 1e3, (time.process_time() - cpu) * 1e3


def interleaved_medians(fns, repeats, device, warmup=2):
    """Median (wall ms, CPU ms, best CPU ms) of each function, timed in turn within every repeat
    so they share the machine's noise. On a shared machine the best CPU time is the steadiest
    figure (other jobs only ever add to it)."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            times[i].append(_ms(fn, device))
    return [tuple(statistics.median(col) for col in zip(*t, strict=True)) + (min(c for _, c in t),)
            for t in times]


def bench_case(B, T, I, H, repeats, device, cell="lstm"):
    cfg = rnnviz.ModelConfig(cell=cell, input_size=I, hidden_size=H, output_size=1, seed=0)
    model = rnnviz.build_model(cfg, device=device)
    native = model.to_torch().to(model.device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(T, B, I, generator=gen).to(model.device)
    y = torch.randn(B, 1, generator=gen).to(model.device)

    def run_record():
        rnnviz.record(model, x, y, loss="mse")

    def run_native():
        native.zero_grad(set_to_none=True)
        out = native(x)
        loss = torch.nn.functional.mse_loss(out[-1], y)
        loss.backward()

    ref, rec = interleaved_medians([run_native, run_record], repeats, model.device)
    return rec, ref


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", default="1", help="torch threads for both (default 1)")
    parser.add_argument("--cell", default="lstm", help="cell to record (the goals are for lstm)")
    parser.add_argument("--no-flush", action="store_true", help="leave the reference's subnormals unflushed")
    args = parser.parse_args()
    os.environ[THREADS_ENV] = str(args.threads)  # record uses the same count as the reference
    configure_process(args.threads)
    torch.set_flush_denormal(not args.no_flush)
    device = rnnviz.resolve_device(args.device)
    flush = "unflushed" if args.no_flush else "flushed"
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads, "
          f"reference {flush}, load average {os.getloadavg()[0]:.1f}")
    for B, T, I, H, goal in CASES:
        rec, ref = bench_case(B, T, I, H, args.repeats, device, args.cell)
        ratio = rec[0] / ref[0]
        verdict = "ok" if ratio <= goal else "MISSED"
        print(f"record {args.cell.upper()} B={B} T={T} H={H}: {rec[0]:.1f} ms vs native ({flush}) {ref[0]:.1f} ms "
              f"-> {ratio:.2f}x "
              f"(goal <= {goal}x) {verdict}; CPU time {rec[1]:.1f} vs {ref[1]:.1f} ms -> {rec[1] / ref[1]:.2f}x, "
              f"best {rec[2]:.1f} vs {ref[2]:.1f} ms -> {rec[2] / ref[2]:.2f}x")


if __name__ == "__main__":
    main()
