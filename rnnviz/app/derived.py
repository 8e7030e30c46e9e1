"""Numbers the views derive from a trace, computed once per trace and, for a run the window
records, in the recorder's background thread before the run reaches the GUI thread.

A view that needs per-trace work (a mean over the hidden units, log gradient norms, the unrolled
graph) registers a function with :func:`register` and reads the result with :func:`derived`:

    def graph_numbers(trace): ...            # pure: reads the trace, returns anything
    register(graph_numbers)
    numbers = derived(trace, graph_numbers)  # cached; computed now if nobody computed it yet

:func:`prepare` runs every registered function for a trace; the window's recorder calls it in
its thread right after recording, so installing a T = 10 000 run on the GUI thread only looks
the results up (numpy releases the GIL, so this work runs beside the GUI, not instead of it).
Results live as long as their trace (a weak reference drops them).
"""

from __future__ import annotations

import threading
import weakref

_LOCK = threading.Lock()
_CACHE: dict[int, tuple[weakref.ref, dict]] = {}
_PREPARERS: list = []


def register(fn):
    """Register ``fn(trace)`` to be run by :func:`prepare` (returns ``fn``: usable as a decorator)."""
    if fn not in _PREPARERS:
        _PREPARERS.append(fn)
    return fn


def _entry(trace) -> dict:
    key = id(trace)
    with _LOCK:
        entry = _CACHE.get(key)
        if entry is None or entry[0]() is not trace:
            def drop(ref, key=key):
                with _LOCK:
                    if _CACHE.get(key, (None,))[0] is ref:
                        del _CACHE[key]
            entry = _CACHE[key] = (weakref.ref(trace, drop), {})
        return entry[1]


def derived(trace, fn, *args):
    """``fn(trace, *args)``, computed once per trace and arguments (by whichever thread asks first)."""
    values = _entry(trace)
    key = (fn, args)
    with _LOCK:
        if key in values:
            return values[key]
    value = fn(trace, *args)
    with _LOCK:
        return values.setdefault(key, value)


def prepare(trace) -> None:
    """Compute every registered function for ``trace`` (call it off the GUI thread)."""
    if trace is None:
        return
    for fn in list(_PREPARERS):
        derived(trace, fn)


__all__ = ["derived", "prepare", "register"]
