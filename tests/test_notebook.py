"""rnnviz.show in Python and inside a real Jupyter kernel (nbclient executes a notebook)."""

import base64
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rnnviz

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trace():
    cfg = rnnviz.ModelConfig(cell="gru", input_size=2, hidden_size=8, output_size=1)
    x, y = rnnviz.tasks.adding_problem(seq_len=12, batch_size=4, seed=0)
    return rnnviz.record(rnnviz.build_model(cfg), x, y)


def test_show_returns_a_displayable_png(tmp_path, trace):
    fig = rnnviz.show(trace, panels=["hidden", "gates"], size=(640, 360))
    assert fig.panels == ("hidden", "gates")
    assert fig._repr_png_().startswith(b"\x89PNG") and 'width="640"' in fig._repr_html_()
    im = Image.open(io.BytesIO(fig.png))
    assert im.size == (fig.width, fig.height) == (640, 360)
    assert len(np.unique(np.asarray(im.convert("RGB")).reshape(-1, 3), axis=0)) > 20  # heatmaps, not blank
    trace.save(tmp_path / "run.npz")
    assert list(rnnviz.Trace.load(tmp_path / "run.npz").gates) == ["r", "z", "n"]  # the cell's order, not a set's
    from_file = rnnviz.show(tmp_path / "run.npz", panels="hidden,gates", size=(640, 360))
    pixels = lambda f: np.asarray(Image.open(io.BytesIO(f.png)).convert("RGB"))  # noqa: E731
    np.testing.assert_array_equal(pixels(from_file), pixels(fig))  # the same picture from the saved trace
    assert fig.save(tmp_path / "fig.png").read_bytes() == fig.png
    with pytest.raises(ValueError, match="nope"):
        rnnviz.show(trace, panels=["nope"])


def test_a_notebook_calling_show_runs_in_jupyter(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import rnnviz\n"
                                  "cfg = rnnviz.ModelConfig(cell='lstm', input_size=2, hidden_size=6, output_size=1)\n"
                                  "x, y = rnnviz.tasks.adding_problem(seq_len=10, batch_size=2, seed=0)\n"
                                  "trace = rnnviz.record(rnnviz.build_model(cfg), x, y)"),
        nbformat.v4.new_code_cell("rnnviz.show(trace, panels=['hidden', 'gradients'], size=(480, 270))"),
    ]
    env_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(REPO) + (os.pathsep + env_path if env_path else "")  # the kernel's rnnviz
    try:
        client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                         resources={"metadata": {"path": str(tmp_path)}})
        client.execute()
    finally:
        if env_path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = env_path
    outputs = nb.cells[1].outputs
    assert outputs and outputs[0].output_type == "execute_result", outputs
    png = base64.b64decode(outputs[0].data["image/png"])
    assert Image.open(io.BytesIO(png)).size == (480, 270)
