"""How rnnviz runs arithmetic on the CPU: subnormal floats flushed to zero, and how many threads.

**Subnormals.** Vanishing gradients are the data rnnviz shows, and below ~1.2e-38 a float32 is
*subnormal*: x86 CPUs compute on subnormals about ten times slower (measured here: native
``nn.LSTM`` forward+backward at B=32, T=200, H=128 took 1054 ms with subnormals, 91 ms
flushed). Flushing (the CPU's FTZ and DAZ bits, set by ``torch.set_flush_denormal``) turns
every subnormal into 0: a value that is already below 1.2e-38 becomes 0, nothing above changes.
The per-step gradient norms rnnviz stores are computed in float64 from float32 gradients, so
every norm above ~1e-36 is unaffected (tests/test_numerics.py proves the stored norms agree with
and without flushing).

The bits live in each thread's MXCSR register, not in the process:

* :func:`fast_floats` sets them on the *calling* thread and restores what was there on exit.
  ``rnnviz.record`` and the :class:`~rnnviz.core.train.Trainer` run inside it, so as a library
  rnnviz is fast and leaves the caller's state as it found it. numpy has no switch of its own,
  but numpy operations on a flushed thread obey the same bits (rnnviz's BPTT loops are numpy).
* A thread starts with the bits of the thread that created it — including torch's OpenMP
  workers, which are created at torch's first parallel operation. :func:`configure_process`
  (called first thing by the CLI and the GUI) flushes the main thread before that, so every
  thread of the program runs flushed. A library user whose OpenMP pool already exists gets
  flushed arithmetic on the calling thread only (with one torch thread: everything).

**Threads.** On a busy machine torch's default (one thread per core) is slower than one thread:
measured on a 2-core machine shared with other jobs, 137 ms per training step with the default
vs 35 ms with one thread. Programs (CLI, GUI) call :func:`configure_process` at start-up, which
takes a ``--threads`` flag, else ``RNNVIZ_THREADS``, else the cores the load average says are
free. As a library, ``record`` and the Trainer use :func:`library_threads` for their duration and
restore the caller's count afterwards.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import numpy as np
import torch

THREADS_ENV = "RNNVIZ_THREADS"
FLUSH_ENV = "RNNVIZ_FLUSH"  # "0": record and train with full gradual underflow (slow, exact below 1.2e-38)

_PROBE = np.array([1e-39], dtype=np.float32)  # subnormal, stored before any flushing


def flush_denormal_active() -> bool:
    """True when the calling thread flushes subnormal floats to zero (FTZ or DAZ set).

    Probed by arithmetic: with DAZ the subnormal input reads as 0, with FTZ the subnormal
    result is written as 0; without either, 1e-39 * 1 stays 1e-39.
    """
    return bool((_PROBE * np.float32(1.0))[0] == 0.0)


@contextmanager
def fast_floats(enabled: bool = True):
    """Flush subnormal floats to zero on the calling thread inside the block; restore on exit.

    Nests freely; with ``enabled=False`` the block runs with full gradual underflow instead.
    Restoring sets FTZ and DAZ together (as torch does), the state before the block as probed
    by :func:`flush_denormal_active`.
    """
    before = flush_denormal_active()
    changed = before != enabled and torch.set_flush_denormal(enabled)
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(before)


def _parse_threads(value, source: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{source} must be a whole number of threads >= 1, not {value!r}")
    return n


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def free_cores() -> int:
    """Cores not busy with other work by the 1-minute load average (at least 1)."""
    cores = _usable_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows has no load average
        return cores
    return max(1, min(cores, int(cores - busy + 0.5)))


def choose_threads(requested: int | str | None = None, limit: int | None = None) -> int:
    """How many torch threads to use: ``requested`` (a --threads flag), else ``RNNVIZ_THREADS``,
    else torch's count when ``OMP_NUM_THREADS`` is set, else the free cores (:func:`free_cores`)
    but no more than ``limit`` (default: torch's current count, so a caller's own
    ``torch.set_num_threads`` is an upper bound).

    Raises ValueError with a one-line message for a value that is not a positive whole number.
    """
    if requested is not None:
        return _parse_threads(requested, "--threads")
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        return _parse_threads(env, THREADS_ENV)
    if os.environ.get("OMP_NUM_THREADS", "").strip():  # an explicit OpenMP choice: torch follows it
        return torch.get_num_threads()
    limit = torch.get_num_threads() if limit is None else limit
    return max(1, min(limit, free_cores()))


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch threads on the calling thread, then restore (None: unchanged)."""
    before = torch.get_num_threads()
    changed = n is not None and n != before
    if changed:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if changed:
            torch.set_num_threads(before)


_free_at_first_use: list[int] = []


def library_threads() -> int:
    """The thread count ``record`` and the Trainer use when rnnviz is a library.

    ``RNNVIZ_THREADS`` when set; otherwise the caller's ``torch.get_num_threads()``, lowered to
    the cores that were free the first time rnnviz asked (measured once: later the load average
    includes rnnviz's own work, and chasing it would make the count swing).
    """
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        return _parse_threads(env, THREADS_ENV)
    if not _free_at_first_use:
        _free_at_first_use.append(free_cores())
    return max(1, min(torch.get_num_threads(), _free_at_first_use[0]))


def flush_wanted() -> bool:
    """Whether ``record`` and the Trainer flush subnormals: yes, unless ``RNNVIZ_FLUSH=0``."""
    return os.environ.get(FLUSH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


@contextmanager
def fast_mode():
    """What ``record`` and the Trainer run inside: :func:`fast_floats` (unless ``RNNVIZ_FLUSH=0``)
    and :func:`library_threads`.

    Both are restored on exit, so a library caller's process is left as it was.
    """
    with fast_floats(flush_wanted()), torch_threads(library_threads()):
        yield


def configure_process(threads: int | str | None = None, limit: int | None = None) -> int:
    """For programs (the CLI, the GUI): flush subnormals in this thread and every thread it
    starts later, and set torch's threads by :func:`choose_threads`. Returns the thread count.

    Call it before torch's first parallel operation: OpenMP's worker threads copy the flush
    bits of the thread that creates them, once.
    """
    torch.set_flush_denormal(flush_wanted())
    n = choose_threads(threads, limit)
    torch.set_num_threads(n)
    return n
