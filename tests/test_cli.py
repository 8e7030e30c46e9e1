"""The command line as a user runs it: real subprocesses, real files, exit codes, one-line errors."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnviz

REPO = Path(__file__).resolve().parents[1]
TINY = ["--hidden-size", "4", "--seq-len", "8", "--batch-size", "2"]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["OMP_NUM_THREADS"] = "1"
    env.pop("RNNVIZ_DEBUG", None)
    return env


def run_cli(*args, cwd=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "rnnviz", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=_env(), timeout=timeout)


def assert_one_line_error(proc, *words, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("rnnviz: "), lines[0]
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def test_help_lists_commands_and_flags():
    proc = run_cli("--help")
    assert proc.returncode == 0 and proc.stderr == ""
    for cmd in ("lessons", "trace", "train", "export", "--lesson", "--present", "--screenshot"):
        assert cmd in proc.stdout
    proc = run_cli("train", "--help")
    assert proc.returncode == 0
    for flag in ("--cell", "--hidden-size", "--no-bidirectional", "--forget-bias", "--clip-norm", "--clip-value",
                 "--tbptt", "--record-every", "--steps", "--device", "--seed", "--quiet"):
        assert flag in proc.stdout, flag


def test_trace_writes_a_loadable_trace_and_flags_override_the_file(tmp_path):
    cfg = rnnviz.RunConfig().with_overrides(cell="gru", hidden_size=16, seq_len=30, batch_size=8)
    cfg.save(tmp_path / "run.toml")
    proc = run_cli("trace", "--config", tmp_path / "run.toml", "--cell", "lstm", "--hidden-size", "5",
                   "--seq-len", "9", "--clip-norm", "0.01", "-o", tmp_path / "run.npz")
    assert proc.returncode == 0, proc.stderr
    line = proc.stdout.strip()
    assert "\n" not in line and "loss" in line and "grad norm" in line and "no NaN/Inf" in line
    trace = rnnviz.Trace.load(tmp_path / "run.npz")
    assert trace.cell_type == "lstm"
    assert trace.hidden.shape == (1, 9, 8, 5)  # seq_len/hidden from flags, batch from the file
    assert set(trace.gates) == {"i", "f", "g", "o"}
    assert trace.clipped and trace.grad_norm > 0.01
    assert np.isfinite(trace.grad_hidden_norm).all()


def test_train_writes_weights_history_config_and_traces(tmp_path):
    out = tmp_path / "out"
    proc = run_cli("train", "--cell", "rnn", *TINY, "--steps", "12", "--record-every", "5",
                   "--clip-norm", "0.5", "--seed", "3", "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert "trained 12 steps" in proc.stdout
    with open(out / "history.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["step", "loss", "grad_norm", "clipped"]
    assert len(rows) == 13
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 13))
    grad = np.array([float(r[2]) for r in rows[1:]])
    clipped = np.array([r[3] == "1" for r in rows[1:]])
    assert np.array_equal(clipped, grad > 0.5)  # grad_norm is the norm *before* clipping
    names = sorted(p.name for p in (out / "traces").iterdir())
    assert names == ["step_000000.npz", "step_000005.npz", "step_000010.npz", "step_000012.npz"]
    final = rnnviz.Trace.load(out / "trace_final.npz")
    assert final.meta["step"] == 12
    state = torch.load(out / "weights.pt", weights_only=True)
    arrays = np.load(out / "weights.npz")
    assert set(state) == set(arrays.files) and "head.weight" in state
    for k, v in state.items():
        np.testing.assert_array_equal(v.numpy(), arrays[k])
    cfg = rnnviz.load_config(out / "config.toml")
    assert (cfg.model.cell, cfg.model.hidden_size, cfg.train.steps, cfg.train.clip) == ("rnn", 4, 12, "norm")
    # the saved config reproduces the run: same weights after the same steps
    model, _ = rnnviz.core.train.build_run(cfg)
    rnnviz.Trainer(model, cfg.task, cfg.train).run(12)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, state[k])


def test_train_quiet_and_not_a_tty_show_no_progress_bar(tmp_path):
    proc = run_cli("train", *TINY, "--steps", "3", "-q", "-o", tmp_path / "o")
    assert proc.returncode == 0 and proc.stdout == "" and proc.stderr == ""
    proc = run_cli("train", *TINY, "--steps", "3", "-o", tmp_path / "o2")
    assert proc.returncode == 0 and proc.stderr == "" and "trained 3 steps" in proc.stdout


def test_ctrl_c_stops_training_cleanly_and_keeps_what_it_has(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "rnnviz", "train", *TINY, "--steps", "1000000", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the run writes into its staging folder until it ends
            hist = next(out.glob(".rnnviz-run.*.part/history.csv"), None)
            if hist is not None and len(hist.read_text().splitlines()) > 5:
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    rows = (out / "history.csv").read_text().splitlines()
    assert 6 <= len(rows) < 1_000_001
    assert (out / "weights.pt").exists() and (out / "config.toml").exists()
    final = rnnviz.Trace.load(out / "trace_final.npz")
    assert final.meta["step"] == len(rows) - 1
    assert rnnviz.load_config(out / "config.toml").train.steps == len(rows) - 1


@pytest.mark.parametrize("case", ["malformed", "unknown_key", "hidden_zero", "seq_len_huge", "missing_file",
                                  "unwritable", "bad_device", "bad_cell", "both_clips", "bad_int"])
def test_bad_input_gets_one_line_and_exit_2(tmp_path, case):
    (tmp_path / "bad.toml").write_text('cell = "lstm"\nhidden_size = 8\nlr = = 3\n')
    (tmp_path / "unknown.toml").write_text('cell = "lstm"\n[model]\nhiden_size = 8\n')
    (tmp_path / "afile").write_text("I am a file, not a folder")
    cases = {
        "malformed": (["trace", "--config", tmp_path / "bad.toml"], ["malformed TOML", "line 3"]),
        "unknown_key": (["train", "--config", tmp_path / "unknown.toml"], ["hiden_size"]),
        "hidden_zero": (["trace", "--hidden-size", "0"], ["hidden_size"]),
        "seq_len_huge": (["trace", "--seq-len", str(10**9)], ["seq_len"]),
        "missing_file": (["train", "--config", tmp_path / "nope.toml"], ["not found", "nope.toml"]),
        "unwritable": (["train", *TINY, "--steps", "2", "-o", tmp_path / "afile" / "out"], ["afile"]),
        "bad_device": (["trace", "--device", "tpu"], ["device"]),
        "bad_cell": (["trace", "--cell", "transformer"], ["cell", "lstm"]),
        "both_clips": (["train", "--clip-norm", "1", "--clip-value", "1"], ["--clip-norm", "--clip-value"]),
        "bad_int": (["trace", "--hidden-size", "lots"], ["--hidden-size"]),
    }
    args, words = cases[case]
    proc = run_cli(*args, cwd=tmp_path)
    assert_one_line_error(proc, *words)
    assert not (tmp_path / "rnnviz-out").exists() and not (tmp_path / "trace.npz").exists()


def test_lessons_prints_name_then_description():
    proc = run_cli("lessons")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    for line in proc.stdout.splitlines():
        name, _, desc = line.partition("  ")
        assert name.strip() and " " not in name.strip() and desc.strip(), line


def test_export_is_wired_or_says_it_is_not_available(tmp_path):
    proc = run_cli("export", "--help")
    if "not available" in proc.stderr:
        assert_one_line_error(proc, "export")
    else:
        assert proc.returncode == 0 and "export" in proc.stdout


def test_gui_without_display_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in _env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-m", "rnnviz"], capture_output=True, text=True, env=env, timeout=60)
    assert_one_line_error(proc, "GUI")


def test_train_shows_a_progress_bar_with_loss_and_grad_norm_on_a_terminal(tmp_path):
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 120, 0, 0))
    try:
        proc = subprocess.Popen([sys.executable, "-m", "rnnviz", "train", *TINY, "--steps", "40", "-o",
                                 str(tmp_path / "o")], stdout=subprocess.PIPE, stderr=slave, env=_env())
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
    finally:
        os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, err
    assert "40/40" in err and "loss" in err and "grad" in err and "step/s" in err
