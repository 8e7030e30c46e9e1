"""Hostile traces, sessions and configs through the Python API: one clear error each, nothing run,
nothing allocated beyond the limits. The files are built here, at test time (tests/hostile_files.py)."""

from __future__ import annotations

import json
import os
import warnings
import zipfile

import numpy as np
import pytest
from hostile_files import (
    altered_trace,
    deep_json,
    good_session,
    good_trace,
    petabyte_header,
    pickle_npz,
    rewrite_session,
    run_limited,
    trace_arrays,
    with_config,
    write_npz,
    zip_bomb,
)

from rnnviz.app.session import SessionFileError, load_session
from rnnviz.core.config import ConfigError, load_config
from rnnviz.core.trace import Trace, TraceFileError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    return {"dir": d, "lstm": good_trace(d / "lstm.npz"), "rnn": good_trace(d / "rnn.npz", "rnn"),
            "session": good_session(d / "good.rnnviz")}


def _trace_cases(files):
    d, lstm, rnn = files["dir"], files["lstm"], files["rnn"]
    h = trace_arrays(lstm)["hidden"]
    marker = d / "PWNED"
    cases = {
        "not_a_zip": ((d / "t.npz").write_text("hello") and d / "t.npz", "not a zip archive"),
        "plain_npy": (None, "not a zip archive"),
        "pickle": (pickle_npz(d / "pickle.npz", marker), "object"),
        "petabytes": (petabyte_header(d / "pb.npz"), "declares shape"),
        "traversal": (write_npz(d / "trav.npz", {"../../evil.npy": np.zeros(3)}), "leaves the archive"),
        "absolute": (write_npz(d / "abs.npz", {"/etc/evil.npy": np.zeros(3)}), "absolute path"),
        "zero_T": (altered_trace(lstm, d / "t0.npz", hidden=h[:, :0]), "at least 1"),
        "zero_B": (altered_trace(lstm, d / "b0.npz", hidden=h[:, :, :0]), "at least 1"),
        "zero_K": (altered_trace(lstm, d / "k0.npz", hidden=h[:0]), "at least 1"),
        "hidden_0d": (altered_trace(lstm, d / "h0.npz", hidden=np.array(1.0)), "4 axes"),
        "T_mismatch": (altered_trace(lstm, d / "tm.npz", step_loss=np.zeros(h.shape[1] + 1)), "step_loss"),
        "cell_shape": (altered_trace(lstm, d / "cs.npz", cell=h[:, :, :, :1]), "cell"),
        "string_dtype": (altered_trace(lstm, d / "str.npz", hidden=h.astype(str)), "not numbers"),
        "config_list": (with_config(lstm, d / "cl.npz", [1, 2]), "not a table"),
        "num_layers": (with_config(lstm, d / "nl.npz", {**Trace.load(lstm).config, "num_layers": 3}), "num_layers"),
        "config_nan": (with_config(lstm, d / "cn.npz", {**Trace.load(lstm).config, "hidden_size": float("nan")}),
                       "hidden_size"),
        "gates_missing": (altered_trace(lstm, d / "gm.npz", gate_f=None), "gates"),
        "gates_foreign": (altered_trace(rnn, d / "gf.npz", gate_f=h), "gates"),
        "deep_json": (altered_trace(lstm, d / "dj.npz", meta_json=np.array(deep_json())), "nested too deeply"),
    }
    np.save(d / "plain.npy", h)
    os.replace(d / "plain.npy", d / "plain.npz")
    cases["plain_npy"] = (d / "plain.npz", "not a zip archive")
    (d / "trunc.npz").write_bytes(lstm.read_bytes()[:300])
    cases["truncated"] = (d / "trunc.npz", "truncated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(d / "rep.npz", "w") as zf:
            zf.writestr("format.npy", b"x")
            zf.writestr("format.npy", b"y")
    cases["repeated"] = (d / "rep.npz", "more than once")
    fifo = d / "fifo.npz"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases["fifo"] = (fifo, "FIFO")
    cases["folder"] = (d, "folder")
    return cases, marker


TRACE_CASES = ["not_a_zip", "plain_npy", "pickle", "petabytes", "repeated", "traversal", "absolute", "zero_T",
               "zero_B", "zero_K", "hidden_0d", "T_mismatch", "cell_shape", "string_dtype", "config_list",
               "num_layers", "config_nan", "gates_missing", "gates_foreign", "deep_json", "truncated", "fifo",
               "folder"]


@pytest.mark.parametrize("case", TRACE_CASES)
def test_hostile_trace_gets_one_clear_error(files, case):
    cases, marker = _trace_cases(files)
    path, words = cases[case]
    with pytest.raises(TraceFileError) as info:
        Trace.load(path)
    msg = str(info.value)
    assert "\n" not in msg and words in msg, msg
    assert "allow_pickle" not in msg and not marker.exists()


def test_a_good_trace_and_session_still_load(files):
    tr = Trace.load(files["lstm"])
    assert tr.hidden.shape[0] == 1 and set(tr.gates) == {"i", "f", "g", "o"}
    s = load_session(files["session"])
    assert s.trace is not None and len(s.traces) == 3 and s.optimizer is not None


def _session_cases(files):
    d, good = files["dir"], files["session"]

    def man(fn):
        return lambda m: fn(m) or m

    cases = {
        "repeated_trace": (rewrite_session(good, d / "rt.rnnviz", man(lambda m: m.update(
            traces=[m["traces"][0]] * 3000, steps=[0] * 3000))), "more than once"),
        "duplicate_member": (rewrite_session(good, d / "dm.rnnviz", duplicate="trace.npz"), "more than once"),
        "view_malformed": (rewrite_session(good, d / "vm.rnnviz", man(lambda m: m.update(view={"time": "soon"}))),
                           "view state time"),
        "view_list": (rewrite_session(good, d / "vl.rnnviz", man(lambda m: m.update(view=[1]))), "view state"),
        "config_list": (rewrite_session(good, d / "cl.rnnviz", man(lambda m: m.update(config=[1]))), "config"),
        "config_inf": (rewrite_session(good, d / "ci.rnnviz", man(lambda m: m["config"]["model"].update(
            hidden_size=1e400))), "hidden_size"),
        "config_nan": (rewrite_session(good, d / "cn.rnnviz", man(lambda m: m["config"]["model"].update(
            num_layers=float("nan")))), "num_layers"),
        "config_too_big": (rewrite_session(good, d / "cb.rnnviz", man(lambda m: m["config"]["model"].update(
            hidden_size=8192, num_layers=16, bidirectional=True))), "make hidden_size"),
        "weights_shape": (rewrite_session(good, d / "ws.rnnviz", man(lambda m: m["config"]["model"].update(
            hidden_size=5))), "weight"),
        "deep_manifest": (rewrite_session(good, d / "dp.rnnviz", lambda m: deep_json()), "nested too deeply"),
        "traversal": (rewrite_session(good, d / "tr.rnnviz", members={"../x.npz": b"x"}), "leaves the archive"),
        "absolute": (rewrite_session(good, d / "ab.rnnviz", members={"/tmp/x.npz": b"x"}), "absolute path"),
        "missing_member": (rewrite_session(good, d / "mm.rnnviz", man(lambda m: m.update(trace="nope.npz"))),
                           "nope.npz"),
        "trace_from_other_model": (None, "disagrees"),
    }
    other = d / "other.rnnviz"
    good_session(other, "gru")
    with zipfile.ZipFile(other) as z:
        gru_trace = z.read("trace.npz")
    cases["trace_from_other_model"] = (rewrite_session(good, d / "om.rnnviz", members={"trace.npz": gru_trace}),
                                       "disagrees")
    fifo = d / "fifo.rnnviz"
    if not fifo.exists():
        os.mkfifo(fifo)
    cases["fifo"] = (fifo, "FIFO")
    return cases


SESSION_CASES = ["repeated_trace", "duplicate_member", "view_malformed", "view_list", "config_list", "config_inf",
                 "config_nan", "config_too_big", "weights_shape", "deep_manifest", "traversal", "absolute",
                 "missing_member", "trace_from_other_model", "fifo"]


@pytest.mark.parametrize("case", SESSION_CASES)
def test_hostile_session_gets_one_clear_error(files, case):
    path, words = _session_cases(files)[case]
    with pytest.raises(SessionFileError) as info:
        load_session(path)
    msg = str(info.value)
    assert "\n" not in msg and words in msg, msg


@pytest.mark.parametrize("text,suffix,words", [
    ("hidden_size = inf\n", ".toml", "hidden_size"),
    ("hidden_size = nan\n", ".toml", "hidden_size"),
    ('{"hidden_size": 1e400}', ".json", "hidden_size"),
    ('{"hidden_size": NaN}', ".json", "hidden_size"),
    ('{"seq_len": Infinity}', ".json", "seq_len"),
    ('{"lr": 1' + "0" * 400 + "}", ".json", "lr"),
    (deep_json(), ".json", "nested too deeply"),
    ('task = "melody"\nbidirectional = true\n', ".toml", "one-to-many"),
    ('task = "char_lm"\nhidden_size = 1\nseq_len = 10000\nbatch_size = 9999\n', ".toml", None),
], ids=["toml_inf", "toml_nan", "json_1e400", "json_nan", "json_infinity", "json_400_digits", "deep_json",
        "melody_bidirectional", "too_big"])
def test_hostile_config_names_the_key_and_the_file(tmp_path, text, suffix, words):
    from rnnviz.core.budget import check_run_size

    path = tmp_path / f"run{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        check_run_size(load_config(path))
    msg = str(info.value)
    assert "\n" not in msg
    if words is None:  # the memory check: names what to make smaller
        assert "make seq_len" in msg and "batch_size" in msg, msg
    else:
        assert words in msg and str(path) in msg, msg


def test_config_fifo_and_huge_files_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "run.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="FIFO"):
        load_config(fifo)  # would block forever if it were opened
    big = tmp_path / "big.toml"
    with open(big, "wb") as f:
        f.truncate(64 << 20)
    with pytest.raises(ConfigError, match="too large"):
        load_config(big)


# -- memory bombs: a subprocess under RLIMIT_AS well below what the bomb expands to ---------------

BOMB_CODE = """
import json
from rnnviz.core.trace import Trace, TraceFileError
from rnnviz.app.session import load_session, SessionFileError
base = PEAK()
LIMIT()
try:
    {call}
    print(json.dumps({{"ok": True, "base": base, "peak": PEAK()}}))
except (TraceFileError, SessionFileError) as exc:
    print(json.dumps({{"error": str(exc), "base": base, "peak": PEAK()}}))
"""


@pytest.fixture(scope="module")
def bombs(files):
    d = files["dir"]
    bomb = zip_bomb(d / "bomb.npz")
    inner = bomb.read_bytes()
    session = rewrite_session(files["session"], d / "bomb.rnnviz", members={"trace.npz": inner})
    return {"npz": bomb, "session": session}


@pytest.mark.parametrize("kind", ["npz", "session"])
def test_zip_bombs_are_refused_in_bounded_memory(bombs, kind):
    call = f"Trace.load({str(bombs[kind])!r})" if kind == "npz" else f"load_session({str(bombs[kind])!r})"
    proc = run_limited(BOMB_CODE.format(call=call))
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "error" in result and "bomb" in result["error"], result
    grew = result["peak"] - result["base"]
    assert grew < 64 << 20, result  # refused before anything of the bomb's size was allocated
    print(f"\n{kind} bomb (1 GiB expanded): peak RSS {result['peak'] / 2**20:.0f} MiB, "
          f"{grew / 2**20:.1f} MiB above the imports")


def test_the_limit_is_tight_enough_to_fail_a_naive_loader(bombs):
    """The same limit, np.load as the old loader did: the bomb must not fit (else the test proves nothing)."""
    code = (f"import numpy as np\nLIMIT()\ntry:\n    z = np.load({str(bombs['npz'])!r})\n"
            "    a = np.array(z['hidden'])\n    print('loaded')\nexcept MemoryError:\n    print('MemoryError')\n")
    proc = run_limited(code)
    assert "MemoryError" in proc.stdout or proc.returncode != 0, (proc.stdout, proc.stderr[-500:])


def test_a_damaged_member_gets_a_clean_message(files, tmp_path):
    """A flipped byte: zipfile's CRC check, reported with its quotes intact (it was "(Bad CRC-32 for file 'x)")."""
    h = trace_arrays(files["lstm"])["hidden"]
    stored = altered_trace(files["lstm"], tmp_path / "stored.npz")  # ZIP_STORED: the array bytes are in the file
    data = bytearray(stored.read_bytes())
    at = data.find(h.tobytes()) + h.nbytes // 2
    data[at] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(TraceFileError) as info:
        Trace.load(stored)
    msg = str(info.value)
    assert "Bad CRC-32 for file 'hidden.npy'" in msg and msg.count("'") % 2 == 0, msg
