"""Compare mode: the same data and seed, one setting changed; both runs side by side.

:class:`CompareDialog` lets the user pick the change (clipping on/off, tanh vs ReLU, default
vs identity init, RNN vs LSTM, ...) and how many training steps both runs get first.
:class:`CompareController` runs the comparison in the background and installs it: run A as the
current run, the others in ``state.compare_runs`` (a lesson may install four or more).
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from rnnviz.app import actions
from rnnviz.app.actions import COMPARISONS
from rnnviz.app.state import CompareRun
from rnnviz.core.config import ConfigError


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


class CompareController(QObject):
    """Compare the current setting with one changed setting; public API :meth:`compare`,
    :meth:`clear`, :meth:`install`."""

    def __init__(self, state, runs, parent_widget: QWidget | None = None):
        super().__init__(parent_widget)
        self.state = state
        self.runs = runs  # the RunController
        self._parent = parent_widget

    def compare(self, overrides: dict | None = None, steps: int | None = None) -> bool:
        """Compare the current run with one where ``overrides`` apply (a dialog asks if None);
        both are trained ``steps`` steps first. False if cancelled or refused (status says why)."""
        cfg = self.state.config
        if overrides is None:
            dlg = CompareDialog(cfg, self._parent)
            if dlg.exec() != CompareDialog.DialogCode.Accepted:
                return False
            overrides, steps = dlg.overrides(), dlg.steps.value()
        steps = int(steps or 0)
        try:
            cfg.with_overrides(**overrides)
        except ConfigError as exc:
            self.state.status = f"cannot compare: {exc}"
            return False
        label = comparison_label(cfg, overrides)
        self.runs.run_job(lambda: actions.compare_runs(cfg, overrides, steps, label), self.install,
                          "comparing…")
        self.state.status = f"comparing with {label}…"
        return True

    def install(self, runs: list) -> None:
        """Show ``runs[0]`` (a RunResult) as the current run and the others beside it."""
        first, others = runs[0], runs[1:]
        compared = [CompareRun(r.label, r.trace, list(r.history)) for r in others]
        labels = ", ".join(r.label for r in compared)
        self.runs.install(first, compare=compared, status=f"comparing A (current) with {labels}")

    def clear(self) -> None:
        """Leave compare mode."""
        self.state.compare_runs = []


__all__ = ["CompareController", "CompareDialog", "comparison_label", "comparison_overrides"]
