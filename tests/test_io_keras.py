"""Keras 3 .keras files written by Keras (torch backend), read by rnnviz with h5py + json only.

Skipped cleanly where Keras is not installed (``pip install 'rnnviz[keras]'``).
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("h5py")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("these tests write .keras files with Keras's torch backend", allow_module_level=True)

import rnnviz  # noqa: E402
from rnnviz.io import ModelImportError, load_model  # noqa: E402

L = keras.layers
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # keras.src on numpy 2
REPO = Path(__file__).resolve().parents[1]


def _cases():
    seq = lambda: keras.Input((None, 3))  # noqa: E731
    return {
        "simple_rnn": lambda: [seq(), L.SimpleRNN(5, return_sequences=True), L.Dense(2)],
        "simple_rnn_relu_m2o": lambda: [seq(), L.SimpleRNN(5, activation="relu"), L.Dense(2)],
        "lstm_deep_bi": lambda: [seq(), L.Bidirectional(L.LSTM(5, return_sequences=True)),
                                 L.Bidirectional(L.LSTM(5, return_sequences=True)), L.Dense(2)],
        "lstm_embedding": lambda: [keras.Input((None,), dtype="int32"), L.Embedding(12, 3),
                                   L.LSTM(5, return_sequences=True, dropout=0.2), L.Dropout(0.5), L.Dense(2)],
        "gru_reset_after": lambda: [seq(), L.GRU(5, return_sequences=True, reset_after=True),
                                    L.GRU(5, return_sequences=True), L.Dense(2)],
        "gru_m2o_no_head": lambda: [seq(), L.GRU(5)],
    }


def _save(name, tmp_path, seed=0):
    model = keras.Sequential(_cases()[name]())
    rng = np.random.default_rng(seed)
    for w in model.weights:  # Keras starts biases at zero: random ones test where each bias goes
        w.assign((0.5 * rng.standard_normal(tuple(w.shape))).astype("float32"))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    return model, path


def _keras_out(model, inputs_time_major):
    return model.predict(np.swapaxes(inputs_time_major, 0, 1), verbose=0)


@pytest.mark.parametrize("name", list(_cases()))
def test_keras_file_matches_keras(tmp_path, name):
    model, path = _save(name, tmp_path)
    imported = load_model(path)
    assert imported.framework == "Keras" and imported.max_diff <= 1e-4
    cfg = imported.model.cfg
    assert cfg.cell == {"simple": "rnn", "lstm": "lstm", "gru": "gru"}[name.split("_")[0]]
    assert cfg.hidden_size == 5 and cfg.bidirectional == ("bi" in name.split("_"))
    rng = np.random.default_rng(7)
    if imported.embedding is not None:
        tokens = rng.integers(0, 12, (8, 2))
        x, expected = imported.embed(tokens), _keras_out(model, tokens)
    else:
        xs = rng.standard_normal((8, 2, 3)).astype(np.float32)
        x, expected = torch.from_numpy(xs), _keras_out(model, xs)
    with torch.no_grad():
        ours = imported.model.forward_equations(x)[0].numpy()
    ours = ours[-1] if expected.ndim == 2 else ours.transpose(1, 0, 2)  # many-to-one: the last step
    np.testing.assert_allclose(ours, expected, atol=1e-4, rtol=0)
    if "embedding" in name:
        assert sum("evaluated without it" in n for n in imported.notes) == 2


def test_gru_reset_before_opens_as_its_own_cell(tmp_path):
    """reset_after=False (refused until the gru_reset_before cell); tests/test_io_gru_reset_before.py
    checks it in depth."""
    model = keras.Sequential([keras.Input((None, 3)), L.GRU(4, reset_after=False, return_sequences=True)])
    model.save(tmp_path / "gru_rb.keras")
    imported = load_model(tmp_path / "gru_rb.keras")
    assert imported.model.cfg.cell == "gru_reset_before" and imported.max_diff <= 1e-4


def test_layers_rnnviz_cannot_show_are_refused(tmp_path):
    model = keras.Sequential([keras.Input((None, 3)), L.LSTM(4, return_sequences=True), L.Dense(3, activation="relu")])
    model.save(tmp_path / "relu_head.keras")
    with pytest.raises(ModelImportError, match="activation 'relu'"):
        load_model(tmp_path / "relu_head.keras")
    model = keras.Sequential([keras.Input((None, 3)), L.Bidirectional(L.GRU(4)), L.Dense(1)])
    model.save(tmp_path / "bi_m2o.keras")
    with pytest.raises(ModelImportError, match="return_sequences=False"):
        load_model(tmp_path / "bi_m2o.keras")


def test_cli_reads_keras_without_keras_or_tensorflow(tmp_path):
    model, path = _save("lstm_deep_bi", tmp_path, seed=3)
    code = ("import sys; sys.modules['keras'] = None; sys.modules['tensorflow'] = None\n"
            "from rnnviz.cli import main; sys.exit(main(sys.argv[1:]))")
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-c", code, "trace", "--model", str(path), "--seq-len", "7",
                           "-o", str(tmp_path / "run.npz")], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "max |rnnviz - Keras's equations| = " in proc.stdout
    trace = rnnviz.Trace.load(tmp_path / "run.npz")
    np.testing.assert_allclose(trace.outputs, np.swapaxes(_keras_out(model, trace.inputs), 0, 1), atol=1e-4, rtol=0)
