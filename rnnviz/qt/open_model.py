"""File → Open model… and Copy as Python: the window's side of rnnviz.io.

The import itself (checking rnnviz's equations against the file's framework, refusing what it
cannot show) is :func:`rnnviz.io.load_model`; here the user picks the file, confirms a file that
needs full unpickling, and the result becomes the window's run. The status bar shows the import's
one line, with the largest difference from the source framework.
"""

from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QWidget,
)

from rnnviz.app.actions import RunResult
from rnnviz.core.config import RunConfig
from rnnviz.io import ImportedModel, ModelImportError, UntrustedFileError, load_model

FILE_FILTER = ("Recurrent models (*.pt *.pth *.bin *.ckpt *.onnx *.keras);;PyTorch (*.pt *.pth *.bin *.ckpt);;"
               "ONNX (*.onnx);;Keras 3 (*.keras);;All files (*)")
MAX_SEQ_LEN = 200


def ask_model_path(parent: QWidget) -> str:
    """The file dialog; '' when cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, "Open model", "", FILE_FILTER)
    return path


def confirm_trust(parent: QWidget, reason: str) -> bool:
    """Ask before unpickling: the file can run code. Default answer: No."""
    box = QMessageBox(QMessageBox.Icon.Warning, "Open a pickled model?",
                      f"{reason}.\n\nOpen it anyway? Only say yes for a file you made or trust.",
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    box.setObjectName("confirm_trust")
    return box.exec() == QMessageBox.StandardButton.Yes


def import_model(parent: QWidget, path: str, current: RunConfig):
    """Load, check and record ``path`` for the window.

    Returns ``(config, imported, probe, trace)``, or ``(None, message)`` when the file was refused
    or the user declined to trust it; the message names the reason.
    """
    try:
        try:
            imported = load_model(path)
        except UntrustedFileError as exc:
            if not confirm_trust(parent, str(exc).split(": opening it")[0]):
                return None, f"not opened: {path} needs full unpickling and was not trusted"
            imported = load_model(path, trust=True)
    except ModelImportError as exc:
        return None, f"cannot open {path}: {exc}"
    seq_len = min(max(current.task.seq_len, 2), MAX_SEQ_LEN)
    batch = min(current.task.batch_size, 16)
    probe, trace = imported.record(seq_len, batch, current.model.seed)
    cfg = copy.deepcopy(current)
    cfg.model = copy.deepcopy(imported.model.cfg)
    cfg.task.name, cfg.task.text = imported.register_task(), None
    cfg.task.seq_len, cfg.task.batch_size = seq_len, batch
    return cfg, imported, probe, trace


def copy_python(text: str) -> None:
    """Put ``text`` on the clipboard."""
    QGuiApplication.clipboard().setText(text)


# model on screen -> the ImportedModel it came from (for Copy as Python); forgotten with the model
_IMPORTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def open_model(window, path: str | None = None) -> bool:
    """File → Open model…: import a saved network, check it, record it and show it in ``window``.

    The status bar gets the import's line (with the largest difference from the source); a
    refused file, or one the user did not trust, leaves the run on screen as it was.
    """
    path = path or ask_model_path(window)
    if not path:
        return False
    runs = window.training_controller
    runs.stop()
    result = import_model(window, path, window.state.config)
    if result[0] is None:
        window.state.status = result[1]
        return False
    cfg, imported, probe, trace = result
    _IMPORTED[imported.model] = imported
    run = RunResult(config=cfg, model=imported.model, probe=probe, trace=trace, label=imported.describe())
    runs.install(run, config=cfg, status=imported.summary())
    return True


def imported_on_screen(window) -> ImportedModel | None:
    """The ImportedModel behind the model on screen, if it was opened from a file."""
    model = window.state.model
    return None if model is None else _IMPORTED.get(model)


def copy_as_python(window) -> str:
    """File → Copy as Python: a script that reproduces the figure in front; returns it."""
    from rnnviz.export.frames import PANELS
    from rnnviz.notebook import python_script

    s = window.state
    front = {"training": "loss"}.get(s.panel, s.panel)
    imported = imported_on_screen(window)
    D = s.trace.num_directions if s.trace is not None else 1
    text = python_script(s.config, steps=len(s.history), panels=[front] if front in PANELS else None,
                         layer=s.layer // D, direction=s.layer % D, sample=s.sample, t=s.time,
                         model_path=imported.source if imported is not None else None,
                         trust=imported is not None and imported.kind.startswith("nn.Module"))
    copy_python(text)
    s.status = "copied a Python script that reproduces this figure to the clipboard"
    return text


DATA_FILTER = "Time series or text (*.csv *.tsv *.npy *.npz *.txt *.md);;All files (*)"
SHAPE_CHOICES = (("next-step", "next-step prediction: predict row t+1 from the rows up to t"),
                 ("many-to-many", "many-to-many: a target at every step"),
                 ("many-to-one", "many-to-one: one target per window (its last step's)"))


@dataclass
class DataChoice:
    """What to learn from a data file: the problem shape and where the targets are.

    ``target``: CSV column names that are targets (the rest are inputs); ``targets_file``: a
    second file with one target row per input row; neither: the file's own targets (an .npz
    ``y``), or none (next-step prediction of the inputs themselves)."""

    shape: str = "next-step"
    target: list[str] | None = None
    targets_file: str | None = None


class DataOptionsDialog(QDialog):
    """File → Open data…'s question: next-step / many-to-many / many-to-one, and which columns (or
    which file) hold the targets. The line at the bottom says the network it makes (inputs →
    outputs) or why the choice cannot work; OK is enabled only for a choice that can."""

    def __init__(self, parent: QWidget | None, data):
        super().__init__(parent)
        from pathlib import Path

        self.setObjectName("open_data_options")
        self.setWindowTitle(f"Open data: {Path(data.source).name}")
        self.data, self.targets_width, self.targets_file = data, None, None
        rows = sum(len(a) for a in data.inputs)
        seqs = f"{len(data.inputs)} sequences, " if len(data.inputs) > 1 else ""
        form = QFormLayout(self)
        form.addRow(QLabel(f"{Path(data.source).name}: {seqs}{rows} rows × {data.input_size} columns"))
        self.shape = QComboBox()
        for key, text in SHAPE_CHOICES:
            self.shape.addItem(text, key)
        form.addRow("Predict", self.shape)
        self.columns = QListWidget()  # CSV columns: ticked ones are targets
        own = data.targets is not None  # an .npz with its own y
        for name in data.feature_names if not own else []:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.columns.addItem(item)
        self.columns.setMaximumHeight(140)
        if self.columns.count():
            form.addRow("Target columns\n(the rest are inputs)", self.columns)
        self.file_button = QPushButton("Targets file…")
        self.file_label = QLabel("targets: in the file (its 'y' array)" if own else "no targets file")
        if not own:
            box = QHBoxLayout()
            box.addWidget(self.file_button)
            box.addWidget(self.file_label, 1)
            form.addRow("or", box)
        self.verdict = QLabel()
        self.verdict.setWordWrap(True)
        form.addRow(self.verdict)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.shape.currentIndexChanged.connect(self._update)
        self.columns.itemChanged.connect(self._update)
        self.file_button.clicked.connect(self._pick_targets_file)
        self._update()

    def _pick_targets_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Targets file", "", DATA_FILTER)
        if path:
            self.set_targets_file(path)

    def set_targets_file(self, path: str | None) -> None:
        """Use ``path`` (one target row per input row) as the targets; None: no targets file."""
        from pathlib import Path

        from rnnviz.io.data import load_sequences
        from rnnviz.io.errors import DataFileError

        self.targets_file, self.targets_width = None, None
        self.file_label.setText("no targets file")
        if path:
            try:
                self.targets_width = load_sequences(path).input_size
                self.targets_file = str(path)
                self.file_label.setText(f"{Path(path).name} ({self.targets_width} column(s))")
            except DataFileError as exc:
                self.file_label.setText(f"not used: {exc}")
        self._update()

    def ticked(self) -> list[str]:
        return [self.columns.item(i).text() for i in range(self.columns.count())
                if self.columns.item(i).checkState() == Qt.CheckState.Checked]

    def choice(self) -> DataChoice:
        ticked = self.ticked()
        return DataChoice(self.shape.currentData(), ticked or None, None if ticked else self.targets_file)

    def problem(self) -> tuple[str | None, int, int]:
        """(why the choice cannot work, or None; inputs; outputs) of the current choice."""
        c, data = self.choice(), self.data
        F = data.input_size
        if c.target:
            if len(c.target) == F:
                return "every column is a target: leave at least one as input", 0, 0
            ins, outs = F - len(c.target), len(c.target)
        elif c.targets_file:
            ins, outs = F, self.targets_width
        elif data.targets is not None:
            ins, outs = F, data.output_size
        else:
            if c.shape != "next-step":
                return (f"{c.shape} needs targets: tick target columns or choose a targets file "
                        "(or predict the next row)"), 0, 0
            ins, outs = F, F
        return None, ins, outs

    def _update(self) -> None:
        why, ins, outs = self.problem()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(why is None)
        if why is not None:
            self.verdict.setText(f"<span style='color:#b00020'>{why}</span>")
        else:
            self.verdict.setText(f"network: {ins} input(s) → {outs} output(s), {self.choice().shape}")


def ask_data_choice(parent: QWidget | None, data) -> DataChoice | None:
    """Show :class:`DataOptionsDialog` for ``data``; None when cancelled."""
    dialog = DataOptionsDialog(parent, data)
    return dialog.choice() if dialog.exec() == QDialog.DialogCode.Accepted else None


def open_data(window, path: str | None = None, choice: DataChoice | None = None) -> bool:
    """File → Open data…: your own sequences become the run's task; the network is sized to them.

    A CSV / .npy / .npz of time series (rows = time steps, columns = features) is validated,
    then the user chooses next-step / many-to-many / many-to-one and the target columns or a
    targets file (``choice`` skips the question); a text file is the character model's text. A
    bad file gets one status line naming the row and column, and the run on screen stays.
    """
    from pathlib import Path

    from rnnviz.io.data import is_text_file, load_sequences, load_text
    from rnnviz.io.errors import DataFileError

    if not path:
        path, _ = QFileDialog.getOpenFileName(window, "Open data", "", DATA_FILTER)
    if not path:
        return False
    s = window.state
    try:
        if is_text_file(path):
            ok = s.set_config(task="char_lm", text=load_text(path))
            what = "text for the character model"
        else:
            data = load_sequences(path)  # a bad file is named before anything is asked
            if choice is None:
                choice = ask_data_choice(window, data)
                if choice is None:
                    s.status = f"not opened: {Path(path).name} (cancelled)"
                    return False
            if (choice.shape, choice.target, choice.targets_file) != ("next-step", None, None):
                data = load_sequences(path, shape=choice.shape, target=choice.target,
                                      targets_file=choice.targets_file)
            seq_len = min(s.config.task.seq_len, data.max_seq_len)
            ok = s.set_config(task=data.register(), seq_len=seq_len)
            what = f"{data.input_size} input(s) → {data.output_size} output(s), {data.shape}"
    except DataFileError as exc:
        s.status = f"cannot open {path}: {exc}"
        return False
    if ok:
        s.status = f"opened {Path(path).name}: {what}"
    return ok


__all__ = ["DATA_FILTER", "FILE_FILTER", "DataChoice", "DataOptionsDialog", "ask_data_choice", "ask_model_path",
           "confirm_trust", "copy_as_python", "copy_python", "import_model", "imported_on_screen", "open_data",
           "open_model"]
