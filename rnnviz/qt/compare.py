"""Compare mode: the same data and seed, one setting changed; both runs side by side.

:class:`CompareDialog` lets the user pick the change (clipping on/off, tanh vs ReLU, default
vs identity init, RNN vs LSTM, ...) and how many training steps both runs get first.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from rnnviz.app.actions import COMPARISONS


def comparison_label(cfg, overrides: dict) -> str:
    """A short label for run B, e.g. 'B: activation=relu'."""
    parts = [f"{k}={v}" for k, v in overrides.items()]
    return "B: " + ", ".join(parts)


def comparison_overrides(cfg, name: str) -> dict:
    """The overrides for comparison ``name``, toggled against ``cfg`` (e.g. clip on if it is off)."""
    ov = dict(COMPARISONS[name])
    m, tr = cfg.model, cfg.train
    if "clip" in ov and tr.clip != "none":
        ov = {"clip": "none"}
    if "activation" in ov and m.cell == "rnn" and m.activation == "relu":
        ov["activation"] = "tanh"
    if "init" in ov and m.init == "identity":
        ov["init"] = "default"
    if "cell" in ov and ov["cell"] == m.cell and "activation" not in ov:
        ov["cell"] = "rnn"
    if "num_layers" in ov and m.num_layers >= 2:
        ov["num_layers"] = 1
    if "bidirectional" in ov and m.bidirectional:
        ov["bidirectional"] = False
    return ov


class CompareDialog(QDialog):
    """Pick the one setting run B changes and the number of training steps for both."""

    def __init__(self, cfg, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Compare two runs")
        self.cfg = cfg
        form = QFormLayout(self)
        form.addRow(QLabel("Run A is the current setting. Run B changes one thing;\n"
                           "both use the same data and the same seed."))
        self.choice = QComboBox()
        for name in COMPARISONS:
            self.choice.addItem(name, name)
        self.choice.setToolTip("The setting that differs between run A and run B")
        self.steps = QSpinBox()
        self.steps.setRange(0, 5000)
        self.steps.setValue(0)
        self.steps.setSpecialValueText("0 (untrained: compare at initialisation)")
        self.steps.setToolTip("Train both runs this many steps before comparing (0: as initialised)")
        form.addRow("Change", self.choice)
        form.addRow("Train steps", self.steps)
        self.preview = QLabel()
        form.addRow(self.preview)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
        self.choice.currentIndexChanged.connect(self._update)
        self._update()

    def _update(self) -> None:
        self.preview.setText(comparison_label(self.cfg, self.overrides()))

    def overrides(self) -> dict:
        """The flat overrides of run B."""
        return comparison_overrides(self.cfg, self.choice.currentData())


__all__ = ["CompareDialog", "comparison_label", "comparison_overrides"]
