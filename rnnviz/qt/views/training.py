"""Loss and global gradient norm (before / after clipping) over training steps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView, add_legend, style_plot


class _Series:
    """Growable numpy columns filled from history rows; appends only the new rows."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.first = None
        self.cols = {k: np.empty(256) for k in ("step", "loss", "grad_norm", "applied", "clipped")}

    def update(self, history) -> bool:
        """Take rows n.. of ``history``; start over when it is a different (shorter/new) history."""
        if history and (len(history) < self.n or (self.n and _key(history[0]) != self.first)):
            self.reset()
        if not history:
            changed = self.n > 0
            self.reset()
            return changed
        new = history[self.n:]
        if not new:
            return False
        need = self.n + len(new)
        if need > self.cols["step"].shape[0]:
            size = max(need, 2 * self.cols["step"].shape[0])
            for k, a in self.cols.items():
                b = np.empty(size)
                b[: self.n] = a[: self.n]
                self.cols[k] = b
        for i, row in enumerate(new, start=self.n):
            self.cols["step"][i] = row.get("step", i)
            self.cols["loss"][i] = _num(row.get("loss"))
            self.cols["grad_norm"][i] = _num(row.get("grad_norm"))
            self.cols["applied"][i] = _num(row.get("applied"))
            self.cols["clipped"][i] = 1.0 if row.get("clipped") else 0.0
        self.first = _key(history[0])
        self.n = need
        return True

    def col(self, name: str) -> np.ndarray:
        return self.cols[name][: self.n]


def _key(row) -> tuple:
    return (row.get("step"), row.get("loss"))


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _log_safe(v: np.ndarray) -> np.ndarray:
    v = np.array(v, dtype=float)
    v[~np.isfinite(v)] = np.nan
    with np.errstate(invalid="ignore"):
        v[v <= 0] = 1e-30
    return v


class TrainingView(TraceView):
    """Loss vs step (top) and global gradient norm before clipping vs step, log y (bottom).

    With clipping on: the threshold as a horizontal line (norm clipping), the norm after clipping
    dashed, and clipped steps marked. Grows cheaply: ``set_history`` appends only new rows and
    calls ``setData`` on the existing curves.

    Attributes: ``loss_curve``, ``grad_curve``, ``applied_curve``, ``clipped_points``,
    ``threshold`` (InfiniteLine, hidden unless clip == "norm"), ``compare_loss_curve``,
    ``compare_grad_curve``, ``data`` (the growable columns; ``data.col("loss")``).
    """

    title = "Training"

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.info = QLabel("No training yet: press Train.")
        self._layout.addWidget(self.info)
        self.loss_plot = self.glw.addPlot(row=0, col=0)
        self.grad_plot = self.glw.addPlot(row=1, col=0)
        self.grad_plot.setXLink(self.loss_plot)
        self.grad_plot.setLogMode(y=True)
        for p in (self.loss_plot, self.grad_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
        self.loss_legend = add_legend(self.loss_plot, (-10, 10))
        self.grad_legend = add_legend(self.grad_plot, (-10, 10))
        self.loss_curve = self.loss_plot.plot([], [], name="loss")
        self.grad_curve = self.grad_plot.plot([], [], name="‖∇‖ before clipping")
        self.applied_curve = self.grad_plot.plot([], [], name="‖∇‖ after clipping")
        self.clipped_points = pg.ScatterPlotItem(size=7, symbol="x", name="clipped step")
        self.grad_plot.addItem(self.clipped_points)
        self.grad_legend.addItem(self.clipped_points, "clipped step")
        self.threshold = pg.InfiniteLine(pos=0, angle=0, movable=False)
        self.threshold.setZValue(20)
        self.grad_plot.addItem(self.threshold, ignoreBounds=True)
        self.threshold_label = pg.TextItem("", anchor=(0, 1))
        self.grad_plot.addItem(self.threshold_label, ignoreBounds=True)
        self.threshold.hide()
        self.compare_loss_curve = self.loss_plot.plot([], [])
        self.compare_grad_curve = self.grad_plot.plot([], [])
        self.data = _Series()
        self.compare_data = _Series()
        self.train_cfg = None
        self._compare_named = False
        self._restyle()

    def _restyle(self) -> None:
        style_plot(self.loss_plot, left="loss", title="Training loss")
        style_plot(self.grad_plot, left="global ‖∇‖ (log)", bottom="training step",
                   title="Gradient norm before clipping")
        self.loss_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.grad_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.applied_curve.setPen(theme.pen(theme.series_color(2), 1.5, Qt.PenStyle.DashLine))
        self.clipped_points.setPen(theme.pen("threshold", 1.5))
        self.clipped_points.setBrush(pg.mkBrush(theme.color("threshold")))
        self.threshold.setPen(theme.pen("threshold", 2, Qt.PenStyle.DashLine))
        self.threshold_label.setColor(theme.color("threshold"))
        self.threshold_label.setFont(theme.font(9))
        self.compare_loss_curve.setPen(theme.pen(theme.series_color(1), 2, Qt.PenStyle.DashDotLine))
        self.compare_grad_curve.setPen(theme.pen(theme.series_color(1), 2, Qt.PenStyle.DashDotLine))
        self.info.setFont(theme.font(10))

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self._restyle()

    def set_trace(self, trace) -> None:
        super().set_trace(trace)  # the curves come from set_history

    def set_history(self, history: list[dict], train_cfg=None) -> None:
        """Show training rows so far; call again with a longer list as training goes on."""
        if train_cfg is not None and train_cfg is not self.train_cfg:
            self.train_cfg = train_cfg
            self._set_threshold()
        if not self.data.update(history or []):
            return
        d = self.data
        step = d.col("step")
        self.loss_curve.setData(step, d.col("loss"), connect="finite")
        self.grad_curve.setData(step, _log_safe(d.col("grad_norm")), connect="finite")
        applied = d.col("applied")
        clipping = self._clip_mode() != "none"
        if clipping and np.isfinite(applied).any():
            self.applied_curve.setData(step, _log_safe(applied), connect="finite")
        else:
            self.applied_curve.setData([], [])
        mask = d.col("clipped") > 0
        if mask.any():
            self.clipped_points.setData(step[mask], np.log10(_log_safe(d.col("grad_norm")[mask])))
        else:
            self.clipped_points.setData([], [])
        if d.n:
            last = d.n - 1
            n_clip = int(mask.sum())
            self.info.setText(f"step {int(step[last])}: loss {d.col('loss')[last]:.4g}, "
                              f"‖∇‖ {d.col('grad_norm')[last]:.3g}"
                              + (f", clipped {n_clip} of {d.n} steps" if clipping else ""))
        else:
            self.info.setText("No training yet: press Train.")

    def _clip_mode(self) -> str:
        return str(getattr(self.train_cfg, "clip", "none") or "none")

    def _set_threshold(self) -> None:
        mode = self._clip_mode()
        if mode == "norm":
            thr = float(getattr(self.train_cfg, "clip_norm", 1.0))
            self.threshold.setPos(np.log10(max(thr, 1e-30)))
            self.threshold.show()
            self.threshold_label.setText(f"clip threshold ‖∇‖ = {thr:g}")
            self.threshold_label.setPos(0, np.log10(max(thr, 1e-30)))
        else:
            self.threshold.hide()
            self.threshold_label.setText(
                f"clipping each gradient element to ±{float(getattr(self.train_cfg, 'clip_value', 1.0)):g}"
                if mode == "value" else "")

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        if trace is None:
            self.set_compare_history(None)

    def set_compare_history(self, history: list[dict] | None, label: str | None = None) -> None:
        """Overlay a second run's training rows (dash-dot) with its label; None removes it."""
        if label is not None:
            self.compare_label = label
        if not history:
            self.compare_data.reset()
            self.compare_loss_curve.setData([], [])
            self.compare_grad_curve.setData([], [])
            return
        self.compare_data.update(history)
        d = self.compare_data
        self.compare_loss_curve.setData(d.col("step"), d.col("loss"), connect="finite")
        self.compare_grad_curve.setData(d.col("step"), _log_safe(d.col("grad_norm")), connect="finite")
        name = self.compare_label or "compare"
        if self._compare_named != name:
            for legend, curve in ((self.loss_legend, self.compare_loss_curve),
                                  (self.grad_legend, self.compare_grad_curve)):
                legend.removeItem(curve)
                legend.addItem(curve, f"{name}")
            self._compare_named = name
