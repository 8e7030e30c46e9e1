"""Unexpected errors in the window: shown once, logged, never a silent traceback.

Expected problems (a bad file, a refused setting) are handled where they happen with a clear
message. Anything else that escapes a menu action or a button is caught by :func:`guarded`:
logged with its traceback (logger ``rnnviz``) and shown in one non-blocking message box (a
second error while that box is open only goes to the log, so a failing timer cannot flood the
screen). The window's state is never half-updated by such an error because controllers build
everything before they install it.
"""

from __future__ import annotations

import functools
import logging

from PySide6.QtWidgets import QMessageBox

log = logging.getLogger("rnnviz")

_open_boxes: dict[int, QMessageBox] = {}


def report_unexpected(parent, exc: BaseException, what: str = "") -> None:
    """Log ``exc`` with its traceback and show it once in a non-modal message box on ``parent``."""
    log.error("unexpected error%s", f" in {what}" if what else "", exc_info=(type(exc), exc, exc.__traceback__))
    key = id(parent)
    box = _open_boxes.get(key)
    if box is not None and box.isVisible():
        return
    box = QMessageBox(QMessageBox.Icon.Critical, "Something went wrong",
                      f"{what + ': ' if what else ''}{type(exc).__name__}: {exc}\n\n"
                      "The window kept its previous state. Details are in the log.", QMessageBox.StandardButton.Ok,
                      parent)
    box.setModal(False)
    box.finished.connect(lambda _r, k=key: _open_boxes.pop(k, None))
    _open_boxes[key] = box
    box.show()


def guarded(parent, slot, what: str = ""):
    """``slot`` wrapped for a Qt signal: called without the signal's arguments; an unexpected
    exception is reported by :func:`report_unexpected` instead of escaping into Qt."""

    @functools.wraps(slot)
    def run(*_args):
        try:
            return slot()
        except Exception as exc:  # noqa: BLE001 - the last line of defence of the GUI
            report_unexpected(parent, exc, what or getattr(slot, "__name__", ""))
            return None

    return run


__all__ = ["guarded", "report_unexpected"]
