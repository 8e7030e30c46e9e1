"""GUI speed: (a) one timeline scrub at H=256, T=1000; (b) cold start to a painted window.

    python bench/bench_gui.py            # prints figures; asserts nothing about timings

(a) median time from ``state.time = t`` until every view has its new cursor and
``app.processEvents()`` has painted (goal <= 16 ms). (b) a fresh process that opens the window
offscreen and paints it, against a fresh process running only ``import torch,
PySide6.QtWidgets`` (goal <= 1.5x).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

COLD_START = r"""
import time; t0 = time.perf_counter()
from rnnviz.qt.app import get_app, build_window
app = get_app()
w = build_window(record=True, warm_up=False)
w.resize(1600, 1000); w.show()
for _ in range(3): app.processEvents()
w.grab()
print(time.perf_counter() - t0)
w.shutdown(); w.deleteLater(); app.processEvents()
"""
BARE = r"""
import time; t0 = time.perf_counter()
import torch, PySide6.QtWidgets
print(time.perf_counter() - t0)
"""


def _subprocess_seconds(code: str, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_scrub(hidden: int = 256, seq_len: int = 1000, moves: int = 60) -> dict:
    import rnnviz
    from rnnviz.app.state import SessionState
    from rnnviz.qt.app import get_app
    from rnnviz.qt.main_window import MainWindow

    app = get_app()
    cfg = rnnviz.RunConfig().with_overrides(hidden_size=hidden, seq_len=seq_len, batch_size=8)
    win = MainWindow(SessionState(cfg), warm_up=False)
    win.resize(1600, 1000)
    win.show()
    t0 = time.perf_counter()
    win.record_sync()
    app.processEvents()
    record_s = time.perf_counter() - t0
    results = {"record_and_set_trace_s": record_s}
    for name in ("hidden", "gradients", "gates"):
        if name in win.views:
            win.show_view(name)
            app.processEvents()
            samples = []
            for i in range(moves):
                t = (i * 37) % seq_len
                s = time.perf_counter()
                win.state.time = t
                app.processEvents()
                samples.append(time.perf_counter() - s)
            results[f"scrub_ms[{name} tab]"] = 1000 * statistics.median(samples)
            results[f"scrub_p90_ms[{name} tab]"] = 1000 * sorted(samples)[int(0.9 * len(samples))]
    win.shutdown()
    win.deleteLater()
    app.processEvents()
    return results


def main() -> None:
    print("(a) scrub, H=256, T=1000, every view's set_cursor + processEvents (goal <= 16 ms median)")
    for key, value in bench_scrub().items():
        print(f"    {key:32s} {value:8.2f}")
    # an installed rnnviz is byte-compiled at install time, like torch and PySide6 are; this
    # checkout may not be (PYTHONDONTWRITEBYTECODE is set on some machines), so compile it first
    import compileall

    import rnnviz

    compileall.compile_dir(os.path.dirname(rnnviz.__file__), quiet=1)
    bare = _subprocess_seconds(BARE, repeats=5)
    cold = _subprocess_seconds(COLD_START, repeats=5)
    print("(b) cold start, fresh process, wall clock (median of 5)")
    print(f"    import torch, PySide6.QtWidgets  {bare:6.2f} s")
    print(f"    rnnviz window painted            {cold:6.2f} s   ratio {cold / bare:4.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
