"""Export formats read back: PNG, SVG, GIF, CSV, JSON, NPZ; the export CLI; bad targets."""

import csv
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rnnviz
from rnnviz.core.train import Trainer, build_run
from rnnviz.export import arrays, figures, frames, gif
from rnnviz.export.cli import main

ROOT = Path(__file__).resolve().parents[1]
SVG = "{http://www.w3.org/2000/svg}"


SMALL = dict(task="adding", seq_len=12, batch_size=3, hidden_size=6)


@pytest.fixture(scope="module")
def trace(make_trace):
    return make_trace(cell="lstm", **SMALL)


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory, trace):
    return trace.save(tmp_path_factory.mktemp("t") / "run.npz")


def _leftovers(folder: Path):
    return [p.name for p in folder.iterdir() if p.name.endswith(".part") or p.name.startswith(".")]


def test_colormap_and_frame_pixels(trace):
    lut = frames.colormap("viridis")
    assert lut.shape == (256, 3) and tuple(lut[0]) == (68, 1, 84) and tuple(lut[-1]) == (253, 231, 37)
    rgb = frames.apply_colormap(np.array([[0.0, 1.0, np.nan]]), 0, 1, "viridis")
    assert tuple(rgb[0, 2]) == frames.MISSING
    im = frames.render_frame(trace, "all", (640, 360), scale=1.5)
    assert im.shape == (540, 960, 3) and im.dtype == np.uint8
    assert len(np.unique(im.reshape(-1, 3), axis=0)) > 50  # real content, not a blank frame
    with pytest.raises(ValueError, match="unknown panel"):
        frames.parse_panels("hidden,nope")


def test_forward_frame_hides_future_steps(trace):
    a = frames.render_frame(trace, ["hidden"], (400, 300), spec=frames.FrameSpec(t=2, mode="forward"))
    b = frames.render_frame(trace, ["hidden"], (400, 300), spec=frames.FrameSpec(t=10, mode="forward"))
    assert (np.all(a == frames.MISSING, axis=2)).sum() > (np.all(b == frames.MISSING, axis=2)).sum()


def test_png_size_and_scale(tmp_path, trace):
    scene = figures.figure(trace, ["hidden", "gradients"], "800x450")
    out = figures.write_png(tmp_path / "fig.png", scene, scale=2.0)
    with Image.open(out) as im:
        assert im.size == (1600, 900) and im.mode == "RGB"
    assert _leftovers(tmp_path) == []


def test_svg_is_vector(tmp_path, trace):
    out = figures.write_svg(tmp_path / "fig.svg", figures.figure(trace, ["hidden", "gradients"], (800, 450)), 2)
    root = ET.parse(out).getroot()
    assert root.tag == f"{SVG}svg" and root.get("width") == "1600"
    assert len(root.findall(f".//{SVG}polyline")) >= 2  # gradient curves
    texts = [t.text for t in root.findall(f".//{SVG}text")]
    assert "time step t" in texts and any("gradient norm" in (t or "") for t in texts)
    assert root.findall(f".//{SVG}image")  # heatmap embedded as PNG


def test_gif_frames(tmp_path, trace):
    out = gif.write_animation(tmp_path / "f.gif", "forward", trace, panels=["hidden", "graph"], size=(320, 200),
                              fps=5)
    with Image.open(out) as im:
        assert im.n_frames == trace.seq_len and im.size == (320, 200)
        assert im.info["duration"] == 200
    back = gif.write_animation(tmp_path / "b.gif", "backward", trace, size=(320, 200), frames=4)
    with Image.open(back) as im:
        assert im.n_frames == 4


def test_gif_cancel_leaves_nothing(tmp_path, trace):
    with pytest.raises(gif.ExportCancelled):
        gif.write_animation(tmp_path / "c.gif", "forward", trace, size=(200, 150), progress=lambda d, n: d < 3)
    assert list(tmp_path.iterdir()) == []


def test_training_animation_needs_traces(trace):
    with pytest.raises(gif.ExportError, match="at least two recorded traces"):
        gif.count_frames("training", trace, [(0, trace)])


def test_mp4_optional(tmp_path, trace):
    if gif.mp4_available():
        pytest.skip("imageio-ffmpeg installed: the message path is not reachable")
    with pytest.raises(gif.ExportError, match="imageio-ffmpeg"):
        gif.write_animation(tmp_path / "a.mp4", "forward", trace, size=(200, 150))
    assert list(tmp_path.iterdir()) == []


def test_series_csv_json_npz(tmp_path, trace):
    p = arrays.write_series_csv(tmp_path / "s.csv", trace)
    with open(p) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == trace.seq_len
    for col in ("t", "step_loss", "grad_h_norm_k0", "grad_c_norm_k0", "sat_f", "h_abs_mean_k0"):
        assert col in rows[0]
    back = arrays.read_csv(p)
    assert np.array_equal(back["grad_h_norm_k0"], trace.grad_hidden_norm[0].astype(np.float64))
    doc = json.loads(arrays.write_series_json(tmp_path / "s.json", trace).read_text())
    assert len(doc["columns"]["t"]) == trace.seq_len
    with np.load(arrays.write_series(tmp_path / "s.npz", trace)) as z:
        assert np.array_equal(z["grad_h_norm_k0"], trace.grad_hidden_norm[0])


def test_trace_npz_round_trip(tmp_path, trace):
    back = rnnviz.Trace.load(arrays.write_trace_npz(tmp_path / "t.npz", trace))
    for name in ("hidden", "grad_hidden", "cell", "inputs"):
        assert np.array_equal(getattr(back, name), getattr(trace, name))
    assert np.array_equal(back.gates["f"], trace.gates["f"])


def test_history_csv_columns(tmp_path):
    hist = [{"step": 1, "loss": 0.5, "grad_norm": 2.0, "clipped": True, "applied": True},
            {"step": 2, "loss": 0.25, "grad_norm": 0.5, "clipped": False}]
    p = arrays.write_history_csv(tmp_path / "h.csv", hist)
    lines = p.read_text().splitlines()
    assert lines[0] == "step,loss,grad_norm,clipped" and lines[1] == "1,0.5,2.0,1"


def test_bad_targets(tmp_path, trace):
    scene = figures.figure(trace, ["hidden"], (200, 150))
    with pytest.raises(OSError):
        figures.write_png(tmp_path / "missing" / "f.png", scene)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError):
        figures.write_png(tmp_path / "file" / "f.png", scene)
    with pytest.raises(ValueError, match="not a regular file"):
        figures.write_png("/dev/null", scene)
    # an existing file survives a failed overwrite
    good = tmp_path / "keep.csv"
    good.write_text("old")
    with pytest.raises(ZeroDivisionError):
        arrays.safe_write(good, lambda f: 1 / 0)
    assert good.read_text() == "old" and _leftovers(tmp_path) == []


def test_cli_main_all_formats(tmp_path, trace_file):
    rc = main([str(trace_file), "--png", str(tmp_path / "a.png"), "--svg", str(tmp_path / "a.svg"), "--gif",
               str(tmp_path / "a.gif"), "--csv", str(tmp_path / "a.csv"), "--npz", str(tmp_path / "a.npz"),
               "--size", "400x300", "--frames", "3", "--panels", "hidden,gradients", "-q"])
    assert rc == 0
    with Image.open(tmp_path / "a.png") as im:
        assert im.size == (400, 300)
    with Image.open(tmp_path / "a.gif") as im:
        assert im.n_frames == 3
    assert rnnviz.Trace.load(tmp_path / "a.npz").seq_len == 12


def test_cli_same_pixels_as_figure(tmp_path, trace, trace_file):
    assert main([str(trace_file), "--png", str(tmp_path / "c.png"), "--size", "500x300", "--panels",
                 "gates,graph", "-q"]) == 0
    direct = frames.rasterize(figures.figure(rnnviz.Trace.load(trace_file), ["gates", "graph"], (500, 300)))
    with Image.open(tmp_path / "c.png") as im:
        assert np.array_equal(np.asarray(im), direct)


def _cli(*args, env_extra=None, pre=""):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    code = pre + "import sys; from rnnviz.export.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=120)


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x03\x04 truncated"])
def test_cli_bad_input_one_line(tmp_path, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    r = _cli(bad, "--png", tmp_path / "x.png")
    assert r.returncode == 2 and r.stderr.startswith("rnnviz: ") and len(r.stderr.strip().splitlines()) == 1
    assert "Traceback" not in r.stderr and not (tmp_path / "x.png").exists()


def test_cli_truncated_trace_and_bad_paths(tmp_path, trace_file):
    data = trace_file.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    for args in ([cut, "--png", tmp_path / "x.png"],
                 [trace_file, "--png", tmp_path / "no" / "x.png"],
                 [trace_file, "--gif", "/dev/null"],
                 [trace_file, "--size", "12x12", "--png", tmp_path / "x.png"],
                 [trace_file, "--panels", "bogus", "--png", tmp_path / "x.png"],
                 [tmp_path / "absent.npz", "--png", tmp_path / "x.png"]):
        r = _cli(*args)
        assert r.returncode == 2, (args, r.stderr)  # bad input: exit 2 (1 is for a failed write)
        assert r.stderr.startswith("rnnviz: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_disk_full_leaves_nothing(tmp_path, trace_file):
    # a file-size limit makes every write past 20 kB fail like a full disk (EFBIG)
    pre = ("import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
           "resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000)); ")
    r = _cli(trace_file, "--png", tmp_path / "big.png", "--size", "2000x1500", "--scale", "2", pre=pre)
    assert r.returncode == 1 and r.stderr.startswith("rnnviz: cannot write"), r.stderr
    assert list(tmp_path.iterdir()) == []


def test_cli_subprocess_entry_point(tmp_path, trace_file):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "rnnviz", "export", str(trace_file), "--png", str(tmp_path / "e.png"),
                        "--size", "320x200"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "e.png") as im:
        assert im.size == (320, 200)


def test_session_training_gif(tmp_path):
    from rnnviz.app.session import Session, save_session

    cfg = rnnviz.RunConfig().with_overrides(cell="gru", task="adding", seq_len=8, batch_size=2, hidden_size=4,
                                            steps=6, record_every=2)
    model, _ = build_run(cfg)
    tr = Trainer(model, cfg.task, cfg.train)
    tr.run()
    path = save_session(tmp_path / "s.rnnviz", Session(config=cfg, history=tr.history, trace=tr.traces[-1][1],
                                                       traces=tr.traces))
    assert main([str(path), "--gif", str(tmp_path / "t.gif"), "--history-csv", str(tmp_path / "h.csv"),
                 "--size", "400x260", "-q"]) == 0
    with Image.open(tmp_path / "t.gif") as im:
        assert im.n_frames == len(tr.traces) == 4
    assert (tmp_path / "h.csv").read_text().splitlines()[0] == "step,loss,grad_norm,clipped"


def test_rnn_panels_without_gates(tmp_path, make_trace):
    tr = make_trace(cell="rnn", activation="relu", init="identity", **SMALL)
    scene = figures.figure(tr, "all", (900, 600))
    assert scene.counts()["text"] > 20
    texts = [op[3] for op in scene.ops if op[0] == "text"]
    assert any("no gates" in t for t in texts)
