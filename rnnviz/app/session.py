"""Session files: the whole state of a run in ONE file, reopened exactly (no pickle anywhere).

A session file is a zip archive (suffix ``.rnnviz`` by convention) with these members::

    session.json          {"format": "rnnviz-session", "version": 1, "rnnviz": "0.1.0",
                           "config": RunConfig dict, "view": {...}, "optimizer": {...json part...},
                           "history_extra": [...], "traces": ["traces/0000.npz", ...], "steps": [...],
                           "trace": "trace.npz" | null, "compare": {...} | null, "meta": {...}}
    weights.npz           model state_dict as arrays (names as in torch)
    optimizer.npz         every tensor of the optimizer state ("state/<param>/<name>")
    history.npz           training history columns: step int64, loss / grad_norm / elapsed float64,
                          clipped / applied bool
    trace.npz             the current Trace (the Trace .npz layout)
    traces/NNNN.npz       recorded traces of training, in order (their steps in "steps")
    compare/trace.npz, compare/history.npz      the compare pair (optional)

Arrays round-trip bit for bit. The file is written to a temporary file and renamed, so a failed
save leaves the previous file untouched. A damaged, truncated, foreign or newer file raises
:class:`SessionFileError` with one clear message.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnviz.core.trace import Trace, TraceFileError, atomic_write

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SUFFIX",
    "Session",
    "SessionFileError",
    "is_session_file",
    "load_session",
    "optimizer_state_for_torch",
    "optimizer_state_from_arrays",
    "optimizer_state_to_arrays",
    "save_session",
]

FORMAT = "rnnviz-session"
FORMAT_VERSION = 1
SUFFIX = ".rnnviz"
MANIFEST = "session.json"
_HISTORY_FLOAT = ("loss", "grad_norm", "elapsed")
_HISTORY_BOOL = ("clipped", "applied")


class SessionFileError(ValueError):
    """A session file that cannot be read or written; the message is meant for the user."""


@dataclass
class Session:
    """Everything a session file holds. Arrays are numpy; ``config`` is a RunConfig dict.

    weights: {name: array} (a model's state_dict); optimizer: a torch optimizer state_dict with
    tensors as numpy arrays (see :func:`optimizer_state_to_arrays`); history: list of row dicts;
    traces: [(step, Trace)]; trace: the current Trace; view: the window's view choices (JSON);
    compare: {"label": str, "trace": Trace | None, "history": [rows]} or None.
    """

    config: dict = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    optimizer: dict | None = None
    history: list[dict] = field(default_factory=list)
    trace: Trace | None = None
    traces: list[tuple[int, Trace]] = field(default_factory=list)
    view: dict = field(default_factory=dict)
    compare: dict | None = None
    meta: dict = field(default_factory=dict)


# -- optimizer state --------------------------------------------------------------------------

def _encode(value: Any, path: str, arrays: dict) -> Any:
    """JSON-able form of an optimizer-state value; tensors/arrays go into ``arrays`` under ``path``."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        arrays[path] = value.detach().cpu().numpy()
        return {"__tensor__": path}
    if isinstance(value, np.ndarray):  # a tensor of a loaded session
        arrays[path] = value
        return {"__tensor__": path}
    if isinstance(value, dict):
        return {"__dict__": [[_encode(k, f"{path}/k{i}", arrays), _encode(v, f"{path}/{i}", arrays)]
                             for i, (k, v) in enumerate(value.items())]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{path}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        return {"__float__": repr(value)}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise SessionFileError(f"cannot store a {type(value).__name__} in a session file (optimizer state)")


def _decode(value: Any, arrays, as_tensor: bool) -> Any:
    if isinstance(value, dict):
        if "__tensor__" in value:
            arr = np.array(arrays[value["__tensor__"]])
            if as_tensor:
                import torch

                return torch.from_numpy(arr)
            return arr
        if "__array__" in value:
            return np.array(arrays[value["__array__"]])
        if "__tuple__" in value:
            return tuple(_decode(v, arrays, as_tensor) for v in value["__tuple__"])
        if "__float__" in value:
            return float(value["__float__"])
        if "__dict__" in value:
            return {_decode(k, arrays, as_tensor): _decode(v, arrays, as_tensor) for k, v in value["__dict__"]}
        raise KeyError("unknown entry in optimizer state")
    if isinstance(value, list):
        return [_decode(v, arrays, as_tensor) for v in value]
    return value


def optimizer_state_to_arrays(state: dict) -> tuple[Any, dict[str, np.ndarray]]:
    """Split a torch optimizer ``state_dict()`` into (JSON-able structure, {name: array})."""
    arrays: dict[str, np.ndarray] = {}
    return _encode(state, "o", arrays), arrays


def optimizer_state_from_arrays(doc: Any, arrays, as_tensor: bool = True) -> dict:
    """Inverse of :func:`optimizer_state_to_arrays` (tensors back as torch tensors if ``as_tensor``)."""
    return _decode(doc, arrays, as_tensor)


# -- saving -------------------------------------------------------------------------------------

def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _history_columns(history: list[dict]) -> tuple[dict[str, np.ndarray], list[dict]]:
    cols = {"step": np.array([int(r.get("step", i + 1)) for i, r in enumerate(history)], dtype=np.int64)}
    for name in _HISTORY_FLOAT:
        cols[name] = np.array([float(r.get(name, np.nan)) for r in history], dtype=np.float64)
    for name in _HISTORY_BOOL:
        cols[name] = np.array([bool(r.get(name, name == "applied")) for r in history], dtype=bool)
    known = {"step", *_HISTORY_FLOAT, *_HISTORY_BOOL}
    extra = [{k: v for k, v in r.items() if k not in known} for r in history]
    present = [[k for k in r if k in known] for r in history]
    return cols, [{"extra": e, "keys": p} for e, p in zip(extra, present, strict=True)]


def _history_rows(cols, info: list[dict]) -> list[dict]:
    n = len(cols["step"])
    if len(info) != n:
        raise KeyError("history columns and rows disagree")
    rows = []
    for i in range(n):
        row: dict = {}
        keys = info[i].get("keys") or ["step", "loss", "grad_norm", "clipped", "applied", "elapsed"]
        for k in keys:
            v = cols[k][i]
            row[k] = int(v) if k == "step" else bool(v) if k in _HISTORY_BOOL else float(v)
        row.update(info[i].get("extra", {}))
        rows.append(row)
    return rows


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def save_session(path: str | os.PathLike, session: Session) -> Path:
    """Write ``session`` to ``path`` (one zip file), atomically. Returns the path.

    Raises :class:`SessionFileError` for a path that cannot be written (missing folder, read-only
    place, full disk) with one clear message; the old file, if any, is untouched.
    """
    path = Path(path)
    if path.is_dir():
        raise SessionFileError(f"cannot save the session to {path}: it is a folder")
    if path.exists() and not path.is_file():
        raise SessionFileError(f"cannot save the session to {path}: it is not a regular file")
    members: list[tuple[str, bytes]] = []
    config = session.config.to_dict() if hasattr(session.config, "to_dict") else dict(session.config or {})
    from rnnviz import __version__

    manifest: dict = {"format": FORMAT, "version": FORMAT_VERSION, "rnnviz": __version__, "config": config,
                      "view": session.view or {}, "meta": session.meta or {}, "trace": None, "traces": [],
                      "steps": [], "optimizer": None, "compare": None}
    weights = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v))
               for k, v in (session.weights or {}).items()}
    members.append(("weights.npz", _npz_bytes(weights)))
    manifest["weight_names"] = list(weights)
    if session.optimizer is not None:
        doc, arrays = optimizer_state_to_arrays(session.optimizer)
        manifest["optimizer"] = doc
        members.append(("optimizer.npz", _npz_bytes(arrays)))
    cols, info = _history_columns(list(session.history or []))
    manifest["history"] = info
    members.append(("history.npz", _npz_bytes(cols)))
    if session.trace is not None:
        manifest["trace"] = "trace.npz"
        members.append(("trace.npz", _npz_bytes(session.trace.to_arrays())))
    for i, (step, tr) in enumerate(session.traces or []):
        name = f"traces/{i:04d}.npz"
        manifest["traces"].append(name)
        manifest["steps"].append(int(step))
        members.append((name, _npz_bytes(tr.to_arrays())))
    if session.compare:
        comp = {"label": str(session.compare.get("label", "")), "trace": None, "history": None}
        if session.compare.get("trace") is not None:
            comp["trace"] = "compare/trace.npz"
            members.append(("compare/trace.npz", _npz_bytes(session.compare["trace"].to_arrays())))
        if session.compare.get("history") is not None:
            ccols, cinfo = _history_columns(list(session.compare["history"]))
            comp["history"] = cinfo
            members.append(("compare/history.npz", _npz_bytes(ccols)))
        manifest["compare"] = comp
    try:
        text = json.dumps(manifest, default=_json_default, allow_nan=True, indent=1)
    except (TypeError, ValueError) as exc:
        raise SessionFileError(f"cannot save the session: {exc}") from None

    def write(f):
        with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as zf:
            zf.writestr(MANIFEST, text)  # first, so a foreign zip is recognised early
            for name, data in members:
                zf.writestr(name, data)

    try:
        atomic_write(path, write)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise SessionFileError(f"cannot save the session to {path}: {reason}") from None
    except ValueError as exc:  # a folder or a special file
        raise SessionFileError(f"cannot save the session: {exc}") from None
    return path


# -- loading --------------------------------------------------------------------------------------

def is_session_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a zip holding a session manifest (False for traces and anything else)."""
    try:
        with zipfile.ZipFile(path) as zf:
            return MANIFEST in zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def _load_npz(zf: zipfile.ZipFile, name: str):
    data = zf.read(name)
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: np.array(npz[k]) for k in npz.files}


def load_session(path: str | os.PathLike) -> Session:
    """Read a session written by :func:`save_session`.

    Raises :class:`SessionFileError` (one line) for a missing, damaged, truncated, foreign or
    newer-version file.
    """
    path = Path(path)
    if not path.exists():
        raise SessionFileError(f"no such file: {path}")
    if path.is_dir():
        raise SessionFileError(f"{path} is a folder, not a session file")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise SessionFileError(f"{path} is not an rnnviz session (not a zip archive, or truncated)") from None
    except OSError as exc:
        raise SessionFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with zf:
        if MANIFEST not in zf.namelist():
            raise SessionFileError(f"{path} is not an rnnviz session (no {MANIFEST} inside)")
        try:
            manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
        except (ValueError, UnicodeDecodeError, zipfile.BadZipFile, OSError, EOFError) as exc:
            raise SessionFileError(f"{path} is a damaged rnnviz session ({type(exc).__name__})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SessionFileError(f"{path} is not an rnnviz session (format marker missing)")
        version = manifest.get("version")
        if not isinstance(version, int):
            raise SessionFileError(f"{path} is a damaged rnnviz session (no format version)")
        if version > FORMAT_VERSION:
            raise SessionFileError(f"{path} was saved by a newer rnnviz (session format {version}); "
                                   f"this version reads format {FORMAT_VERSION}: please upgrade rnnviz")
        try:
            return _read(zf, manifest)
        except SessionFileError:
            raise
        except (KeyError, ValueError, TypeError, IndexError, OSError, EOFError, zipfile.BadZipFile,
                TraceFileError) as exc:
            detail = str(exc).strip("'\"") or type(exc).__name__
            raise SessionFileError(f"{path} is a damaged rnnviz session ({detail})") from None


def _read(zf: zipfile.ZipFile, manifest: dict) -> Session:
    s = Session(config=manifest["config"], view=manifest.get("view") or {}, meta=manifest.get("meta") or {})
    weights = _load_npz(zf, "weights.npz")
    order = manifest.get("weight_names") or list(weights)
    s.weights = {k: weights[k] for k in order}
    if manifest.get("optimizer") is not None:
        s.optimizer = optimizer_state_from_arrays(manifest["optimizer"], _load_npz(zf, "optimizer.npz"),
                                                  as_tensor=False)
    s.history = _history_rows(_load_npz(zf, "history.npz"), manifest.get("history") or [])
    if manifest.get("trace"):
        s.trace = Trace.from_arrays(_load_npz(zf, manifest["trace"]), source=manifest["trace"])
    steps = manifest.get("steps") or []
    names = manifest.get("traces") or []
    if len(steps) != len(names):
        raise KeyError("trace list and steps disagree")
    s.traces = [(int(st), Trace.from_arrays(_load_npz(zf, n), source=n)) for st, n in zip(steps, names, strict=True)]
    comp = manifest.get("compare")
    if comp:
        s.compare = {"label": comp.get("label", ""), "trace": None, "history": None}
        if comp.get("trace"):
            s.compare["trace"] = Trace.from_arrays(_load_npz(zf, comp["trace"]), source=comp["trace"])
        if comp.get("history") is not None:
            s.compare["history"] = _history_rows(_load_npz(zf, "compare/history.npz"), comp["history"])
    return s


def optimizer_state_for_torch(session: Session) -> dict | None:
    """The session's optimizer state with torch tensors, ready for ``optimizer.load_state_dict``."""
    if session.optimizer is None:
        return None
    doc, arrays = optimizer_state_to_arrays(session.optimizer)
    return optimizer_state_from_arrays(doc, arrays, as_tensor=True)
