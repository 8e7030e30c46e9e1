"""Trace files: lossless round trip, clear errors for damaged, foreign and newer files."""

import numpy as np
import pytest
import torch

import rnnviz
from rnnviz import Trace, TraceFileError


@pytest.fixture(scope="module")
def trace():
    cfg = rnnviz.ModelConfig(cell="lstm", input_size=2, hidden_size=6, output_size=1, num_layers=2,
                             bidirectional=True)
    x, y = rnnviz.tasks.adding_problem(seq_len=15, batch_size=3, seed=0)
    return rnnviz.record(rnnviz.build_model(cfg), x, y, clip_norm=0.5, meta={"task": "adding", "tokens": None})


def test_round_trip_is_bit_for_bit(trace, tmp_path):
    path = trace.save(tmp_path / "run.npz")
    back = Trace.load(path)
    for name in ("inputs", "outputs", "targets", "step_loss", "hidden", "grad_hidden", "grad_hidden_norm",
                 "cell", "grad_cell", "grad_cell_norm", "whh_singular", "whh"):
        np.testing.assert_array_equal(getattr(back, name), getattr(trace, name), err_msg=name)
    assert back.gates.keys() == trace.gates.keys()
    for g in trace.gates:
        np.testing.assert_array_equal(back.gates[g], trace.gates[g])
    assert back.config == trace.config and back.meta == trace.meta
    assert back.param_grad_norms == trace.param_grad_norms
    assert (back.loss, back.grad_norm, back.clipped) == (trace.loss, trace.grad_norm, trace.clipped)
    np.testing.assert_allclose(back.whh_eigvals, trace.whh_eigvals)


def test_eigenvalues_are_those_of_w_hh():
    model = rnnviz.build_model(rnnviz.ModelConfig(cell="rnn", input_size=1, hidden_size=4, init="identity",
                                                  init_scale=1.3))
    t = rnnviz.record(model, torch.randn(5, 2, 1), torch.randn(2, 1), loss="mse")  # random targets may fall in [0, 1]
    np.testing.assert_allclose(t.whh_eigvals[0, 0].real, 1.3, rtol=1e-6)
    np.testing.assert_allclose(t.whh_singular[0, 0], 1.3, rtol=1e-6)


def test_save_adds_the_suffix_and_leaves_no_temporary_files(trace, tmp_path):
    path = trace.save(tmp_path / "run")
    assert path.name == "run.npz" and path.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


def test_damaged_truncated_and_foreign_files_give_clear_errors(trace, tmp_path):
    good = trace.save(tmp_path / "good.npz").read_bytes()
    (tmp_path / "trunc.npz").write_bytes(good[: len(good) // 2])
    (tmp_path / "text.npz").write_text("hello")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    for name in ("trunc.npz", "text.npz", "foreign.npz", "missing.npz"):
        with pytest.raises(TraceFileError) as err:
            Trace.load(tmp_path / name)
        assert name in str(err.value)


def test_newer_format_is_refused_with_advice(trace, tmp_path):
    arrays = trace.to_arrays()
    arrays["format_version"] = np.array(99)
    np.savez(tmp_path / "new.npz", **arrays)
    with pytest.raises(TraceFileError, match="newer rnnviz"):
        Trace.load(tmp_path / "new.npz")


def test_failed_write_keeps_the_old_file(trace, tmp_path):
    target = tmp_path / "keep.npz"
    target.write_bytes(b"old")
    from rnnviz.core.trace import atomic_write

    def boom(f):
        f.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, boom)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.npz"]


def test_nan_trace_round_trips(tmp_path):
    model = rnnviz.build_model(rnnviz.ModelConfig(cell="rnn", activation="relu", input_size=1, hidden_size=3,
                                                  init="identity", init_scale=50.0))
    t = rnnviz.record(model, torch.ones(300, 1, 1), torch.ones(1, 1), loss="mse")
    assert t.nonfinite
    back = Trace.load(t.save(tmp_path / "nan.npz"))
    assert back.nonfinite and back.nonfinite_steps().any()


def test_saved_files_get_ordinary_permissions_and_special_files_are_refused(trace, tmp_path):
    import os
    import stat

    path = trace.save(tmp_path / "perm.npz")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    from rnnviz.core.trace import atomic_write

    with pytest.raises(ValueError, match="folder"):
        atomic_write(tmp_path, lambda f: None)
    with pytest.raises(ValueError, match="regular file"):
        atomic_write("/dev/null", lambda f: None)
