"""Open PyTorch files (state_dict and whole module) through the API and the CLI.

The files are made here by torch.save from real torch.nn modules; the user's model class lives
in a module written at test time beside the file, as it would in a user's project folder.
"""

import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import rnnviz
from rnnviz.io import ModelImportError, load_model

REPO = Path(__file__).resolve().parents[1]

USER_MODELS = textwrap.dedent('''
    import torch
    from torch import nn

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    class Net(nn.Module):
        """[embedding ->] RNN -> Linear, as people write it."""

        def __init__(self, cell, vocab=0, input_size=3, hidden=5, out=2, **kw):
            super().__init__()
            self.emb = nn.Embedding(vocab, input_size) if vocab else None
            self.rnn = CELLS[cell](input_size, hidden, **kw)
            d = 2 if kw.get("bidirectional") else 1
            self.fc = nn.Linear(d * hidden, out)

        def forward(self, x):
            if self.emb is not None:
                x = self.emb(x)
            out, _ = self.rnn(x)
            return self.fc(out)

    class Squashed(Net):
        """A forward that rnnviz cannot reproduce: tanh after the head."""

        def forward(self, x):
            return torch.tanh(super().forward(x)) * 3
''')

VARIANTS = {
    "plain": dict(),
    "batch_first": dict(batch_first=True),
    "bidirectional": dict(bidirectional=True),
    "two_layers_dropout": dict(num_layers=2, dropout=0.3),
    "embedding_deep_bi_bf": dict(vocab=13, num_layers=2, bidirectional=True, batch_first=True),
}


@pytest.fixture(scope="module")
def user_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("userproject")
    (folder / "usernets.py").write_text(USER_MODELS, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        yield folder, importlib.import_module("usernets")
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("usernets", None)


def _make(mod, cell, variant, seed=0):
    torch.manual_seed(seed)
    return mod.Net(cell, **VARIANTS[variant]).eval()


def _source_out(net, tokens_or_x_time_major):
    """What the user's own module returns, time-major (T, B, O)."""
    x = torch.as_tensor(tokens_or_x_time_major)
    bf = net.rnn.batch_first
    with torch.no_grad():
        y = net(x.transpose(0, 1) if bf else x)
    return (y.transpose(0, 1) if bf else y).numpy()


def _check_input(imported, T=9, B=2, seed=3):
    g = torch.Generator().manual_seed(seed)
    if imported.embedding is not None:
        tokens = torch.randint(0, imported.vocab_size, (T, B), generator=g)
        return tokens, imported.embed(tokens)
    x = torch.randn(T, B, imported.input_size, generator=g)
    return x, x


def _ours(imported, x):
    with torch.no_grad():
        return imported.model.forward_equations(x)[0].numpy()


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_saved_both_ways_matches_the_module(user_models, tmp_path, cell, variant):
    folder, mod = user_models
    net = _make(mod, cell, variant)
    torch.save(net.state_dict(), folder / f"{cell}_{variant}_sd.pt")
    torch.save(net, folder / f"{cell}_{variant}_module.pt")

    from_sd = load_model(folder / f"{cell}_{variant}_sd.pt")
    with pytest.raises(ModelImportError, match=r"pickled Python object \(it needs usernets.Net\).*--trust"):
        load_model(folder / f"{cell}_{variant}_module.pt")
    from_module = load_model(folder / f"{cell}_{variant}_module.pt", trust=True)

    for imported in (from_sd, from_module):
        cfg = imported.model.cfg
        assert cfg.cell == cell and cfg.hidden_size == 5 and cfg.output_size == 2
        assert cfg.num_layers == VARIANTS[variant].get("num_layers", 1)
        assert cfg.bidirectional == VARIANTS[variant].get("bidirectional", False)
        assert imported.max_diff <= 1e-4
        assert (imported.embedding is not None) == ("vocab" in VARIANTS[variant])
        inp, x = _check_input(imported)
        np.testing.assert_allclose(_ours(imported, x), _source_out(net, inp), atol=1e-4, rtol=0)
    assert "Net.forward" in from_module.reference
    if "dropout" in variant:
        assert any("evaluated without it" in n for n in from_module.notes)
    if "batch_first" in VARIANTS[variant]:
        assert any("batch_first" in n for n in from_module.notes)


def test_state_dict_in_a_checkpoint_dict_and_relu(tmp_path):
    torch.manual_seed(1)
    rnn = nn.RNN(4, 6, nonlinearity="relu")
    torch.save({"epoch": 3, "model_state_dict": rnn.state_dict()}, tmp_path / "ckpt.pth")
    imported = load_model(tmp_path / "ckpt.pth", activation="relu")
    assert imported.model.cfg.activation == "relu" and imported.model.cfg.output_size == 6
    x = torch.randn(5, 2, 4)
    with torch.no_grad():
        np.testing.assert_allclose(_ours(imported, x), rnn(x)[0].numpy(), atol=1e-5)
    # The same weights read as tanh describe another network; the note says what was assumed.
    assumed = load_model(tmp_path / "ckpt.pth")
    assert any("tanh assumed" in n for n in assumed.notes)


def test_projection_is_refused_clearly(tmp_path):
    lstm = nn.LSTM(3, 8, proj_size=4)
    torch.save(lstm.state_dict(), tmp_path / "proj_sd.pt")
    torch.save(lstm, tmp_path / "proj_module.pt")
    with pytest.raises(ModelImportError, match="projection"):
        load_model(tmp_path / "proj_sd.pt")
    with pytest.raises(ModelImportError, match="proj_size=4"):
        load_model(tmp_path / "proj_module.pt", trust=True)


def test_a_network_rnnviz_cannot_reproduce_is_refused_with_the_numbers(user_models):
    folder, mod = user_models
    torch.manual_seed(0)
    torch.save(mod.Squashed("lstm"), folder / "squashed.pt")
    with pytest.raises(ModelImportError, match=r"refused: .*largest difference \d.* > 0.0001"):
        load_model(folder / "squashed.pt", trust=True)


def test_layers_it_cannot_place_are_refused(tmp_path):
    net = nn.ModuleDict({"rnn": nn.GRU(3, 4), "norm": nn.LayerNorm(4), "head": nn.Linear(4, 1)})
    torch.save(net.state_dict(), tmp_path / "extra.pt")
    with pytest.raises(ModelImportError, match="cannot place: norm"):
        load_model(tmp_path / "extra.pt")
    torch.save({"rnn_a.weight_ih_l0": torch.zeros(4, 3), "rnn_b.weight_ih_l0": torch.zeros(4, 3)}, tmp_path / "two.pt")
    with pytest.raises(ModelImportError, match="exactly one recurrent module"):
        load_model(tmp_path / "two.pt")


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"hello, I am a text file\n", "not a PyTorch file"),
    ("truncated", "cannot be read by torch.load|not a PyTorch file"),
    ("zip without tensors", "cannot be read by torch.load"),
])
def test_bad_files_get_one_line(tmp_path, content, message):
    path = tmp_path / "bad.pt"
    if content == "truncated":  # a real torch.save file cut short, as by a failed copy
        torch.save(nn.LSTM(3, 4).state_dict(), path)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif content == "zip without tensors":
        import zipfile
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("notes.txt", "hello")
    else:
        path.write_bytes(content)
    with pytest.raises(ModelImportError, match=message):
        load_model(path)
    with pytest.raises(ModelImportError, match="no such file"):
        load_model(tmp_path / "missing.pt")


def test_exported_names():
    assert rnnviz.load_model is load_model and issubclass(rnnviz.ModelImportError, ValueError)


def _cli(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-m", "rnnviz", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=180)


@pytest.mark.parametrize("cell, variant, how", [
    ("lstm", "embedding_deep_bi_bf", "state_dict"),
    ("gru", "batch_first", "module"),
    ("rnn", "two_layers_dropout", "module"),
])
def test_cli_trace_of_a_saved_model(user_models, tmp_path, cell, variant, how):
    folder, mod = user_models
    net = _make(mod, cell, variant, seed=5)
    path = folder / f"cli_{cell}_{how}.pt"
    torch.save(net.state_dict() if how == "state_dict" else net, path)
    if how == "module":
        refused = _cli(["trace", "--model", str(path), "-o", str(tmp_path / "no.npz")], cwd=tmp_path)
        assert refused.returncode == 2 and "--trust" in refused.stderr and "Traceback" not in refused.stderr
        assert not (tmp_path / "no.npz").exists()
    args = ["trace", "--model", str(path), "--seq-len", "11", "--batch-size", "3", "-o", str(tmp_path / "run.npz")]
    proc = _cli(args + (["--trust"] if how == "module" else []), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"max |rnnviz - torch.nn.{ {'rnn': 'RNN', 'lstm': 'LSTM', 'gru': 'GRU'}[cell]}" in proc.stdout
    trace = rnnviz.Trace.load(tmp_path / "run.npz")
    assert trace.seq_len == 11 and trace.batch_size == 3 and trace.config["cell"] == cell
    inputs = np.array(trace.meta["token_ids"]) if "token_ids" in trace.meta else trace.inputs
    np.testing.assert_allclose(trace.outputs, _source_out(net, inputs), atol=1e-4, rtol=0)


def test_cli_refuses_network_flags_with_a_model(tmp_path):
    torch.save(nn.GRU(2, 3).state_dict(), tmp_path / "g.pt")
    proc = _cli(["trace", "--model", str(tmp_path / "g.pt"), "--hidden-size", "8"], cwd=tmp_path)
    assert proc.returncode == 2 and "--hidden-size cannot be used with --model" in proc.stderr
