"""record(keep_samples=..., memory_budget=...): a Trace keeps some samples, recorded in chunks,
and still carries the whole batch's loss, per-step gradient norms and parameter gradients."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz.core.budget import sample_bytes
from rnnviz.core.cells import get_cell
from rnnviz.core.trace import Trace

PER_SAMPLE = ("inputs", "outputs", "hidden", "grad_hidden", "cell", "grad_cell")


def _model(cell, layers=1, bidir=False, O=2, I=3, H=6):
    return rnnviz.build_model(rnnviz.ModelConfig(cell=cell, input_size=I, hidden_size=H, output_size=O,
                                                 num_layers=layers, bidirectional=bidir, seed=3))


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def _same_at(full, part, kept):
    """``part`` holds ``full``'s per-sample arrays at batch indices ``kept``; the rest is the whole batch's."""
    assert part.meta["kept_samples"] == kept and part.meta["batch_size"] == full.batch_size
    assert part.batch_size == len(kept)
    for name in PER_SAMPLE:
        a, b = getattr(full, name), getattr(part, name)
        if a is None:
            assert b is None
            continue
        axis = 1 if name in ("inputs", "outputs") else 2
        _close(b, np.take(a, kept, axis=axis))
    assert part.gates.keys() == full.gates.keys()
    for g in full.gates:
        _close(part.gates[g], full.gates[g][:, :, kept])
    _close(part.loss, full.loss)
    _close(part.step_loss, full.step_loss)
    np.testing.assert_allclose(part.grad_hidden_norm, full.grad_hidden_norm, rtol=1e-5)
    if full.grad_cell_norm is not None:
        np.testing.assert_allclose(part.grad_cell_norm, full.grad_cell_norm, rtol=1e-5)
    assert part.param_grad_norms.keys() == full.param_grad_norms.keys()
    for name, v in full.param_grad_norms.items():
        np.testing.assert_allclose(part.param_grad_norms[name], v, rtol=1e-5)
    np.testing.assert_allclose(part.grad_norm, full.grad_norm, rtol=1e-5)


def _budget(model, T, I, kept, chunk):
    """A memory budget for which ``record`` keeps ``kept`` samples and records ``chunk`` at a time."""
    cfg = model.cfg
    trace_b, work_b = sample_bytes(get_cell(cfg.cell), cfg.num_layers * cfg.num_directions, T, cfg.hidden_size,
                                   I, cfg.output_size)
    return kept * trace_b + chunk * work_b


@pytest.mark.parametrize("cell,layers,bidir", [("rnn", 1, False), ("lstm", 2, True), ("gru", 1, True),
                                               ("lstm", 1, False)])
@pytest.mark.parametrize("target", ["last-mse", "seq-ce"])
@pytest.mark.parametrize("chunk", [1, 3])
def test_kept_samples_equal_the_full_recording_there(cell, layers, bidir, target, chunk):
    torch.manual_seed(1)
    T, B, I = 11, 7, 3
    x = torch.randn(T, B, I)
    if target == "last-mse":
        model, y = _model(cell, layers, bidir, O=2), torch.randn(B, 2)
    else:
        model, y = _model(cell, layers, bidir, O=5), torch.randint(0, 5, (T, B))
        y[:3] = -100  # steps without a target
        y[5, :4] = -100  # a step whose targets sit in some chunks only
    full = rnnviz.record(model, x, y)
    assert "kept_samples" not in full.meta and full.meta["batch_size"] == B
    kept = [0, 2, 5]
    part = rnnviz.record(model, x, y, keep_samples=kept, memory_budget=_budget(model, T, I, len(kept), chunk))
    _same_at(full, part, kept)
    np.testing.assert_array_equal(part.targets, np.take(full.targets, kept, axis=0 if target == "last-mse" else 1))


def test_the_autograd_engine_records_in_chunks_too():
    torch.manual_seed(2)
    model = _model("lstm")
    x, y = torch.randn(9, 5, 3), torch.randn(5, 2)
    full = rnnviz.record(model, x, y, engine="autograd")
    part = rnnviz.record(model, x, y, engine="autograd", keep_samples=[1, 4], memory_budget=1)
    _same_at(full, part, [1, 4])


def test_a_small_budget_keeps_the_first_samples_that_fit_and_says_so():
    model = _model("gru")
    T, B, I = 20, 9, 3
    x, y = torch.randn(T, B, I), torch.randn(B, 2)
    full = rnnviz.record(model, x, y)
    part = rnnviz.record(model, x, y, memory_budget=_budget(model, T, I, 2, 1) * 2)  # kept arrays: half the budget
    kept = part.meta["kept_samples"]
    assert kept == list(range(len(kept))) and 1 <= len(kept) < B
    _same_at(full, part, kept)
    assert "kept_samples" not in rnnviz.record(model, x, y, keep_samples="all", memory_budget=1).meta
    assert rnnviz.record(model, x, y, keep_samples=3).meta["kept_samples"] == [0, 1, 2]


def test_one_pass_with_kept_samples_and_no_chunks():
    model = _model("lstm")
    x, y = torch.randn(8, 6, 3), torch.randn(6, 2)
    full = rnnviz.record(model, x, y)
    _same_at(full, rnnviz.record(model, x, y, keep_samples=[5, 3]), [3, 5])  # sorted


@pytest.mark.parametrize("keep", [[6], [-1], [], "some", 0, [0.5, "a"]])
def test_bad_keep_samples_are_explained(keep):
    model = _model("rnn")
    with pytest.raises(ValueError, match="keep_samples"):
        rnnviz.record(model, torch.randn(5, 6, 3), torch.randn(6, 2), keep_samples=keep)


def test_tokens_of_sample_0_go_when_sample_0_is_not_kept():
    batch = rnnviz.tasks.adding_problem(seq_len=12, batch_size=4, seed=0)
    model = _model("lstm", O=1, I=2)
    assert rnnviz.record(model, batch, keep_samples=[0, 2]).meta["tokens"] == batch.tokens
    assert "tokens" not in rnnviz.record(model, batch, keep_samples=[1, 2]).meta


def test_a_trace_with_kept_samples_saves_loads_and_exports(tmp_path):
    from rnnviz.export.frame_registry import FrameSpec
    from rnnviz.export.frames import render_frame

    model = _model("lstm", O=1, I=2)
    batch = rnnviz.tasks.adding_problem(seq_len=15, batch_size=6, seed=0)
    trace = rnnviz.record(model, batch, keep_samples=[2, 4], memory_budget=1)
    back = Trace.load(trace.save(tmp_path / "kept.npz"))
    assert back.meta["kept_samples"] == [2, 4] and back.meta["batch_size"] == 6 and back.batch_size == 2
    np.testing.assert_array_equal(back.hidden, trace.hidden)
    np.testing.assert_array_equal(back.targets, trace.targets)
    frame = render_frame(back, "default", size=(640, 360), spec=FrameSpec(sample=1, t=7))
    assert frame.shape == (360, 640, 3) and frame.std() > 0


SCRIPT = """
import json, resource, sys, torch, rnnviz
torch.set_num_threads(1)
T, B, H, budget = 400, 512, 16, 24 * 2**20
model = rnnviz.build_model(rnnviz.ModelConfig(cell="lstm", input_size=2, hidden_size=H, output_size=1, seed=0))
g = torch.Generator().manual_seed(0)
x, y = torch.randn(T, B, 2, generator=g), torch.randn(B, 1, generator=g)
rnnviz.record(model, x[:, :2], y[:2], loss="mse")  # torch and numpy warmed up before the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
trace = rnnviz.record(model, x, y, loss="mse", memory_budget=budget)
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) * 1024
kept_bytes = sum(a.nbytes for a in [trace.hidden, trace.cell, trace.grad_hidden, trace.grad_cell,
                                    *trace.gates.values()])
print(json.dumps({"grown": grown, "kept": trace.meta["kept_samples"], "kept_bytes": kept_bytes,
                  "full_bytes": kept_bytes // len(trace.meta["kept_samples"]) * B}))
"""


def test_peak_memory_of_a_large_recording_stays_within_its_budget():
    """A fresh interpreter (the peak RSS of this one says nothing): T=400, B=512, H=16 would be
    a 105 MB trace and several times that while recording; with a 24 MB budget the process
    grows by little more than the budget."""
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["full_bytes"] >= 100 * 2**20
    assert res["kept"] == list(range(len(res["kept"]))) and 1 <= len(res["kept"]) < 512
    assert res["kept_bytes"] <= 12 * 2**20
    assert res["grown"] < 64 * 2**20, res


def test_run_title_says_which_samples_were_kept():
    from rnnviz.app.panel_model import kept_text, run_title

    model = _model("rnn")
    x, y = torch.randn(6, 16, 3), torch.randn(16, 2)
    assert kept_text(rnnviz.record(model, x, y)) == ""
    trace = rnnviz.record(model, x, y, keep_samples=4, memory_budget=1)
    assert trace.kept_samples == [0, 1, 2, 3] and trace.recorded_batch_size == 16
    assert "samples 0–3 of 16 kept" in run_title(trace)
    assert kept_text(rnnviz.record(model, x, y, keep_samples=[1, 2, 3, 7, 9, 10])) == "samples 1–3, 7, 9–10 of 16 kept"
    assert kept_text(rnnviz.record(model, x, y, keep_samples=[5])) == "sample 5 of 16 kept"


def test_nan_in_a_sample_not_kept_still_marks_the_trace():
    from rnnviz.app.panel_model import nonfinite_summary

    model = _model("rnn")
    x, y = torch.randn(6, 5, 3), torch.randn(5, 2)
    x[2, 4, 0] = float("nan")  # sample 4 only
    trace = rnnviz.record(model, x, y, keep_samples=[0, 1], memory_budget=1)
    assert np.isfinite(trace.hidden).all() and trace.nonfinite
    assert "not kept" in nonfinite_summary(trace)


def test_the_cli_summary_gives_the_batch_recorded_and_the_samples_kept():
    from rnnviz.cli import trace_summary

    model = _model("lstm", O=1, I=2)
    batch = rnnviz.tasks.adding_problem(seq_len=10, batch_size=6, seed=0)
    assert "T=10 B=6 (samples 0–1 of 6 kept)" in trace_summary(rnnviz.record(model, batch, keep_samples=2), "x.npz")
    assert "T=10 B=6:" in trace_summary(rnnviz.record(model, batch), "x.npz")


@pytest.mark.parametrize("path", ["own loop", "kernel then BPTT loop", "kernel BPTT"])
@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_every_lstm_recording_path_equals_autograd(layers, bidir, path, monkeypatch):
    """The LSTM records three ways on the CPU, chosen by size: its forward written out (from
    B·H = OWN_LOOP_MIN), torch's kernel then the BPTT loop (long runs), torch's kernel running
    BPTT too (small runs). Each is forced here at one small size, and must give what the
    autograd reference gives."""
    from rnnviz.core.cells import lstm

    torch.manual_seed(4)
    model = _model("lstm", layers, bidir, O=5)
    x, y = torch.randn(9, 4, 3), torch.randint(0, 5, (9, 4))
    ref = rnnviz.record(model, x, y, engine="autograd")
    calls = []

    def which(*args):  # the path each layer and direction really took
        out = lstm.lstm_run_forward(*args)
        calls.append("kernel then BPTT loop" if out is None else "kernel BPTT" if "graph" in out[1] else "own loop")
        return out

    counted = dataclasses.replace(model.spec, run_forward=which)
    monkeypatch.setattr(model, "spec", counted)
    if path == "own loop":
        monkeypatch.setattr(lstm, "OWN_LOOP_MIN", 0)
    if path == "kernel then BPTT loop":
        monkeypatch.setattr(lstm, "KERNEL_BPTT_MAX", 0)
    got = rnnviz.record(model, x, y)
    assert calls == [path] * layers * (2 if bidir else 1)
    for name in ("hidden", "cell", "grad_hidden", "grad_cell", "grad_hidden_norm", "grad_cell_norm", "outputs"):
        _close(getattr(got, name), getattr(ref, name))
    for g in ref.gates:
        _close(got.gates[g], ref.gates[g])
    assert got.loss == pytest.approx(ref.loss, rel=1e-6)
    for name, v in ref.param_grad_norms.items():
        np.testing.assert_allclose(got.param_grad_norms[name], v, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("meta", [{"kept_samples": [0, 1, 2]}, {"kept_samples": [3, 1]}, {"kept_samples": [0, 9]},
                                  {"kept_samples": "0-1"}, {"batch_size": 1}, {"batch_size": "16"},
                                  {"kept_samples": [0, 1], "batch_size": 1}])
def test_a_file_whose_kept_samples_do_not_fit_its_arrays_is_refused(tmp_path, meta):
    from rnnviz.core.trace import TraceFileError

    model = _model("rnn")
    trace = rnnviz.record(model, torch.randn(5, 6, 3), torch.randn(6, 2), keep_samples=[2, 4])
    assert Trace.load(trace.save(tmp_path / "ok.npz")).kept_samples == [2, 4]
    trace.meta.update(meta)
    path = trace.save(tmp_path / "bad.npz")
    with pytest.raises(TraceFileError, match="samples|batch size") as info:
        Trace.load(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_the_lstm_forward_loop_reports_progress_and_can_be_cancelled(monkeypatch):
    from rnnviz.core import progress
    from rnnviz.core.cells import lstm

    monkeypatch.setattr(lstm, "OWN_LOOP_MIN", 0)
    model = _model("lstm", 1, True)
    x, y = torch.randn(30, 2, 3), torch.randn(2, 2)
    seen = []
    with progress.reporting(seen.append, interval=0.0):
        rnnviz.record(model, x, y)
    assert seen == sorted(seen) and seen[-1] == 1.0 and 0 < seen[0] < 0.05  # every step, forward first

    def stop_in_the_forward(fraction):
        if 0.1 < fraction < 0.5:
            raise progress.CancelledError

    with pytest.raises(progress.CancelledError), progress.reporting(stop_in_the_forward, interval=0.0):
        rnnviz.record(model, x, y)
