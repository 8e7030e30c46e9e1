"""Hostile files through the window's own menus (File ▸ Open session… / Open trace…), real widgets.

The file dialog is answered with the hostile file; the real warning box that follows is read and
closed. Each case: a clear message naming the problem, nothing reaching sys.excepthook, and the
window's previous state (config, trace, history, model) untouched."""

from __future__ import annotations

import os
import sys

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
    with_config,
    zip_bomb,
)
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

import rnnviz
from rnnviz.app.state import SessionState
from rnnviz.qt.main_window import MainWindow


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("win")
    lstm = good_trace(d / "lstm.npz")
    h = rnnviz.Trace.load(lstm).hidden
    session = good_session(d / "good.rnnviz")
    np.save(d / "plain.npy", h)
    os.replace(d / "plain.npy", d / "plain.npz")
    os.mkfifo(d / "fifo.npz")
    os.mkfifo(d / "fifo.rnnviz")
    bomb = zip_bomb(d / "bomb.npz")
    return {
        "marker": d / "PWNED", "lstm": lstm, "session": session,
        "trace_cases": {
            "bomb": (bomb, "bomb"),
            "pickle": (pickle_npz(d / "pickle.npz", d / "PWNED"), "object"),
            "petabytes": (petabyte_header(d / "pb.npz"), "declares shape"),
            "plain_npy": (d / "plain.npz", "not a zip archive"),
            "fifo": (d / "fifo.npz", "FIFO"),
            "zero_B": (altered_trace(lstm, d / "b0.npz", hidden=h[:, :, :0]), "at least 1"),
            "hidden_0d": (altered_trace(lstm, d / "h0.npz", hidden=np.array(2.0)), "4 axes"),
            "T_mismatch": (altered_trace(lstm, d / "tm.npz", inputs=np.zeros((h.shape[1] + 2, h.shape[2], 2))),
                           "inputs"),
            "string_dtype": (altered_trace(lstm, d / "s.npz", grad_hidden=h.astype(str)), "not numbers"),
            "config_list": (with_config(lstm, d / "cl.npz", ["lstm"]), "not a table"),
            "num_layers": (with_config(lstm, d / "nl.npz", {**rnnviz.Trace.load(lstm).config, "num_layers": 4}),
                           "num_layers"),
            "gates": (altered_trace(lstm, d / "g.npz", gate_o=None), "gates"),
            "deep_json": (altered_trace(lstm, d / "dj.npz", config_json=np.array(deep_json())), "nested too deeply"),
        },
        "session_cases": {
            "bomb": (rewrite_session(session, d / "bomb.rnnviz", members={"trace.npz": bomb.read_bytes()}), "bomb"),
            "repeated": (rewrite_session(session, d / "rep.rnnviz", lambda m: {
                **m, "traces": [m["traces"][0]] * 3000, "steps": [0] * 3000}), "more than once"),
            "view": (rewrite_session(session, d / "view.rnnviz", lambda m: {**m, "view": {"phase": {"x": 1}}}),
                     "view state phase"),
            "config_inf": (rewrite_session(session, d / "inf.rnnviz", lambda m: {
                **m, "config": {**m["config"], "model": {**m["config"]["model"], "hidden_size": 1e400}}}),
                "hidden_size"),
            "deep": (rewrite_session(session, d / "deep.rnnviz", lambda m: deep_json()), "nested too deeply"),
            "fifo": (d / "fifo.rnnviz", "FIFO"),
            "not_a_session": (lstm, "not an rnnviz session"),
        },
    }


@pytest.fixture
def window(qtbot):
    win = MainWindow(SessionState(rnnviz.RunConfig().with_overrides(hidden_size=5, seq_len=7, batch_size=3)))
    qtbot.addWidget(win)
    win.show()
    assert win.record_sync()
    yield win
    win.shutdown()


def _open_through_menu(window, qtbot, monkeypatch, action: str, path) -> list[str]:
    """Trigger File ▸ ``action`` with the dialog answering ``path``; return the texts of the boxes shown."""
    shown: list[str] = []
    hooked: list = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))

    def close_box():
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            shown.append(box.text())
            box.done(0)
        else:
            QTimer.singleShot(20, close_box)

    QTimer.singleShot(20, close_box)
    window.actions[action].trigger()
    qtbot.wait(10)
    assert hooked == []
    return shown


def _snapshot(window):
    s = window.state
    return (s.config, s.trace, list(s.history), s.time, s.layer, s.model)


@pytest.mark.parametrize("case", ["bomb", "pickle", "petabytes", "plain_npy", "fifo", "zero_B", "hidden_0d",
                                  "T_mismatch", "string_dtype", "config_list", "num_layers", "gates", "deep_json"])
def test_open_trace_refuses_hostile_files_and_keeps_the_window(window, qtbot, monkeypatch, files, case):
    path, words = files["trace_cases"][case]
    before = _snapshot(window)
    shown = _open_through_menu(window, qtbot, monkeypatch, "open_trace", path)
    assert len(shown) == 1 and words in shown[0], shown
    assert all(a is b or a == b for a, b in zip(_snapshot(window), before, strict=True))
    assert not files["marker"].exists()


@pytest.mark.parametrize("case", ["bomb", "repeated", "view", "config_inf", "deep", "fifo", "not_a_session"])
def test_open_session_refuses_hostile_files_and_keeps_the_window(window, qtbot, monkeypatch, files, case):
    path, words = files["session_cases"][case]
    before = _snapshot(window)
    window.state.dirty = False  # no "unsaved changes" question first
    shown = _open_through_menu(window, qtbot, monkeypatch, "open_session", path)
    assert len(shown) == 1 and words in shown[0], shown
    assert all(a is b or a == b for a, b in zip(_snapshot(window), before, strict=True))


def test_a_good_session_and_trace_still_open_through_the_menus(window, qtbot, monkeypatch, files):
    window.state.dirty = False
    assert _open_through_menu(window, qtbot, monkeypatch, "open_session", files["session"]) == []
    assert window.state.config.model.cell == "lstm" and window.state.trace.hidden.shape[-1] == 3
    assert _open_through_menu(window, qtbot, monkeypatch, "open_trace", files["lstm"]) == []
    assert window.state.trace.cell_type == "lstm"
