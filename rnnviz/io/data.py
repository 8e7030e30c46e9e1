"""Your own sequences: a CSV, ``.npy`` or ``.npz`` of time series, or a text file.

Rows are time steps, columns are features. Three problem shapes (the notes' names):

* ``next-step``: predict row t+1 from rows ..t (no targets needed; inputs are their own targets);
* ``many-to-many``: a target at every step (target columns, or a targets file with one row per step);
* ``many-to-one``: one target per window, the target of its last step.

:func:`load_sequences` validates the whole file first (ragged rows, text in a numeric column,
NaN or infinity, empty cells) and names the line and the column of the first bad value.
:meth:`SequenceData.register` makes the data a task (``data_<name>``) that
:class:`~rnnviz.core.config.RunConfig`, ``build_run`` (which sizes the network to it), the
trainer and the window use like any built-in task. A text file is the ``char_lm`` task's text.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rnnviz.core.safeio import FileRefused, SafeZip
from rnnviz.io.errors import DataFileError

SHAPES = ("next-step", "many-to-many", "many-to-one")
TEXT_SUFFIXES = (".txt", ".text", ".md")
MAX_BYTES = 512 << 20
MAX_VALUES = 50_000_000
_REGISTERED: dict[str, dict] = {}  # task name -> how its data was loaded


@dataclass
class SequenceData:
    """Validated series: ``inputs`` (N, F) per sequence and ``targets`` (N, O) per sequence (or None)."""

    inputs: list[np.ndarray]
    targets: list[np.ndarray] | None
    shape: str
    name: str
    source: str
    feature_names: list[str] = field(default_factory=list)
    target_names: list[str] = field(default_factory=list)
    origin: dict = field(default_factory=dict)  # load_sequences' arguments, to load it again

    @property
    def input_size(self) -> int:
        return int(self.inputs[0].shape[1])

    @property
    def output_size(self) -> int:
        return self.input_size if self.targets is None else int(self.targets[0].shape[1])

    @property
    def max_seq_len(self) -> int:
        """The longest window every sequence can give (one step fewer for next-step)."""
        shortest = min(len(a) for a in self.inputs)
        return shortest - 1 if self.shape == "next-step" else shortest

    def batch(self, seq_len: int = 50, batch_size: int = 16, seed: int = 0):
        """A :class:`~rnnviz.core.tasks.TaskBatch` of ``batch_size`` random windows of ``seq_len`` steps."""
        from rnnviz.core.tasks import TaskBatch

        if not 1 <= seq_len <= self.max_seq_len:
            raise DataFileError(f"{Path(self.source).name}: seq_len {seq_len} needs "
                                f"{seq_len + (self.shape == 'next-step')} rows; the shortest sequence has "
                                f"{min(len(a) for a in self.inputs)} (use seq_len <= {self.max_seq_len})")
        rng = np.random.default_rng(seed)
        which = rng.integers(0, len(self.inputs), size=batch_size)
        xs, ys = [], []
        for s in which:
            arr = self.inputs[s]
            extra = 1 if self.shape == "next-step" else 0
            start = int(rng.integers(0, len(arr) - seq_len - extra + 1))
            if self.shape == "next-step":
                xs.append(arr[start:start + seq_len])
                ys.append(arr[start + 1:start + seq_len + 1] if self.targets is None
                          else self.targets[s][start + 1:start + seq_len + 1])
            else:
                xs.append(arr[start:start + seq_len])
                tgt = self.targets[s][start:start + seq_len]
                ys.append(tgt[-1] if self.shape == "many-to-one" else tgt)
        x = torch.from_numpy(np.stack(xs, axis=1).astype(np.float32))  # (T, B, F)
        y = torch.from_numpy(np.stack(ys, axis=-2 if self.shape != "many-to-one" else 0).astype(np.float32))
        return TaskBatch(x, y, "mse", self.shape, self.output_size, None,
                         [f"t{t}" for t in range(seq_len)], self.name,
                         {"source": self.source, "features": self.feature_names, "targets": self.target_names})

    def register(self) -> str:
        """Make this data the task ``self.name`` (replacing an earlier one of that name); returns the name."""
        from rnnviz.core.tasks import TASKS, TaskSpec

        _REGISTERED[self.name] = dict(self.origin)

        def make(seq_len: int = 50, batch_size: int = 16, seed: int = 0):
            return self.batch(seq_len, batch_size, seed)

        what = {"next-step": "predict the next row", "many-to-many": "a target at every step",
                "many-to-one": "one target per sequence"}[self.shape]
        TASKS[self.name] = TaskSpec(self.name, make, "mse", self.shape,
                                    f"Your data {Path(self.source).name}: {what} "
                                    f"({self.input_size} in, {self.output_size} out).")
        return self.name


def task_name(path: str | os.PathLike) -> str:
    """``data_<stem>``: a config-safe task name for a data file."""
    stem = re.sub(r"[^a-z0-9_]+", "_", Path(path).stem.lower()).strip("_") or "file"
    return f"data_{stem}"


def load_sequences(path: str | os.PathLike, shape: str = "next-step", target: str | int | list | None = None,
                   targets_file: str | os.PathLike | None = None) -> SequenceData:
    """Read and validate a CSV / .npy / .npz of time series (rows = time steps, columns = features).

    ``target``: column name(s) or 0-based index(es) of a CSV that are targets rather than inputs
    (for next-step they are predicted one step ahead). ``targets_file``: a second file with one
    row per input row. ``.npz``: arrays ``x``/``inputs`` and optionally ``y``/``targets``; an
    array may be (N, F), (N,) or (S, N, F) for S sequences. Raises :class:`DataFileError`.
    """
    if shape not in SHAPES:
        raise DataFileError(f"shape {shape!r} is not one of: {', '.join(SHAPES)}")
    path = Path(path)
    _check_file(path)
    inputs, names, targets, tnames = _read(path, "x")
    if target is not None:
        if targets is not None:
            raise DataFileError(f"{path.name} already has targets; name target columns only for a plain table")
        if len(inputs) != 1 or not names:
            raise DataFileError("target columns can be named for a CSV table only")
        inputs, names, targets, tnames = _split_columns(path, inputs[0], names, target)
    if targets_file is not None:
        tpath = Path(targets_file)
        _check_file(tpath)
        targets, tnames, _, _ = _read(tpath, "y")
        if [len(a) for a in targets] != [len(a) for a in inputs]:
            raise DataFileError(f"{tpath.name} has {[len(a) for a in targets]} rows; {path.name} has "
                                f"{[len(a) for a in inputs]}: one target row per input row")
    if shape != "next-step" and targets is None:
        raise DataFileError(f"{shape} needs targets: name target columns (--target), give a targets file "
                            "(--targets), or use next-step prediction")
    origin = {"path": str(path), "shape": shape, "target": target,
              "targets_file": None if targets_file is None else str(targets_file)}
    return SequenceData(inputs, targets, shape, task_name(path), str(path), names, tnames, origin)


def registered_source(task: str) -> dict | None:
    """load_sequences' arguments for a task made by :meth:`SequenceData.register`, else None."""
    return _REGISTERED.get(task)


def load_text(path: str | os.PathLike) -> str:
    """A UTF-8 text file for the character/word language-model tasks; DataFileError names the line."""
    path = Path(path)
    _check_file(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DataFileError(f"{path.name} line {line}, column {col}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") \
            from None
    if not text.strip():
        raise DataFileError(f"{path.name} has no text")
    return text


def is_text_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in TEXT_SUFFIXES


# ------------------------------------------------------------------------------------ reading
def _check_file(path: Path) -> None:
    if not path.is_file():
        raise DataFileError(f"{path}: no such file" if not path.exists() else f"{path} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise DataFileError(f"{path.name} is empty")
    if size > MAX_BYTES:
        raise DataFileError(f"{path.name} is {size >> 20} MiB; rnnviz reads data files up to {MAX_BYTES >> 20} MiB")


def _read(path: Path, role: str):
    """(list of (N, F) arrays, column names, targets or None, target names)."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = _npy(path, path.name)
        return _sequences(arr, path.name), [], None, []
    if suffix == ".npz":
        return _npz(path)
    if suffix in (".csv", ".tsv", ".txt") or suffix == "":
        table, names = _csv(path)
        return [table], names, None, []
    raise DataFileError(f"{path.name}: rnnviz reads time series from .csv, .npy and .npz files")


def _npy(source, label: str) -> np.ndarray:
    try:
        arr = np.load(source, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataFileError(f"{label} stores Python objects, not numbers (refused: loading it would run code)") \
                from None
        raise DataFileError(f"{label} is not a readable .npy array: {exc}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(f"{label} is not a readable numpy file: {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
        kind = getattr(arr, "dtype", type(arr))
        raise DataFileError(f"{label} holds {kind} values; time series must be numbers")
    if arr.size > MAX_VALUES:
        raise DataFileError(f"{label} holds {arr.size:,} numbers; rnnviz reads up to {MAX_VALUES:,}")
    return arr


def _npz(path: Path):
    try:
        with SafeZip(path, label=path.name, what="a .npz file"):
            pass  # repeated or escaping members, zip bombs: refused before numpy reads anything
    except FileRefused as exc:
        raise DataFileError(str(exc)) from None
    try:
        z = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataFileError(f"{path.name} is not a readable .npz file: {exc}") from None
    with z:
        keys = list(z.files)
        xk = next((k for k in ("x", "inputs", "X", "data") if k in keys), keys[0] if len(keys) == 1 else None)
        if xk is None:
            raise DataFileError(f"{path.name} has arrays {', '.join(keys)}; name the inputs 'x' (targets 'y')")
        yk = next((k for k in ("y", "targets", "Y") if k in keys), None)
        x = _sequences(_npy_member(z, xk, path), f"{path.name}[{xk}]")
        y = None if yk is None else _sequences(_npy_member(z, yk, path), f"{path.name}[{yk}]")
    if y is not None and [len(a) for a in y] != [len(a) for a in x]:
        raise DataFileError(f"{path.name}: '{yk}' has {[len(a) for a in y]} rows, '{xk}' has "
                            f"{[len(a) for a in x]}: one target row per input row")
    return x, [], y, []


def _npy_member(z, key, path):
    try:
        arr = z[key]
    except ValueError as exc:
        raise DataFileError(f"{path.name}[{key}] stores Python objects, not numbers ({exc})") from None
    if arr.dtype.kind not in "biuf":
        raise DataFileError(f"{path.name}[{key}] holds {arr.dtype} values; time series must be numbers")
    return arr


def _sequences(arr: np.ndarray, label: str) -> list[np.ndarray]:
    """(N,) -> [(N, 1)], (N, F) -> [(N, F)], (S, N, F) -> S arrays; non-finite values named."""
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim not in (2, 3) or 0 in arr.shape:
        raise DataFileError(f"{label} has shape {arr.shape}; expected (steps,), (steps, features) or "
                            "(sequences, steps, features)")
    arr = arr.astype(np.float32)
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        idx = tuple(int(i) for i in bad[0])
        value = arr[idx]
        where = (f"sequence {idx[0]}, " if arr.ndim == 3 else "") + f"row {idx[-2]}, column {idx[-1]}"
        raise DataFileError(f"{label} {where} (0-based): {'NaN' if math.isnan(value) else value}; "
                            "time series must be finite numbers")
    return [arr] if arr.ndim == 2 else [a for a in arr]


def _csv(path: Path) -> tuple[np.ndarray, list[str]]:
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t ")
    except csv.Error:
        dialect = csv.excel
    rows = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text), dialect)) if any(c.strip() for c in r)]
    if not rows:
        raise DataFileError(f"{path.name} has no rows")
    names: list[str] = []
    first = rows[0][1]
    if any(not _is_number(c) for c in first):
        names = [c.strip() or f"column {j + 1}" for j, c in enumerate(first)]
        rows = rows[1:]
    if not rows:
        raise DataFileError(f"{path.name} has a header and no data rows")
    width = len(names) or len(rows[0][1])
    names = names or [f"column {j + 1}" for j in range(width)]
    out = np.empty((len(rows), width), np.float32)
    if out.size > MAX_VALUES:
        raise DataFileError(f"{path.name} holds {out.size:,} values; rnnviz reads up to {MAX_VALUES:,}")
    for r, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise DataFileError(f"{path.name} line {line}: {len(cells)} columns, but the "
                                f"{'header' if r == 0 and len(names) else 'rows before it'} have {width} (ragged rows)")
        for j, cell in enumerate(cells):
            where = f"{path.name} line {line}, column {j + 1} ({names[j]!r})"
            cell = cell.strip()
            if not cell:
                raise DataFileError(f"{where}: empty cell; every step needs every feature")
            try:
                value = float(cell)
            except ValueError:
                raise DataFileError(f"{where}: {cell[:40]!r} is not a number") from None
            if not math.isfinite(value):
                raise DataFileError(f"{where}: {cell!r}; time series must be finite numbers")
            out[r, j] = value
    return out, names


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _split_columns(path: Path, table: np.ndarray, names: list[str], target):
    wanted = target if isinstance(target, (list, tuple)) else [target]
    idx = []
    for t in wanted:
        if isinstance(t, int) or (isinstance(t, str) and t.lstrip("-").isdigit() and t not in names):
            j = int(t)
            if not -len(names) <= j < len(names):
                raise DataFileError(f"{path.name} has {len(names)} columns; there is no column {j}")
            idx.append(j % len(names))
        elif t in names:
            idx.append(names.index(t))
        else:
            raise DataFileError(f"{path.name} has no column {t!r} (its columns: {', '.join(names)})")
    keep = [j for j in range(len(names)) if j not in idx]
    if not keep:
        raise DataFileError(f"{path.name}: every column is a target; at least one must be an input")
    return [table[:, keep]], [names[j] for j in keep], [table[:, idx]], [names[j] for j in idx]
