"""Session files: bit-for-bit round trip; damaged, truncated, foreign and newer files; bad paths."""

import io
import json
import zipfile

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.app.session import (
    Session,
    SessionFileError,
    is_session_file,
    load_session,
    optimizer_state_for_torch,
    save_session,
)
from rnnviz.core.train import Trainer, build_run


@pytest.fixture(scope="module")
def trained():
    cfg = rnnviz.RunConfig().with_overrides(cell="lstm", task="adding", seq_len=10, batch_size=3, hidden_size=5,
                                            steps=6, record_every=3, optimizer="adam")
    model, _ = build_run(cfg)
    tr = Trainer(model, cfg.task, cfg.train)
    tr.run()
    session = Session(config=cfg, weights=model.state_dict(), optimizer=tr.optimizer.state_dict(),
                      history=tr.history, trace=tr.traces[-1][1], traces=tr.traces,
                      view={"time": 3, "phase": "backward", "layer": 0}, compare={
                          "label": "forget bias 0", "trace": tr.traces[0][1], "history": tr.history[:2]})
    return cfg, model, tr, session


def test_round_trip_bit_for_bit(tmp_path, trained):
    cfg, model, tr, session = trained
    path = save_session(tmp_path / "a.rnnviz", session)
    assert is_session_file(path) and not is_session_file(tmp_path)
    s = load_session(path)
    assert rnnviz.RunConfig.from_dict(s.config) == cfg
    for k, v in model.state_dict().items():
        assert s.weights[k].dtype == v.numpy().dtype and np.array_equal(s.weights[k], v.numpy())
    assert s.history == tr.history  # floats, bools and ints exactly
    assert [st for st, _ in s.traces] == [st for st, _ in tr.traces]
    for (_, a), (_, b) in zip(s.traces, tr.traces):
        for name in ("hidden", "grad_hidden", "cell", "grad_cell", "whh_eigvals"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
        assert all(np.array_equal(a.gates[g], b.gates[g]) for g in b.gates)
    assert np.array_equal(s.trace.hidden, session.trace.hidden)
    assert s.view == session.view
    assert s.compare["label"] == "forget bias 0" and s.compare["history"] == tr.history[:2]
    assert np.array_equal(s.compare["trace"].hidden, tr.traces[0][1].hidden)


def test_optimizer_state_restores_into_torch(tmp_path, trained):
    _, model, tr, session = trained
    s = load_session(save_session(tmp_path / "o.rnnviz", session))
    opt = torch.optim.Adam(model.parameters(), lr=0.5)
    opt.load_state_dict(optimizer_state_for_torch(s))
    want = tr.optimizer.state_dict()
    got = opt.state_dict()
    assert got["param_groups"][0]["lr"] == want["param_groups"][0]["lr"]
    assert got["param_groups"][0]["betas"] == want["param_groups"][0]["betas"]
    for i, st in want["state"].items():
        for key, value in st.items():
            assert torch.equal(got["state"][i][key], value)


def test_resave_of_loaded_session_is_identical(tmp_path, trained):
    s = load_session(save_session(tmp_path / "1.rnnviz", trained[3]))
    s2 = load_session(save_session(tmp_path / "2.rnnviz", s))
    assert all(np.array_equal(s.weights[k], s2.weights[k]) for k in s.weights)
    assert s2.history == s.history


def _assert_clean_error(path, pattern):
    with pytest.raises(SessionFileError, match=pattern) as info:
        load_session(path)
    assert "\n" not in str(info.value)


def test_damaged_truncated_foreign_newer(tmp_path, trained):
    good = save_session(tmp_path / "g.rnnviz", trained[3])
    data = good.read_bytes()
    (tmp_path / "trunc.rnnviz").write_bytes(data[: len(data) // 3])
    _assert_clean_error(tmp_path / "trunc.rnnviz", "not an rnnviz session|damaged")
    (tmp_path / "text.rnnviz").write_text("hello")
    _assert_clean_error(tmp_path / "text.rnnviz", "not an rnnviz session")
    trained[3].trace.save(tmp_path / "trace.npz")
    _assert_clean_error(tmp_path / "trace.npz", "not an rnnviz session")  # a trace, not a session
    _assert_clean_error(tmp_path / "nope.rnnviz", "no such file")

    def rewrite(name, change):
        buf = io.BytesIO()
        with zipfile.ZipFile(good) as src, zipfile.ZipFile(buf, "w") as dst:
            for item in src.namelist():
                content = src.read(item)
                out = change(item, content)
                if out is not None:
                    dst.writestr(item, out)
        (tmp_path / name).write_bytes(buf.getvalue())
        return tmp_path / name

    def newer(item, content):
        if item == "session.json":
            doc = json.loads(content)
            doc["version"] = 99
            return json.dumps(doc)
        return content

    _assert_clean_error(rewrite("newer.rnnviz", newer), "newer rnnviz.*format 99")
    _assert_clean_error(rewrite("noweights.rnnviz", lambda i, c: None if i == "weights.npz" else c), "damaged")
    _assert_clean_error(rewrite("badjson.rnnviz", lambda i, c: b"{" if i == "session.json" else c), "damaged")
    _assert_clean_error(rewrite("badnpz.rnnviz", lambda i, c: c[:40] if i.startswith("traces/") else c), "damaged")

    def foreign(item, content):
        return json.dumps({"format": "something-else"}) if item == "session.json" else content

    _assert_clean_error(rewrite("foreign.rnnviz", foreign), "not an rnnviz session")


def test_unwritable_paths_keep_old_file(tmp_path, trained):
    session = trained[3]
    with pytest.raises(SessionFileError, match="cannot save"):
        save_session(tmp_path / "missing" / "s.rnnviz", session)
    (tmp_path / "file").write_text("x")
    with pytest.raises(SessionFileError, match="cannot save"):
        save_session(tmp_path / "file" / "s.rnnviz", session)
    with pytest.raises(SessionFileError, match="not a regular file"):
        save_session("/dev/null", session)
    old = tmp_path / "old.rnnviz"
    old.write_bytes(b"previous")

    class Boom:  # a value the manifest cannot hold → nothing is written
        pass

    bad = Session(config={}, view={"x": Boom()}, optimizer={"state": {0: {"o": Boom()}}, "param_groups": []})
    with pytest.raises(SessionFileError):
        save_session(old, bad)
    assert old.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "old.rnnviz"]
