"""Faults while writing: a full disk (RLIMIT_FSIZE), unwritable targets, SIGINT / SIGTERM, kill -9.

Every earlier file stays whole and loadable; a run's outputs appear together or not at all."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from hostile_files import REPO, good_session

import rnnviz
from rnnviz.app.session import load_session

TINY = ["--hidden-size", "4", "--seq-len", "8", "--batch-size", "2"]


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    env.pop("RNNVIZ_DEBUG", None)
    return env


def _disk_full_at(nbytes):
    def limit():  # a file may grow to nbytes; beyond it write() fails with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return limit


def run_cli(*args, cwd=None, fsize=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "rnnviz", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=_env(), timeout=timeout,
                          preexec_fn=_disk_full_at(fsize) if fsize else None)


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_one_line(proc, code, *words):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rnnviz: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


def assert_train_folder_consistent(out):
    """weights, config, history and the final trace describe the same number of steps; nothing temporary."""
    rows = (out / "history.csv").read_text().splitlines()
    steps = len(rows) - 1
    assert rnnviz.load_config(out / "config.toml").train.steps == steps
    assert rnnviz.Trace.load(out / "trace_final.npz").meta["step"] == steps
    state = torch.load(out / "weights.pt", weights_only=True)
    with np.load(out / "weights.npz") as w:
        assert set(w.files) == set(state)
    for trace in (out / "traces").glob("*.npz"):
        rnnviz.Trace.load(trace)
    assert not [p for p in out.rglob("*") if p.name.endswith(".part")], list(out.rglob("*"))
    return steps


def test_train_rerun_on_a_full_disk_leaves_the_earlier_run_whole(tmp_path):
    out = tmp_path / "out"
    assert run_cli("train", *TINY, "--steps", "3", "--record-every", "1", "-q", "-o", out).returncode == 0
    before = snapshot(out)
    proc = run_cli("train", "--hidden-size", "96", "--seq-len", "8", "--batch-size", "2", "--steps", "3",
                   "--record-every", "1", "-q", "-o", out, fsize=40_000)
    assert_one_line(proc, 1, "File too large")
    assert snapshot(out) == before
    assert assert_train_folder_consistent(out) == 3


def test_trace_export_and_session_save_on_a_full_disk_keep_the_old_file(tmp_path):
    good = tmp_path / "run.npz"
    assert run_cli("trace", *TINY, "-o", good).returncode == 0
    old = good.read_bytes()
    proc = run_cli("trace", "--hidden-size", "96", "--seq-len", "8", "--batch-size", "2", "-o", good, fsize=20_000)
    assert_one_line(proc, 1, "run.npz", "File too large")
    assert good.read_bytes() == old
    png = tmp_path / "fig.png"
    assert run_cli("export", good, "--png", png, "-q").returncode == 0
    old_png = png.read_bytes()
    proc = run_cli("export", good, "--png", png, "--size", "1600x1200", "-q", fsize=len(old_png) // 2)
    assert_one_line(proc, 1, "fig.png")
    assert png.read_bytes() == old_png
    session = good_session(tmp_path / "s.rnnviz")
    old_session = session.read_bytes()
    code = ("import resource, signal, sys\nfrom rnnviz.app.session import *\n"
            f"s = load_session({str(session)!r})\n"
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(old_session) // 2}, {len(old_session) // 2}))\n"
            f"try:\n    save_session({str(session)!r}, s)\nexcept SessionFileError as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=120)
    assert "cannot save the session" in proc.stdout and "File too large" in proc.stdout, proc.stderr
    assert session.read_bytes() == old_session
    load_session(session)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fig.png", "run.npz", "s.rnnviz"]


@pytest.mark.parametrize("target,words", [("afile/out", "afile"), ("/dev/full", "character device"),
                                          (".", "folder")])
def test_unwritable_train_and_trace_targets(tmp_path, target, words):
    (tmp_path / "afile").write_text("a file, not a folder")
    cmd = "trace" if target != "afile/out" else "train"
    proc = run_cli(cmd, *TINY, "--steps", "1", "-o", target, cwd=tmp_path)
    assert_one_line(proc, 2, words)
    assert (tmp_path / "afile").read_text() == "a file, not a folder"
    assert not os.path.exists("/dev/full.npz")


def test_screenshot_on_a_full_disk_keeps_the_old_png(tmp_path):
    png = tmp_path / "shot.png"
    png.write_bytes(b"\x89PNG old picture")
    proc = run_cli("--lesson", "recurrence", "--screenshot", png, fsize=2000, timeout=240)
    assert proc.returncode == 1, proc.stderr
    assert "could not write" in proc.stderr and "Traceback" not in proc.stderr
    assert png.read_bytes() == b"\x89PNG old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["shot.png"]


def _start_training(out):
    proc = subprocess.Popen([sys.executable, "-m", "rnnviz", "train", *TINY, "--steps", "1000000",
                             "--record-every", "50", "-o", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        hist = next(out.glob(".rnnviz-run.*.part/history.csv"), None)
        if hist is not None and len(hist.read_text().splitlines()) > 60:
            break
        time.sleep(0.1)
    return proc


@pytest.mark.parametrize("sig,code,word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")])
def test_signals_mid_run_exit_cleanly_with_a_consistent_folder(tmp_path, sig, code, word):
    out = tmp_path / "out"
    proc = _start_training(out)
    try:
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert word in stderr and "Traceback" not in stderr
    assert assert_train_folder_consistent(out) > 60


def test_kill_9_leaves_no_half_run_and_the_next_run_cleans_up(tmp_path):
    out = tmp_path / "out"
    assert run_cli("train", *TINY, "--steps", "2", "-q", "-o", out).returncode == 0
    before = snapshot(out)
    proc = _start_training(out)
    proc.kill()
    proc.wait()
    leftovers = [p for p in out.iterdir() if p.name.endswith(".part")]
    assert leftovers  # the killed run's staging folder; the earlier run is untouched
    assert {k: v for k, v in snapshot(out).items() if not str(k).startswith(".")} == before
    (out / "traces" / ".step_000003.npz.k3j4l5m6.part").write_bytes(b"half")  # an older version's leftover
    (out / "keep.part").write_text("not ours")
    assert run_cli("train", *TINY, "--steps", "2", "-q", "-o", out).returncode == 0
    assert (out / "keep.part").exists()
    (out / "keep.part").unlink()
    assert_train_folder_consistent(out)
