"""Opening the black box: the phase portrait, fixed points and why the gradient vanishes.

Left: the batch's hidden-state trajectories projected on two of their first principal
components (choose which; LSTM: h, c or both), coloured by time, with a marker on every
trajectory at the cursor; hover shows step and sample. Fixed points found for zero input are
drawn in the same projection (● stable, ○ saddle / unstable, a bar along the first unstable
direction); click one to see its eigenvalues against the unit circle (right). Bottom: the
singular values of ∂h_t/∂h_{t−1} along the selected sample's trajectory as a band, the largest
singular value of the product ∂h_T/∂h_t and ‖∂L/∂h_t‖ on the same log axis.

The trajectories come from the Trace; fixed points and Jacobians need the model, so they are
computed off the GUI thread when asked (the button, or :meth:`DynamicsView.analyse`), from the
window's session model, and arrive through :meth:`set_dynamics`. Every item is created once and
fed with ``setData``: scrubbing only moves the markers and the cursor line.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QPushButton, QWidget

from rnnviz.dynamics.fixed_points import FixedPoints
from rnnviz.dynamics.jacobians import Jacobians
from rnnviz.dynamics.portrait import Portrait, portrait
from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView, make_cursor, style_plot

N_PCS = 6
KIND_BRUSH = {"stable": (30, 30, 30), "saddle": (214, 39, 40), "unstable": (255, 127, 14)}


@dataclass
class DynamicsResult:
    """What the analysis worker hands the view: fixed points and Jacobians of one trace."""

    fixed: FixedPoints
    jac: Jacobians
    trace_id: int
    seconds: float


def analyse_trace(model, trace, sample: int = 0, n_starts: int = 256) -> DynamicsResult:
    """Fixed points (zero input, starts from the trace's states) and the Jacobians of ``sample``."""
    from rnnviz.dynamics import fixed_points, jacobians
    from rnnviz.dynamics.portrait import trace_states

    t0 = time.perf_counter()
    states = trace_states(trace, 0, "h,c")
    fps = fixed_points(model, states=states.reshape(-1, states.shape[-1]), n_starts=n_starts)
    jac = jacobians(trace, model=model, samples=[sample])
    return DynamicsResult(fps, jac, id(trace), time.perf_counter() - t0)


class DynamicsView(TraceView):
    """See the module docstring. Public: ``portrait`` (the Qt-free numbers), ``result``,
    ``pcs`` (the two components shown), ``part``, ``selected`` (fixed point), the plot items."""

    title = "Dynamics"
    result_ready = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.portrait: Portrait | None = None
        self.result: DynamicsResult | None = None
        self.pcs = (0, 1)
        self.part = "h"
        self.selected = 0
        self._busy = False
        self._fp_xy = np.zeros((0, 2))
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 0, 4, 0)
        self.pc_x, self.pc_y = QComboBox(), QComboBox()
        for box, idx in ((self.pc_x, 0), (self.pc_y, 1)):
            box.addItems([f"PC{i + 1}" for i in range(N_PCS)])
            box.setCurrentIndex(idx)
            box.currentIndexChanged.connect(self._on_pcs)
        self.part_box = QComboBox()
        self.part_box.addItems(["h", "c", "h and c"])
        self.part_box.currentIndexChanged.connect(self._on_part)
        self.part_label = QLabel("state:")
        self.find_button = QPushButton("Find fixed points")
        self.find_button.setToolTip("Minimise ½‖F(h, 0) − h‖² from many states of this run (off the GUI thread), "
                                    "classify each point by its eigenvalues, and compute ∂h_t/∂h_{t−1}")
        self.find_button.clicked.connect(lambda: self.analyse())
        self.status = QLabel("")
        for w in (QLabel("x:"), self.pc_x, QLabel("y:"), self.pc_y, self.part_label, self.part_box,
                  self.find_button, self.status):
            row.addWidget(w)
        row.addStretch(1)
        self._layout.addWidget(bar)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.pplot = self.glw.addPlot(row=0, col=0)
        self.eig = self.glw.addPlot(row=0, col=1)
        self.band = self.glw.addPlot(row=1, col=0, colspan=2)
        self.glw.ci.layout.setColumnStretchFactor(0, 5)
        self.glw.ci.layout.setColumnStretchFactor(1, 2)
        self.glw.ci.layout.setRowStretchFactor(0, 3)
        self.glw.ci.layout.setRowStretchFactor(1, 2)
        self.pplot.setAspectLocked(True)
        self.eig.setAspectLocked(True)
        self.pplot.showGrid(x=True, y=True, alpha=0.15)
        self.eig.showGrid(x=True, y=True, alpha=0.15)
        self.band.setLogMode(y=True)
        self.band.showGrid(x=False, y=True, alpha=0.2)

        # phase portrait items, created once
        self.paths = pg.ImageItem()  # the trajectories, painted once per portrait (see _raster)
        self.markers = pg.ScatterPlotItem(size=8, pen=pg.mkPen("w", width=1), brush=theme.color("cursor"))
        self.markers.setZValue(20)  # under the fixed points: 32 markers must not hide a memory
        self.fp_dirs = pg.PlotCurveItem(pen=pg.mkPen(KIND_BRUSH["saddle"], width=2.5), connect="pairs")
        self.fp_items = pg.ScatterPlotItem(size=14, hoverable=True)
        self.fp_items.setZValue(25)
        self.fp_items.sigClicked.connect(self._on_fp_clicked)
        self.fp_ring = pg.ScatterPlotItem(size=24, pen=pg.mkPen(theme.color("select"), width=3), brush=None)
        self.hover = pg.TextItem("", anchor=(0, 1), color=theme.foreground(), fill=pg.mkBrush(255, 255, 255, 220))
        self.hover.setZValue(40)
        for item in (self.paths, self.fp_dirs, self.fp_items, self.fp_ring):
            self.pplot.addItem(item)
        self.pplot.addItem(self.markers, ignoreBounds=True)  # moving markers never rescale the view
        self.pplot.addItem(self.hover, ignoreBounds=True)
        # eigenvalues
        th = np.linspace(0, 2 * np.pi, 181)
        self.circle = pg.PlotCurveItem(np.cos(th), np.sin(th), pen=theme.pen("unit_circle", 1.5, Qt.PenStyle.DashLine))
        self.eig_points = pg.ScatterPlotItem(size=8, pen=None)
        self.eig.addItem(self.circle)
        self.eig.addItem(self.eig_points)
        # the band
        self.sv_hi = pg.PlotDataItem(pen=pg.mkPen(120, 140, 200, width=1))
        self.sv_lo = pg.PlotDataItem(pen=pg.mkPen(120, 140, 200, width=1))
        self.sv_fill = pg.FillBetweenItem(self.sv_hi, self.sv_lo, brush=pg.mkBrush(120, 140, 200, 70))
        self.prod = pg.PlotDataItem(pen=pg.mkPen(theme.series_color(0), width=2.2))
        self.grad = pg.PlotDataItem(pen=pg.mkPen(theme.series_color(1), width=2.2))
        for item in (self.sv_hi, self.sv_lo, self.sv_fill, self.prod, self.grad):
            self.band.addItem(item)
        self.cursor_line = make_cursor(self.band)
        # curves stay put while the cursor moves: Qt keeps each as a pixmap instead of stroking
        # 1000-point antialiased paths again under every cursor step
        for item in (self.sv_hi.curve, self.sv_lo.curve, self.prod.curve, self.grad.curve, self.sv_fill,
                     self.circle, self.fp_dirs, self.paths):
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        # an axis with a grid spans its whole plot, so every marker move repainted it: replaying
        # its QPicture (ticks, labels, grid lines) cost ~8 ms per axis per step; cached, it is a blit
        for plot in (self.pplot, self.eig, self.band):
            for side in ("left", "bottom", "top", "right"):
                plot.getAxis(side).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._restyle()
        self.pplot.scene().sigMouseMoved.connect(self._on_mouse_moved)
        # a much larger or smaller plot than the raster was made for: paint it again, once the
        # user stops resizing
        self._raster_args = None
        self._raster_timer = QTimer(self)
        self._raster_timer.setSingleShot(True)
        self._raster_timer.setInterval(200)
        self._raster_timer.timeout.connect(self._reraster)
        self.pplot.getViewBox().sigResized.connect(lambda *_: self._raster_timer.start())
        self.result_ready.connect(self.set_dynamics)

    # -- look -------------------------------------------------------------------------------
    def _restyle(self) -> None:
        a, b = self.pcs
        style_plot(self.pplot, f"PC{b + 1}", f"PC{a + 1}", "Phase portrait")
        style_plot(self.eig, "Im λ", "Re λ", "Eigenvalues vs unit circle")
        style_plot(self.band, "", "time step t")
        # the key is the title, in the curves' colours: a legend box would sit on the curves
        c0, c1 = theme.series_color(0).name(), theme.series_color(1).name()
        self.band.setTitle(f"Why the gradient vanishes: <span style='color:#7890c8'>band = singular values of "
                           f"∂h<sub>t</sub>/∂h<sub>t−1</sub></span> · <span style='color:{c0}'>σ<sub>max</sub> "
                           f"∂h<sub>T</sub>/∂h<sub>t</sub></span> · "
                           f"<span style='color:{c1}'>‖∂L/∂h<sub>t</sub>‖</span>",
                           color=theme.foreground().name(), size=f"{theme.font_px(10)}pt")
        self.status.setFont(theme.font(10))
        self.hover.setFont(theme.font(9))
        # below this the three plots are unreadable (presentation mode gives the graph 60%)
        self.glw.setMinimumHeight(int(330 * theme.scale()))

    def _theme_changed(self) -> None:
        super()._theme_changed()
        self.glw.setBackground(theme.background())
        self._restyle()

    # -- the contract ---------------------------------------------------------------------
    def set_trace(self, trace) -> None:
        super().set_trace(trace)
        if self.result is not None and (trace is None or self.result.trace_id != id(trace)):
            self.result = None
        has_c = trace is not None and trace.cell is not None
        self.part_box.setVisible(has_c)
        self.part_label.setVisible(has_c)
        if not has_c:
            self.part = "h"
        self._rebuild()

    def set_cursor(self, t: int, phase: str = "full", k: int = 0, b: int = 0) -> None:
        super().set_cursor(t, phase, k, b)
        self._move()

    # -- drawing ----------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Everything that depends on the trace, the components or the part: once per change."""
        tr = self.trace
        if tr is None:
            self.portrait = None
            for item in (self.markers, self.fp_items, self.fp_dirs, self.fp_ring, self.eig_points, self.sv_hi,
                         self.sv_lo, self.prod, self.grad):
                item.setData([], [])
            self.paths.clear()
            self._raster_args = None
            self.status.setText("")
            return
        self.portrait = portrait(tr, 0, self.part, N_PCS)
        a, b = self.pcs
        C = self.portrait.coords  # (T, B, P)
        T, B, _ = C.shape
        xs, ys = C[..., a].ravel(), C[..., b].ravel()
        fx, fy = xs[np.isfinite(xs)], ys[np.isfinite(ys)]
        if fx.size and fy.size:
            xr, yr = _padded(fx.min(), fx.max()), _padded(fy.min(), fy.max())
            self._raster(C[..., a], C[..., b], xr, yr)
            # the range is set once per portrait: no auto-range work while the cursor moves
            self.pplot.enableAutoRange(False)
            self.pplot.setRange(xRange=xr, yRange=yr, padding=0.0)
        else:
            self.paths.clear()
        ex = self.portrait.projection.explained
        self.pplot.setLabel("bottom", f"PC{a + 1} ({ex[a]:.0%} of variance)")
        self.pplot.setLabel("left", f"PC{b + 1} ({ex[b]:.0%})")
        t = np.arange(1, tr.seq_len + 1)
        g = np.asarray(tr.grad_hidden_norm[0], dtype=np.float64)
        self.grad.setData(t, np.where(g > 0, g, np.nan))
        self._draw_dynamics()
        self._move()

    def _raster(self, X: np.ndarray, Y: np.ndarray, xr, yr, width: int | None = None) -> None:
        """Paint the (T, B) trajectories, coloured by time, into an image placed in data coordinates.

        Scrubbing repaints whatever lies under the moving markers; a 16 000-point path costs
        ~100 ms per repaint, an image ~1 ms. (Zooming far in shows its pixels.)"""
        (x0, x1), (y0, y1) = xr, yr
        # about the plot's own size (×1.5 for smooth lines): far larger and the thin lines
        # vanish when Qt shrinks the image, far smaller and they blur
        w = width or int(np.clip(1.5 * max(self.pplot.getViewBox().width(), 300), 450, 2400))
        self._raster_args = (X, Y, xr, yr, w)
        h = int(np.clip(w * (y1 - y0) / (x1 - x0), 150, 2 * w))
        img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
        img.fill(0)
        p = QPainter(img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        px = (X - x0) / (x1 - x0) * (w - 1)
        py = (Y - y0) / (y1 - y0) * (h - 1)  # row 0 = y0: the ImageItem puts it at the bottom
        T, B = X.shape
        lut = pg.colormap.get("viridis").getLookupTable(nPts=256, alpha=False)
        edges = np.linspace(0, T, min(T, 24) + 1).astype(int)
        pen = QPen()
        pen.setWidthF(1.8)
        for i in range(len(edges) - 1):
            c = lut[int(255 * i / max(1, len(edges) - 2))]
            pen.setColor(QColor(int(c[0]), int(c[1]), int(c[2]), 200))
            p.setPen(pen)
            lo, hi = edges[i], min(T, edges[i + 1] + 1)
            for s in range(B):
                seg = np.stack([px[lo:hi, s], py[lo:hi, s]], axis=1)
                seg = seg[np.isfinite(seg).all(axis=1)]
                if len(seg) > 1:
                    p.drawPolyline(QPolygonF([QPointF(float(u), float(v)) for u, v in seg]))
        p.end()
        ptr = img.constBits()
        arr = np.frombuffer(ptr, dtype=np.uint8).reshape(h, w, 4)[..., [2, 1, 0, 3]].copy()  # BGRA → RGBA
        self.paths.setImage(arr, autoLevels=False, levels=(0, 255))
        self.paths.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def _reraster(self) -> None:
        if self._raster_args is None:
            return
        X, Y, xr, yr, w = self._raster_args
        want = int(np.clip(1.5 * max(self.pplot.getViewBox().width(), 300), 450, 2400))
        if abs(want - w) > 0.3 * w:
            self._raster(X, Y, xr, yr)

    def _draw_dynamics(self) -> None:
        res = self.result
        if res is None or self.portrait is None:
            for item in (self.fp_items, self.fp_dirs, self.fp_ring, self.eig_points, self.sv_hi, self.sv_lo,
                         self.prod):
                item.setData([], [])
            self._fp_xy = np.zeros((0, 2))
            if self.trace is not None and not self._busy:
                self.status.setText("trajectories of this run; fixed points and Jacobians: press the button")
            return
        a, b = self.pcs
        pts, dirs = self.portrait.place(res.fixed)
        self._fp_xy = pts[:, [a, b]] if len(pts) else np.zeros((0, 2))
        spots = []
        for i, kind in enumerate(res.fixed.kinds):
            col = KIND_BRUSH[kind]
            filled = kind == "stable"
            spots.append({"pos": (pts[i, a], pts[i, b]), "data": i, "symbol": "o",
                          "brush": pg.mkBrush(*col) if filled else pg.mkBrush(255, 255, 255),
                          "pen": pg.mkPen(255, 255, 255, width=1.5) if filled else pg.mkPen(*col, width=2.5)})
        self.fp_items.setData(spots)
        span = 0.08 * max(np.ptp(self.portrait.coords[..., a]), np.ptp(self.portrait.coords[..., b]), 1e-6)
        seg = []
        for i in range(len(pts)):
            if np.isfinite(dirs[i]).all():
                d = dirs[i, [a, b]]
                n = np.hypot(*d)
                if n > 1e-9:
                    d = d / n * span
                    seg += [(pts[i, a] - d[0], pts[i, b] - d[1]), (pts[i, a] + d[0], pts[i, b] + d[1])]
        seg = np.asarray(seg).reshape(-1, 2)
        self.fp_dirs.setData(seg[:, 0], seg[:, 1], connect="pairs")
        self.select_point(min(self.selected, len(pts) - 1) if len(pts) else -1)
        sv = res.jac.singular_values[0, :, 0]  # (T, S) of the analysed sample
        t = np.arange(1, len(sv) + 1)
        self.sv_hi.setData(t, sv[:, 0])
        self.sv_lo.setData(t, np.maximum(sv[:, -1], 1e-30))
        self.prod.setData(t, 10.0 ** np.clip(res.jac.product_log10[0, :, 0], -300, 300))
        self.status.setText(res.fixed.summary())

    def select_point(self, i: int) -> None:
        """Ring fixed point ``i`` and show its eigenvalues against the unit circle."""
        self.selected = max(i, 0)
        res = self.result
        if res is None or i < 0 or i >= len(res.fixed):
            self.fp_ring.setData([], [])
            self.eig_points.setData([], [])
            return
        self.fp_ring.setData([self._fp_xy[i, 0]], [self._fp_xy[i, 1]])
        lam = res.fixed.eigvals[i]
        out = np.abs(lam) > 1
        brushes = [pg.mkBrush(*KIND_BRUSH["saddle"]) if o else pg.mkBrush(*KIND_BRUSH["stable"]) for o in out]
        self.eig_points.setData(lam.real, lam.imag, brush=brushes)
        r = max(1.2, 1.1 * float(np.abs(lam).max()))
        self.eig.setRange(xRange=(-r, r), yRange=(-r, r), padding=0.02)
        kind = res.fixed.kinds[i]
        extra = f", {int(res.fixed.n_unstable[i])} unstable mode(s)" if kind != "stable" else ""
        self.eig.setTitle(f"Eigenvalues of point {i}: {kind}{extra}, q = {res.fixed.q[i]:.1e}",
                          color=theme.foreground().name(), size=f"{theme.font_px(10)}pt")

    def _move(self) -> None:
        """The per-scrub work: the markers on every trajectory and the band's cursor line."""
        if self.portrait is None:
            return
        C = self.portrait.coords
        t = min(max(self.current_time, 0), C.shape[0] - 1)
        a, b = self.pcs
        self.markers.setData(C[t, :, a], C[t, :, b])
        self.cursor_line.setValue(t + 1)

    # -- user input -------------------------------------------------------------------------
    def _on_pcs(self) -> None:
        self.pcs = (self.pc_x.currentIndex(), self.pc_y.currentIndex())
        self._restyle()
        self._rebuild()

    def _on_part(self, index: int) -> None:
        self.part = ("h", "c", "h,c")[index]
        self._rebuild()

    def _on_fp_clicked(self, item, points, *args) -> None:
        if len(points):
            self.select_point(int(points[0].data()))

    def _on_mouse_moved(self, pos) -> None:
        if self.portrait is None or not self.pplot.sceneBoundingRect().contains(pos):
            self.hover.setText("")
            return
        vb = self.pplot.getViewBox()
        p = vb.mapSceneToView(pos)
        px = vb.viewPixelSize()
        t, s, dist = self.portrait.nearest(p.x(), p.y(), self.pcs, (px[0], px[1]))
        if dist > 12:
            self.hover.setText("")
            return
        self.hover.setText(f"step {t + 1}, sample {s}")
        self.hover.setPos(p.x(), p.y())

    # -- the analysis (off the GUI thread) --------------------------------------------------
    def session_model(self):
        """The model that made the shown trace: the window's session model, if it matches."""
        from rnnviz.qt.main_window import MainWindow

        win = self.window()
        model = win.state.model if isinstance(win, MainWindow) else None
        tr = self.trace
        if model is None or tr is None or model.cfg.cell != tr.cell_type or model.cfg.hidden_size != tr.hidden_size:
            return None
        return model

    def analyse(self, model=None, wait: bool = False) -> None:
        """Find fixed points and Jacobians for the shown trace in a background thread
        (``wait``: block until done — for scripts and screenshots)."""
        model = model if model is not None else self.session_model()
        tr = self.trace
        if tr is None or model is None:
            self.status.setText("no model for this run: record or train first")
            return
        if self._busy:
            return
        self._busy = True
        self.find_button.setEnabled(False)
        self.status.setText("finding fixed points…")
        sample = self.current_b

        def work():
            try:
                res = analyse_trace(model, tr, sample)
            except Exception as exc:  # shown in the panel: a failed analysis must not kill the app
                res = exc
            self.result_ready.emit(res)

        thread = threading.Thread(target=work, name="rnnviz-dynamics", daemon=True)
        thread.start()
        if wait:
            thread.join()
            from PySide6.QtWidgets import QApplication

            QApplication.processEvents()

    def set_dynamics(self, res) -> None:
        """Install an analysis result (or show why it failed)."""
        self._busy = False
        self.find_button.setEnabled(True)
        if isinstance(res, Exception):
            self.status.setText(f"analysis failed: {res}")
            return
        if self.trace is None or res.trace_id != id(self.trace):
            return  # the run changed while the worker ran: that result is stale
        self.result = res
        self._draw_dynamics()


def _padded(lo: float, hi: float, pad: float = 0.06) -> tuple[float, float]:
    span = (hi - lo) or max(abs(lo), 1.0)
    return lo - pad * span, hi + pad * span
