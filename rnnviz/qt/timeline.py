"""The timeline bar: step, play and scrub through the forward pass and then BPTT.

The slider covers 2T places: t = 0 .. T-1 of the forward pass, then the backward pass from
t = T-1 back to 0. Play advances one place every 1/speed seconds and stops at the end.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor, QPalette, QValidator
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from rnnviz.app.panel_model import kept_text
from rnnviz.qt.views.base import TextLine

SP = QStyle.StandardPixmap


class SampleBox(QSpinBox):
    """The sample picker: its value indexes the trace's samples (0 .. B-1), its text is the
    sample's index in the recorded batch, so a trace that kept samples 4, 9 of 16 offers "4"
    and "9" and nothing else."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.samples: list[int] = [0]
        self.setRange(0, 0)

    def set_samples(self, samples: list[int]) -> None:
        """The batch indices on offer, in order."""
        self.samples = list(samples) or [0]
        self.setRange(0, len(self.samples) - 1)
        self.lineEdit().setText(self.textFromValue(self.value()))
        self.updateGeometry()

    def textFromValue(self, value: int) -> str:  # noqa: N802 (Qt naming)
        return str(self.samples[value]) if 0 <= value < len(self.samples) else str(value)

    def valueFromText(self, text: str) -> int:  # noqa: N802
        try:
            return self.samples.index(int(text))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        """Only a kept sample's index is acceptable (a prefix of one is on its way)."""
        if text.strip() == "":
            return QValidator.State.Intermediate, text, pos
        if text.isdigit():
            if int(text) in self.samples:
                return QValidator.State.Acceptable, text, pos
            if any(str(b).startswith(text) for b in self.samples):
                return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos


class TimelineBar(QWidget):
    """Buttons, slider, phase/layer/sample pickers bound to a :class:`SessionState`."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._updating = False
        self._icon_playing = False
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)

        rows = QVBoxLayout(self)
        rows.setContentsMargins(6, 2, 6, 2)
        rows.setSpacing(0)
        top = QHBoxLayout()
        lay = QHBoxLayout()
        rows.addLayout(top)
        rows.addLayout(lay)

        style = self.style()

        def button(icon, tip, slot):
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            lay.addWidget(b)
            return b

        self.start_button = button(SP.SP_MediaSkipBackward, "Jump to t = 0 of the forward pass (Home)",
                                   state.jump_start)
        self.back_button = button(SP.SP_MediaSeekBackward, "One step back (←)", state.step_back)
        self.play_button = button(SP.SP_MediaPlay, "Play / pause: step through the forward pass, then BPTT (Space)",
                                  self.toggle_play)
        self.forward_button = button(SP.SP_MediaSeekForward, "One step forward; after t = T-1 the backward pass (BPTT) "
                                     "runs from L back to t = 0 (→)", state.step_forward)
        self.end_button = button(SP.SP_MediaSkipForward,
                                 "Jump to the end of the forward pass; again: end of BPTT (End)",
                                 state.jump_end)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("Scrub through time: left half the forward pass, right half the "
                               "backward pass (BPTT) flowing back from the loss")
        self.slider.setRange(0, 0)
        self.slider.valueChanged.connect(self._slider_moved)
        # a fixed width: the step changes on every move, and must not make the window lay out again
        self.label = TextLine("no trace", widest="t = 10000 / 10000   whole run")
        self.label.setToolTip("Current time step and pass")
        top.addWidget(self.label)
        # beside the step, not in the row of boxes: that row must fit a 1280 px window
        self.kept_label = QLabel("")
        palette = self.kept_label.palette()  # a palette, not a style sheet: the font still follows the window's
        palette.setColor(QPalette.ColorRole.WindowText, QColor("#8a4b00"))
        self.kept_label.setPalette(palette)
        self.kept_label.hide()
        top.addWidget(self.kept_label)
        top.addWidget(self.slider, 1)
        lay.addStretch(1)

        self.phase_box = QComboBox()
        for text, data in (("forward → BPTT", "forward"), ("BPTT", "backward"), ("whole run", "full")):
            self.phase_box.addItem(text, data)
        self.phase_box.setToolTip("forward: states appear step by step; BPTT: gradients flow back "
                                  "step by step; whole run: everything at once, cursor only")
        self.phase_box.currentIndexChanged.connect(self._phase_picked)
        lay.addWidget(self.phase_box)

        lay.addWidget(QLabel("layer"))
        self.layer_box = QComboBox()
        self.layer_box.setToolTip("Which layer (and direction, for a bidirectional net) the views show")
        self.layer_box.currentIndexChanged.connect(self._layer_picked)
        lay.addWidget(self.layer_box)

        lay.addWidget(QLabel("sample"))
        self.sample_box = SampleBox()
        self.sample_box.setToolTip("Which sequence of the batch the views show")
        self.sample_box.valueChanged.connect(self._sample_picked)
        lay.addWidget(self.sample_box)

        lay.addWidget(QLabel("speed"))
        self.speed_box = QDoubleSpinBox()
        self.speed_box.setRange(0.25, 240)
        self.speed_box.setSuffix(" steps/s")
        self.speed_box.setDecimals(2)
        self.speed_box.setToolTip("Play speed in time steps per second")
        self.speed_box.setValue(state.speed)
        self.speed_box.valueChanged.connect(lambda v: setattr(self.state, "speed", v))
        lay.addWidget(self.speed_box)

        state.events.subscribe("trace", self._on_trace)
        for field in ("time", "phase", "layer", "sample", "playing", "speed"):
            state.events.subscribe(field, self._refresh)
        self._on_trace(state.trace)

    # -- state → widgets ----------------------------------------------------------------
    def _refresh(self, _value=None) -> None:
        self._sync()

    def _on_trace(self, trace) -> None:
        self._updating = True
        try:
            self.layer_box.clear()
            if trace is not None:
                D = trace.num_directions
                for k in range(trace.hidden.shape[0]):
                    name = f"{k // D + 1}" + ((" →" if k % D == 0 else " ←") if D == 2 else "")
                    self.layer_box.addItem(name, k)
                self.sample_box.set_samples(trace.kept_samples)
            self._show_kept(trace)
        finally:
            self._updating = False
        self._sync()

    def _show_kept(self, trace) -> None:
        """Say so when the recording kept only some samples (to bound memory)."""
        text = kept_text(trace) if trace is not None else ""
        self.kept_label.setText(f"{text} (memory)" if text else "")
        self.kept_label.setVisible(bool(text))
        if text:
            tip = (f"To bound memory this recording kept the states, gates and gradients of {text.split(' of ')[0]} "
                   f"only (of a batch of {trace.recorded_batch_size}); the sample box offers those. The loss, the "
                   "per-step gradient norms and the parameter gradients still cover the whole batch. "
                   "A shorter sequence, a smaller hidden size or a smaller batch keeps every sample.")
            self.kept_label.setToolTip(tip)
            self.sample_box.setToolTip(f"Which sequence of the batch the views show: {text}")
        else:
            self.sample_box.setToolTip("Which sequence of the batch the views show")

    def _sync(self) -> None:
        s = self.state
        self._updating = True
        try:
            T = s.seq_len
            full = s.phase == "full"
            self.slider.setRange(0, max(0, (T if full else 2 * T) - 1))
            self.slider.setValue(s.time if full else s.position)
            i = self.phase_box.findData(s.phase)
            if s.phase != "full":
                i = self.phase_box.findData("forward") if s.phase == "forward" else self.phase_box.findData("backward")
            self.phase_box.setCurrentIndex(i)
            i = self.layer_box.findData(s.layer)
            if i >= 0:
                self.layer_box.setCurrentIndex(i)
            # only on a change: a spin box given its own value repaints its text (every timeline step)
            if self.sample_box.value() != s.sample:
                self.sample_box.setValue(s.sample)
            if self.speed_box.value() != s.speed:
                self.speed_box.setValue(s.speed)
            if self._icon_playing != s.playing:  # a new icon lays the bar out again: only on a change
                self._icon_playing = s.playing
                self.play_button.setIcon(self.style().standardIcon(
                    SP.SP_MediaPause if s.playing else SP.SP_MediaPlay))
            if T:
                where = {"forward": "forward", "backward": "BPTT ←", "full": "whole run"}[s.phase]
                self.label.setText(f"t = {s.time + 1} / {T}   {where}")
            else:
                self.label.setText("no trace")
        finally:
            self._updating = False
        if s.playing:
            self.timer.setInterval(max(4, int(1000 / s.speed)))
            if not self.timer.isActive():
                self.timer.start()
        else:
            self.timer.stop()

    # -- widgets → state ----------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        if self._updating:
            return
        if self.state.phase == "full":
            self.state.time = value
        else:
            self.state.set_position(value)

    def _phase_picked(self, _i: int) -> None:
        if self._updating:
            return
        phase = self.phase_box.currentData()
        if phase == "backward" and self.state.phase == "forward":
            self.state.set_position(self.state.seq_len)  # start of BPTT: t = T-1
        else:
            self.state.phase = phase

    def _layer_picked(self, _i: int) -> None:
        if not self._updating and self.layer_box.currentData() is not None:
            self.state.layer = self.layer_box.currentData()

    def _sample_picked(self, value: int) -> None:
        if not self._updating:
            self.state.sample = value

    def toggle_play(self) -> None:
        """Start or pause playing; playing from the very end starts over."""
        s = self.state
        if not s.playing and s.seq_len:
            end = s.time == s.seq_len - 1 if s.phase == "full" else s.position == 2 * s.seq_len - 1
            if end:
                s.jump_start()
        s.playing = not s.playing and bool(s.seq_len)

    def _tick(self) -> None:
        if not self.state.step_forward():
            self.state.playing = False


__all__ = ["TimelineBar"]
