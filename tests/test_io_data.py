"""Your own sequences: CSV / .npy / .npz / text, the three shapes, bad files, and a sine wave learned."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnviz
from rnnviz.core.train import build_run
from rnnviz.io import DataFileError
from rnnviz.io.data import load_sequences, load_text

REPO = Path(__file__).resolve().parents[1]


def _sine_csv(path, n=400):
    t = np.arange(n) * 0.1
    lines = ["value"] + [f"{v:.6f}" for v in np.sin(t)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_sine_csv_is_learned_for_next_step_prediction(tmp_path):
    data = load_sequences(_sine_csv(tmp_path / "sine.csv"))
    assert (data.input_size, data.output_size, data.shape) == (1, 1, "next-step")
    name = data.register()
    cfg = rnnviz.RunConfig().with_overrides(task=name, seq_len=30, batch_size=16, cell="gru", hidden_size=16,
                                            lr=0.01, seed=0)
    model, probe = build_run(cfg)  # the network is sized to the file
    assert (model.cfg.input_size, model.cfg.output_size) == (1, 1)
    np.testing.assert_allclose(probe.y[:-1].numpy(), probe.x[1:].numpy())  # targets are the next rows
    trainer = rnnviz.train(cfg, steps=150)
    losses = [row["loss"] for row in trainer.history]
    assert losses[-1] < losses[0] / 20
    # the trained network predicts the next value far better than "the same as now"
    batch = data.batch(seq_len=30, batch_size=32, seed=123)
    import torch

    with torch.no_grad():
        pred = trainer.model(batch.x)
    err = float(((pred - batch.y)[5:] ** 2).mean())
    persistence = float(((batch.x - batch.y)[5:] ** 2).mean())
    assert err < persistence / 2, (err, persistence)


def test_cli_trains_on_a_csv(tmp_path):
    _sine_csv(tmp_path / "sine.csv")
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "train", "--data", "sine.csv", "--steps", "120",
                           "--hidden-size", "16", "--seq-len", "30", "-o", "out"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = np.loadtxt(tmp_path / "out" / "history.csv", delimiter=",", skiprows=1)
    assert rows[-1, 1] < rows[0, 1] / 10
    trace = rnnviz.Trace.load(tmp_path / "out" / "trace_final.npz")
    assert trace.inputs.shape[2] == 1 and trace.meta["task"] == "data_sine"


def test_target_columns_and_shapes(tmp_path):
    rng = np.random.default_rng(0)
    table = rng.standard_normal((60, 3))
    csv = tmp_path / "sensors.csv"
    csv.write_text("a,b,label\n" + "\n".join(",".join(f"{v:.5f}" for v in row) for row in table), encoding="utf-8")
    m2m = load_sequences(csv, shape="many-to-many", target="label")
    assert (m2m.input_size, m2m.output_size, m2m.feature_names) == (2, 1, ["a", "b"])
    b = m2m.batch(seq_len=10, batch_size=4, seed=1)
    assert tuple(b.x.shape) == (10, 4, 2) and tuple(b.y.shape) == (10, 4, 1)
    m2o = load_sequences(csv, shape="many-to-one", target=[2])
    b = m2o.batch(seq_len=10, batch_size=4, seed=1)
    assert tuple(b.y.shape) == (4, 1)
    # the target of a window is the label of its last row
    last = b.x[-1, 0].numpy()
    row = np.argmin(np.abs(table[:, :2] - last).sum(1))
    assert b.y[0, 0].item() == pytest.approx(table[row, 2], abs=1e-5)
    with pytest.raises(DataFileError, match="needs targets"):
        load_sequences(csv, shape="many-to-one")
    with pytest.raises(DataFileError, match="no column 'nope'"):
        load_sequences(csv, target="nope")


def test_npy_and_npz(tmp_path):
    seqs = np.random.default_rng(0).standard_normal((5, 40, 2)).astype(np.float32)
    np.save(tmp_path / "many.npy", seqs)
    data = load_sequences(tmp_path / "many.npy")
    assert len(data.inputs) == 5 and data.input_size == 2
    np.savez(tmp_path / "xy.npz", x=seqs, y=seqs[..., :1] * 2)
    data = load_sequences(tmp_path / "xy.npz", shape="many-to-many")
    assert data.output_size == 1
    b = data.batch(seq_len=8, batch_size=3)
    np.testing.assert_allclose(b.y.numpy(), b.x[..., :1].numpy() * 2)
    with pytest.raises(DataFileError, match="seq_len 40 needs 41 rows"):
        load_sequences(tmp_path / "many.npy").batch(seq_len=40)


@pytest.mark.parametrize("name, content, message", [
    ("ragged.csv", "a,b\n1,2\n3,4\n5\n", r"line 4: 1 columns, but the rows before it have 2 \(ragged rows\)"),
    ("text.csv", "a,b\n1,2\n3,oops\n", r"line 3, column 2 \('b'\): 'oops' is not a number"),
    ("nan.csv", "a,b\n1,NaN\n", r"line 2, column 2 \('b'\): 'NaN'; time series must be finite"),
    ("empty_cell.csv", "1,2\n3,\n", r"line 2, column 2 \('column 2'\): empty cell"),
    ("empty.csv", "", "is empty"),
])
def test_bad_csv_names_row_and_column(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFileError, match=message):
        load_sequences(path)


def test_bad_arrays(tmp_path):
    arr = np.ones((10, 3))
    arr[6, 2] = np.nan
    np.save(tmp_path / "nan.npy", arr)
    with pytest.raises(DataFileError, match=r"row 6, column 2 \(0-based\): NaN"):
        load_sequences(tmp_path / "nan.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataFileError, match="Python objects"):
        load_sequences(tmp_path / "obj.npy")
    np.save(tmp_path / "words.npy", np.array(["a", "b"]))
    with pytest.raises(DataFileError, match="must be numbers"):
        load_sequences(tmp_path / "words.npy")


def test_text_file(tmp_path):
    (tmp_path / "poem.txt").write_text("the cat sat on the mat\n", encoding="utf-8")
    assert load_text(tmp_path / "poem.txt").startswith("the cat")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\nna\xefve".encode("latin-1"))
    with pytest.raises(DataFileError, match=r"line 1, column 4: not UTF-8"):
        load_text(tmp_path / "latin1.txt")


def test_cli_bad_data_is_one_line(tmp_path):
    (tmp_path / "bad.csv").write_text("a\n1\nx\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "trace", "--data", "bad.csv"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "rnnviz: bad.csv line 3, column 1 ('a'): 'x' is not a number"


def test_npz_with_a_repeated_member_is_refused(tmp_path):
    import io as _io
    import warnings
    import zipfile

    def member(arr):
        buf = _io.BytesIO()
        np.save(buf, arr)
        return buf.getvalue()

    path = tmp_path / "twice.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name: that is the attack
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("x.npy", member(np.zeros((5, 1))))
            z.writestr("x.npy", member(np.ones((5, 1))))
    with pytest.raises(DataFileError, match="appears more than once"):
        load_sequences(path)


def test_keras_file_with_a_repeated_member_is_refused(tmp_path):
    import warnings
    import zipfile

    pytest.importorskip("h5py")
    from rnnviz.io import ModelImportError, load_model

    path = tmp_path / "twice.keras"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("config.json", '{"class_name": "Sequential", "config": {"layers": []}}')
            z.writestr("config.json", '{"class_name": "Sequential", "config": {"layers": []}}')
            z.writestr("model.weights.h5", b"")
    with pytest.raises(ModelImportError, match="appears more than once"):
        load_model(path)
