"""Hostile input on the command line (real subprocesses): one ``rnnviz:`` line naming the problem,
exit status 2, nothing written, no traceback, no numpy advice, no warnings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hostile_files import (
    REPO,
    altered_trace,
    deep_json,
    good_session,
    good_trace,
    petabyte_header,
    pickle_npz,
    rewrite_session,
    run_limited,
    with_config,
    zip_bomb,
)

import rnnviz


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen", **extra)
    env.pop("RNNVIZ_DEBUG", None)
    return env


def run_cli(*args, cwd=None, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "rnnviz", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env or _env(), timeout=timeout)


def assert_refused(proc, *words, code=2):
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith("rnnviz: ") and "failed:" not in line and "RNNVIZ_DEBUG" not in line, line
    assert "allow_pickle" not in proc.stderr and "Warning" not in proc.stderr
    for word in words:
        assert word in line, (word, line)
    return line


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    lstm = good_trace(d / "lstm.npz")
    h = rnnviz.Trace.load(lstm).hidden
    np.save(d / "plain.npy", h)
    os.replace(d / "plain.npy", d / "plain.npz")
    os.mkfifo(d / "fifo.npz")
    os.mkfifo(d / "fifo.toml")
    session = good_session(d / "good.rnnviz")
    return {
        "dir": d, "lstm": lstm, "session": session, "marker": d / "PWNED",
        "pickle": pickle_npz(d / "pickle.npz", d / "PWNED"),
        "petabytes": petabyte_header(d / "pb.npz"),
        "plain_npy": d / "plain.npz",
        "fifo": d / "fifo.npz",
        "zero_T": altered_trace(lstm, d / "t0.npz", hidden=h[:, :0]),
        "string_dtype": altered_trace(lstm, d / "str.npz", hidden=h.astype(str)),
        "config_list": with_config(lstm, d / "cl.npz", [1]),
        "num_layers": with_config(lstm, d / "nl.npz", {**rnnviz.Trace.load(lstm).config, "num_layers": 2}),
        "deep_json": altered_trace(lstm, d / "dj.npz", config_json=np.array(deep_json())),
        "session_repeated": rewrite_session(session, d / "rep.rnnviz", lambda m: {
            **m, "traces": [m["traces"][0]] * 3000, "steps": [0] * 3000}),
        "session_view": rewrite_session(session, d / "view.rnnviz", lambda m: {**m, "view": {"layer": -1}}),
    }


@pytest.mark.parametrize("case,words", [
    ("pickle", "object"), ("petabytes", "declares shape"), ("plain_npy", "not a zip archive"), ("fifo", "FIFO"),
    ("zero_T", "at least 1"), ("string_dtype", "not numbers"), ("config_list", "not a table"),
    ("num_layers", "num_layers"), ("deep_json", "nested too deeply"), ("session_repeated", "more than once"),
    ("session_view", "view state layer"),
])
def test_export_refuses_hostile_files_in_one_line(files, case, words):
    out = files["dir"] / f"{case}.csv"
    proc = run_cli("export", files[case], "--csv", out, timeout=60)
    assert_refused(proc, words)
    assert not out.exists() and not files["marker"].exists()


@pytest.mark.parametrize("text,suffix,words", [
    ("hidden_size = inf\n", ".toml", "hidden_size"),
    ('{"hidden_size": 1e400}', ".json", "hidden_size"),
    ('{"num_layers": NaN}', ".json", "num_layers"),
    (deep_json(), ".json", "nested too deeply"),
    ('task = "melody"\nbidirectional = true\n', ".toml", "one-to-many"),
], ids=["inf", "1e400", "nan", "deep_json", "melody_bidirectional"])
def test_trace_refuses_hostile_configs_naming_key_and_file(tmp_path, text, suffix, words):
    cfg = tmp_path / f"run{suffix}"
    cfg.write_text(text)
    proc = run_cli("trace", "--config", cfg, "-o", tmp_path / "t.npz", cwd=tmp_path)
    assert_refused(proc, words, str(cfg))
    assert not (tmp_path / "t.npz").exists()


@pytest.mark.parametrize("args,words", [
    (["trace", "--task", "char_lm", "--hidden-size", "1", "--seq-len", "10000", "--batch-size", "9999"],
     ["make seq_len", "batch_size"]),
    (["train", "--hidden-size", "8192", "--num-layers", "16", "--bidirectional"], ["make hidden_size"]),
    (["trace", "--task", "melody", "--bidirectional"], ["one-to-many"]),
    (["trace", "--config", "fifo.toml"], ["FIFO"]),
    (["trace", "--hidden-size", "4", "--seq-len", "4", "-o", "/dev/full"], ["/dev/full", "character device"]),
    (["export", "lstm.npz", "--png", "x.png", "--size", "20000x20000", "--scale", "8"], ["megapixels"]),
    (["export", "lstm.npz", "--png", "/dev/full"], ["/dev/full", "not a regular file"]),
])
def test_bad_runs_and_targets_are_refused_up_front(files, args, words):
    d = files["dir"]
    before = set(os.listdir(d))
    proc = run_cli(*args, cwd=d)
    assert_refused(proc, *words)
    assert set(os.listdir(d)) == before and not os.path.exists("/dev/full.npz")


def test_all_nan_trace_exports_without_warnings(files, tmp_path):
    tr = rnnviz.Trace.load(files["lstm"])
    for name in ("hidden", "grad_hidden", "grad_hidden_norm", "cell", "grad_cell", "grad_cell_norm", "outputs"):
        getattr(tr, name)[...] = np.nan
    for g in tr.gates.values():
        g[...] = np.nan
    tr.loss = tr.grad_norm = float("nan")
    path = tr.save(tmp_path / "nan.npz")
    proc = run_cli("export", path, "--png", tmp_path / "nan.png", "--csv", tmp_path / "nan.csv", "-q")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert (tmp_path / "nan.png").stat().st_size > 0


def test_lessons_skip_bad_user_lessons_and_list_a_name_once(tmp_path):
    user = tmp_path / "lessons"
    user.mkdir()
    good = (REPO / "rnnviz" / "lessons" / "recurrence.toml").read_text()
    (user / "mine.toml").write_text(good.replace('name = "recurrence"', 'name = "mine"'))
    (user / "nan.toml").write_text(good.replace('name = "recurrence"', 'name = "nanny"')
                                   .replace("hidden_size = 16", "hidden_size = nan"))
    (user / "twin.toml").write_text(good)  # named like the built-in lesson
    os.mkfifo(user / "x.toml")
    proc = run_cli("lessons", env=_env(RNNVIZ_LESSONS_DIR=str(user)), timeout=60)
    assert proc.returncode == 0, proc.stderr
    names = [line.split()[0] for line in proc.stdout.splitlines()]
    assert names.count("recurrence") == 1 and "mine" in names and "nanny" not in names
    warnings = proc.stderr.splitlines()
    assert len(warnings) == 3 and all(w.startswith("rnnviz: skipped a lesson: ") for w in warnings), warnings
    text = "\n".join(warnings)
    assert "nan.toml" in text and "hidden_size" in text and "FIFO" in text and "built-in" in text


BOMB_CLI = """
import rnnviz.cli as cli, sys, json
LIMIT()
code = cli.main({argv!r})
print(json.dumps({{"code": code, "peak": PEAK()}}))
"""


@pytest.mark.parametrize("kind", ["npz", "session"])
def test_export_of_a_bomb_is_refused_under_a_memory_limit(files, kind, tmp_path):
    d = files["dir"]
    bomb = zip_bomb(d / "bomb.npz") if not (d / "bomb.npz").exists() else d / "bomb.npz"
    path = bomb if kind == "npz" else rewrite_session(files["session"], tmp_path / "b.rnnviz",
                                                      members={"trace.npz": bomb.read_bytes()})
    proc = run_limited(BOMB_CLI.format(argv=["export", str(path), "--csv", str(tmp_path / "o.csv")]))
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] == 2, proc.stderr
    line = assert_refused(subprocess.CompletedProcess([], 2, "", proc.stderr), "bomb")
    assert str(path) in line
