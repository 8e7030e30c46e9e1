"""rnnviz.show in Python and inside a real Jupyter kernel (nbclient executes a notebook)."""

import base64
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rnnviz

REPO = Path(__file__).resolve().parents[1]
SETUP = ("import rnnviz\n"
         "cfg = rnnviz.ModelConfig(cell='lstm', input_size=2, hidden_size=6, output_size=1)\n"
         "x, y = rnnviz.tasks.adding_problem(seq_len=10, batch_size=2, seed=0)\n"
         "trace = rnnviz.record(rnnviz.build_model(cfg), x, y)")


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


def test_default_panels_are_the_runs_defaults(trace):
    fig = rnnviz.show(trace, size=(640, 360))  # no panels: the exporter's defaults for this run
    from rnnviz.export.frames import parse_panels

    assert fig.panels == tuple(parse_panels("default", trace.config)) and len(fig.panels) > 1


def _execute(nb, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
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


def test_a_notebook_calling_show_runs_in_jupyter(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell("rnnviz.show(trace, panels=['hidden', 'gradients'], size=(480, 270))"),
    ]
    _execute(nb, tmp_path)
    outputs = nb.cells[1].outputs
    assert outputs and outputs[0].output_type == "execute_result", outputs
    png = base64.b64decode(outputs[0].data["image/png"])
    assert Image.open(io.BytesIO(png)).size == (480, 270)


def test_interactive_show_builds_a_live_widget_in_a_kernel(tmp_path):
    """In a real kernel (nbclient): the widget is made and displayed as a Jupyter widget view, it
    renders frames (pyqtgraph painting offscreen, what jupyter_rfb sends), and the time slider
    moves the cursors and changes the frame. Not verified here: a browser receiving the frames and
    sending mouse events back (that needs a live frontend; there is none under nbclient)."""
    nbformat = pytest.importorskip("nbformat")
    for package in ("jupyter_rfb", "ipywidgets"):
        pytest.importorskip(package)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP),
        nbformat.v4.new_code_cell("fig = rnnviz.show(trace, panels=['hidden', 'gates', 'gradients', 'graph'], "
                                  "size=(800, 700), interactive=True, t=2)\nfig"),
        nbformat.v4.new_code_cell(
            "import numpy as np\n"
            "before, graph = fig.frame(), fig.pictures[0][1].image.copy()\n"
            "fig.slider.value = 8\n"
            "after = fig.frame()\n"
            "print(type(fig).__name__, before.shape, len(np.unique(before.reshape(-1, 4), axis=0)),\n"
            "      sorted(fig.plots), [c.value() for c in fig.cursors][:2],\n"
            "      bool((graph != fig.pictures[0][1].image).any()), bool((before != after).any()))"),
    ]
    _execute(nb, tmp_path)
    bundles = [o.get("data", {}) for o in nb.cells[1].outputs]
    assert any("application/vnd.jupyter.widget-view+json" in b for b in bundles), nb.cells[1].outputs
    text = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    name, rest = text.split(" ", 1)
    assert name == "InteractiveFigure" and rest.startswith("(700, 800, 4) "), text
    colours = int(rest.split(" ")[3])
    assert colours > 50, text  # heatmaps and curves, not a blank frame
    assert "['gates', 'gradients', 'graph', 'hidden']" in text and "[8, 8]" in text
    assert text.strip().endswith("True True")  # the graph picture marks the new step; the frame changed


def test_interactive_without_jupyter_rfb_says_so_and_shows_the_static_image(trace, monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyter_rfb", None)  # as if it were not installed
    with pytest.warns(UserWarning, match=r"interactive panels need jupyter_rfb, not installed here .*static image"):
        fig = rnnviz.show(trace, panels=["hidden"], size=(640, 360), interactive=True)
    from rnnviz.notebook import Figure

    assert isinstance(fig, Figure) and fig.png.startswith(b"\x89PNG")
