"""Opening the black box: the phase portrait, fixed points and why the gradient vanishes.

Left: the batch's hidden-state trajectories projected on two of their first principal
components (choose which; LSTM: h, c or both) — or, with "3-D", on three of them turned onto the
screen (drag to rotate) — coloured by time, with a marker on every trajectory at the cursor;
hover shows step and sample. Fixed points found for a constant input (zero, or the input at the
cursor) are drawn in the same projection (● stable, ○ saddle / unstable, a bar along the first unstable
direction); click one to see its eigenvalues against the unit circle (right). Bottom: the
singular values of ∂h_t/∂h_{t−1} along the selected sample's trajectory as a band, the largest
singular value of the product ∂h_T/∂h_t and ‖∂L/∂h_t‖ on the same log axis.

The trajectories come from the Trace; fixed points and Jacobians need the model, so they are
computed off the GUI thread when asked (the button, or :meth:`DynamicsView.analyse`), from the
window's session model, and arrive through :meth:`set_dynamics`; they are kept with the Trace
(``trace.meta["dynamics"]``) so exported pictures show them. Every item is created once and fed
with ``setData``: scrubbing only moves the markers and the cursor line.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGraphicsItem, QHBoxLayout, QLabel, QPushButton, QWidget

from rnnviz.dynamics.panel import DynamicsResult, analyse_trace, store_fixed_points
from rnnviz.dynamics.portrait import Portrait, on_screen, portrait, rotation
from rnnviz.qt import theme
from rnnviz.qt.views.base import TraceView, make_cursor, style_plot
from rnnviz.qt.views.dynamics_paint import Markers, RotateViewBox, free_title_width, paint_paths, triad
from rnnviz.qt.views.dynamics_worker import START_VIEW, AnalysisMixin

N_PCS = 6
KIND_BRUSH = {"stable": (30, 30, 30), "saddle": (214, 39, 40), "unstable": (255, 127, 14)}


__all__ = ["DynamicsResult", "DynamicsView", "analyse_trace"]

INPUT_CHOICES = ("zero", "cursor")  # the input box's entries: zero input, the input at the cursor


class DynamicsView(AnalysisMixin, TraceView):
    """See the module docstring. Public: ``portrait`` (the Qt-free numbers), ``result``,
    ``pcs`` (the x, y and — in 3-D — z components), ``part``, ``three_d``, ``azimuth`` and
    ``elevation`` (radians), ``input_choice`` ("zero" or "cursor"), ``selected`` (fixed point),
    the plot items."""

    title = "Dynamics"
    scrollable = True
    result_ready = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.portrait: Portrait | None = None
        self.result: DynamicsResult | None = None
        self.pcs = (0, 1, 2)
        self.part = "h"
        self.three_d = False
        self.azimuth, self.elevation = START_VIEW
        self.input_choice = "zero"
        self.selected = 0
        self._busy = False
        self._dragged = False  # the image was painted coarse during a drag
        self._turn_when_found = False  # a lesson's 3-D view waits for the memories to pick its angle
        self._fp_xy = np.zeros((0, 2))
        self._xy = None  # (T, B, 2) trajectories on screen for the current components / rotation
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(4, 0, 4, 0)
        self.pc_x, self.pc_y, self.pc_z = QComboBox(), QComboBox(), QComboBox()
        for box, idx in ((self.pc_x, 0), (self.pc_y, 1), (self.pc_z, 2)):
            box.addItems([f"PC{i + 1}" for i in range(N_PCS)])
            box.setCurrentIndex(idx)
            box.currentIndexChanged.connect(self._on_pcs)
        self.z_label = QLabel("z:")
        self.check_3d = QCheckBox("3-D")
        self.check_3d.setToolTip("Three components turned onto the screen: drag the portrait to rotate it")
        self.check_3d.toggled.connect(self.set_three_d)
        self.part_box = QComboBox()
        self.part_box.addItems(["h", "c", "h and c"])
        self.part_box.currentIndexChanged.connect(self._on_part)
        self.part_label = QLabel("state:")
        self.input_box = QComboBox()
        self.input_box.addItems(["zero input", "input at cursor"])
        self.input_box.setToolTip("The constant input x held while searching for F(h, x) = h: zero, or the "
                                  "input x_t of the shown sample at the cursor's step")
        self.input_box.currentIndexChanged.connect(self._on_input)
        self.find_button = QPushButton("Find fixed points")
        self.find_button.setToolTip("Minimise ½‖F(h, x) − h‖² from many states of this run (off the GUI thread), "
                                    "classify each point by its eigenvalues, and compute ∂h_t/∂h_{t−1}")
        self.find_button.clicked.connect(lambda: self.analyse())
        self.status = QLabel("")
        self.status.setWordWrap(True)
        # two rows: one would make the panel wider than a 1280-pixel window gives it in presentation mode
        for w in (QLabel("x:"), self.pc_x, QLabel("y:"), self.pc_y, self.z_label, self.pc_z, self.check_3d,
                  self.part_label, self.part_box):
            row.addWidget(w)
        row.addStretch(1)
        bar2 = QWidget()
        row2 = QHBoxLayout(bar2)
        row2.setContentsMargins(4, 0, 4, 0)
        for w in (QLabel("fixed points for:"), self.input_box, self.find_button):
            row2.addWidget(w)
        row2.addWidget(self.status, 1)
        self.z_label.hide()
        self.pc_z.hide()
        self._layout.addWidget(bar)
        self._layout.addWidget(bar2)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(theme.background())
        self._layout.addWidget(self.glw, 1)
        self.rot_box = RotateViewBox()
        self.rot_box.rotated.connect(self.rotate_by)
        self.pplot = self.glw.addPlot(row=0, col=0, viewBox=self.rot_box)
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
        self.paths = pg.ImageItem()  # the trajectories, painted once per view (see _raster)
        self.markers = Markers(size=8, pen=pg.mkPen("w", width=1), brush=theme.color("cursor"))
        self.markers.setZValue(20)  # under the fixed points: 32 markers must not hide a memory
        self.fp_dirs = pg.PlotCurveItem(pen=pg.mkPen(KIND_BRUSH["saddle"], width=2.5), connect="pairs")
        self.fp_items = pg.ScatterPlotItem(size=12, hoverable=True)
        self.fp_items.setZValue(25)
        self.fp_items.sigClicked.connect(self._on_fp_clicked)
        self.fp_ring = pg.ScatterPlotItem(size=21, pen=pg.mkPen(theme.color("select"), width=3), brush=None)
        self.hover = pg.TextItem("", anchor=(0, 1), color=theme.foreground(), fill=pg.mkBrush(255, 255, 255, 220))
        self.hover.setZValue(40)
        self.hover.hide()  # an empty TextItem still paints its white fill: a box in the portrait
        # 3-D: the three components' axes from the centre, so a rotated view can be read
        self.triad = pg.PlotCurveItem(pen=theme.pen(theme.foreground(), 1.5), connect="pairs")
        self.triad_labels = [pg.TextItem(anchor=(0.5, 0.5), color=theme.foreground()) for _ in range(3)]
        for item in (self.paths, self.fp_dirs, self.fp_items, self.fp_ring, self.triad, *self.triad_labels):
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
            free_title_width(plot)
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
        style_plot(self.pplot, "", "", "Phase portrait")
        self._axis_labels()
        style_plot(self.eig, "Im λ", "Re λ", "Eigenvalues λ vs unit circle")
        style_plot(self.band, "", "time step t")
        # the key is the title, in the curves' colours: a legend box would sit on the curves
        c0, c1 = theme.series_color(0).name(), theme.series_color(1).name()
        self.band.setTitle(f"Why the gradient vanishes: <span style='color:#7890c8'>σ("
                           f"∂h<sub>t</sub>/∂h<sub>t−1</sub>)</span> · <span style='color:{c0}'>σ<sub>max</sub> "
                           f"∂h<sub>T</sub>/∂h<sub>t</sub></span> · "
                           f"<span style='color:{c1}'>‖∂L/∂h<sub>t</sub>‖</span>",
                           color=theme.foreground().name(), size=f"{theme.font_px(10)}pt")
        self.status.setFont(theme.font(10))
        self.hover.setFont(theme.font(9))
        self.triad.setPen(theme.pen(theme.foreground(), 1.5))
        for label in self.triad_labels:
            label.setFont(theme.font(9, bold=True))
            label.setColor(theme.foreground())
        # below this the three plots are unreadable (presentation mode gives the graph 60%)
        self.glw.setMinimumHeight(int(280 * theme.scale()))

    def _axis_labels(self) -> None:
        style = {"color": theme.foreground().name(), "font-size": f"{theme.font_px(10)}pt"}
        a, b, c = self.pcs
        ex = self.portrait.projection.explained if self.portrait is not None else None
        if self.three_d:
            names = " · ".join(f"PC{i + 1}" + (f" {ex[i]:.0%}" if ex is not None else "") for i in (a, b, c))
            self.pplot.setLabel("bottom", names, **style)
            self.pplot.setLabel("left", "", **style)
            self.pplot.setTitle("Phase portrait in 3-D: drag to rotate", color=theme.foreground().name(),
                                size=f"{theme.font_px(10)}pt")
            return
        self.pplot.setTitle("Phase portrait", color=theme.foreground().name(), size=f"{theme.font_px(10)}pt")
        self.pplot.setLabel("bottom", f"PC{a + 1}" + (f" ({ex[a]:.0%} of variance)" if ex is not None else ""),
                            **style)
        self.pplot.setLabel("left", f"PC{b + 1}" + (f" ({ex[b]:.0%})" if ex is not None else ""), **style)

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

    @property
    def rot(self) -> np.ndarray | None:
        """(3, 2) rotation of the 3-D view, or None in 2-D."""
        return rotation(self.azimuth, self.elevation) if self.three_d else None

    def set_three_d(self, on: bool, azimuth: float | None = None, elevation: float | None = None) -> None:
        """Show three components turned onto the screen (drag to rotate), or two flat."""
        self.three_d = bool(on)
        if azimuth is not None:
            self.azimuth = float(azimuth)
        if elevation is not None:
            self.elevation = float(elevation)
        if self.check_3d.isChecked() != self.three_d:
            self.check_3d.blockSignals(True)
            self.check_3d.setChecked(self.three_d)
            self.check_3d.blockSignals(False)
        self.rot_box.rotating = self.three_d
        for side in ("left", "bottom"):  # screen coordinates of a turned view: numbers that mean nothing
            self.pplot.getAxis(side).setStyle(showValues=not self.three_d, tickLength=0 if self.three_d else -5)
        self.pplot.showGrid(x=not self.three_d, y=not self.three_d, alpha=0.15)
        self.z_label.setVisible(self.three_d)
        self.pc_z.setVisible(self.three_d)
        self._axis_labels()
        self._redraw()

    def rotate_by(self, d_azimuth: float, d_elevation: float) -> None:
        """Turn the 3-D view (radians); the elevation stops at ±90°."""
        if not self.three_d:
            return
        self.azimuth = float(self.azimuth + d_azimuth)
        self.elevation = float(np.clip(self.elevation + d_elevation, -np.pi / 2, np.pi / 2))
        self._redraw(fast=True)

    # -- drawing ----------------------------------------------------------------------------
    def _rebuild(self) -> None:
        """Everything that depends on the trace or the part: once per change."""
        tr = self.trace
        if tr is None:
            self.portrait = None
            self._xy = None
            for item in (self.markers, self.fp_items, self.fp_dirs, self.fp_ring, self.eig_points, self.sv_hi,
                         self.sv_lo, self.prod, self.grad, self.triad):
                item.setData([], [])
            for label in self.triad_labels:
                label.setText("")
            self.paths.clear()
            self._raster_args = None
            self.status.setText("")
            return
        self.portrait = portrait(tr, 0, self.part, N_PCS)
        t = np.arange(1, tr.seq_len + 1)
        g = np.asarray(tr.grad_hidden_norm[0], dtype=np.float64)
        self.grad.setData(t, np.where(g > 0, g, np.nan))
        self._axis_labels()
        self._redraw()

    def _redraw(self, fast: bool = False) -> None:
        """The portrait for the current components / rotation: trajectories, fixed points, markers.
        ``fast`` (while dragging): a draft image, painted in full when the drag stops."""
        if self.portrait is None:
            return
        C = self.portrait.coords  # (T, B, P)
        self._xy = on_screen(C, self.pcs, self.rot)
        xs, ys = self._xy[..., 0], self._xy[..., 1]
        fin = np.isfinite(xs) & np.isfinite(ys)
        if fin.any():
            xr, yr = _padded(xs[fin].min(), xs[fin].max()), _padded(ys[fin].min(), ys[fin].max())
            if fast and self._raster_args is not None:  # while dragging the view only grows: no jumping
                (a0, a1), (b0, b1) = self._raster_args[2], self._raster_args[3]
                xr, yr = (min(a0, xr[0]), max(a1, xr[1])), (min(b0, yr[0]), max(b1, yr[1]))
            self._raster(xs, ys, xr, yr, draft=fast)
            self._dragged = fast
            if fast:  # fitted again, at full size, when the drag stops
                self._raster_timer.start()
            # the range is set once per view: no auto-range work while the cursor moves
            self.pplot.enableAutoRange(False)
            self.pplot.setRange(xRange=xr, yRange=yr, padding=0.0)
        else:
            self.paths.clear()
        self._draw_triad()
        self._draw_dynamics()
        self._move()

    def _draw_triad(self) -> None:
        """3-D: the three components' axes as a small key in the lower-left corner (in the middle
        they would sit on the memories)."""
        if not self.three_d or self.portrait is None:
            self.triad.setData([], [])
            for label in self.triad_labels:
                label.setText("")
            return
        seg, spots = triad(self.pplot.getViewBox().viewRange(), self.rot)
        self.triad.setData(seg[:, 0], seg[:, 1], connect="pairs")
        for label, pos, i in zip(self.triad_labels, spots, self.pcs, strict=True):
            label.setText(f"PC{i + 1}")
            label.setPos(*pos)

    def _raster(self, X: np.ndarray, Y: np.ndarray, xr, yr, width: int | None = None, draft: bool = False) -> None:
        """Paint the (T, B) trajectories into the image item, placed in data coordinates."""
        (x0, x1), (y0, y1) = xr, yr
        # about the plot's own size (×1.5 for smooth lines): far larger and the thin lines
        # vanish when Qt shrinks the image, far smaller and they blur
        w = width or self._raster_width()
        self._raster_args = (X, Y, xr, yr, w)
        self.paths.setImage(paint_paths(X, Y, xr, yr, w, draft), autoLevels=False, levels=(0, 255))
        self.paths.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))

    def _raster_width(self) -> int:
        return int(np.clip(1.5 * max(self.pplot.getViewBox().width(), 300), 450, 2400))

    def _reraster(self) -> None:
        if self._dragged:
            self._redraw()
            return
        self._draw_triad()  # its corner moved with the plot's size
        if self._raster_args is None:
            return
        X, Y, xr, yr, w = self._raster_args
        if abs(self._raster_width() - w) > 0.3 * w:
            self._raster(X, Y, xr, yr)

    def _draw_dynamics(self) -> None:
        res = self.result
        if res is None or self.portrait is None:
            for item in (self.fp_items, self.fp_dirs, self.fp_ring, self.eig_points, self.sv_hi, self.sv_lo,
                         self.prod):
                item.setData([], [])
            self._fp_xy = np.zeros((0, 2))
            if self.trace is not None and not self._busy:
                self.status.setText("trajectories of this run; fixed points and Jacobians: press "
                                    "\u201cFind fixed points\u201d")
            return
        pts, dirs = self.portrait.place(res.fixed)
        rot = self.rot
        self._fp_xy = on_screen(pts, self.pcs, rot) if len(pts) else np.zeros((0, 2))
        dxy = on_screen(dirs, self.pcs, rot) if len(pts) else np.zeros((0, 2))
        spots = []
        for i, kind in enumerate(res.fixed.kinds):
            col = KIND_BRUSH[kind]
            filled = kind == "stable"
            spots.append({"pos": tuple(self._fp_xy[i]), "data": i, "symbol": "o",
                          "brush": pg.mkBrush(*col) if filled else pg.mkBrush(255, 255, 255),
                          "pen": pg.mkPen(255, 255, 255, width=1.5) if filled else pg.mkPen(*col, width=2.5)})
        self.fp_items.setData(spots)
        xy = self._xy if self._xy is not None else np.zeros((1, 1, 2))
        span = 0.08 * max(float(np.nanmax(xy[..., 0]) - np.nanmin(xy[..., 0])),
                          float(np.nanmax(xy[..., 1]) - np.nanmin(xy[..., 1])), 1e-6)
        seg = []
        for i in range(len(pts)):
            d = dxy[i]
            n = np.hypot(*d) if np.isfinite(d).all() else 0.0
            if n > 1e-9:
                d = d / n * span
                p = self._fp_xy[i]
                seg += [p - d, p + d]
        seg = np.asarray(seg).reshape(-1, 2)
        self.fp_dirs.setData(seg[:, 0], seg[:, 1], connect="pairs")
        self.select_point(min(self.selected, len(pts) - 1) if len(pts) else -1)
        sv = res.jac.singular_values[0, :, 0]  # (T, S) of the analysed sample
        t = np.arange(1, len(sv) + 1)
        self.sv_hi.setData(t, sv[:, 0])
        self.sv_lo.setData(t, np.maximum(sv[:, -1], 1e-30))
        self.prod.setData(t, 10.0 ** np.clip(res.jac.product_log10[0, :, 0], -300, 300))
        self.status.setText(f"{res.fixed.summary()} · for {res.input_note}")
        self._keep_with_trace()

    def _keep_with_trace(self) -> None:
        """The found points (and how they are shown) go with the Trace, for the exporters."""
        res, tr = self.result, self.trace
        if res is None or tr is None or res.trace_id != id(tr):
            return
        rot = self.rot
        store_fixed_points(tr, res.fixed, res.input_note,
                           {"pcs": [int(i) for i in self.pcs], "part": self.part,
                            "rotation": rot.tolist() if rot is not None else None})

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
        n = int(res.fixed.n_unstable[i])
        extra = f" ({n} unstable mode{'s' * (n != 1)})" if kind != "stable" else ""
        self.eig.setTitle(f"λ of point {i}: {kind}{extra}, q = {res.fixed.q[i]:.0e}",
                          color=theme.foreground().name(), size=f"{theme.font_px(10)}pt")

    def _move(self) -> None:
        """The per-scrub work: the markers on every trajectory and the band's cursor line."""
        if self.portrait is None:
            return
        xy = self._xy
        if xy is None:
            return
        t = min(max(self.current_time, 0), xy.shape[0] - 1)
        at = xy[t][np.isfinite(xy[t]).all(axis=1)]  # an exploded sample has no place to mark
        self.markers.setData(at[:, 0], at[:, 1])
        self.cursor_line.setValue(t + 1)

    # -- user input -------------------------------------------------------------------------
    def _on_pcs(self) -> None:
        self.pcs = (self.pc_x.currentIndex(), self.pc_y.currentIndex(), self.pc_z.currentIndex())
        self._axis_labels()
        self._redraw()

    def _on_input(self, index: int) -> None:
        self.input_choice = INPUT_CHOICES[index]

    def _on_part(self, index: int) -> None:
        self.part = ("h", "c", "h,c")[index]
        self._rebuild()

    def _on_fp_clicked(self, item, points, *args) -> None:
        if len(points):
            self.select_point(int(points[0].data()))

    def _on_mouse_moved(self, pos) -> None:
        if self.portrait is None or not self.pplot.sceneBoundingRect().contains(pos):
            self.hover.hide()
            return
        vb = self.pplot.getViewBox()
        p = vb.mapSceneToView(pos)
        px = vb.viewPixelSize()
        t, s, dist = self.portrait.nearest(p.x(), p.y(), self.pcs, (px[0], px[1]), self.rot)
        if dist > 12:
            self.hover.hide()
            return
        self.hover.setText(f"step {t + 1}, sample {s}")
        self.hover.setPos(p.x(), p.y())
        self.hover.show()


def _padded(lo: float, hi: float, pad: float = 0.06) -> tuple[float, float]:
    span = (hi - lo) or max(abs(lo), 1.0)
    return lo - pad * span, hi + pad * span
