"""ONNX files exported by torch.onnx.export, checked with onnxruntime, opened by the API and the CLI."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rnnviz
from rnnviz.io import ModelImportError, load_model

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[1]
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class Net(nn.Module):
    def __init__(self, cell, vocab=0, squash=False, **kw):
        super().__init__()
        self.emb = nn.Embedding(vocab, 3) if vocab else None
        self.rnn = CELLS[cell](3, 5, **kw)
        self.head = nn.Linear(5 * (2 if kw.get("bidirectional") else 1), 2)
        self.squash = squash

    def forward(self, x):
        x = self.emb(x) if self.emb is not None else x
        y = self.head(self.rnn(x)[0])
        return torch.tanh(y) if self.squash else y


def _export(net, path, example, dynamic=True):
    axes = {"x": {0: "a", 1: "b"}, "y": {0: "a", 1: "b"}} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        torch.onnx.export(net, (example,), str(path), dynamo=False, input_names=["x"], output_names=["y"],
                          dynamic_axes=axes)
    return path


def _ort(path, x):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


VARIANTS = {
    "plain": dict(),
    "deep_bidirectional": dict(num_layers=2, bidirectional=True),
    "embedding_batch_first": dict(vocab=11, batch_first=True, num_layers=2),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("cell", list(CELLS))
def test_torch_onnx_export_opens_and_matches_onnxruntime(tmp_path, cell, variant):
    torch.manual_seed(0)
    kw = dict(VARIANTS[variant])
    net = Net(cell, **kw).eval()
    bf = kw.get("batch_first", False)
    T, B = 6, 2
    if kw.get("vocab"):
        tokens = torch.randint(0, 11, (T, B))
        example = tokens.T if bf else tokens
    else:
        example = torch.randn(T, B, 3)
    path = _export(net, tmp_path / "m.onnx", example)
    # the file is right: onnxruntime reproduces torch
    with torch.no_grad():
        expected = net(example).numpy()
    got = _ort(path, example.numpy())
    np.testing.assert_allclose(got, expected, atol=1e-5)
    node_ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}.keys() & node_ops

    imported = load_model(path)
    assert imported.framework == "ONNX" and imported.reference == "onnxruntime"
    assert imported.max_diff <= 1e-4
    cfg = imported.model.cfg
    assert (cfg.cell, cfg.hidden_size, cfg.num_layers, cfg.bidirectional) == \
        (cell, 5, kw.get("num_layers", 1), kw.get("bidirectional", False))
    # rnnviz's equations on the same sequence give onnxruntime's outputs
    tm = example.T if bf else example
    x = imported.embed(tm) if imported.embedding is not None else tm
    with torch.no_grad():
        ours = imported.model.forward_equations(x)[0].numpy()
    theirs = got.transpose(1, 0, 2) if bf else got
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_a_fixed_shape_export_is_checked_at_its_own_shape(tmp_path):
    torch.manual_seed(2)
    net = Net("lstm").eval()
    path = _export(net, tmp_path / "fixed.onnx", torch.randn(4, 1, 3), dynamic=False)
    imported = load_model(path)
    assert imported.max_diff <= 1e-4


def test_an_extra_op_after_the_head_is_refused_with_the_numbers(tmp_path):
    torch.manual_seed(0)
    path = _export(Net("gru", squash=True).eval(), tmp_path / "squash.onnx", torch.randn(5, 2, 3))
    with pytest.raises(ModelImportError, match=r"refused: .*onnxruntime.*largest difference"):
        load_model(path)


def test_gru_with_reset_before_the_matrix_is_its_own_cell(tmp_path):
    from onnx import TensorProto, helper

    H, I = 3, 2
    rng = np.random.default_rng(0)
    inits = [helper.make_tensor(n, TensorProto.FLOAT, s, rng.standard_normal(s).astype(np.float32).ravel())
             for n, s in (("W", (1, 3 * H, I)), ("R", (1, 3 * H, H)), ("B", (1, 6 * H)))]
    node = helper.make_node("GRU", ["x", "W", "R", "B"], ["y"], hidden_size=H, linear_before_reset=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, I])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1, 1, H])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp_path / "gru0.onnx"))
    imported = load_model(tmp_path / "gru0.onnx")  # the node's own Y (T, 1, B, H) is the output
    assert imported.model.cfg.cell == "gru_reset_before" and imported.max_diff <= 1e-4


def test_not_onnx_and_no_recurrent_node(tmp_path):
    (tmp_path / "junk.onnx").write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(ModelImportError, match="not a readable ONNX model|no RNN"):
        load_model(tmp_path / "junk.onnx")
    path = _export(nn.Linear(3, 2), tmp_path / "linear.onnx", torch.randn(4, 3), dynamic=False)
    with pytest.raises(ModelImportError, match="no RNN / LSTM / GRU node"):
        load_model(path)


def test_cli_trace_of_an_onnx_file(tmp_path):
    torch.manual_seed(4)
    net = Net("lstm", num_layers=2, bidirectional=True).eval()
    path = _export(net, tmp_path / "lstm.onnx", torch.randn(6, 2, 3))
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "-m", "rnnviz", "trace", "--model", str(path), "--seq-len", "9",
                           "-o", str(tmp_path / "run.npz")], capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "max |rnnviz - onnxruntime| = " in proc.stdout
    trace = rnnviz.Trace.load(tmp_path / "run.npz")
    assert trace.seq_len == 9 and trace.config["bidirectional"]
    np.testing.assert_allclose(trace.outputs, _ort(path, trace.inputs), atol=1e-4, rtol=0)
