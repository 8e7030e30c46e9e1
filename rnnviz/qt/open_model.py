"""File → Open model… and Copy as Python: the window's side of rnnviz.io.

The import itself (checking rnnviz's equations against the file's framework, refusing what it
cannot show) is :func:`rnnviz.io.load_model`; here the user picks the file, confirms a file that
needs full unpickling, and the result becomes the window's run. The status bar shows the import's
one line, with the largest difference from the source framework.
"""

from __future__ import annotations

import copy
import weakref

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

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


def open_data(window, path: str | None = None) -> bool:
    """File → Open data…: your own sequences become the run's task; the network is sized to them.

    A CSV / .npy / .npz of time series trains next-step prediction (rows = time steps, columns
    = features); a text file is the character model's text. A bad file gets one status line
    naming the row and column, and the run on screen stays.
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
            data = load_sequences(path)
            seq_len = min(s.config.task.seq_len, data.max_seq_len)
            ok = s.set_config(task=data.register(), seq_len=seq_len)
            what = f"{data.input_size} feature(s), next-step prediction"
    except DataFileError as exc:
        s.status = f"cannot open {path}: {exc}"
        return False
    if ok:
        s.status = f"opened {Path(path).name}: {what}"
    return ok


__all__ = ["DATA_FILTER", "FILE_FILTER", "ask_model_path", "confirm_trust", "copy_as_python", "copy_python",
           "import_model", "imported_on_screen", "open_data", "open_model"]
