"""``rnnviz.show(..., interactive=True)``: the panels as live pyqtgraph plots in a Jupyter cell.

pyqtgraph's Jupyter widgets (:mod:`pyqtgraph.jupyter`, built on ``jupyter_rfb``) paint a Qt scene
offscreen and send the frames to the notebook; a drag pans, the wheel zooms (there is no Qt event
loop in a kernel: each change asks for a new frame). An ipywidgets slider above the plots moves
every panel's time-step cursor.

hidden / cell / gates are heatmaps (time step × unit) with the window's colour maps and the levels
of :mod:`rnnviz.app.panel_model`; gradients is ‖∂L/∂h_t‖ per step on a log axis; every other
panel (graph, training, predictions, saturation, dynamics, ...) is the exporter's picture of it,
in a view that zooms and pans, drawn again with the step marked when the slider moves.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from rnnviz.app import panel_model as pm

HEATMAPS = ("hidden", "cell", "gates")
INK, AXIS = "#222222", "#555555"  # dark text on the white background (pyqtgraph's default is grey)


def _qapp():
    """The process's QApplication; offscreen where there is no display (a notebook server)."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg

    return pg.mkQApp()


class InteractiveFigure:
    """A Jupyter widget of ``panels`` of ``trace``: ``widget`` (slider + plots) is what is displayed.

    ``view`` is the pyqtgraph.jupyter GraphicsLayoutWidget (``view.get_frame()`` renders it to an
    RGBA array), ``slider`` the time-step slider, :meth:`set_time` moves the cursors; ``plots``
    maps each panel to its plot items, ``pictures`` lists the exporter pictures (panel, ImageItem,
    size)."""

    def __init__(self, trace, panels, size=(960, 540), *, k=0, sample=0, t=None, history=None):
        _qapp()
        import ipywidgets
        import pyqtgraph as pg
        from pyqtgraph.jupyter import GraphicsLayoutWidget

        from rnnviz.qt import theme

        self.trace, self.panels, self.k, self.sample, self.history = trace, tuple(panels), k, sample, history
        w, h = size
        self.view = GraphicsLayoutWidget(css_width=f"{w}px", css_height=f"{h}px")
        self.view.gfxView.resize(w, h)
        self.view.gfxView.setBackground("w")
        self.cursors: list = []
        self.pictures: list = []  # (panel, ImageItem, size): re-rendered when the step changes
        self.plots: dict[str, list] = {}
        self._cmaps = {"diverging": theme.diverging(), "sequential": theme.sequential()}
        blocks = [(name, item) for name in self.panels for item in self._items(name)]
        plots = [b for b in blocks if b[1][0] is not None]  # pictures go below, one full-width row each
        cols = 1 if len(plots) == 1 else 2
        for i, (name, (title, build)) in enumerate(plots):
            if i and i % cols == 0:
                self.view.nextRow()
            self.plots.setdefault(name, []).append(build(self.view, title, pg, 1))
        for name, (_, build) in (b for b in blocks if b[1][0] is None):
            if plots or name != blocks[0][0]:
                self.view.nextRow()
            self.plots.setdefault(name, []).append(build(self.view, None, pg, cols))
        # what a notebook's first resize event does: lay the scene out at the widget's size
        self.view.handle_event({"event_type": "resize", "width": w, "height": h, "pixel_ratio": 1.0})
        T = trace.seq_len
        start = 0 if t is None else int(min(max(t, 0), T - 1))
        self.slider = ipywidgets.IntSlider(value=start + 1, min=1, max=T, description="time step",
                                           continuous_update=True)
        self.slider.observe(lambda change: self.set_time(change["new"] - 1), names="value")
        self.widget = ipywidgets.VBox([self.slider, self.view])
        self.set_time(start)

    # -- what each panel becomes ----------------------------------------------------------
    def _items(self, name):
        tr, k, b = self.trace, self.k, self.sample
        if name == "hidden":
            data = tr.hidden[k, :, b]
            return [("hidden state h_t", self._heat(data, pm.state_levels(tr.hidden), "diverging"))]
        if name == "cell" and tr.cell is not None:
            return [("cell state c_t", self._heat(tr.cell[k, :, b], pm.state_levels(tr.cell), "diverging"))]
        if name == "gates" and tr.gates:
            out = []
            for g in pm.trace_gates(tr):
                levels = pm.gate_levels(tr.cell_type, g.key, tr.gates[g.key])
                out.append((g.title, self._heat(tr.gates[g.key][k, :, b], levels,
                                                "diverging" if g.candidate else "sequential")))
            return out
        if name == "gradients" and tr.grad_hidden_norm is not None:
            return [("‖∂L/∂h_t‖ per step (log)", self._line(tr.grad_hidden_norm[k]))]
        return [(None, self._picture(name))]

    @staticmethod
    def _plot(view, title, pg):
        plot = view.addPlot()
        plot.setTitle(title, color=INK)
        for side in ("left", "bottom"):
            plot.getAxis(side).setTextPen(INK)
            plot.getAxis(side).setPen(AXIS)
        return plot

    def _heat(self, data, levels, cmap):
        def build(view, title, pg, span):
            plot = self._plot(view, title, pg)
            T, H = data.shape
            image = pg.ImageItem(levels.transform(data).astype(np.float32), levels=levels.shown)
            image.setColorMap(self._cmaps[cmap])
            image.setRect(0.5, -0.5, T, H)  # pixel centres at steps 1..T, units 0..H-1
            plot.addItem(image)
            plot.setLabel("bottom", "time step")
            plot.setLabel("left", "unit")
            self._cursor(plot, pg)
            return plot
        return build

    def _line(self, values):
        def build(view, title, pg, span):
            plot = self._plot(view, title, pg)
            finite = np.where(np.isfinite(values) & (values > 0), values, np.nan)
            plot.plot(np.arange(1, len(values) + 1), finite, pen=pg.mkPen("#1f4e9c", width=2),
                      symbol="o", symbolSize=5, connect="finite")
            plot.setLogMode(y=True)
            plot.setLabel("bottom", "time step")
            self._cursor(plot, pg)
            return plot
        return build

    def _picture(self, name):
        def build(view, title, pg, span):
            w = max(int(view.gfxView.width()), 320)
            size = (w, max(int(w * 9 / 32), 200))
            image = pg.ImageItem(self._render(name, size, None))
            box = view.addViewBox(lockAspect=True, invertY=True, colspan=span)
            box.addItem(image)
            box.autoRange(padding=0)
            self.pictures.append((name, image, size))
            return box
        return build

    def _render(self, name, size, t):
        """The exporter's picture of panel ``name`` with step ``t`` marked, as ImageItem wants it (x, y, rgb)."""
        from rnnviz.export.figures import figure
        from rnnviz.export.frames import rasterize

        scene = figure(self.trace, [name], size, history=self.history, k=self.k, sample=self.sample, t=t, title="")
        return np.ascontiguousarray(rasterize(scene)[..., :3].transpose(1, 0, 2))

    def _cursor(self, plot, pg):
        line = pg.InfiniteLine(pos=1, angle=90, pen=pg.mkPen("#f28e1c", width=2))
        plot.addItem(line)
        self.cursors.append(line)

    # -- interaction ----------------------------------------------------------------------
    def set_time(self, t: int) -> None:
        """Move every cursor to step ``t`` (0-based) and ask the notebook for a new frame."""
        self.t = int(min(max(t, 0), self.trace.seq_len - 1))
        for line in self.cursors:
            line.setValue(self.t + 1)
        for name, image, size in self.pictures:  # the exporter marks the step itself (~10-50 ms each)
            image.setImage(self._render(name, size, self.t))
        if self.slider.value != self.t + 1:
            self.slider.value = self.t + 1
        self.view.request_draw()

    def frame(self) -> np.ndarray:
        """The plots as the notebook receives them: (height, width, 4) uint8."""
        return self.view.get_frame()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def interactive_figure(trace, panels, size=(960, 540), **kw) -> InteractiveFigure:
    """The :class:`InteractiveFigure` of ``panels`` of ``trace`` (needs jupyter_rfb and ipywidgets)."""
    return InteractiveFigure(trace, panels, size, **kw)
