"""The training controls where a Playground user looks for them: a bar at the top of the window.

:class:`RunBar` has large Train / Pause / Stop / Step / Reset buttons and a line saying where
training stands ("step 64 · loss 0.12"). Every button calls the training controller; which ones
are enabled follows ``state.training``.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QStyle, QToolBar, QToolButton, QWidget

from rnnviz.qt.errors import guarded

ICON_PX = 22
PRESENT_ICON_PX = 28  # the text is large already; the bar must not eat the views' height


class RunBar(QToolBar):
    """Train (Ctrl+T), Pause / Resume (Ctrl+P), Stop (Esc), Step (one training step), Reset."""

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__("Training", parent)
        self.setObjectName("run_bar")
        self.setMovable(False)
        self.setIconSize(QSize(ICON_PX, ICON_PX))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.state = window.state
        runs = window.training_controller
        sp = QStyle.StandardPixmap
        style = window.style()

        def button(name: str, text: str, icon, tip: str, slot) -> QToolButton:
            b = QToolButton(self)
            b.setObjectName(name)
            b.setText(text)
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.clicked.connect(guarded(window, slot))
            self.addWidget(b)
            return b

        self.train_button = button("train_button", "Train", sp.SP_MediaPlay,
                                   "Train live (Ctrl+T); again after Stop: more steps, the count continues",
                                   runs.train)
        font = self.train_button.font()  # only the weight is set: the size follows the window's
        font.setBold(True)
        self.train_button.setFont(font)
        self.pause_button = button("pause_button", "Pause", sp.SP_MediaPause,
                                   "Pause training (Ctrl+P); press again to resume", self._pause_or_resume)
        self.stop_button = button("stop_button", "Stop", sp.SP_MediaStop,
                                  "Stop training (Esc): the weights and steps so far are kept", runs.stop)
        self.step_button = button("step_button", "Step", sp.SP_MediaSeekForward,
                                  "Train exactly one step and show it", lambda: runs.train(1))
        self.reset_button = button("reset_button", "Reset", sp.SP_BrowserReload,
                                   "Forget training: fresh weights, empty loss curve (Ctrl+Shift+R)", runs.reset)
        self.addSeparator()
        self.info = QLabel("")
        self.info.setObjectName("run_info")
        self.info.setToolTip("Training steps so far and the latest training loss")
        self.info.setContentsMargins(8, 0, 8, 0)
        self.addWidget(self.info)
        self._runs = runs
        self.state.events.subscribe("training", self._update)
        self.state.events.subscribe("history", self._update)
        self._update()

    def _pause_or_resume(self) -> None:
        if self.state.training == "paused":
            self._runs.resume()
        else:
            self._runs.pause()

    def _update(self, _value=None) -> None:
        tr = self.state.training
        self.train_button.setEnabled(tr == "idle")
        self.step_button.setEnabled(tr == "idle")
        self.pause_button.setEnabled(tr != "idle")
        self.pause_button.setText("Resume" if tr == "paused" else "Pause")
        self.stop_button.setEnabled(tr != "idle")
        history = self.state.history
        if history:
            last = history[-1]
            self.info.setText(f"step {last['step']} · loss {float(last['loss']):.4g}"
                              + (" · training…" if tr == "running" else " · paused" if tr == "paused" else ""))
        else:
            self.info.setText("not trained yet: press Train")

    def set_presenting(self, on: bool) -> None:
        """Presentation mode: larger icons (fonts follow the window's)."""
        px = PRESENT_ICON_PX if on else ICON_PX
        self.setIconSize(QSize(px, px))


__all__ = ["RunBar"]
