"""Files out: the one atomic writer every saver uses.

:func:`atomic_write` (temporary file beside the target, fsync, rename; removed on failure),
:func:`check_target` (refuse folders and special files such as ``/dev/full``),
:func:`clean_stale_temporaries` (leftovers of rnnviz's own naming after a ``kill -9``), and a
staging folder that a multi-file run (``rnnviz train``) fills and then commits in one rename.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from rnnviz.core.safeio import FileRefused, describe_kind

__all__ = ["atomic_write", "check_target", "clean_stale_temporaries", "commit_staging", "staging_folder"]

PART_SUFFIX = ".part"
_PART_RE = re.compile(r"^\.(?P<name>.+?)\.(?:(?P<pid>\d+)\.)?[A-Za-z0-9_]{8}\.part$")


def check_target(path: str | os.PathLike) -> Path:
    """Refuse writing to ``path`` when it is a folder or a special file (``/dev/full``, a FIFO)."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError:  # missing (fine) or unreachable: writing there reports the real error
        return path
    if not stat.S_ISREG(st.st_mode):
        raise FileRefused(f"cannot write {path}: it is {describe_kind(st.st_mode)}, not a regular file")
    return path


def temporary_name(path: Path) -> str:
    """The prefix rnnviz's temporary files for ``path`` start with (see clean_stale_temporaries)."""
    return f".{path.name}.{os.getpid()}."


def atomic_write(path: str | os.PathLike, write) -> None:
    """Call ``write(fileobj)`` on a temporary file in ``path``'s folder, then rename it over ``path``.

    Nothing half-written is ever left under the user's name: on any error the temporary file
    is removed and the old file (if any) is untouched. Folders and special files (``/dev/null``
    and the like) are refused rather than replaced. The data is fsync'ed before the rename. The
    result gets the permissions of the file it replaces, or the usual ones for a new file (the
    temporary file itself is private).
    """
    path = check_target(path)
    folder = path.parent if str(path.parent) else Path(".")
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=temporary_name(path), suffix=PART_SUFFIX, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError) and exc.errno is not None:  # name the user's file, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def clean_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove temporaries of rnnviz's own naming (``.NAME[.PID].XXXXXXXX.part``) left by a killed run.

    Only files of that exact pattern whose writing process is gone (or that carry no process id,
    as older versions wrote them) are removed; everything else in ``folder`` is left alone.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _PART_RE.match(entry.name)
        if not m:
            continue
        is_stage = m.group("name") == STAGE_NAME and entry.is_dir(follow_symlinks=False)
        if not (is_stage or entry.is_file(follow_symlinks=False)):
            continue
        pid = m.group("pid")
        if pid is not None and _pid_alive(int(pid)):
            continue
        try:
            if is_stage:
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


STAGE_NAME = "rnnviz-run"


def staging_folder(folder: str | os.PathLike) -> Path:
    """A private folder inside ``folder`` where a run writes its outputs before :func:`commit_staging`."""
    return Path(tempfile.mkdtemp(prefix=f".{STAGE_NAME}.{os.getpid()}.", suffix=PART_SUFFIX, dir=folder))


def commit_staging(stage: Path, folder: Path) -> None:
    """Move every file (and the ``traces`` folder) of ``stage`` into ``folder``, replacing what was there.

    Each file is complete before it is renamed, so a reader sees the old file or the new one,
    never a torn one. ``folder/traces`` is swapped as a whole: the new run's traces replace the
    old run's instead of mixing with them.
    """
    for entry in sorted(os.scandir(stage), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False):
            os.replace(entry.path, folder / entry.name)
    new_traces = stage / "traces"
    if new_traces.is_dir():
        old = folder / "traces"
        if old.is_dir() and not old.is_symlink():
            os.replace(old, stage / "old-traces")
        elif old.exists() or old.is_symlink():
            raise FileRefused(f"cannot write {old}: it is not a folder")
        os.replace(new_traces, old)
    shutil.rmtree(stage, ignore_errors=True)
    _fsync_dir(folder)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
