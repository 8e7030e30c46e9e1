"""SessionState and the app actions, without Qt."""

import json
import subprocess
import sys

import numpy as np
import pytest

import rnnviz
from rnnviz.app import actions
from rnnviz.app.state import SessionState


def small_cfg(**kw):
    base = dict(hidden_size=8, seq_len=6, batch_size=3)
    base.update(kw)
    return rnnviz.RunConfig().with_overrides(**base)


@pytest.fixture(scope="module")
def trace():
    return actions.record_run(small_cfg()).trace


def test_events_fire_with_new_value_and_unsubscribe(trace):
    s = SessionState(small_cfg())
    s.trace = trace
    seen = []
    s.events.subscribe("time", seen.append)
    s.time = 3
    s.time = 3  # unchanged: no event
    s.time = 99  # clamped to T-1
    assert seen == [3, 5]
    s.events.unsubscribe("time", seen.append)
    s.time = 1
    assert seen == [3, 5]
    with pytest.raises(ValueError):
        s.events.subscribe("nonsense", print)
    with pytest.raises(AttributeError):
        s.nonsense = 1


def test_timeline_runs_forward_then_bptt_and_back(trace):
    s = SessionState(small_cfg())
    s.trace = trace
    T = trace.seq_len
    cursor = []
    s.events.subscribe("time", lambda t: cursor.append((s.phase, t)))
    steps = 0
    while s.step_forward():
        steps += 1
    assert steps == 2 * T - 1
    assert (s.phase, s.time) == ("backward", 0)
    # forward visits 1..T-1, then BPTT starts at T-1 (same t, phase flips) and walks down to 0
    assert [t for p, t in cursor if p == "forward"] == list(range(1, T))
    assert s.step_forward() is False
    s.step_back()
    assert (s.phase, s.time) == ("backward", 1)
    s.jump_start()
    assert (s.phase, s.time) == ("forward", 0)
    assert s.step_back() is False
    s.jump_end()
    assert (s.phase, s.time) == ("forward", T - 1)
    s.jump_end()
    assert (s.phase, s.time) == ("backward", 0)
    s.phase = "full"
    s.jump_start()
    assert s.step_forward() and s.time == 1 and s.phase == "full"


def test_set_config_validates_and_reports(trace):
    s = SessionState(small_cfg())
    configs, status = [], []
    s.events.subscribe("config", configs.append)
    s.events.subscribe("status", status.append)
    assert s.set_config(cell="lstm", hidden_size=16) is True
    assert s.config.model.cell == "lstm" and s.config.model.hidden_size == 16 and s.dirty
    assert s.set_config(hidden_size=-3) is False
    assert s.config.model.hidden_size == 16
    assert "hidden_size" in status[-1] and "\n" not in status[-1]
    assert s.set_config(cell="transformer") is False
    assert "cell" in s.status
    assert len(configs) == 1


def test_layer_and_sample_clamped_and_dict_roundtrip(trace):
    s = SessionState(small_cfg())
    s.trace = trace
    s.sample = 10
    assert s.sample == trace.batch_size - 1
    s.layer = 5
    assert s.layer == 0
    s.time, s.phase, s.speed, s.panel = 4, "backward", 25, "gates"
    d = s.to_dict()
    assert json.loads(json.dumps(d)) == d
    other = SessionState(small_cfg())
    other.trace = trace
    other.update_from_dict(d)
    assert other.to_dict() == d


def test_record_run_has_metadata_and_does_not_touch_cfg():
    cfg = small_cfg(task="char_lm", seq_len=12)
    before = cfg.to_dict()
    run = actions.record_run(cfg)
    probe, trace = run.probe, run.trace
    assert cfg.to_dict() == before and run.model.cfg.input_size == probe.input_size != cfg.model.input_size
    assert trace.hidden.shape == (1, 12, 3, 8)
    assert trace.meta["task"] == "char_lm" and len(trace.meta["tokens"]) == 12
    assert trace.meta["vocab"] == probe.vocab


def test_compare_runs_same_data_one_change():
    cfg = small_cfg(seq_len=20)
    ra, rb = actions.compare_runs(cfg, {"activation": "relu"})
    a, b, ha, hb = ra.trace, rb.trace, ra.history, rb.history
    np.testing.assert_array_equal(a.inputs, b.inputs)  # same data
    assert a.config["activation"] == "tanh" and b.config["activation"] == "relu"
    assert ha == hb == []
    ra, rb = actions.compare_runs(cfg, {"clip": "norm", "clip_norm": 0.01}, steps=3)
    ha2, hb2 = ra.history, rb.history
    assert len(ha2) == len(hb2) == 3
    assert [r["clipped"] for r in hb2] == [True] * 3 and not any(r["clipped"] for r in ha2)
    with pytest.raises(rnnviz.ConfigError):
        actions.compare_runs(cfg, {"activation": "sigmoid"})


def test_user_text_run_reads_the_sentence_from_the_start():
    run = actions.user_text_run(small_cfg(), "This morning I took my cat")
    cfg, trace = run.config, run.trace
    assert cfg.task.name == "char_lm" and cfg.task.text == "This morning I took my cat"
    assert "".join(trace.meta["tokens"]) == "This morning I took my ca"
    words = small_cfg(task="word_lm")
    trace = actions.user_text_run(words, "This morning I took my cat for a walk.").trace
    assert trace.meta["tokens"] == ["This", "morning", "I", "took", "my", "cat", "for", "a", "walk"]
    for bad in ("", "   ", "a"):
        with pytest.raises(rnnviz.ConfigError):
            actions.user_text_run(small_cfg(), bad)


def test_app_package_imports_no_qt():
    code = ("import sys, rnnviz.app, rnnviz.app.state, rnnviz.app.actions; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bidirectional_one_to_many_is_refused_with_a_reason():
    s = SessionState(small_cfg(task="melody"))
    assert s.set_config(bidirectional=True) is False
    assert "bidirectional" in s.status and not s.config.model.bidirectional
