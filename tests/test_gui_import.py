"""File → Open model… and Copy as Python in the real window (offscreen, pytest-qt)."""

import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox
from torch import nn

import rnnviz
from rnnviz.qt.open_model import DataChoice, copy_as_python, imported_on_screen, open_data, open_model

REPO = Path(__file__).resolve().parents[1]


class EmbedLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(9, 3)
        self.rnn = nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True, dropout=0.1)
        self.out = nn.Linear(10, 2)

    def forward(self, tokens):
        return self.out(self.rnn(self.emb(tokens))[0])


@pytest.fixture
def window(make_window):
    return make_window()


def _answer_trust_box(button):
    """Click ``button`` on the trust question as soon as it is up (it runs its own event loop)."""
    def click():
        boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "confirm_trust" and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, click)
            return
        boxes[0].button(button).click()
    QTimer.singleShot(20, click)


def _source_outputs(net, trace):
    tokens = torch.tensor(trace.meta["token_ids"])  # (T, B)
    with torch.no_grad():
        return net(tokens.T).transpose(0, 1).numpy()


def test_open_a_state_dict_shows_it_and_reports_the_difference(window, tmp_path):
    torch.manual_seed(0)
    net = EmbedLSTM().eval()
    torch.save(net.state_dict(), tmp_path / "lstm.pt")
    assert open_model(window, str(tmp_path / "lstm.pt"))
    s = window.state
    assert "max |rnnviz - torch.nn.LSTM| = " in s.status and "embedding (9, 3)" in s.status
    cfg = s.config.model
    assert (cfg.cell, cfg.hidden_size, cfg.num_layers, cfg.bidirectional) == ("lstm", 5, 2, True)
    assert s.trace.cell_type == "lstm" and s.trace.hidden.shape[0] == 4
    np.testing.assert_allclose(s.trace.outputs, _source_outputs(net, s.trace), atol=1e-4, rtol=0)
    for view in window.views.values():
        assert view.trace is s.trace
    # the imported weights stay: nothing re-recorded fresh weights behind the user's back
    assert imported_on_screen(window).model is s.model
    # the run's task is the imported network's input; the build panel shows it
    assert s.config.task.name == "model_lstm" == window.build_panel.controls["task"].currentData()
    assert "network from lstm.pt" in window.build_panel.task_help.text()


def test_an_imported_model_trains_on(window, tmp_path, qtbot):
    torch.manual_seed(5)
    net = nn.GRU(3, 4)
    torch.save(net.state_dict(), tmp_path / "g.pt")
    assert open_model(window, str(tmp_path / "g.pt"))
    s = window.state
    imported = imported_on_screen(window)
    before = {k: v.clone() for k, v in imported.model.state_dict().items()}
    assert window.train(3)
    qtbot.waitUntil(lambda: s.training == "idle" and len(s.history) == 3, timeout=60000)
    assert s.model is imported.model  # the imported weights were trained, not fresh ones
    assert any(not torch.equal(before[k], v) for k, v in imported.model.state_dict().items())


def test_a_pickled_module_asks_first(window, tmp_path, qtbot):
    torch.manual_seed(1)
    net = nn.GRU(3, 4)
    torch.save(net, tmp_path / "gru_module.pt")
    before = window.state.trace
    _answer_trust_box(QMessageBox.StandardButton.No)
    assert not open_model(window, str(tmp_path / "gru_module.pt"))
    assert "not opened" in window.state.status and window.state.trace is before
    _answer_trust_box(QMessageBox.StandardButton.Yes)
    assert open_model(window, str(tmp_path / "gru_module.pt"))
    assert "max |rnnviz - torch.nn.GRU| = " in window.state.status
    with torch.no_grad():
        expected = net(torch.from_numpy(window.state.trace.inputs))[0].numpy()
    np.testing.assert_allclose(window.state.trace.outputs, expected, atol=1e-4, rtol=0)


def test_a_refused_file_leaves_the_run_alone(window, tmp_path):
    torch.save(nn.LSTM(3, 4, proj_size=2).state_dict(), tmp_path / "proj.pt")
    before = window.state.trace
    assert not open_model(window, str(tmp_path / "proj.pt"))
    assert "projection" in window.state.status and window.state.trace is before


def test_open_onnx_and_keras_in_the_window(window, tmp_path):
    pytest.importorskip("onnxruntime")
    torch.manual_seed(2)
    net = nn.RNN(3, 6, num_layers=2).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(5, 2, 3),), str(tmp_path / "rnn.onnx"), dynamo=False,
                          input_names=["x"], dynamic_axes={"x": {0: "t", 1: "b"}})
    assert open_model(window, str(tmp_path / "rnn.onnx"))
    assert "max |rnnviz - onnxruntime| = " in window.state.status
    with torch.no_grad():
        expected = net(torch.from_numpy(window.state.trace.inputs))[0].numpy()
    np.testing.assert_allclose(window.state.trace.outputs, expected, atol=1e-4, rtol=0)

    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.GRU(4, return_sequences=True),
                              keras.layers.Dense(2)])
    model.save(tmp_path / "gru.keras")
    assert open_model(window, str(tmp_path / "gru.keras"))
    assert "max |rnnviz - Keras's equations| = " in window.state.status
    expected = model.predict(window.state.trace.inputs.transpose(1, 0, 2), verbose=0).transpose(1, 0, 2)
    np.testing.assert_allclose(window.state.trace.outputs, expected, atol=1e-4, rtol=0)


def _run_script(text, cwd):
    (cwd / "figure.py").write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "figure.py"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=240)
    assert proc.returncode == 0, proc.stderr
    return _pixels((cwd / "rnnviz-figure.png").read_bytes())


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_copy_as_python_reproduces_the_figure(window, tmp_path):
    window.show_view("gates")
    window.state.time = 5
    text = copy_as_python(window)
    assert QGuiApplication.clipboard().text() == text
    assert "rnnviz.RunConfig.from_dict(" in text and "panels=['gates']" in text
    png = _run_script(text, tmp_path)
    here = rnnviz.show(window.state.trace, panels=["gates"], t=5, size=(960, 540))
    np.testing.assert_array_equal(png, _pixels(here.png))  # same config, same seed: the same figure


def test_copy_as_python_of_an_imported_model(window, tmp_path):
    torch.manual_seed(3)
    torch.save(nn.GRU(2, 3).state_dict(), tmp_path / "g.pt")
    assert open_model(window, str(tmp_path / "g.pt"))
    text = copy_as_python(window)
    assert f"rnnviz.load_model({str(tmp_path / 'g.pt')!r})" in text
    png = _run_script(text, tmp_path)
    s = window.state
    here = rnnviz.show(s.trace, panels=["hidden"] if "panels=['hidden']" in text else None, t=s.time)
    np.testing.assert_array_equal(png, _pixels(here.png))


SAVE_RUN = """
import json
trace.save("script_trace.npz")
with open("script_history.json", "w") as fh:
    json.dump([[row["step"], row["loss"], row["grad_norm"]] for row in (history or [])], fh)
"""


def _script_run(text, cwd):
    """Run a Copy as Python script as a user would (a fresh interpreter), keeping what it recorded."""
    import json

    _run_script(text + SAVE_RUN, cwd)
    history = json.loads((cwd / "script_history.json").read_text(encoding="utf-8"))
    return rnnviz.Trace.load(cwd / "script_trace.npz"), history


def _same_run(window, theirs, history):
    """The script's trace and loss history are the window's: every array the figure is drawn from."""
    ours = window.state.trace
    assert theirs.meta["step"] == ours.meta["step"] == len(window.state.history)
    for name in ("inputs", "targets", "outputs", "hidden", "cell", "grad_hidden", "grad_hidden_norm", "step_loss"):
        a, b = getattr(theirs, name), getattr(ours, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=1e-5, atol=1e-6,
                                       err_msg=name)
    assert theirs.gates.keys() == ours.gates.keys()
    for key in ours.gates:
        np.testing.assert_allclose(theirs.gates[key], ours.gates[key], rtol=1e-5, atol=1e-6, err_msg=key)
    assert theirs.param_grad_norms.keys() == ours.param_grad_norms.keys()
    for key, value in ours.param_grad_norms.items():
        np.testing.assert_allclose(theirs.param_grad_norms[key], value, rtol=1e-5, atol=1e-7, err_msg=key)
    window_history = [[row["step"], row["loss"], row["grad_norm"]] for row in window.state.history]
    np.testing.assert_allclose(np.array(history).reshape(-1, 3), np.array(window_history).reshape(-1, 3),
                               rtol=1e-5, atol=1e-7)


def _train(window, qtbot, steps):
    s = window.state
    done = len(s.history) + steps
    assert window.train(steps)
    qtbot.waitUntil(lambda: s.training == "idle" and len(s.history) == done, timeout=120000)


def test_copy_as_python_reproduces_a_trained_run(window, tmp_path, qtbot):
    """After training (in two goes, as a user presses Train twice) the script records the same
    arrays the window shows, and its loss history is the window's."""
    window.state.set_config(cell="lstm")
    qtbot.waitUntil(lambda: window.state.trace is not None and window.state.trace.cell_type == "lstm", timeout=30000)
    _train(window, qtbot, 5)
    _train(window, qtbot, 3)
    window.show_view("training")
    text = copy_as_python(window)
    assert "train_run(cfg, steps=8)" in text and "history=history" in text
    trace, history = _script_run(text, tmp_path)
    assert len(history) == 8 and trace.cell_type == "lstm"
    _same_run(window, trace, history)
    # and the test can tell: the untrained recording is another run
    untrained = rnnviz.app.actions.record_run(window.state.config).trace
    assert np.abs(untrained.outputs - window.state.trace.outputs).max() > 1e-3


def test_copy_as_python_of_a_trained_imported_model(window, tmp_path, qtbot):
    """An imported network trained in the window: the script loads the file and trains it the
    same steps (it used to record the file's untrained weights)."""
    torch.manual_seed(3)
    torch.save(nn.GRU(2, 3).state_dict(), tmp_path / "g.pt")
    assert open_model(window, str(tmp_path / "g.pt"))
    _train(window, qtbot, 6)
    text = copy_as_python(window)
    assert "trainer.run(6)" in text
    trace, history = _script_run(text, tmp_path)
    _same_run(window, trace, history)
    # Reset: fresh weights on the imported network's input; the script registers that task first
    window.reset()
    qtbot.waitUntil(lambda: window.state.trace is not None and not window.state.history
                    and imported_on_screen(window) is None, timeout=30000)
    _train(window, qtbot, 2)
    text = copy_as_python(window)
    assert f"rnnviz.load_model({str(tmp_path / 'g.pt')!r}).register_task()  # the task 'model_g'" in text
    trace, history = _script_run(text, tmp_path)
    _same_run(window, trace, history)


def test_open_data_sizes_the_network_to_the_file(window, tmp_path, qtbot):
    t = np.arange(300) * 0.1
    (tmp_path / "two.csv").write_text("s,c\n" + "\n".join(f"{np.sin(v):.5f},{np.cos(v):.5f}" for v in t) + "\n",
                                      encoding="utf-8")
    assert open_data(window, str(tmp_path / "two.csv"), DataChoice("next-step"))
    s = window.state
    qtbot.waitUntil(lambda: s.trace is not None and s.trace.meta.get("task") == "data_two", timeout=60000)
    assert s.trace.inputs.shape[2] == 2 and s.trace.outputs.shape[2] == 2  # sized to the file
    assert window.build_panel.controls["task"].currentData() == "data_two"
    (tmp_path / "bad.csv").write_text("s,c\n1,2\n3,x\n", encoding="utf-8")
    assert not open_data(window, str(tmp_path / "bad.csv"))  # named before any question is asked
    assert "line 3, column 2 ('c'): 'x' is not a number" in s.status and s.config.task.name == "data_two"


def _answer_data_dialog(answer):
    """Call ``answer(dialog)`` on the Open data question as soon as it is up (it runs its own loop)."""
    seen = []

    def find():
        boxes = [w for w in QApplication.topLevelWidgets() if w.objectName() == "open_data_options" and w.isVisible()]
        if not boxes:
            QTimer.singleShot(20, find)
            return
        seen.append(boxes[0])
        answer(boxes[0])
    QTimer.singleShot(20, find)
    return seen


def _ok(dialog):
    from PySide6.QtWidgets import QDialogButtonBox

    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_open_data_asks_what_to_predict_and_sizes_the_network(window, tmp_path, qtbot):
    from PySide6.QtCore import Qt

    t = np.arange(400) * 0.05
    rows = [f"{np.sin(v):.5f},{np.cos(v):.5f},{np.sin(v) * np.cos(2 * v):.5f}" for v in t]
    (tmp_path / "waves.csv").write_text("s,c,mix\n" + "\n".join(rows) + "\n", encoding="utf-8")
    s = window.state
    before = s.config.task.name

    def cancel_after_checking(dialog):
        dialog.shape.setCurrentIndex(dialog.shape.findData("many-to-one"))
        verdicts.append((dialog.verdict.text(), _ok(dialog).isEnabled()))  # no targets yet: refused
        for i in range(dialog.columns.count()):
            dialog.columns.item(i).setCheckState(Qt.CheckState.Checked)
        verdicts.append((dialog.verdict.text(), _ok(dialog).isEnabled()))  # every column a target: refused
        dialog.reject()

    verdicts = []
    _answer_data_dialog(cancel_after_checking)
    assert not open_data(window, str(tmp_path / "waves.csv"))
    assert "many-to-one needs targets" in verdicts[0][0] and not verdicts[0][1]
    assert "every column is a target" in verdicts[1][0] and not verdicts[1][1]
    assert "cancelled" in s.status and s.config.task.name == before

    def many_to_one(dialog):
        assert [dialog.columns.item(i).text() for i in range(dialog.columns.count())] == ["s", "c", "mix"]
        dialog.shape.setCurrentIndex(dialog.shape.findData("many-to-one"))
        dialog.columns.item(2).setCheckState(Qt.CheckState.Checked)
        verdicts.append(dialog.verdict.text())
        _ok(dialog).click()

    verdicts = []
    _answer_data_dialog(many_to_one)
    assert open_data(window, str(tmp_path / "waves.csv"))
    assert verdicts == ["network: 2 input(s) → 1 output(s), many-to-one"]
    assert "opened waves.csv: 2 input(s) → 1 output(s), many-to-one" in s.status
    qtbot.waitUntil(lambda: s.trace is not None and s.trace.meta.get("task") == "data_waves", timeout=60000)
    cfg = s.model.cfg
    assert (cfg.input_size, cfg.output_size) == (2, 1)  # the network is sized to the file
    assert window.build_panel.controls["task"].currentData() == "data_waves"
    assert "one target per sequence (2 in, 1 out)" in window.build_panel.task_help.text()
    trace = s.trace
    assert trace.inputs.shape[2] == 2 and trace.outputs.shape[2] == 1 and trace.meta["shape"] == "many-to-one"
    assert window.views["graph"].graph.graph["shape"] == "many-to-one"
    # the inputs are the s, c columns and the target is the last step's mix: read back from the file
    table = np.loadtxt(tmp_path / "waves.csv", delimiter=",", skiprows=1, dtype=np.float32)
    x0 = trace.inputs[:, 0]
    start = int(np.flatnonzero(np.all(np.abs(table[:, :2] - x0[0]) < 1e-6, axis=1))[0])
    np.testing.assert_allclose(x0, table[start:start + len(x0), :2])
    np.testing.assert_allclose(np.asarray(trace.targets)[0], table[start + len(x0) - 1, 2:], atol=1e-6)


def test_open_data_with_a_targets_file_many_to_many(window, tmp_path, qtbot):
    t = np.arange(300) * 0.1
    np.save(tmp_path / "inputs.npy", np.stack([np.sin(t), np.cos(t)], 1).astype(np.float32))
    np.save(tmp_path / "targets.npy", np.sin(t + 0.3).astype(np.float32))
    np.save(tmp_path / "short.npy", np.sin(t[:10]).astype(np.float32))

    def answer(dialog):
        dialog.shape.setCurrentIndex(dialog.shape.findData("many-to-many"))
        assert dialog.columns.count() == 0 and not _ok(dialog).isEnabled()
        dialog.set_targets_file(str(tmp_path / "targets.npy"))
        assert dialog.verdict.text() == "network: 2 input(s) → 1 output(s), many-to-many"
        _ok(dialog).click()

    _answer_data_dialog(answer)
    assert open_data(window, str(tmp_path / "inputs.npy"))
    s = window.state
    qtbot.waitUntil(lambda: s.trace is not None and s.trace.meta.get("task") == "data_inputs", timeout=60000)
    assert (s.model.cfg.input_size, s.model.cfg.output_size) == (2, 1)
    assert s.trace.outputs.shape[2] == 1 and s.trace.meta["shape"] == "many-to-many"
    # a targets file of the wrong length: the file is refused with both lengths named
    _answer_data_dialog(lambda d: (d.shape.setCurrentIndex(d.shape.findData("many-to-many")),
                                   d.set_targets_file(str(tmp_path / "short.npy")), _ok(d).click()))
    assert not open_data(window, str(tmp_path / "inputs.npy"))
    assert "short.npy has [10] rows; inputs.npy has [300]" in s.status
