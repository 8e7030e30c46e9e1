"""Leave by the doors people use: LSTMVis HDF5, TensorBoard event files, MP4/WebM through PyAV.

* :func:`export_lstmvis` writes a folder LSTMVis opens (``lstm.yml``, ``states.h5`` with one
  (N, D*H) table per layer and kind, ``train.h5`` with a word id per time step, ``words.dict``).
  LSTMVis reads one long sequence: the batch's samples are laid one after another.
* :func:`export_tensorboard` writes scalars (loss, gradient norm, ||dL/dh_t|| through time) and
  histograms (hidden states, gates, W_hh) with ``torch.utils.tensorboard``.
* :func:`write_video` / :func:`export_video` encode frames as H.264 MP4 or VP9 WebM with PyAV,
  padded to even sizes (H.264's 4:2:0 chroma needs them).

Each needs an optional package (h5py, tensorboard, av); a missing one is a clear ``ExportError``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from rnnviz.core.trace import Trace, atomic_write
from rnnviz.export.gif import ExportError

VIDEO_CODECS = {".mp4": ("mp4", ("libx264", "h264", "mpeg4")), ".webm": ("webm", ("libvpx-vp9", "libvpx"))}


def _need(module: str, package: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(f"{what} needs the optional package '{package}': pip install {package}") from None


# ------------------------------------------------------------------------------------ LSTMVis
def _word_ids(trace: Trace) -> tuple[np.ndarray, list[str]]:
    """Word id per (t, b) and the words: the one-hot input's token, else the time step."""
    vocab = trace.meta.get("vocab")
    T, B = trace.seq_len, trace.batch_size
    if vocab and trace.inputs.shape[2] == len(vocab):
        return trace.inputs.argmax(axis=2).astype(np.int64), [str(w) for w in vocab]
    ids = np.repeat(np.arange(T)[:, None], B, axis=1)
    return ids, [f"t{t}" for t in range(T)]


def export_lstmvis(folder: str | os.PathLike, trace: Trace, name: str | None = None) -> Path:
    """Write ``trace`` as an LSTMVis project folder; returns the folder.

    ``states.h5``: ``states{l}`` (the LSTM's cell state c_t; h_t for cells without one) and
    ``output{l}`` (h_t), l = 1..layers, each (B*T, D*H) float32, sample after sample.
    ``train.h5``: ``word_ids`` (B*T,). ``words.dict``: one ``word id`` per line.
    """
    h5py = _need("h5py", "h5py", "LSTMVis export")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"cannot write the LSTMVis project: {folder} is not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    L, D = trace.num_layers, trace.num_directions
    T, B = trace.seq_len, trace.batch_size

    def per_layer(arr: np.ndarray, layer: int) -> np.ndarray:  # (L*D, T, B, H) -> (B*T, D*H)
        dirs = [arr[layer * D + d] for d in range(D)]  # each (T, B, H)
        both = np.concatenate(dirs, axis=2)  # (T, B, D*H)
        return np.ascontiguousarray(both.transpose(1, 0, 2).reshape(B * T, -1), dtype=np.float32)

    def write_states(f):
        with h5py.File(f, "w") as h5:
            for layer in range(L):
                cell = trace.cell if trace.cell is not None else trace.hidden
                h5.create_dataset(f"states{layer + 1}", data=per_layer(cell, layer))
                h5.create_dataset(f"output{layer + 1}", data=per_layer(trace.hidden, layer))

    ids, words = _word_ids(trace)

    def write_ids(f):
        with h5py.File(f, "w") as h5:
            h5.create_dataset("word_ids", data=ids.T.reshape(-1))

    atomic_write(folder / "states.h5", write_states)
    atomic_write(folder / "train.h5", write_ids)
    lines = "".join(f"{_dict_word(w)} {i}\n" for i, w in enumerate(words))
    atomic_write(folder / "words.dict", lambda f: f.write(lines.encode("utf-8")))
    cell = trace.config.get("cell", "rnn")
    types = [f"    {{type: state, layer: {layer + 1}, path: states{layer + 1}}},\n"
             f"    {{type: output, layer: {layer + 1}, path: output{layer + 1}}}" for layer in range(L)]
    yml = (f"name: {name or 'rnnviz ' + cell}\n"
           f"description: exported by rnnviz ({cell}, {trace.hidden_size} units, {L} layer(s), {D} direction(s); "
           f"{B} samples of {T} steps laid end to end{'; state = h, no cell state' if trace.cell is None else ''})\n"
           "files:\n  states: states.h5\n  train: train.h5\n  words: words.dict\n"
           "word_sequence:\n  file: train\n  path: word_ids\n  dict_file: words\n"
           "states:\n  file: states\n  types: [\n" + ",\n".join(types) + "\n  ]\n")
    atomic_write(folder / "lstm.yml", lambda f: f.write(yml.encode("utf-8")))
    return folder


_VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


def _dict_word(word: str) -> str:
    """A word as one whitespace-free token (LSTMVis splits dict lines on whitespace)."""
    return "".join(_VISIBLE.get(ch, "·" if ch.isspace() else ch) for ch in word) or "∅"


# ------------------------------------------------------------------------------------ TensorBoard
def export_tensorboard(logdir: str | os.PathLike, trace: Trace | None = None, *,
                       traces: Sequence[tuple[int, Trace]] = (), history: Sequence[dict] = ()) -> Path:
    """Write TensorBoard event files into ``logdir``; returns it.

    ``history`` rows -> scalars ``train/loss``, ``train/grad_norm`` by step. Each trace (``trace``
    at step 0, or ``traces`` = [(step, Trace)]) -> histograms ``hidden/layer_k``,
    ``gates/<key>/layer_k`` and ``weights/W_hh/layer_k``; ``trace`` also -> scalars
    ``grad_hidden_norm/layer_k`` with the time step as TensorBoard's step (the vanishing curve).
    """
    tb = _need("torch.utils.tensorboard", "tensorboard", "TensorBoard export")
    logdir = Path(logdir)
    writer = tb.SummaryWriter(log_dir=str(logdir))
    try:
        for row in history:
            writer.add_scalar("train/loss", float(row["loss"]), int(row["step"]))
            writer.add_scalar("train/grad_norm", float(row["grad_norm"]), int(row["step"]))
        items = list(traces) + ([(int(trace.meta.get("step", 0)), trace)] if trace is not None else [])
        for step, tr in items:
            for k in range(tr.hidden.shape[0]):
                name = _layer_name(tr, k)
                writer.add_histogram(f"hidden/{name}", _finite(tr.hidden[k]), step)
                for key, g in tr.gates.items():
                    writer.add_histogram(f"gates/{key}/{name}", _finite(g[k]), step)
                if tr.whh is not None:
                    writer.add_histogram(f"weights/W_hh/{name}", _finite(tr.whh[k]), step)
        if trace is not None:
            for k in range(trace.grad_hidden_norm.shape[0]):
                for t, v in enumerate(trace.grad_hidden_norm[k]):
                    writer.add_scalar(f"grad_hidden_norm/{_layer_name(trace, k)}", float(v), t)
            writer.add_text("rnnviz/config", "  \n".join(f"{k}: {v}" for k, v in trace.config.items()), 0)
    finally:
        writer.close()
    return logdir


def _layer_name(trace: Trace, k: int) -> str:
    D = trace.num_directions
    return f"layer_{k // D}" + ("_reverse" if D == 2 and k % D else "")


def _finite(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).ravel()
    return a[np.isfinite(a)] if not np.all(np.isfinite(a)) else a


# ------------------------------------------------------------------------------------ video
def even_frame(frame: np.ndarray) -> np.ndarray:
    """Pad an (H, W, 3) frame with its edge colour to even H and W (H.264 4:2:0 needs them)."""
    frame = np.ascontiguousarray(frame[..., :3], dtype=np.uint8)
    ph, pw = frame.shape[0] % 2, frame.shape[1] % 2
    return np.pad(frame, ((0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else frame


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float = 8) -> Path:
    """Encode RGB ``frames`` as ``.mp4`` (H.264) or ``.webm`` (VP9) with PyAV, atomically."""
    av = _need("av", "av", "MP4/WebM export")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_CODECS:
        raise ExportError(f"cannot tell the video format of {path.name}: use .mp4 or .webm")
    if not (0 < fps <= 120):
        raise ExportError(f"fps {fps} is outside (0, 120]")
    fmt, codecs = VIDEO_CODECS[suffix]
    codec = next((c for c in codecs if _has_encoder(av, c)), None)
    if codec is None:
        raise ExportError(f"this PyAV has no {suffix} encoder ({', '.join(codecs)})")
    from fractions import Fraction

    def write(f):
        count = 0
        with av.open(f, "w", format=fmt) as container:
            stream = None
            for frame in frames:
                frame = even_frame(frame)
                if stream is None:
                    stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
                    stream.width, stream.height = frame.shape[1], frame.shape[0]
                    stream.pix_fmt = "yuv420p"
                elif frame.shape[:2] != (stream.height, stream.width):
                    raise ExportError("all frames of a video must have one size")
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
                count += 1
            if stream is None:
                raise ExportError("no frames to write")
            for packet in stream.encode():
                container.mux(packet)

    atomic_write(path, write)
    return path


def _has_encoder(av, name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except Exception:  # PyAV raises its own UnknownCodecError / ValueError by version
        return False
    return True


def export_video(path: str | os.PathLike, animation: str, trace: Trace | None = None, *, traces=None,
                 history=None, fps: float = 8, **frame_options) -> Path:
    """Render one of rnnviz's animations (forward, backward, training) to MP4/WebM."""
    from rnnviz.export.gif import animation_frames

    frames = animation_frames(animation, trace, traces=traces, history=history, **frame_options)
    return write_video(path, frames, fps)
