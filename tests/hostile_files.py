"""Hostile files, built at test time with the real libraries (zipfile, numpy's .npy writer, pickle).

Each builder writes one file and returns its path. Shared by tests/test_hostile_*.py.
"""

from __future__ import annotations

import io
import json
import os
import sys
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

import rnnviz
from rnnviz.app.session import MANIFEST, Session, save_session
from rnnviz.core.train import Trainer, build_run

REPO = Path(__file__).resolve().parents[1]
BOMB_BYTES = 1 << 30  # 1 GiB of zeros: ~1 MB compressed; the old loaders needed 2-3 copies of it


def small_run(cell="lstm", **kw):
    """A tiny config, model and a trainer that recorded two traces."""
    cfg = rnnviz.RunConfig().with_overrides(cell=cell, task="adding", seq_len=6, batch_size=2, hidden_size=3,
                                            steps=2, record_every=1, **kw)
    model, _ = build_run(cfg)
    tr = Trainer(model, cfg.task, cfg.train)
    tr.run()
    return cfg, model, tr


def good_trace(path: Path, cell="lstm") -> Path:
    _, _, tr = small_run(cell)
    return tr.traces[-1][1].save(path)


def good_session(path: Path, cell="lstm") -> Path:
    cfg, model, tr = small_run(cell)
    return save_session(path, Session(config=cfg, weights=model.state_dict(), optimizer=tr.optimizer.state_dict(),
                                      history=tr.history, trace=tr.traces[-1][1], traces=tr.traces,
                                      view={"time": 1, "phase": "forward"}))


def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    npy_format.write_array(buf, np.asanyarray(arr), allow_pickle=True)
    return buf.getvalue()


def trace_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: np.array(z[k]) for k in z.files}


def write_npz(path: Path, members: dict[str, bytes | np.ndarray], compress=zipfile.ZIP_STORED) -> Path:
    """An npz from raw members (``name`` without .npy gets it added; bytes are written as they are)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names: that is the point
        with zipfile.ZipFile(path, "w", compression=compress) as zf:
            for name, data in members.items():
                raw = data if isinstance(data, bytes) else npy_bytes(data)
                zf.writestr(name if name.endswith(".npy") or "/" in name else name + ".npy", raw)
    return path


def altered_trace(src: Path, dst: Path, **changes) -> Path:
    """A copy of trace ``src`` with arrays replaced (value) or removed (None)."""
    arrays = trace_arrays(src)
    for key, value in changes.items():
        if value is None:
            arrays.pop(key, None)
        else:
            arrays[key] = value
    return write_npz(dst, arrays)


def with_config(src: Path, dst: Path, config) -> Path:
    return altered_trace(src, dst, config_json=np.array(json.dumps(config)))


def zip_bomb(path: Path, nbytes: int = BOMB_BYTES, member: str = "hidden.npy", extra: dict | None = None) -> Path:
    """An npz whose ``member`` is a valid float32 .npy of ``nbytes`` zeros, deflated to ~nbytes/1000.

    Written by streaming a deflate stream: 16 MB of zeros compressed once after a full flush
    repeats byte for byte, so building a gigabyte bomb takes well under a second.
    """
    n = nbytes // 4
    header = io.BytesIO()
    npy_format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (n,)})
    head = header.getvalue()
    chunk = 16 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    full, rest = divmod(nbytes, chunk)
    tail = comp.compress(bytes(rest)) + comp.flush()
    zeros = bytes(chunk)
    crc = zlib.crc32(head)
    for _ in range(full):
        crc = zlib.crc32(zeros, crc)
    crc = zlib.crc32(bytes(rest), crc)
    data = first + block * full + tail
    info = zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in (extra or {}).items():
            zf.writestr(name if name.endswith(".npy") else name + ".npy", npy_bytes(value))
        _write_raw(zf, info, data, len(head) + nbytes, crc)
    return path


def _write_raw(zf: zipfile.ZipFile, info: zipfile.ZipInfo, data: bytes, size: int, crc: int) -> None:
    """Append an already-deflated member (zipfile has no public API for that)."""
    info.file_size, info.compress_size, info.CRC = size, len(data), crc
    info.header_offset = zf.fp.tell()
    zip64 = size > zipfile.ZIP64_LIMIT
    zf.fp.write(info.FileHeader(zip64))
    zf.fp.write(data)
    zf.filelist.append(info)
    zf.NameToInfo[info.filename] = info
    zf.start_dir = zf.fp.tell()


class _Payload:
    """Unpickling this calls open(MARKER, "w"): a file appears if anyone runs the pickle."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def pickle_npz(path: Path, marker: Path, member: str = "hidden") -> Path:
    """A trace-like npz whose ``member`` is an object array holding a pickle that creates ``marker``."""
    arr = np.empty(1, dtype=object)
    arr[0] = _Payload(marker)
    return write_npz(path, {"format": np.array("rnnviz-trace"), "format_version": np.array(1), member: arr})


def petabyte_header(path: Path) -> Path:
    """An npz whose hidden.npy declares 2**48 float32 (1 PiB) and holds nothing."""
    header = io.BytesIO()
    npy_format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (2**48,)})
    return write_npz(path, {"format": np.array("rnnviz-trace"), "format_version": np.array(1),
                            "hidden.npy": header.getvalue()})


def rewrite_session(src: Path, dst: Path, manifest=None, members: dict | None = None,
                    duplicate: str | None = None) -> Path:
    """A copy of session ``src`` with its manifest changed (``manifest(dict) -> dict``), members
    replaced (``{name: bytes}``) and, optionally, member ``duplicate`` written twice."""
    with zipfile.ZipFile(src) as zin:
        items = [(i.filename, zin.read(i)) for i in zin.infolist()]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as zout:
            for name, data in items:
                if name == MANIFEST and manifest is not None:
                    doc = manifest(json.loads(data))
                    data = doc.encode() if isinstance(doc, str) else json.dumps(doc).encode()
                if members and name in members:
                    data = members.pop(name)
                zout.writestr(name, data)
                if name == duplicate:
                    zout.writestr(name, data)
            for name, data in (members or {}).items():
                zout.writestr(name, data)
    return dst


def deep_json(depth: int = 100_000) -> str:
    return "[" * depth + "]" * depth


def run_limited(code: str, limit_extra: int = 768 << 20, timeout: int = 120, cwd=None):
    """Run ``code`` in a fresh Python that, after its imports, may only grow by ``limit_extra`` bytes.

    The code sets RLIMIT_AS itself (imports first: torch reserves address space), then runs the
    rest; prints of the code come back. ``LIMIT()`` sets it.
    """
    import subprocess

    prelude = (
        "import resource, sys, os\n"
        "def _vm():\n"
        "    for line in open('/proc/self/status'):\n"
        "        if line.startswith('VmSize:'): return int(line.split()[1]) * 1024\n"
        f"def LIMIT():\n    lim = _vm() + {int(limit_extra)}\n"
        "    resource.setrlimit(resource.RLIMIT_AS, (lim, lim))\n"
        "def PEAK():\n"
        "    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", QT_QPA_PLATFORM="offscreen")
    env.pop("RNNVIZ_DEBUG", None)
    return subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, timeout=timeout,
                          env=env, cwd=cwd)
