"""The Dynamics panel's analysis, off the GUI thread: fixed points (for zero input or the input
at the cursor) and Jacobians of the shown run, from the window's session model; and a fixed-point
lesson's point (the search, then the 3-D angle that shows the memories apart)."""

from __future__ import annotations

import threading

import numpy as np

from rnnviz.dynamics.panel import analyse_trace, input_at, input_note
from rnnviz.dynamics.portrait import best_view

START_VIEW = (0.6, 0.35)  # azimuth, elevation (radians) when 3-D is switched on: the cube at an angle


class AnalysisMixin:
    """For :class:`~rnnviz.qt.views.dynamics.DynamicsView`: :meth:`analyse` runs the search in a
    thread and hands the result to ``result_ready`` (→ :meth:`set_dynamics`, on the GUI thread)."""

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
        sample, x_const, note = self.current_b, None, "zero input"
        if self.input_choice == "cursor":
            t = min(max(self.current_time, 0), tr.seq_len - 1)
            try:
                x_const = input_at(tr, t, sample)
            except ValueError as exc:
                self.status.setText(str(exc))
                return
            note = input_note(x_const, t, sample)
        self._busy = True
        self.find_button.setEnabled(False)
        self.status.setText(f"finding fixed points for {note}…")

        def work():
            try:
                res = analyse_trace(model, tr, sample, x_const=x_const, note=note)
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
        if self._turn_when_found:
            self._turn_when_found = False
            self.turn_to_separate()

    def show_lesson_point(self, check: dict, wait: bool = False) -> None:
        """A fixed-point lesson's point: its view (``check["view"] = "3d"``, optional
        ``azimuth`` / ``elevation`` in degrees) and the search for the session model's fixed points."""
        if check.get("view") == "3d":
            if "azimuth" in check or "elevation" in check:
                try:  # a lesson file's numbers: a word there must not stop the lesson
                    az = np.radians(float(check.get("azimuth", np.degrees(START_VIEW[0]))))
                    el = np.radians(float(check.get("elevation", np.degrees(START_VIEW[1]))))
                except (TypeError, ValueError):
                    az, el = START_VIEW
                self.set_three_d(True, az, el)
            else:  # the angle that shows every memory apart, once they are found
                self.set_three_d(True)
                self._turn_when_found = True
        self.analyse(wait=wait)

    def turn_to_separate(self) -> None:
        """Turn the 3-D view so the stable fixed points (the memories) lie as far apart on the
        screen as they can (:func:`rnnviz.dynamics.portrait.best_view`), and select a saddle."""
        res = self.result
        if res is None or self.portrait is None:
            return
        pts, _ = self.portrait.place(res.fixed)
        stable = [i for i, k in enumerate(res.fixed.kinds) if k == "stable"]
        if len(stable) >= 2:
            self.set_three_d(True, *best_view(pts[stable][:, list(self.pcs)]))
        saddles = [i for i, k in enumerate(res.fixed.kinds) if k == "saddle"]
        if saddles:  # its eigenvalue outside the unit circle tells more than a memory's
            self.select_point(saddles[0])
