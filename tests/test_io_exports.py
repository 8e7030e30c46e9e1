"""LSTMVis HDF5, TensorBoard and PyAV video exports, read back with h5py, tensorboard and av."""

import numpy as np
import pytest

import rnnviz
from rnnviz.io.exports import even_frame, export_lstmvis, export_tensorboard, export_video, write_video


@pytest.fixture(scope="module")
def char_trace():
    cfg = rnnviz.RunConfig().with_overrides(task="char_lm", cell="lstm", hidden_size=6, num_layers=2,
                                            bidirectional=True, seq_len=9, batch_size=3, seed=1)
    trainer = rnnviz.train(cfg, steps=3)
    return trainer, trainer.record_trace()


def test_lstmvis_layout_read_back_with_h5py(tmp_path, char_trace):
    h5py = pytest.importorskip("h5py")
    _, trace = char_trace
    folder = export_lstmvis(tmp_path / "project", trace)
    T, B, H = trace.seq_len, trace.batch_size, trace.hidden_size
    with h5py.File(folder / "states.h5", "r") as h5:
        assert sorted(h5) == ["output1", "output2", "states1", "states2"]
        for layer in (0, 1):
            out, states = h5[f"output{layer + 1}"][...], h5[f"states{layer + 1}"][...]
            assert out.shape == states.shape == (B * T, 2 * H)
            for b, t in ((0, 0), (2, T - 1), (1, 4)):  # sample after sample, directions side by side
                row = b * T + t
                np.testing.assert_array_equal(out[row, :H], trace.hidden[2 * layer, t, b])
                np.testing.assert_array_equal(out[row, H:], trace.hidden[2 * layer + 1, t, b])
                np.testing.assert_array_equal(states[row, :H], trace.cell[2 * layer, t, b])
    with h5py.File(folder / "train.h5", "r") as h5:
        ids = h5["word_ids"][...]
    vocab = trace.meta["vocab"]
    assert ids.shape == (B * T,)
    assert vocab[ids[T + 2]] == vocab[int(trace.inputs[2, 1].argmax())]
    words = (folder / "words.dict").read_text(encoding="utf-8").splitlines()
    assert len(words) == len(vocab) and all(len(line.split()) == 2 for line in words)
    yml = (folder / "lstm.yml").read_text(encoding="utf-8")
    assert "{type: state, layer: 2, path: states2}" in yml and "path: word_ids" in yml


def test_tensorboard_scalars_and_histograms(tmp_path, char_trace):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    trainer, trace = char_trace
    export_tensorboard(tmp_path / "tb", trace, history=trainer.history)
    ea = EventAccumulator(str(tmp_path / "tb"), size_guidance={"scalars": 0, "histograms": 0})
    ea.Reload()
    loss = [e.value for e in ea.Scalars("train/loss")]
    np.testing.assert_allclose(loss, [row["loss"] for row in trainer.history], rtol=1e-6)
    vanishing = ea.Scalars("grad_hidden_norm/layer_1_reverse")
    assert [e.step for e in vanishing] == list(range(trace.seq_len))
    np.testing.assert_allclose([e.value for e in vanishing], trace.grad_hidden_norm[3], rtol=1e-6)
    hist = ea.Histograms("gates/f/layer_0")[0].histogram_value
    assert hist.num == trace.gates["f"][0].size and 0.0 <= hist.min <= hist.max <= 1.0


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9")])
def test_video_has_even_size_and_every_frame(tmp_path, char_trace, suffix, codec):
    av = pytest.importorskip("av")
    _, trace = char_trace
    path = export_video(tmp_path / f"forward{suffix}", "forward", trace, size=(321, 181), fps=6)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == codec
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == trace.seq_len
    assert frames[0].shape[0] % 2 == 0 and frames[0].shape[1] % 2 == 0
    assert frames[0].std() > 5  # a picture, not a blank


def test_even_frame_and_bad_video_names(tmp_path):
    odd = np.zeros((5, 7, 3), np.uint8)
    odd[-1, :] = 200
    assert even_frame(odd).shape == (6, 8, 3) and even_frame(odd)[-1, 0, 0] == 200
    from rnnviz.export.gif import ExportError

    with pytest.raises(ExportError, match="use .mp4 or .webm"):
        write_video(tmp_path / "x.avi", [odd])
    pytest.importorskip("av")
    with pytest.raises(ExportError, match="no frames"):
        write_video(tmp_path / "x.mp4", [])
    assert not (tmp_path / "x.mp4").exists()
