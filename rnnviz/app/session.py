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

from rnnviz.core.safeio import FileRefused, SafeZip, parse_json
from rnnviz.core.safewrite import atomic_write
from rnnviz.core.trace import Trace, TraceFileError
from rnnviz.core.trace_check import read_trace

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

MAX_MANIFEST = 64 * 2**20  # the manifest of a long training session is a few MB
MAX_HISTORY_ROWS = 10_000_000
_VIEW_TYPES = {"time": "index", "layer": "index", "sample": "index", "phase": "phase", "speed": "speed",
               "compare_label": "text"}


def is_session_file(path: str | os.PathLike) -> bool:
    """True when ``path`` is a regular file, a zip holding a session manifest (False for traces and anything else)."""
    try:
        with SafeZip(path, what="an rnnviz session") as z:
            return MANIFEST in z.infos
    except (FileRefused, OSError):
        return False


def load_session(path: str | os.PathLike) -> Session:
    """Read a session written by :func:`save_session`, checking the WHOLE file before returning it.

    Raises :class:`SessionFileError` (one line) for a missing, damaged, truncated, foreign,
    newer-version or hostile file: special files, zip bombs, repeated or escaping members, a
    member listed twice, arrays whose dtype or shape does not fit the config, a config that
    would not fit in memory, malformed view state. Nothing is returned half-checked.
    """
    path = Path(path)
    try:
        with SafeZip(path, what="an rnnviz session") as z:
            if MANIFEST not in z.infos:
                raise SessionFileError(f"{path} is not an rnnviz session (no {MANIFEST} inside)")
            try:
                manifest = parse_json(z.read_bytes(MANIFEST, MAX_MANIFEST), MANIFEST)
            except FileRefused as exc:
                raise SessionFileError(f"{path} is a damaged rnnviz session ({exc})") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise SessionFileError(f"{path} is not an rnnviz session (format marker missing)")
            version = manifest.get("version")
            if isinstance(version, bool) or not isinstance(version, int):
                raise SessionFileError(f"{path} is a damaged rnnviz session (no format version)")
            if version > FORMAT_VERSION:
                raise SessionFileError(f"{path} was saved by a newer rnnviz (session format {version}); "
                                       f"this version reads format {FORMAT_VERSION}: please upgrade rnnviz")
            return _read(z, manifest, str(path))
    except FileRefused as exc:
        raise SessionFileError(str(exc)) from None
    except RecursionError:
        raise SessionFileError(f"{path} is a damaged rnnviz session (nested too deeply)") from None


def _bad(source: str, message: str):
    raise SessionFileError(f"{source} is a damaged rnnviz session ({message})")


def _check_view(view, source: str) -> dict:
    from rnnviz.app.state import PHASES

    if not isinstance(view, dict):
        _bad(source, f"view state is a {type(view).__name__}, not a table")
    for key, value in view.items():
        kind = _VIEW_TYPES.get(key)
        ok = True
        if kind == "index":
            ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
        elif kind == "phase":
            ok = value in PHASES
        elif kind == "speed":
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                and 0 < value <= 1000
        elif kind == "text":
            ok = isinstance(value, str) and len(value) <= 1000
        if not ok:
            _bad(source, f"view state {key} = {str(value)[:40]!r} is not valid")
    return view


def _member_list(manifest: dict, source: str, zip_names) -> dict[str, str]:
    """{member: role} of every member the manifest refers to; each at most once, each present."""
    used: dict[str, str] = {}

    def use(name, role):
        if not isinstance(name, str):
            _bad(source, f"{role} is not a member name")
        if name in used:
            raise SessionFileError(f"{source}: member {name[:80]!r} is listed more than once "
                                   f"({used[name]} and {role}): refused")
        if name not in zip_names:
            _bad(source, f"{role} member {name[:80]!r} is missing")
        used[name] = role

    use("weights.npz", "weights")
    use("history.npz", "history")
    if manifest.get("optimizer") is not None:
        use("optimizer.npz", "optimizer")
    if manifest.get("trace"):
        use(manifest["trace"], "trace")
    names, steps = manifest.get("traces") or [], manifest.get("steps") or []
    if not isinstance(names, list) or not isinstance(steps, list) or len(names) != len(steps):
        _bad(source, "trace list and steps disagree")
    for i, name in enumerate(names):
        use(name, f"traces[{i}]")
    comp = manifest.get("compare")
    if comp is not None:
        if not isinstance(comp, dict):
            _bad(source, "compare is not a table")
        if comp.get("trace"):
            use(comp["trace"], "compare trace")
        if comp.get("history") is not None:
            use("compare/history.npz", "compare history")
    return used


def _read_arrays(z: SafeZip, member: str, check) -> dict[str, np.ndarray]:
    """The arrays of npz member ``member``; ``check(headers)`` sees every header before anything is read."""
    with z.open_archive(member, what="an .npz archive") as inner:
        heads = {key: inner.npy_header(name) for key, name in inner.npy_names().items()}
        for key, head in heads.items():
            if head.dtype.kind not in "biuf":
                raise SessionFileError(f"{z.label}: {member}: {key} holds {head.dtype} data, not numbers")
        check(heads)
        return {key: inner.read_npy(head) for key, head in heads.items()}


def _read(z: SafeZip, manifest: dict, source: str) -> Session:
    from rnnviz.core.budget import check_run_size, task_features, weight_shapes
    from rnnviz.core.config import ConfigError, RunConfig

    if not isinstance(manifest.get("config"), dict):
        _bad(source, "config is not a table of keys")
    try:
        cfg = RunConfig.from_dict(manifest["config"])
        check_run_size(cfg)
    except ConfigError as exc:
        raise SessionFileError(f"{source}: config: {exc}") from None
    view = _check_view(manifest.get("view") or {}, source)
    meta = manifest.get("meta") or {}
    if not isinstance(meta, dict):
        _bad(source, "meta is not a table")
    _member_list(manifest, source, z.infos)
    s = Session(config=manifest["config"], view=view, meta=meta)

    order = manifest.get("weight_names") or []
    _, n_in, n_out = task_features(cfg.task)  # the model's input and output sizes follow its task
    expected = weight_shapes(cfg.model, n_in, n_out) if order else {}  # a session may hold no weights
    if not isinstance(order, list) or set(order) != set(expected) or len(order) != len(expected):
        _bad(source, f"its weights do not belong to a {cfg.model.cell} model of this config")

    def check_weights(heads):
        if set(heads) != set(expected):
            _bad(source, f"its weights do not belong to a {cfg.model.cell} model of this config")
        for key, head in heads.items():
            if head.shape != expected[key]:
                _bad(source, f"weight {key} has shape {head.shape}, but the config needs {expected[key]}")

    weights = _read_arrays(z, "weights.npz", check_weights)
    s.weights = {k: weights[k] for k in order}
    n_weights = sum(int(v.size) for v in weights.values())

    if manifest.get("optimizer") is not None:
        refs: list[str] = []
        _tensor_refs(manifest["optimizer"], refs)
        if len(refs) != len(set(refs)):
            raise SessionFileError(f"{source}: the optimizer state refers to the same array more than once: refused")

        def check_optimizer(heads):
            missing = [r for r in refs if r not in heads]
            if missing:
                _bad(source, f"optimizer array {missing[0][:60]!r} is missing")
            if sum(h.size for h in heads.values()) > 4 * n_weights + 10_000:
                _bad(source, "optimizer state is larger than a model of this config can have")

        s.optimizer = optimizer_state_from_arrays(manifest["optimizer"], _read_arrays(z, "optimizer.npz",
                                                                                      check_optimizer), as_tensor=False)
    s.history = _read_history(z, "history.npz", manifest.get("history") or [], source)
    expect = {"cell": cfg.model.cell, "hidden_size": cfg.model.hidden_size, "num_layers": cfg.model.num_layers,
              "bidirectional": cfg.model.bidirectional}
    if manifest.get("trace"):
        s.trace = _read_trace(z, manifest["trace"], expect)
    for st, name in zip(manifest.get("steps") or [], manifest.get("traces") or [], strict=True):
        if isinstance(st, bool) or not isinstance(st, int) or st < 0:
            _bad(source, f"trace step {str(st)[:20]!r} is not a step number")
        s.traces.append((st, _read_trace(z, name, expect)))
    comp = manifest.get("compare")
    if comp:
        label = comp.get("label", "")
        if not isinstance(label, str):
            _bad(source, "compare label is not text")
        s.compare = {"label": label, "trace": None, "history": None}
        if comp.get("trace"):
            s.compare["trace"] = _read_trace(z, comp["trace"], None)
        if comp.get("history") is not None:
            s.compare["history"] = _read_history(z, "compare/history.npz", comp["history"], source)
    return s


def _tensor_refs(doc, out: list[str]) -> None:
    if isinstance(doc, dict):
        if "__tensor__" in doc or "__array__" in doc:
            ref = doc.get("__tensor__", doc.get("__array__"))
            if not isinstance(ref, str):
                raise SessionFileError("optimizer state: an array reference is not a name")
            out.append(ref)
            return
        for v in doc.values():
            _tensor_refs(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _tensor_refs(v, out)


def _read_trace(z: SafeZip, member: str, expect: dict | None) -> Trace:
    try:
        with z.open_archive(member, what="an rnnviz trace (.npz)") as inner:
            return read_trace(Trace, inner, f"{z.label}: {member}", expect)
    except TraceFileError as exc:
        raise SessionFileError(str(exc)) from None


def _read_history(z: SafeZip, member: str, info, source: str) -> list[dict]:
    if not isinstance(info, list) or len(info) > MAX_HISTORY_ROWS:
        _bad(source, "history rows are not a list")
    known = {"step", *_HISTORY_FLOAT, *_HISTORY_BOOL}
    for row in info:
        if not isinstance(row, dict) or not isinstance(row.get("extra", {}), dict) \
                or not isinstance(row.get("keys", []), list) or not set(row.get("keys") or []) <= known:
            _bad(source, "a history row is malformed")
    n = len(info)

    def check(heads):
        if set(heads) != known:
            _bad(source, f"{member} holds {sorted(heads)}, expected {sorted(known)}")
        for key, head in heads.items():
            if head.shape != (n,):
                _bad(source, f"history column {key} has shape {head.shape}, expected ({n},)")

    return _history_rows(_read_arrays(z, member, check), info)


def optimizer_state_for_torch(session: Session) -> dict | None:
    """The session's optimizer state with torch tensors, ready for ``optimizer.load_state_dict``."""
    if session.optimizer is None:
        return None
    doc, arrays = optimizer_state_to_arrays(session.optimizer)
    return optimizer_state_from_arrays(doc, arrays, as_tensor=True)
