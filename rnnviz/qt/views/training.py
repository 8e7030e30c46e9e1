"""Loss and global gradient norm (before / after clipping) over training steps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from rnnviz.app.panel_model import run_label
from rnnviz.app.panels import get_panel
from rnnviz.core.tasks import TASKS
from rnnviz.qt import theme
from rnnviz.qt.views.base import DecadeAxis, LegendBar, TraceView, style_plot


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


NO_TRAINING = ("No training yet: press Train.\nThe loss and the gradient norm of every training step "
               "appear here as it goes.")


class _CompareSet:
    """One compared run's training rows and its two curves."""

    def __init__(self, label: str, loss_curve, grad_curve):
        self.label, self.data, self.loss_curve, self.grad_curve = label, _Series(), loss_curve, grad_curve


class TrainingView(TraceView):
    """Loss vs step (top) and global gradient norm before clipping vs step, log y (bottom).

    The loss axis is linear until the finite positive losses of the shown runs span more than
    ``LOG_DECADES`` (3) decades, then logarithmic (``loss_log``), so one exploding 1e36 step does
    not flatten a falling loss to zero. NaN / Inf losses are left out of the curves and marked
    with magenta triangles (``bad_points``) at the top. A task with a trivial baseline (the
    adding problem: always answering 1 gives 1/6) gets it drawn as a dotted line (``baseline``).

    With clipping on: the threshold as a horizontal line (norm clipping), the norm after clipping
    dashed, and clipped steps marked; with clipping off none of them, in the plots or the legend.
    Compare mode holds any number of runs (:meth:`set_compare_runs`), each dash-dotted in its own
    colour. The legend (``legend``, a LegendBar) sits under the plots and never covers a curve.
    Grows cheaply: ``set_history`` appends only new rows and calls ``setData`` on the curves.

    Attributes: ``loss_curve``, ``grad_curve``, ``applied_curve``, ``clipped_points``,
    ``threshold`` (InfiniteLine, hidden unless clip == "norm"), ``compare_sets`` (one per compared
    run: ``label``, ``data``, ``loss_curve``, ``grad_curve``), ``compare_loss_curve`` /
    ``compare_grad_curve`` (the first compared run's), ``data`` (the growable columns).
    """

    title = get_panel("training").title

    def __init__(self, parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.legend = LegendBar()
        self._layout.addWidget(self.legend)
        self.info = QLabel(" ")
        self.info.setWordWrap(True)
        self._layout.addWidget(self.info)
        self.loss_plot = self.glw.addPlot(row=0, col=0, axisItems={"left": DecadeAxis("left")})
        self.grad_plot = self.glw.addPlot(row=1, col=0, axisItems={"left": DecadeAxis("left")})
        self.grad_plot.setXLink(self.loss_plot)
        self.grad_plot.setLogMode(y=True)
        for p in (self.loss_plot, self.grad_plot):
            p.showGrid(x=True, y=True, alpha=0.2)
        self.loss_curve = self.loss_plot.plot([], [])
        self.grad_curve = self.grad_plot.plot([], [])
        self.applied_curve = self.grad_plot.plot([], [])
        self.clipped_points = pg.ScatterPlotItem(size=7, symbol="x")
        self.grad_plot.addItem(self.clipped_points)
        self.bad_points = pg.ScatterPlotItem(size=11, symbol="t")
        self.bad_points.setZValue(10)
        self.loss_plot.addItem(self.bad_points)
        self.baseline = pg.InfiniteLine(pos=0, angle=0, movable=False)
        self.baseline.setZValue(-5)
        self.loss_plot.addItem(self.baseline, ignoreBounds=True)
        self.baseline.hide()
        self.baseline_anchor = self.loss_plot.plot([], [], pen=None)  # keeps the baseline in the auto range
        self.baseline_value: float | None = None
        self.loss_log = False
        self.threshold = pg.InfiniteLine(pos=0, angle=0, movable=False)
        self.threshold.setZValue(20)
        self.grad_plot.addItem(self.threshold, ignoreBounds=True)
        self.threshold_label = pg.TextItem("", anchor=(0, 1))
        self.grad_plot.addItem(self.threshold_label, ignoreBounds=True)
        self.threshold.hide()
        self.compare_loss_curve = self.loss_plot.plot([], [])
        self.compare_grad_curve = self.grad_plot.plot([], [])
        self.compare_sets: list[_CompareSet] = []
        self.data = _Series()
        self.compare_data = _Series()  # the first compared run's rows (kept in step with compare_sets[0])
        self.train_cfg = None
        self._restyle()

    def _restyle(self) -> None:
        style_plot(self.loss_plot, left="loss (log)" if self.loss_log else "loss", title="Training loss")
        style_plot(self.grad_plot, left="global ‖∇‖ (log)", bottom="training step",
                   title="Gradient norm before clipping" if self._clip_mode() != "none" else "Gradient norm")
        self.loss_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.grad_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.applied_curve.setPen(theme.pen(theme.series_color(2), 1.5, Qt.PenStyle.DashLine))
        self.clipped_points.setPen(theme.pen("threshold", 1.5))
        self.clipped_points.setBrush(pg.mkBrush(theme.color("threshold")))
        self.bad_points.setPen(theme.pen(theme.NONFINITE, 1))
        self.bad_points.setBrush(pg.mkBrush(theme.NONFINITE))
        self.baseline.setPen(theme.pen("edge", 2, Qt.PenStyle.DotLine))
        self.threshold.setPen(theme.pen("threshold", 2, Qt.PenStyle.DashLine))
        self.threshold_label.setColor(theme.color("threshold"))
        self.threshold_label.setFont(theme.font(9))
        for j, cs in enumerate(self.compare_sets):
            for curve in (cs.loss_curve, cs.grad_curve):
                curve.setPen(theme.pen(self._compare_color(j), 2, Qt.PenStyle.DashDotLine))
        self.info.setFont(theme.font(10))
        self.legend.restyle()
        self._update_legend()

    @staticmethod
    def _compare_color(j: int):
        return theme.series_color(1 + j if j < 1 else 2 + j)  # colour 2 is "after clipping"

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self._restyle()

    def set_trace(self, trace) -> None:
        super().set_trace(trace)  # the curves come from set_history
        task = TASKS.get(str((trace.meta or {}).get("task", ""))) if trace is not None else None
        value = task.baseline if task is not None else None
        if value != self.baseline_value:
            self.baseline_value = value
            self._place_baseline()
            self._update_legend()

    def _place_baseline(self) -> None:
        v = self.baseline_value
        if v is None or (self.loss_log and v <= 0):
            self.baseline.hide()
            self.baseline_anchor.setData([], [])
            return
        self.baseline.setPos(np.log10(v) if self.loss_log else v)
        self.baseline.show()
        step = self.data.col("step")
        self.baseline_anchor.setData([float(step[0]) if step.size else 0.0], [v])

    def _clipping_shown(self) -> tuple[bool, bool]:
        """(after-clipping curve shown, clipped steps marked): only what exists."""
        x = self.applied_curve.getData()[0]
        return x is not None and len(x) > 0, len(self.clipped_points.data) > 0

    def _update_legend(self) -> None:
        """The legend lists only what is drawn: no clipping entries with clipping off."""
        lg = self.legend
        lg.clear()
        main = run_label(self.trace) if self.compare_sets else "this run"
        lg.add(f"{main}: loss, ‖∇‖ before clipping" if self._clip_mode() != "none" else f"{main}: loss, ‖∇‖",
               theme.series_color(0))
        applied, clipped = self._clipping_shown()
        if applied:
            lg.add("‖∇‖ after clipping", theme.series_color(2), Qt.PenStyle.DashLine)
        if clipped:
            lg.add("clipped step", theme.color("threshold"), mark="✕")
        if self._clip_mode() == "norm":
            lg.add("clip threshold", theme.color("threshold"), Qt.PenStyle.DashLine)
        for j, cs in enumerate(self.compare_sets):
            lg.add(cs.label, self._compare_color(j), Qt.PenStyle.DashDotLine)
        if self.baseline_value is not None:
            task = (self.trace.meta or {}).get("task", "") if self.trace is not None else ""
            lg.add(f"trivial baseline {self.baseline_value:.3g} ({TASKS[task].baseline_label})"
                   if task in TASKS and TASKS[task].baseline_label else f"trivial baseline {self.baseline_value:.3g}",
                   theme.color("edge"), Qt.PenStyle.DotLine)
        if len(self.bad_points.data):
            lg.add("loss NaN / Inf", theme.NONFINITE, mark="▲")
        # nothing trained yet, by any run: say so instead of two empty plots
        empty = self.data.n == 0 and not any(cs.data.n for cs in self.compare_sets)
        self.glw.setVisible(not empty)
        lg.setVisible(not empty and bool(lg.entries))
        self.show_message(NO_TRAINING if empty else "")

    def set_history(self, history: list[dict], train_cfg=None) -> None:
        """Show training rows so far; call again with a longer list as training goes on."""
        if train_cfg is not None and train_cfg is not self.train_cfg:
            self.train_cfg = train_cfg
            self._set_threshold()
            self._restyle()
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
        mask = (d.col("clipped") > 0) if clipping else np.zeros(d.n, bool)
        if mask.any():
            self.clipped_points.setData(step[mask], np.log10(_log_safe(d.col("grad_norm")[mask])))
        else:
            self.clipped_points.setData([], [])
        self._update_legend()
        if d.n:
            last = d.n - 1
            n_clip = int(mask.sum())
            n_bad = int((~np.isfinite(d.col("loss"))).sum())
            self.info.setText(f"step {int(step[last])}: loss {d.col('loss')[last]:.4g}, "
                              f"‖∇‖ {d.col('grad_norm')[last]:.3g}"
                              + (f", clipped {n_clip} of {d.n} steps" if clipping else "")
                              + (f"; loss NaN/Inf at {n_bad} steps (magenta ▲)" if n_bad else "")
                              + ("; loss axis logarithmic" if self.loss_log else ""))
        else:
            self.info.setText(" ")

    def _update_loss_curves(self) -> None:
        """Loss curves of every run: NaN/Inf dropped (marked ▲ at the top), a log axis when the
        finite positive losses span more than LOG_DECADES decades (e.g. an exploding run)."""
        runs = [(self.data, self.loss_curve)] + [(cs.data, cs.loss_curve) for cs in self.compare_sets]
        losses = [d.col("loss") for d, _ in runs]
        log = loss_span_decades(*losses) > LOG_DECADES
        if log != self.loss_log:
            self.loss_log = log
            self.loss_plot.setLogMode(y=log)
            style_plot(self.loss_plot, left="loss (log)" if log else "loss")
        self._place_baseline()
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
        else:
            self.bad_points.setData([], [])

    def _clip_mode(self) -> str:
        return self.train_cfg.clip if self.train_cfg is not None else "none"

    def _set_threshold(self) -> None:
        mode = self._clip_mode()
        if mode == "norm":
            thr = float(self.train_cfg.clip_norm)  # mode "norm": there is a train config
            self.threshold.setPos(np.log10(max(thr, 1e-30)))
            self.threshold.show()
            self.threshold_label.setText(f"clip threshold ‖∇‖ = {thr:g}")
            self.threshold_label.setPos(0, np.log10(max(thr, 1e-30)))
        else:
            self.threshold.hide()
            self.threshold_label.setText(
                f"clipping each gradient element to ±{float(self.train_cfg.clip_value):g}"
                if mode == "value" else "")

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        if trace is None:
            self._set_compare_histories([])

    def set_compare_runs(self, runs) -> None:
        """Every compared run's loss and gradient-norm curves (CompareRun: label, trace, history)."""
        first = runs[0] if runs else None
        TraceView.set_compare(self, first.trace if first else None, first.label if first else "")
        self._set_compare_histories([(r.label or f"run {j + 2}", list(r.history or []))
                                     for j, r in enumerate(runs)])

    def set_compare_history(self, history: list[dict] | None, label: str | None = None) -> None:
        """Overlay one compared run's training rows (dash-dot) with its label; None removes it."""
        if label is not None:
            self.compare_label = label
        self._set_compare_histories([(self.compare_label or "compare", history)] if history else [])

    def _set_compare_histories(self, runs: list[tuple[str, list]]) -> None:
        while len(self.compare_sets) < len(runs):
            j = len(self.compare_sets)
            if j == 0:
                loss_c, grad_c = self.compare_loss_curve, self.compare_grad_curve
            else:
                loss_c, grad_c = self.loss_plot.plot([], []), self.grad_plot.plot([], [])
            self.compare_sets.append(_CompareSet("", loss_c, grad_c))
        for cs in self.compare_sets[len(runs):]:
            cs.data.reset()
            cs.loss_curve.setData([], [])
            cs.grad_curve.setData([], [])
        for cs in self.compare_sets[max(1, len(runs)):]:  # the first pair of curves is kept
            self.loss_plot.removeItem(cs.loss_curve)
            self.grad_plot.removeItem(cs.grad_curve)
        self.compare_sets = self.compare_sets[:len(runs)]
        for cs, (label, history) in zip(self.compare_sets, runs, strict=True):
            cs.label = label
            cs.data.reset()
            cs.data.update(history or [])
            d = cs.data
            cs.grad_curve.setData(d.col("step"), _log_safe(d.col("grad_norm")), connect="finite")
        self.compare_data = self.compare_sets[0].data if self.compare_sets else _Series()
        self._update_loss_curves()
        self._restyle()
