"""The window's session and export actions on a real MainWindow (pytest-qt, offscreen)."""

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

from rnnviz.export import figures, frames  # noqa: E402


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    from rnnviz.qt.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    assert w.record_sync()
    yield w
    w.shutdown()


def test_menu_and_controller(window):
    texts = [a.text() for a in window.file_menu.actions()]
    for t in ("Open session…", "Save session", "Export panel PNG/SVG…", "Export GIF/MP4…", "Export series CSV…"):
        assert t in texts
    assert window.actions["save_session"].shortcut().toString() == "Ctrl+S"


def test_save_and_reopen_session(window, tmp_path):
    ctl = window.session_controller
    st = window.state
    st.time = 2
    weights = {k: v.detach().numpy().copy() for k, v in window.state.model.state_dict().items()}
    hidden = st.trace.hidden.copy()
    assert ctl.save(tmp_path / "s.rnnviz"), ctl.last_error
    assert st.dirty is False and str((tmp_path / "s.rnnviz").resolve()) in ctl.recent_files()
    st.time = 0
    assert ctl.open(tmp_path / "s.rnnviz"), ctl.last_error
    assert st.time == 2 and np.array_equal(st.trace.hidden, hidden)
    for k, v in window.state.model.state_dict().items():
        assert np.array_equal(v.numpy(), weights[k])


def test_open_bad_file_leaves_state(window, tmp_path):
    ctl = window.session_controller
    before = window.state.trace
    (tmp_path / "bad.rnnviz").write_bytes(b"garbage")
    assert not ctl.open(tmp_path / "bad.rnnviz")
    assert "not an rnnviz session" in ctl.last_error and window.state.trace is before
    assert not ctl.save(tmp_path / "nope" / "s.rnnviz") and "cannot save" in ctl.last_error


def test_panel_png_same_pixels_as_cli_renderer(window, tmp_path):
    ctl = window.export_controller
    assert ctl.export_figure(tmp_path / "p.png", ["hidden", "gradients"], (640, 360)), ctl.last_error
    want = frames.rasterize(figures.figure(window.state.trace, ["hidden", "gradients"], (640, 360),
                                           history=window.state.history or None))
    with Image.open(tmp_path / "p.png") as im:
        assert np.array_equal(np.asarray(im), want)
    assert ctl.export_figure(tmp_path / "p.svg", None, (640, 360))
    assert (tmp_path / "p.svg").read_text().count("<text") > 5


def test_window_png_trace_series_and_gif(window, tmp_path):
    ctl = window.export_controller
    assert ctl.export_window(tmp_path / "w.png")
    with Image.open(tmp_path / "w.png") as im:
        assert im.size[0] > 100
    assert ctl.export_trace(tmp_path / "t.npz") and ctl.export_series(tmp_path / "s.csv")
    seen = []
    assert ctl.export_animation(tmp_path / "a.gif", "backward", ["hidden"], 10, (320, 200), frames=3,
                                progress=lambda d, n: seen.append((d, n)), wait=True), ctl.last_error
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3
    assert seen[-1] == (3, 3)
    assert not ctl.export_animation(tmp_path / "x.gif", "training", wait=True)
    assert "two recorded traces" in ctl.last_error


def test_confirm_close_without_changes(window):
    window.state.dirty = False
    assert window.session_controller.confirm_close() is True


def test_autosave_writes_session(window, tmp_path, monkeypatch):
    from PySide6.QtCore import QStandardPaths

    QStandardPaths.setTestModeEnabled(True)
    path = window.session_controller.autosave()
    assert path is not None and path.exists()
    from rnnviz.app.session import load_session

    assert load_session(path).trace is not None
    path.unlink()
