"""The errors of rnnviz.io: one line a user can read, never a traceback.

Both are ``ValueError`` subclasses so callers that already catch bad input keep working; the CLI
prints them as ``rnnviz: ...`` with exit status 2 and the window shows them in a message box.
"""

from __future__ import annotations


class ModelImportError(ValueError):
    """A model file rnnviz cannot open faithfully: the message says why (and what to do)."""


class UntrustedFileError(ModelImportError):
    """The file needs full unpickling (it runs code); open it only if the user says they trust it."""


class DataFileError(ValueError):
    """A data file (CSV, .npy, .npz, text) that cannot be used; the message names row and column."""


def missing_package(package: str, what: str) -> ModelImportError:
    """The error for an optional dependency that is not installed."""
    return ModelImportError(f"{what} needs the '{package}' package, which is not installed: "
                            f"pip install {package}  (or pip install 'rnnviz[formats]')")
