"""What the network predicts: next-token probabilities (language tasks) or outputs vs targets."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QPlainTextEdit, QWidget

from rnnviz.app.panels import get_panel
from rnnviz.qt import theme
from rnnviz.qt.views.base import (
    CurveLegend,
    DimBand,
    TextLine,
    TraceView,
    add_legend,
    cached,
    make_cursor,
    sample_name,
    set_title,
    style_plot,
)
from rnnviz.qt.views.heatmaps import token_label

TOP_K = 10


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    z = z - np.nanmax(z, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def is_classifier(trace) -> bool:
    """A sequence classifier (many-to-one, loss "ce": sentiment, agreement): one class per
    sequence, not a next token per step."""
    meta = trace.meta or {}
    if meta.get("loss") != "ce":
        return False
    return meta.get("shape") == "many-to-one" or np.asarray(trace.targets).ndim == 1


def is_trajectory(trace) -> bool:
    """Outputs are 2-D positions (the ball / trajectory task): regression with two outputs."""
    meta = trace.meta or {}
    return meta.get("loss") == "mse" and trace.outputs.shape[-1] == 2 and (
        meta.get("task") in (None, "trajectory"))


def output_labels(trace) -> list[str]:
    """Names of the output classes: class names or an output vocabulary for a classifier, else
    the vocabulary, an output vocabulary, class names, or numbers."""
    O = trace.outputs.shape[-1]
    meta = trace.meta or {}
    keys = ("classes", "out_vocab", "vocab") if is_classifier(trace) else ("vocab", "out_vocab", "classes")
    for key in keys:
        names = meta.get(key)
        if names is not None and len(names) == O:
            return [token_label(n) for n in names]
    return [str(i) for i in range(O)]


def target_at(trace, t: int, b: int):
    """The target of step t for sample b (class index, float, or None where there is none)."""
    y = np.asarray(trace.targets)
    T = trace.seq_len
    loss = (trace.meta or {}).get("loss")
    if loss == "ce":
        if y.ndim == 1:
            v = int(y[b]) if t == T - 1 else -100
        else:
            v = int(y[t, b])
        return None if v < 0 else v
    if y.ndim == 2:  # (B, O): last step only
        return float(y[b, 0]) if t == T - 1 else None
    v = float(y[t, b, 0])
    return None if not np.isfinite(v) else v


class PredictionsView(TraceView):
    """Classification tasks (loss "ce"): top-k probabilities at step t, target bar marked.
    Regression (mse) / tagging (bce): output and target over time for sample b.

    Also a read-only sampled-text box: :meth:`set_sampled_text`.

    Attributes: ``mode`` ("classes" | "series" | None), ``probs`` (T, B, O) softmax,
    ``top_indices`` / ``top_probs`` (shown bars), ``target_index``, ``bars``, ``target_bar``,
    ``output_curve``, ``target_curve``, ``text_box``.
    """

    title = get_panel("predictions").title

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pw = pg.PlotWidget()
        self.pw.setBackground(theme.background())
        self.plot = self.pw.getPlotItem()
        self.plots_row = QWidget()
        row = QHBoxLayout(self.plots_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.pw, 1)
        self._build_xy(row)
        self._layout.addWidget(self.plots_row, 3)
        # two wrapped lines of a fixed height: one long line made the window wider than a 1280 px
        # screen, and a word-wrapping QLabel laid the window out again on every timeline step
        self.info = TextLine(" ", lines=2)
        self._layout.addWidget(self.info)
        self.text_box = QPlainTextEdit()
        self.text_box.setReadOnly(True)
        self.text_box.setPlaceholderText("Sampled text appears here (language-model tasks).")
        self.text_box.setMaximumHeight(110)
        self._language_model = False
        self._layout.addWidget(self.text_box, 1)
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.7)
        self.target_bar = pg.BarGraphItem(x=[0], height=[0], width=0.7)
        self.plot.addItem(self.bars)
        self.plot.addItem(self.target_bar)
        self.output_curve = cached(self.plot.plot([], [], name="output ŷ_t"))
        self.target_curve = cached(self.plot.plot([], [], name="target y_t"))
        # in a strip under the plots: inside, it covered the curves (the ball lesson)
        self.legend = CurveLegend()
        self._layout.insertWidget(self._layout.indexOf(self.plots_row) + 1, self.legend)
        self.legend.add_curve(self.output_curve, "output ŷ_t")
        self.legend.add_curve(self.target_curve, "target y_t")
        self.cursor = make_cursor(self.plot)
        self.dim = DimBand(self.plot)
        self.dim.set_y(-1e6, 2e6)
        self.compare_curve = cached(self.plot.plot([], []))
        for c in (self.output_curve, self.target_curve, self.compare_curve):
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
        self.mode = None
        self._extrap_trace = None
        self.probs = None
        self.labels: list[str] = []
        self.top_indices = np.zeros(0, int)
        self.top_probs = np.zeros(0)
        self.target_index = None
        self.extrapolation = None  # (true (n, B, 2), predicted (n, B, 2), first target step)
        self._restyle()
        self.pw.scene().sigMouseClicked.connect(self._on_mouse_clicked)

    def _build_xy(self, row: QHBoxLayout) -> None:
        """The y-vs-x picture of a trajectory: target path, one-step predictions, extrapolation."""
        self.xy_pw = pg.PlotWidget()
        self.xy_pw.setBackground(theme.background())
        self.xy_plot = self.xy_pw.getPlotItem()
        self.xy_plot.setAspectLocked(True)
        self.xy_legend = add_legend(self.xy_plot, (-6, -6))  # bottom right: the path starts up high
        self.xy_target_curve = self.xy_plot.plot([], [], name="target path")
        self.xy_output_curve = self.xy_plot.plot([], [], name="one-step predictions")
        self.xy_extrap_curve = self.xy_plot.plot([], [], name="extrapolated (own predictions)")
        self.xy_extrap_true = self.xy_plot.plot([], [])
        self.xy_now = pg.ScatterPlotItem(size=14, symbol="o")
        self.xy_now.setZValue(20)
        self.xy_plot.addItem(self.xy_now)
        self.extrap_curve = cached(self.plot.plot([], []))  # x coordinate vs time in the series plot
        row.addWidget(self.xy_pw, 1)
        self.xy_pw.hide()

    def set_extrapolation(self, xy_true, xy_pred, start: int | None = None) -> None:
        """Show a free-running extrapolation of a trajectory: the model fed its own predictions.

        ``xy_pred`` (n, 2) or (n, B, 2): the predicted positions; ``xy_true`` the same shape: the
        true positions at those steps; ``start``: the time step (0-based, as the trace's targets)
        of the first one (default: the last n steps). ``None`` for both removes it. The y-vs-x
        plot draws it beside the target path and the one-step predictions; the series plot draws
        its first coordinate over time. ``extrap_curve`` / ``xy_extrap_curve`` hold the data."""
        if xy_pred is None:
            self.extrapolation = None
        else:
            pred = np.asarray(xy_pred, dtype=float)
            true = np.asarray(xy_true, dtype=float)
            if pred.ndim == 2:
                pred, true = pred[:, None, :], true[:, None, :]
            if pred.ndim != 3 or pred.shape[-1] < 2 or true.shape != pred.shape:
                raise ValueError(f"set_extrapolation wants (n, 2) or (n, B, 2) arrays of equal shape, got "
                                 f"{true.shape} and {pred.shape}")
            n = pred.shape[0]
            T = self.trace.seq_len if self.trace is not None else n
            self.extrapolation = (true, pred, int(T - n if start is None else start))
        self._extrap_trace = self.trace
        self._extrap_setup()

    def _extrap_setup(self) -> None:
        ex = self.extrapolation
        if ex is None or self.mode != "series":
            for c in (self.xy_extrap_curve, self.xy_extrap_true, self.extrap_curve):
                c.setData([], [])
            self.legend.remove_curve(self.extrap_curve)
            return
        true, pred, start = ex
        b = min(self.current_b, pred.shape[1] - 1)
        steps = np.arange(start, start + pred.shape[0], dtype=float)
        self.extrap_curve.setData(steps, pred[:, b, 0])
        self.xy_extrap_curve.setData(pred[:, b, 0], pred[:, b, 1], symbol="t1", symbolSize=9)
        self.xy_extrap_true.setData(true[:, b, 0], true[:, b, 1], pen=None, symbol="o", symbolSize=7)
        self.legend.remove_curve(self.extrap_curve)
        self.legend.add_curve(self.extrap_curve, f"extrapolated from step {start + 1}")

    def _xy_setup(self) -> None:
        tr, b = self.trace, self.current_b
        on = self.mode == "series" and is_trajectory(tr)
        self.xy_pw.setVisible(on)
        if not on:
            self.xy_target_curve.setData([], [])
            self.xy_output_curve.setData([], [])
            self.xy_now.setData([], [])
            return
        out = np.asarray(tr.outputs[:, b, :2], dtype=float)
        tgt = np.asarray(tr.targets[:, b, :2], dtype=float)
        self.xy_target_curve.setData(tgt[:, 0], tgt[:, 1], symbol="o", symbolSize=4)
        self.xy_output_curve.setData(out[:, 0], out[:, 1])
        style_plot(self.xy_plot, left="y position", bottom="x position",
                   title=f"where the ball goes · sample {sample_name(tr, b)}")
        self.xy_plot.enableAutoRange()

    def _restyle(self) -> None:
        self.xy_target_curve.setPen(theme.pen("target", 2, Qt.PenStyle.DashLine))
        self.xy_target_curve.setSymbolBrush(theme.color("target"))
        self.xy_target_curve.setSymbolPen(None)
        self.xy_output_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.xy_extrap_curve.setPen(theme.pen(theme.series_color(1), 2.5))
        self.xy_extrap_curve.setSymbolBrush(theme.series_color(1))
        self.xy_extrap_true.setSymbolBrush(None)
        self.xy_extrap_true.setSymbolPen(theme.pen("target", 1.5))
        self.xy_now.setPen(theme.pen("cursor", 2.5))
        self.xy_now.setBrush(pg.mkBrush(None))
        self.extrap_curve.setPen(theme.pen(theme.series_color(1), 2.5))
        self.bars.setOpts(brush=theme.color("bar"), pen=None)
        self.target_bar.setOpts(brush=theme.color("target"), pen=theme.pen("text", 1))
        self.output_curve.setPen(theme.pen(theme.series_color(0), 2))
        self.target_curve.setPen(theme.pen("target", 2, Qt.PenStyle.DashLine))
        self.target_curve.setSymbolBrush(theme.color("target"))
        self.compare_curve.setPen(theme.pen(theme.series_color(1), 1.5, Qt.PenStyle.DashDotLine))
        self.info.setFont(theme.font(10))
        self.legend.restyle()  # its entries take the curves' new pens
        self.text_box.setFont(theme.font(11))

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self._restyle()
        self._update()

    def set_sampled_text(self, text: str) -> None:
        """Show text sampled from the model (read-only); empty text hides the box outside LM tasks."""
        self.text_box.setPlainText(str(text))
        self.text_box.setVisible(bool(text) or self._language_model)

    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        self.probs = None
        if trace is None:
            self.mode = None
            self.pw.hide()
            self.show_message("No run yet.")
            return
        self.pw.show()
        self.show_message("")
        self.current_time, self.phase, self.current_k, self.current_b = self._clamp_cursor(
            self.current_time, self.phase, self.current_k, self.current_b)
        loss = (trace.meta or {}).get("loss")
        self._language_model = (trace.meta or {}).get("task") in ("char_lm", "word_lm")
        self.text_box.setVisible(self._language_model or bool(self.text_box.toPlainText()))
        if loss == "ce":
            self.mode = "classes"
            self.probs = softmax(trace.outputs).astype(np.float32)
            self.labels = output_labels(trace)
            self.output_curve.setData([], [])
            self.target_curve.setData([], [])
            self.compare_curve.setData([], [])
            self.legend.set_shown(False)
            self.cursor.hide()
            self.dim.update(None, None, 0, 1)
            if is_classifier(trace):
                style_plot(self.plot, left="P(class)", bottom="class")
            else:
                style_plot(self.plot, left="P(next)", bottom=f"token (top {TOP_K})")
            # its ticks (the top-k tokens) change on every step: a pixmap would be drawn anew each time
            self.plot.getAxis("bottom").setCacheMode(QGraphicsItem.CacheMode.NoCache)
            self.plot.setYRange(0, 1.05, padding=0)
        else:
            self.mode = "series"
            self.bars.setOpts(x=[], height=[])
            self.target_bar.setOpts(x=[], height=[])
            self.legend.set_shown(True)
            self.cursor.show()
            self.plot.getAxis("bottom").setTicks(None)
            sig = " (sigmoid of the logit)" if loss == "bce" else ""
            left = "x position (first output)" if is_trajectory(trace) else f"value{sig}"
            style_plot(self.plot, left=left, bottom="time step")
            self._series_setup()
        self.extrapolation = None if trace is not self._extrap_trace else self.extrapolation
        self._xy_setup()
        self._extrap_setup()
        self._update()

    def _series(self, trace, b: int):
        out = np.asarray(trace.outputs[:, b, 0], dtype=float)
        if (trace.meta or {}).get("loss") == "bce":
            out = 1.0 / (1.0 + np.exp(-out))
        return out

    def _series_setup(self) -> None:
        tr, b = self.trace, self.current_b
        # a title from the previous run (a class / next-token plot) must not stay on this one
        style_plot(self.plot, title=f"output ŷ_t and target · sample {sample_name(tr, b)}")
        T = tr.seq_len
        x = np.arange(T, dtype=float)
        aa = T <= 300  # antialiased long curves cost ~5 ms a repaint while scrubbing
        for c in (self.output_curve, self.target_curve, self.compare_curve):
            c.opts["antialias"] = aa
        self.output_curve.setData(x, self._series(tr, b), connect="finite")
        tgt = np.array([np.nan if (v := target_at(tr, t, b)) is None else v for t in range(T)])
        if np.isfinite(tgt).sum() == 1:  # a target at one step (many-to-one): a marker there
            # the one point alone: T points of NaN around it left pyqtgraph's downsampled
            # symbols all NaN ("All-NaN slice" warnings) while the view showed no target
            at = np.isfinite(tgt)
            self.target_curve.setData(x[at], tgt[at], symbol="o", symbolSize=10, connect="finite")
        else:
            self.target_curve.setData(x, tgt, symbol=None, connect="finite")
        cmp = self.compare_trace
        if cmp is not None and cmp.outputs.shape[1] > b:
            self.compare_curve.setData(np.arange(cmp.seq_len, dtype=float), self._series(cmp, b), connect="finite")
            self.legend.remove_curve(self.compare_curve)
            self.legend.add_curve(self.compare_curve, f"{self.compare_label or 'compare'}: ŷ_t")
        else:
            self.compare_curve.setData([], [])
            self.legend.remove_curve(self.compare_curve)
        self._shown_b = b
        self.plot.setXRange(-0.5, T - 0.5, padding=0.01)
        self.plot.enableAutoRange(axis="y")

    def set_compare(self, trace, label: str = "") -> None:
        super().set_compare(trace, label)
        if self.mode == "series":
            self._series_setup()
        self._update()

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        old_b = self.current_b
        super().set_cursor(t, phase, k, b)
        if self.mode == "series" and self.current_b != old_b:
            self._series_setup()
            self._xy_setup()
            self._extrap_setup()
        self._update()

    def _update(self) -> None:
        tr = self.trace
        if tr is None or self.mode is None:
            return
        t, b = self.current_time, self.current_b
        if self.mode == "classes":
            p = self.probs[t, b]
            finite = np.isfinite(p)
            if not finite.all():
                self.bars.setOpts(x=[], height=[])
                self.target_bar.setOpts(x=[], height=[])
                self.info.setText(f"step {t + 1}: the output is NaN/Inf — no probabilities")
                return
            kk = min(TOP_K, p.shape[0])
            top = np.argsort(-p)[:kk]
            tgt = target_at(tr, t, b)
            if tgt is not None and 0 <= tgt < p.shape[0] and tgt not in top:
                top = np.concatenate([top[: kk - 1], [tgt]])
            self.top_indices, self.top_probs = top, p[top]
            self.target_index = tgt
            x = np.arange(len(top))
            is_t = top == tgt if tgt is not None else np.zeros(len(top), bool)
            self.bars.setOpts(x=x[~is_t], height=self.top_probs[~is_t], width=0.7)
            self.target_bar.setOpts(x=x[is_t], height=self.top_probs[is_t], width=0.7)
            ax = self.plot.getAxis("bottom")
            ax.setTicks([[(i, self.labels[j]) for i, j in enumerate(top)], []])
            self.plot.setXRange(-0.6, len(top) - 0.4, padding=0)
            tokens = (tr.meta or {}).get("tokens")
            seen = ""
            if tokens is not None and len(tokens) == tr.seq_len and b == 0:
                seen = f" after '{token_label(tokens[t])}'"
            if is_classifier(tr):
                what = "P(class) after the whole sequence" if t == tr.seq_len - 1 else "P(class) so far"
            else:
                what = "P(next)"
            set_title(self.plot, f"step {t + 1}{seen}: {what} for sample {sample_name(tr, b)}")
            if tgt is None:
                self.info.setText(f"step {t + 1}: no target at this step (green bar = target where there is one)")
            else:
                self.info.setText(f"target '{self.labels[tgt]}' (green) has p = {p[tgt]:.3f}; "
                                  f"top guess '{self.labels[top[0]]}' p = {p[top[0]]:.3f}")
        else:
            T = tr.seq_len
            self.cursor.setPos(t)
            if self.phase == "forward":
                self.dim.update(None, t + 0.5 if t < T - 1 else None, -0.5, T - 0.5)
            else:
                self.dim.update(None, None, -0.5, T - 0.5)
            if not self.xy_pw.isHidden():  # (isVisible is False while the tab is not in front)
                self.xy_now.setData([float(tr.targets[t, b, 0])], [float(tr.targets[t, b, 1])])
            out = float(self._series(tr, b)[t])
            tgt = target_at(tr, t, b)
            self.info.setText(f"step {t + 1}: output {out:.4g}" + ("" if tgt is None else f", target {tgt:.4g}"))

    def _on_mouse_clicked(self, event) -> None:
        if self.mode != "series" or event.button() != Qt.MouseButton.LeftButton:
            return
        if self.plot.vb.sceneBoundingRect().contains(event.scenePos()):
            t = int(round(self.plot.vb.mapSceneToView(event.scenePos()).x()))
            if 0 <= t < self.trace.seq_len:
                self.time_clicked.emit(t)
