"""Loss and global gradient norm (before / after clipping) over training steps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from rnnviz.app.panels import get_panel
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


LOG_DECADES = 3.0  # the loss axis turns logarithmic when finite positive losses span more than this


def loss_span_decades(*losses: np.ndarray) -> float:
    """log10(max / min) over the finite positive values of ``losses`` (0 when there are none)."""
    lo, hi = np.inf, 0.0
    for v in losses:
        v = np.asarray(v, dtype=float)
        with np.errstate(invalid="ignore"):
            ok = v[np.isfinite(v) & (v > 0)]
        if ok.size:
            lo, hi = min(lo, float(ok.min())), max(hi, float(ok.max()))
    return float(np.log10(hi / lo)) if hi > 0 else 0.0


def _log_safe(v: np.ndarray) -> np.ndarray:
    v = np.array(v, dtype=float)
    v[~np.isfinite(v)] = np.nan
    with np.errstate(invalid="ignore"):
        v[v <= 0] = 1e-30
    return v


class TrainingView(TraceView):
    """Loss vs step (top) and global gradient norm before clipping vs step, log y (bottom).

    The loss axis is linear until the finite positive losses of the shown runs span more than
    ``LOG_DECADES`` (3) decades, then logarithmic (``loss_log``), so one exploding 1e36 step does
    not flatten a falling loss to zero. NaN / Inf losses are left out of the curves and marked
    with magenta triangles (``bad_points``) at the top.

    With clipping on: the threshold as a horizontal line (norm clipping), the norm after clipping
    dashed, and clipped steps marked. Grows cheaply: ``set_history`` appends only new rows and
    calls ``setData`` on the existing curves.

    Attributes: ``loss_curve``, ``grad_curve``, ``applied_curve``, ``clipped_points``,
    ``threshold`` (InfiniteLine, hidden unless clip == "norm"), ``compare_loss_curve``,
    ``compare_grad_curve``, ``data`` (the growable columns; ``data.col("loss")``).
    """

    title = get_panel("training").title

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
        self.grad_plot.addItem(self.clipped_points)  # named: the plot lists it in the legend once
        self.bad_points = pg.ScatterPlotItem(size=11, symbol="t", name="loss NaN / Inf")
        self.bad_points.setZValue(10)
        self.loss_plot.addItem(self.bad_points)  # only listed while there are some
        self.loss_legend.removeItem(self.bad_points)
        self._bad_listed = False
        self.loss_log = False
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
        self.loss_log = False
        self.train_cfg = None
        self._compare_named = False
        self._restyle()

    def _restyle(self) -> None:
        style_plot(self.loss_plot, left="loss (log)" if self.loss_log else "loss", title="Training loss")
        style_plot(self.grad_plot, left="global ‖∇‖ (log)", bottom="training step",
                   title="Gradient norm before clipping")
        self.loss_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.grad_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.applied_curve.setPen(theme.pen(theme.series_color(2), 1.5, Qt.PenStyle.DashLine))
        self.clipped_points.setPen(theme.pen("threshold", 1.5))
        self.clipped_points.setBrush(pg.mkBrush(theme.color("threshold")))
        self.bad_points.setPen(theme.pen(theme.NONFINITE, 1))
        self.bad_points.setBrush(pg.mkBrush(theme.NONFINITE))
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
        self._update_loss_curves()
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
            n_bad = int((~np.isfinite(d.col("loss"))).sum())
            self.info.setText(f"step {int(step[last])}: loss {d.col('loss')[last]:.4g}, "
                              f"‖∇‖ {d.col('grad_norm')[last]:.3g}"
                              + (f", clipped {n_clip} of {d.n} steps" if clipping else "")
                              + (f"; loss NaN/Inf at {n_bad} steps (magenta ▼)" if n_bad else "")
                              + ("; loss axis logarithmic" if self.loss_log else ""))
        else:
            self.info.setText("No training yet: press Train.")

    def _update_loss_curves(self) -> None:
        """Loss curves of both runs: NaN/Inf dropped (marked ▼ at the top), a log axis when the
        finite positive losses span more than LOG_DECADES decades (e.g. an exploding run)."""
        runs = [(self.data, self.loss_curve), (self.compare_data, self.compare_loss_curve)]
        losses = [d.col("loss") for d, _ in runs]
        log = loss_span_decades(*losses) > LOG_DECADES
        if log != self.loss_log:
            self.loss_log = log
            self.loss_plot.setLogMode(y=log)
            style_plot(self.loss_plot, left="loss (log)" if log else "loss")
        bad_x, tops = [], []
        for (d, curve), loss in zip(runs, losses, strict=True):
            step = d.col("step")
            with np.errstate(invalid="ignore"):
                ok = np.isfinite(loss) & (loss > 0) if log else np.isfinite(loss)
            curve.setData(step[ok], loss[ok])
            if ok.any():
                tops.append(float(loss[ok].max()))
            bad_x.append(step[~np.isfinite(loss)])
        top = max(tops, default=1.0)
        bad = np.concatenate(bad_x)
        if bad.size:
            self.bad_points.setData(bad, np.full(bad.size, np.log10(top) if log else top))
            if not self._bad_listed:
                self.loss_legend.addItem(self.bad_points, "loss NaN / Inf")
                self._bad_listed = True
        else:
            self.bad_points.setData([], [])
            if self._bad_listed:
                self.loss_legend.removeItem(self.bad_points)
                self._bad_listed = False

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

    def set_compare_runs(self, runs) -> None:
        """The first compared run's trace and its loss curve beside this run's."""
        super().set_compare_runs(runs)
        first = runs[0] if runs else None
        self.set_compare_history(list(first.history) if first is not None else None,
                                 first.label if first is not None else None)

    def set_compare_history(self, history: list[dict] | None, label: str | None = None) -> None:
        """Overlay a second run's training rows (dash-dot) with its label; None removes it."""
        if label is not None:
            self.compare_label = label
        if not history:
            self.compare_data.reset()
            self._update_loss_curves()
            self.compare_grad_curve.setData([], [])
            return
        self.compare_data.update(history)
        d = self.compare_data
        self._update_loss_curves()
        self.compare_grad_curve.setData(d.col("step"), _log_safe(d.col("grad_norm")), connect="finite")
        name = self.compare_label or "compare"
        if self._compare_named != name:
            for legend, curve in ((self.loss_legend, self.compare_loss_curve),
                                  (self.grad_legend, self.compare_grad_curve)):
                legend.removeItem(curve)
                legend.addItem(curve, f"{name}")
            self._compare_named = name
