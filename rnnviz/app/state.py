"""Session state: what the user is looking at, as a small observable object (no Qt).

``SessionState`` holds the run config, the current Trace, the training history and the view
choices (time cursor, phase, layer, sample, ...). Setting a field notifies subscribers::

    state = SessionState()
    state.events.subscribe("time", lambda t: print("now at", t))
    state.time = 3          # prints "now at 3"
    state.step_forward()    # t = 4; after T-1 the cursor continues into the backward pass

The timeline is the forward pass t = 0 .. T-1, then backpropagation through time from
t = T-1 back down to 0 (``phase == "backward"``). ``phase == "full"`` shows everything at once.
``to_dict`` / ``update_from_dict`` save and restore the view choices (JSON-ready).

Besides what is shown, the state holds what produced it: ``model`` (the torch model the trace
was recorded from, ``None`` for a trace opened from a file), ``probe`` (the batch traces are
recorded on) and ``run_id``, a generation token: every install of a new run (a recording, a
session, a lesson, a training start) takes a new id from :meth:`SessionState.new_run`, and
work started for an older id (a stopped trainer's late signals, a lesson still running when
the user moved on) is dropped instead of mixed into the new run. Compared runs are
``compare_runs``, a list of :class:`CompareRun` (label, trace, history), as many as a lesson makes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rnnviz.core.budget import check_run_size
from rnnviz.core.config import ConfigError, RunConfig, combination_problem  # one rule for all, in config

PHASES = ("forward", "backward", "full")
TRAINING_STATES = ("idle", "running", "paused")
FIELDS = ("config", "trace", "history", "time", "phase", "layer", "sample", "playing", "speed",
          "compare_runs", "training", "status", "lesson", "dirty", "panel", "model", "probe")
VIEW_FIELDS = ("time", "phase", "layer", "sample", "speed", "panel")


@dataclass(frozen=True)
class CompareRun:
    """One run shown beside the current one: its label (legend), its Trace and its loss history."""

    label: str
    trace: Any  # rnnviz.core.trace.Trace (not imported here: the state stays light)
    history: list = field(default_factory=list)


class EventEmitter:
    """napari-style events: ``subscribe(field, callback)``; callbacks get the new value."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Callable[[Any], None]]] = {}

    def subscribe(self, field: str, callback: Callable[[Any], None]) -> None:
        """Call ``callback(new_value)`` whenever ``field`` is set (``"*"``: every field, gets (field, value))."""
        if field != "*" and field not in FIELDS:
            raise ValueError(f"unknown state field {field!r}; valid: {', '.join(FIELDS)}")
        subs = self._subs.setdefault(field, [])
        if callback not in subs:
            subs.append(callback)

    def unsubscribe(self, field: str, callback: Callable[[Any], None]) -> None:
        """Stop calling ``callback`` for ``field`` (no error if it was not subscribed)."""
        subs = self._subs.get(field, [])
        if callback in subs:
            subs.remove(callback)

    def emit(self, field: str, value: Any) -> None:
        for cb in list(self._subs.get(field, ())):
            cb(value)
        for cb in list(self._subs.get("*", ())):
            cb(field, value)


class SessionState:
    """The observable session: config, trace, history and the view choices.

    Every field in :data:`FIELDS` is a plain attribute; assigning one emits
    ``events`` for that field (only when the value changed, except for ``trace``, ``history``
    and ``compare`` which always notify, as they are replaced wholesale).
    """

    _ALWAYS = ("trace", "history", "compare_runs", "config", "model", "probe")

    def __init__(self, config: RunConfig | None = None) -> None:
        object.__setattr__(self, "events", EventEmitter())
        object.__setattr__(self, "_values", {})
        v = self._values
        v["config"] = config if config is not None else RunConfig()
        v["trace"] = None
        v["history"] = []
        v["time"] = 0
        v["phase"] = "forward"
        v["layer"] = 0
        v["sample"] = 0
        v["playing"] = False
        v["speed"] = 10.0
        v["compare_runs"] = []
        v["training"] = "idle"
        v["status"] = ""
        v["lesson"] = None
        v["dirty"] = False
        v["panel"] = ""
        v["model"] = None
        v["probe"] = None
        object.__setattr__(self, "run_id", 0)

    # -- attribute plumbing --------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in FIELDS:
            raise AttributeError(f"SessionState has no field {name!r}; valid: {', '.join(FIELDS)}")
        if name == "trace":
            self.set_trace(value)
            return
        value = self._coerce(name, value)
        old = self._values.get(name)
        if name not in self._ALWAYS and _same(old, value):
            return
        self._values[name] = value
        self.events.emit(name, value)

    def _coerce(self, name: str, value: Any) -> Any:
        if name == "time":
            value = int(value)
            T = self.seq_len
            return max(0, min(value, T - 1)) if T else max(0, value)
        if name == "phase":
            if value not in PHASES:
                raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {value!r}")
        elif name == "training":
            if value not in TRAINING_STATES:
                raise ValueError(f"training must be one of {', '.join(TRAINING_STATES)}, not {value!r}")
        elif name in ("layer", "sample"):
            value = max(0, int(value))
            limit = self._limit(name)
            if limit:
                value = min(value, limit - 1)
        elif name == "speed":
            value = float(min(max(float(value), 0.25), 240.0))
        elif name in ("playing", "dirty"):
            value = bool(value)
        elif name == "history":
            value = list(value or [])
        elif name == "compare_runs":
            value = list(value or [])
            for run in value:
                if not isinstance(run, CompareRun):
                    raise TypeError(f"compare_runs holds CompareRun items, not {type(run).__name__}")
        elif name in ("status", "panel"):
            value = str(value or "")
        elif name == "config" and not isinstance(value, RunConfig):
            raise TypeError("config must be a RunConfig")
        return value

    def _limit(self, name: str) -> int:
        tr = self._values.get("trace")
        if tr is None:
            return 0
        return tr.hidden.shape[0] if name == "layer" else tr.batch_size

    # -- runs ----------------------------------------------------------------------------
    def new_run(self) -> int:
        """A new generation token: work started under an older :attr:`run_id` is stale."""
        object.__setattr__(self, "run_id", self.run_id + 1)
        return self.run_id

    def is_current(self, run_id: int) -> bool:
        """True if ``run_id`` is still the current generation (its results may be installed)."""
        return run_id == self.run_id

    @property
    def compare(self):
        """The first compared run's Trace (``None`` when nothing is compared)."""
        runs = self._values["compare_runs"]
        return runs[0].trace if runs else None

    @property
    def compare_label(self) -> str:
        """The first compared run's label ('' when nothing is compared)."""
        runs = self._values["compare_runs"]
        return runs[0].label if runs else ""

    @property
    def compare_history(self) -> list:
        """The first compared run's loss history ([] when nothing is compared)."""
        runs = self._values["compare_runs"]
        return list(runs[0].history) if runs else []

    # -- derived -------------------------------------------------------------------------
    @property
    def seq_len(self) -> int:
        """T of the current trace (0 when there is none)."""
        tr = self._values.get("trace")
        return int(tr.seq_len) if tr is not None else 0

    @property
    def cursor(self) -> tuple[int, str, int, int]:
        """(t, phase, k, b): what views get in ``set_cursor``."""
        v = self._values
        return v["time"], v["phase"], v["layer"], v["sample"]

    @property
    def position(self) -> int:
        """Place on the 2T-long timeline: forward t → t, backward t → 2T-1-t."""
        T = self.seq_len
        if self.phase == "backward" and T:
            return 2 * T - 1 - self.time
        return self.time

    def set_position(self, pos: int) -> None:
        """Move to place ``pos`` of the forward-then-BPTT timeline (clamped)."""
        T = self.seq_len
        if not T:
            return
        pos = max(0, min(int(pos), 2 * T - 1))
        if pos < T:
            self.phase, self.time = "forward", pos
        else:
            # set time first, then phase, so views see a consistent cursor at the end
            self.time = 2 * T - 1 - pos
            self.phase = "backward"

    # -- timeline ------------------------------------------------------------------------
    def step_forward(self) -> bool:
        """One step along the timeline; returns False at the very end (t=0 of BPTT)."""
        if self.phase == "full":
            if self.time < self.seq_len - 1:
                self.time += 1
                return True
            return False
        pos = self.position
        if pos >= 2 * self.seq_len - 1:
            return False
        self.set_position(pos + 1)
        return True

    def step_back(self) -> bool:
        """One step back along the timeline; returns False at t=0 of the forward pass."""
        if self.phase == "full":
            if self.time > 0:
                self.time -= 1
                return True
            return False
        pos = self.position
        if pos <= 0:
            return False
        self.set_position(pos - 1)
        return True

    def jump_start(self) -> None:
        """t = 0 of the forward pass."""
        if self.phase == "full":
            self.time = 0
        else:
            self.set_position(0)

    def jump_end(self) -> None:
        """End of the forward pass (t = T-1), or, if already there, end of BPTT (t = 0)."""
        T = self.seq_len
        if not T:
            return
        if self.phase == "full":
            self.time = T - 1
        elif self.phase == "forward" and self.time == T - 1:
            self.set_position(2 * T - 1)
        else:
            self.set_position(T - 1)

    # -- config --------------------------------------------------------------------------
    def set_config(self, **flat: Any) -> bool:
        """Change flat config keys (validated); on a bad value set ``status`` and return False."""
        try:
            cfg = self.config.with_overrides(**flat)
        except ConfigError as exc:
            self.status = str(exc)
            return False
        except (TypeError, ValueError) as exc:
            self.status = f"invalid setting: {exc}"
            return False
        try:  # the same memory estimate as the CLI, lessons and sessions, before anything is built
            check_run_size(cfg)
        except ConfigError as exc:
            self.status = str(exc)
            return False
        self.config = cfg
        self.dirty = True
        return True

    def set_trace(self, trace) -> None:
        """Install a new trace, keeping the cursor inside it."""
        self._values["trace"] = trace
        if trace is not None:
            # clamp silently first so trace subscribers see a valid cursor
            self._values["time"] = min(self._values["time"], trace.seq_len - 1)
            self._values["layer"] = min(self._values["layer"], trace.hidden.shape[0] - 1)
            self._values["sample"] = min(self._values["sample"], trace.batch_size - 1)
        self.events.emit("trace", trace)

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The view choices, JSON-ready: time, phase, layer, sample, speed, panel (the tab in front)."""
        return {k: self._values[k] for k in VIEW_FIELDS}

    def update_from_dict(self, data: dict) -> None:
        """Restore view choices written by :meth:`to_dict` (unknown keys are ignored)."""
        for key in VIEW_FIELDS:
            if key in data:
                setattr(self, key, data[key])


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a is b or a == b)
    except Exception:  # numpy arrays and the like: compare by identity only
        return a is b


__all__ = ["FIELDS", "PHASES", "TRAINING_STATES", "VIEW_FIELDS", "CompareRun", "EventEmitter", "SessionState",
           "combination_problem"]
