"""Files in: the safe readers every loader uses.

Reading (files people mail each other are hostile until checked):

* :func:`open_regular` refuses anything that is not a regular file (FIFOs, devices, folders,
  sockets) *before* opening it, opens without blocking and checks again on the open descriptor.
* :func:`read_text` caps the size of text files (configs, lessons); :func:`parse_json` turns
  JSON nested too deeply into a clear error instead of a RecursionError.
* :class:`SafeZip` opens a zip (an ``.npz`` or a session) and refuses repeated, absolute or
  traversing member names, unknown compression, and members or totals that would expand beyond
  what the file's size and the machine's free memory allow.
* :meth:`SafeZip.npy_header` parses an ``.npy`` member's header without reading its data, so the
  caller checks dtype, shape and element count against the config first; :meth:`SafeZip.read_npy`
  then reads the data straight into the final array (no pickle, no intermediate copies).

Every refusal is a :class:`FileRefused` (a ValueError) with a one-line message; loaders turn it
into their own error type (TraceFileError, SessionFileError, ConfigError, LessonError).

Writing lives beside it in :mod:`rnnviz.core.safewrite`.
"""

from __future__ import annotations

import json
import math
import os
import re
import resource
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.lib import format as npy_format

__all__ = [
    "FileRefused",
    "NpyHeader",
    "SafeZip",
    "TEXT_LIMIT",
    "available_memory",
    "describe_kind",
    "human_bytes",
    "open_regular",
    "parse_json",
    "read_text",
]

TEXT_LIMIT = 4 * 2**20  # configs and lessons are a few KB; 4 MB leaves room for a long own text
MAX_RATIO = 1100  # deflate cannot compress better than ~1032:1: a member claiming more is lying
TOTAL_RATIO = 200  # a whole archive may expand this much beyond FLOOR (real traces: 1-20x)
FLOOR = 256 * 2**20  # any file may expand to this much, if memory allows
MEMORY_FRACTION = 0.5  # what one file may take of the memory that is free now
CHUNK = 8 * 2**20  # streaming chunk: the only extra memory a read needs


class FileRefused(ValueError):  # noqa: N818 - a refusal, not a crash
    """A file rnnviz will not read or write as it is; the message says what is wrong, in one line."""


def human_bytes(n: float) -> str:
    """``1.5 GB`` style size for messages."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" or n >= 100 else f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PB"  # pragma: no cover


def describe_kind(mode: int) -> str:
    """What a non-regular file is, in words ("a named pipe (FIFO)", "a character device", ...)."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


# -- memory ------------------------------------------------------------------------------------

def available_memory() -> int:
    """Bytes this process can still allocate: free memory, limited by RLIMIT_AS if one is set."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, AttributeError):
            avail = 8 * 2**30
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        avail = min(avail, max(0, soft - _address_space_used()))
    return int(avail)


def _address_space_used() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


# -- reading -------------------------------------------------------------------------------------

def _stat_regular(path: Path, what: str) -> os.stat_result:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise FileRefused(f"no such file: {path}") from None
    except OSError as exc:
        raise FileRefused(f"cannot read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(f"{path} is {describe_kind(st.st_mode)}, not {what}")
    return st


def open_regular(path: str | os.PathLike, what: str = "a file", max_bytes: int | None = None):
    """Open ``path`` for binary reading only if it is a regular file (at most ``max_bytes``).

    Checked with ``stat`` before opening (a FIFO would block ``open``), opened with
    ``O_NONBLOCK`` and checked again with ``fstat`` (the name may have been swapped meanwhile).
    """
    path = Path(path)
    _stat_regular(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(f"{path} is {describe_kind(st.st_mode)}, not {what}")
        if max_bytes is not None and st.st_size > max_bytes:
            raise FileRefused(f"{path} is too large for {what} ({human_bytes(st.st_size)}; "
                              f"at most {human_bytes(max_bytes)})")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_text(path: str | os.PathLike, what: str = "a text file", max_bytes: int = TEXT_LIMIT) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes`` (FileRefused otherwise)."""
    with open_regular(path, what, max_bytes) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:  # the file grew after the check
        raise FileRefused(f"{path} is too large for {what} (more than {human_bytes(max_bytes)})")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused(f"{path} is not UTF-8 text (byte {exc.start}): not {what}") from None


def parse_json(text: str | bytes, source: str = "JSON"):
    """``json.loads`` with one-line errors: malformed JSON and nesting too deep are FileRefused."""
    try:
        return json.loads(text)
    except RecursionError:
        raise FileRefused(f"{source}: JSON nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise FileRefused(f"{source}: malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise FileRefused(f"{source}: malformed JSON ({type(exc).__name__})") from None


@dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` member declares, read before any of its data."""

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # bytes of magic + header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def _member_name_problem(name: str) -> str:
    if "\x00" in name:
        return "contains a NUL character"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        return "leaves the archive (..)"
    return ""


class SafeZip:
    """A zip archive opened for checked reading (use as a context manager).

    ``source`` is a path, or an open seekable binary file (a member of another archive) with
    ``size`` its compressed size. ``budget`` caps what all members together may expand to
    (default: :func:`available_memory` × MEMORY_FRACTION). ``label`` names the file in messages.
    """

    def __init__(self, source, *, label: str | None = None, what: str = "an archive", budget: int | None = None,
                 size: int | None = None):
        self._own = None
        if isinstance(source, (str, os.PathLike)):
            self.label = label or str(source)
            self._own = open_regular(source, what)
            fileobj = self._own
            size = os.fstat(fileobj.fileno()).st_size
        else:
            self.label = label or "<archive>"
            fileobj = self._own = source
        self.file_size = int(size or 0)
        try:
            self.zf = zipfile.ZipFile(fileobj)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
            self.close()
            raise FileRefused(f"{self.label} is not {what} (not a zip archive, or truncated: {_reason(exc)})") from None
        except BaseException:
            self.close()
            raise
        try:
            self.infos = self._check_members(what, budget)
        except BaseException:
            self.close()
            raise

    def _check_members(self, what: str, budget: int | None) -> dict[str, zipfile.ZipInfo]:
        infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        for info in self.zf.infolist():
            name = info.filename
            problem = _member_name_problem(name)
            if problem:
                raise FileRefused(f"{self.label}: member name {name[:80]!r} {problem}")
            if name in infos:
                raise FileRefused(f"{self.label}: member {name[:80]!r} appears more than once")
            if info.flag_bits & 0x1:
                raise FileRefused(f"{self.label}: member {name[:80]!r} is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise FileRefused(f"{self.label}: member {name[:80]!r} uses an unsupported compression")
            declared, packed = info.file_size, info.compress_size
            if info.compress_type == zipfile.ZIP_STORED and declared != packed:
                raise FileRefused(f"{self.label}: member {name[:80]!r} is damaged (sizes disagree)")
            if declared > MAX_RATIO * packed + 2**16:
                raise FileRefused(f"{self.label}: member {name[:80]!r} claims to expand {human_bytes(packed)} to "
                                  f"{human_bytes(declared)}, more than compression allows (a zip bomb?)")
            infos[name] = info
            total += declared
        limit = max(FLOOR, TOTAL_RATIO * max(self.file_size, 1))
        if total > limit:
            raise FileRefused(f"{self.label} would expand from {human_bytes(self.file_size)} to {human_bytes(total)} "
                              f"(more than {TOTAL_RATIO}x its size): refused as a possible zip bomb")
        budget = int(available_memory() * MEMORY_FRACTION) if budget is None else budget
        if total > budget:
            raise FileRefused(f"{self.label} would need {human_bytes(total)} of memory to read, but only about "
                              f"{human_bytes(budget)} can be spared now")
        return infos

    # -- context manager -------------------------------------------------------------------
    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        zf = self.__dict__.pop("zf", None)
        if zf is not None:
            zf.close()
        if self._own is not None:
            self._own.close()
            self._own = None

    # -- members ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        return list(self.infos)

    def info(self, name: str) -> zipfile.ZipInfo:
        try:
            return self.infos[name]
        except KeyError:
            raise FileRefused(f"{self.label} has no member {name[:80]!r}") from None

    def read_bytes(self, name: str, max_bytes: int) -> bytes:
        """A small member's bytes (a manifest), at most ``max_bytes``."""
        info = self.info(name)
        if info.file_size > max_bytes:
            raise FileRefused(f"{self.label}: {name} is too large ({human_bytes(info.file_size)}; "
                              f"at most {human_bytes(max_bytes)})")
        with self._open(name) as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise FileRefused(f"{self.label}: {name} is larger than it claims")
        return data

    def _open(self, name: str):
        try:
            return self.zf.open(self.info(name))
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError) as exc:
            raise FileRefused(f"{self.label}: cannot read member {name[:80]!r} ({_reason(exc)})") from None

    def open_archive(self, name: str, what: str = "an archive", budget: int | None = None) -> SafeZip:
        """A member that is itself a zip (an .npz inside a session), read in place, not extracted."""
        info = self.info(name)
        return SafeZip(self._open(name), label=f"{self.label}: {name}", what=what, budget=budget,
                       size=info.file_size)

    def npy_names(self) -> dict[str, str]:
        """{array key: member name} of the ``.npy`` members (as ``np.load`` names them)."""
        return {n[:-4] if n.endswith(".npy") else n: n for n in self.infos}

    def npy_header(self, name: str) -> NpyHeader:
        """Parse member ``name``'s ``.npy`` header; refuse object/void dtypes and sizes that disagree."""
        info = self.info(name)
        label = f"{self.label}: {name}"
        try:
            with self._open(name) as f:
                major, minor = npy_format.read_magic(f)
                if (major, minor) == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(f)
                elif (major, minor) in ((2, 0), (3, 0)):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unknown .npy version {major}.{minor}")
                offset = f.tell()
        except FileRefused:
            raise
        except (ValueError, TypeError, SyntaxError, EOFError, OSError, zipfile.BadZipFile, RecursionError,
                MemoryError) as exc:
            raise FileRefused(f"{label} is not a valid .npy array ({_reason(exc)})") from None
        dtype = np.dtype(dtype)
        if dtype.hasobject or dtype.kind not in "biufcUS" or dtype.fields is not None or dtype.subdtype is not None:
            raise FileRefused(f"{label} holds {dtype} data (objects or records): refused, rnnviz files hold "
                              "plain numbers")
        if not all(isinstance(d, int) and d >= 0 for d in shape):
            raise FileRefused(f"{label} declares an invalid shape {shape}")
        head = NpyHeader(name, tuple(shape), dtype, bool(fortran), offset)
        if head.nbytes != info.file_size - offset:
            raise FileRefused(f"{label} declares shape {head.shape} of {dtype} ({human_bytes(head.nbytes)}) but holds "
                              f"{human_bytes(max(0, info.file_size - offset))} of data")
        return head

    def read_npy(self, head: NpyHeader) -> np.ndarray:
        """The array of a checked header, read in chunks straight into its final buffer."""
        label = f"{self.label}: {head.name}"
        try:
            flat = np.empty(head.size, dtype=head.dtype)
        except (MemoryError, ValueError) as exc:
            raise FileRefused(f"{label}: not enough memory for {head.shape} of {head.dtype} "
                              f"({human_bytes(head.nbytes)}; {_reason(exc)})") from None
        view = memoryview(flat.view(np.uint8)) if flat.size else memoryview(bytearray())
        try:
            with self._open(head.name) as f:
                f.read(head.offset)
                pos, n = 0, head.nbytes
                while pos < n:
                    chunk = f.read(min(CHUNK, n - pos))
                    if not chunk:
                        raise EOFError("member ends early")
                    view[pos:pos + len(chunk)] = chunk
                    pos += len(chunk)
                if f.read(1):
                    raise ValueError("member has data after its array")
        except FileRefused:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as exc:
            raise FileRefused(f"{label} is damaged ({_reason(exc)})") from None
        if head.fortran:
            return flat.reshape(head.shape[::-1]).transpose()
        return flat.reshape(head.shape)


def _reason(exc: BaseException) -> str:
    """One clean line for an exception: no dangling quotes, never empty."""
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and len(exc.args) == 1:
        text = str(exc.args[0])
    text = text.strip()
    if text.count("'") % 2:
        text = text.replace("'", "")
    return text or type(exc).__name__
