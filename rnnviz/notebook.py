"""rnnviz in Jupyter: ``rnnviz.show(trace, panels=[...])`` displays the exporter's panels inline.

The figure is the same static image the PNG exporter writes (:func:`rnnviz.export.figures.figure`),
so a notebook, a slide and the command line show the same pixels. The returned object is what
IPython displays (it has ``_repr_png_``); keep it to ``save`` it or read its ``png`` bytes.
Nothing here imports Qt, so it runs on a notebook server without a display.

``interactive=True`` shows live plots instead (zoom, pan, a time-step slider) through pyqtgraph's
Jupyter widgets and ``jupyter_rfb`` (:mod:`rnnviz.qt.jupyter`, imported only then); where those
are not installed it says so and shows the static image.
"""

from __future__ import annotations

import importlib.util
import io
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from rnnviz.core.trace import Trace, atomic_write


@dataclass(frozen=True)
class Figure:
    """A rendered figure: PNG bytes with IPython's display hooks."""

    png: bytes
    width: int
    height: int
    panels: tuple[str, ...]

    def _repr_png_(self) -> bytes:
        return self.png

    def _repr_html_(self) -> str:
        import base64

        data = base64.b64encode(self.png).decode("ascii")
        alt = "rnnviz: " + ", ".join(self.panels)
        return f'<img src="data:image/png;base64,{data}" width="{self.width}" alt="{alt}"/>'

    def save(self, path: str | os.PathLike) -> Path:
        """Write the PNG to ``path`` (atomically)."""
        path = Path(path)
        atomic_write(path, lambda f: f.write(self.png))
        return path


INTERACTIVE_PACKAGES = ("jupyter_rfb", "ipywidgets", "pyqtgraph", "PySide6")


def interactive_unavailable() -> str | None:
    """None when ``show(..., interactive=True)`` can make live plots here; else what is missing."""
    missing = [p for p in INTERACTIVE_PACKAGES if importlib.util.find_spec(p) is None]
    if missing:
        return (f"interactive panels need {', '.join(missing)}, not installed here "
                "(pip install 'rnnviz[notebook]')")
    return None


def show(trace: Trace | str | os.PathLike, panels: Sequence[str] | str | None = None, *,
         size: tuple[int, int] | str = (960, 540), layer: int = 0, direction: int = 0, sample: int = 0,
         t: int | None = None, title: str | None = None, history: Sequence[dict] | None = None,
         scale: float = 1.0, interactive: bool = False):
    """Render ``panels`` of ``trace`` (a Trace or a saved .npz) as a displayable :class:`Figure`.

    ``panels``: names from :data:`rnnviz.export.frames.PANELS` (hidden, cell, gates, gradients,
    training, predictions, graph, ...); default the exporter's for this run. ``layer``/``direction``/
    ``sample`` pick what the heatmaps show; ``t`` highlights one time step; ``history`` feeds the
    loss panel. ``interactive=True``: an :class:`rnnviz.qt.jupyter.InteractiveFigure` (live plots,
    a time-step slider) where jupyter_rfb and pyqtgraph are installed; otherwise a warning says
    what is missing and the static Figure is returned.
    """
    from rnnviz.export.figures import figure, parse_size, png_bytes
    from rnnviz.export.frames import DEFAULT_PANELS, parse_panels

    if not isinstance(trace, Trace):
        trace = Trace.load(trace)
    names = parse_panels(panels if panels is not None else DEFAULT_PANELS, trace.config)
    k = trace.index(layer, direction)
    if interactive:
        why = interactive_unavailable()
        if why is None:
            from rnnviz.qt.jupyter import interactive_figure

            return interactive_figure(trace, names, parse_size(size), k=k, sample=sample, t=t, history=history)
        warnings.warn(f"rnnviz.show(interactive=True): {why}; showing the static image instead", stacklevel=2)
    scene = figure(trace, names, size, history=history, k=k, sample=sample, t=t, title=title)
    png = png_bytes(scene, scale)
    with Image.open(io.BytesIO(png)) as im:
        width, height = im.size
    return Figure(png=png, width=width, height=height, panels=tuple(names))


def python_script(config, *, steps: int = 0, panels: Sequence[str] | None = None, layer: int = 0,
                  direction: int = 0, sample: int = 0, t: int | None = None, size=(960, 540),
                  model_path: str | None = None, trust: bool = False, output: str = "rnnviz-figure.png") -> str:
    """A standalone script that rebuilds a run from its config and seed and saves its figure.

    What the window's *Copy as Python* puts on the clipboard. ``config`` is the run's
    :class:`~rnnviz.core.config.RunConfig`; ``steps`` the training steps taken (0: the recorded
    initial weights); ``model_path`` an imported model file instead of a built network.
    """
    from pprint import pformat

    from rnnviz.io.data import registered_source
    from rnnviz.io.imported import registered_model_task

    cfg = config.to_dict()
    names = list(panels) if panels is not None else None
    show = (f"fig = rnnviz.show(trace, panels={names!r}, size={tuple(size)!r}, layer={layer}, "
            f"direction={direction}, sample={sample}, t={t!r}, history=history)")
    config_line = f"cfg = rnnviz.RunConfig.from_dict({pformat(cfg, indent=1, width=100, sort_dicts=False)})"
    lines = ["# Reproduces an rnnviz figure from its config and seed (made by rnnviz's Copy as Python).",
             "import rnnviz", ""]
    if model_path is not None:
        lines += [f"imported = rnnviz.load_model({str(model_path)!r}{', trust=True' if trust else ''})",
                  "print(imported.summary())"]
        if steps:  # the window trained the imported weights on the network's own task (random input)
            lines += ["from rnnviz.core.train import Trainer", "",
                      f"imported.register_task()  # the task {config.task.name!r}", config_line,
                      "trainer = Trainer(imported.model, cfg.task, cfg.train)",
                      f"history = trainer.run({int(steps)})",
                      "trace = trainer.traces[-1][1]  # recorded after the last step"]
        else:
            lines += [f"probe, trace = imported.record(seq_len={config.task.seq_len}, "
                      f"batch_size={config.task.batch_size}, seed={config.model.seed})",
                      "history = None"]
    else:
        data = registered_source(config.task.name)
        if data is not None:
            lines += ["from rnnviz.io.data import load_sequences", "",
                      f"load_sequences({data['path']!r}, shape={data['shape']!r}, target={data['target']!r}, "
                      f"targets_file={data['targets_file']!r}).register()  # the task {config.task.name!r}"]
        model_task = registered_model_task(config.task.name)
        if model_task is not None:  # fresh weights on an imported network's input (after Reset)
            lines += [f"rnnviz.load_model({model_task['path']!r}{', trust=True' if model_task['trust'] else ''})"
                      f".register_task()  # the task {config.task.name!r}"]
        lines += [f"from rnnviz.app.actions import {'train_run' if steps else 'record_run'}", "", config_line]
        if steps:
            lines += [f"run = train_run(cfg, steps={int(steps)})", "trace, history = run.trace, run.history"]
        else:
            lines += ["trace, history = record_run(cfg).trace, None"]
    lines += [show, f"fig.save({output!r})", "fig  # in Jupyter this displays the figure", ""]
    return "\n".join(lines)
