"""Lessons: the lecture's story as data files (TOML) — a config, what to look at, and an action.

A lesson is a TOML file (format in ``docs/lessons.md``)::

    name = "exploding"                # what a user types: rnnviz --lesson exploding
    title = "..."; description = "..."; order = 3
    text = \"\"\"what to look at\"\"\"
    panels = ["gradients", "training"]
    [config]  ...                     # a RunConfig table: flat keys and/or [config.model] etc.
    [action]  kind = "compare"; steps = 150
    [action.compare] label = "..."; clip = "norm"     # flat overrides for the second run
    [[variants]] label = "..."; shape = "..."; config = { task = "melody" }   # optional
    [check]   kind = "..."; point = "..."             # optional: what the lesson shows

:func:`load_lesson` reads a built-in lesson by name or any ``.toml`` path; :func:`list_lessons`
lists the built-in ones (shipped in ``rnnviz/lessons``) and the user's (``~/.config/rnnviz/lessons``
or ``$RNNVIZ_LESSONS_DIR``); :func:`rnnviz.app.lesson_run.run_action` runs the suggested action
headless with the core and returns its traces and histories. Every problem in a lesson file is a :class:`LessonError`
naming the file and the line. This module imports no Qt.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from rnnviz.app.panels import PANELS
from rnnviz.core.config import FLAT_KEYS, ConfigError, RunConfig

ACTION_KINDS = ("record", "train", "compare", "sample")
TOP_KEYS = ("name", "title", "description", "order", "text", "panels", "config", "action", "variants",
            "check")
ACTION_KEYS = ("kind", "steps", "label", "compare", "prime", "length", "temperature", "extrapolate")
VARIANT_KEYS = ("label", "description", "shape", "config")
SHAPES = ("many-to-many", "many-to-one", "one-to-many", "one-to-one", "encoder-decoder")
MAX_STEPS = 100_000
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class LessonError(ValueError):
    """A lesson that cannot be loaded or run; the message names the file and, if known, the line."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}, line {line}: " if line else f"{path}: "
        super().__init__(where + message)


@dataclass
class Variant:
    """One configuration of a multi-config lesson (e.g. each architecture of lesson 8)."""

    label: str
    config: RunConfig
    shape: str | None = None  # graph shape override; None = the task's own shape
    description: str = ""


@dataclass
class Lesson:
    """A loaded lesson: what to show, with which config, and what to do first."""

    name: str
    title: str
    description: str
    order: int
    text: str
    panels: list[str]
    config: RunConfig
    action: dict
    path: Path | None = None
    check: dict = field(default_factory=dict)
    variants: list[Variant] = field(default_factory=list)
    builtin: bool = False

    def variant(self, index: int) -> Lesson:
        """This lesson with variant ``index``'s config as its config (no variants: itself)."""
        if not self.variants:
            return self
        v = self.variants[index % len(self.variants)]
        return replace(self, config=v.config, title=f"{self.title} — {v.label}")

    @property
    def compare_runs(self) -> list[tuple[str, RunConfig]]:
        """(label, config) of every run a "compare" action makes, the lesson's own first."""
        runs = [(self.action.get("label", "run 1"), self.config)]
        for i, c in enumerate(self.action.get("compare", [])):
            overrides = {k: v for k, v in c.items() if k != "label"}
            runs.append((c.get("label", f"run {i + 2}"), self.config.with_overrides(**overrides)))
        return runs


# --------------------------------------------------------------------------- parsing


def _find_line(text: str, key: str, table: str | None = None) -> int | None:
    """Line (1-based) of ``key = ...`` in TOML ``text``, preferring the table ``table``."""
    current, first, header = "", None, None
    pat = re.compile(rf"""^\s*(?:["']?{re.escape(key)}["']?)\s*=""")
    inline = re.compile(rf"""[{{,]\s*{re.escape(key)}\s*=""")
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", line)
        if m:
            current = m.group(1)
            if table is not None and current == table and header is None:
                header = n
            continue
        if pat.match(raw) or inline.search(raw):
            if table is None or current == table or (table and current.startswith(table + ".")):
                return n
            first = first or n
    return first or header


def _error_line(text: str, message: str, table: str | None) -> int | None:
    """Guess the line a ConfigError / semantic message is about from the key it names."""
    for pattern in (r"unknown key '([^']+)'", r"^(?:task |train )?(\w+) = ", r"^(\w+) is "):
        m = re.search(pattern, message)
        if m:
            key = m.group(1)
            if key == "seed" and message.startswith(("task seed", "train seed")):
                key = "seed"
            if key == "name" or (key == "task" and table):
                line = _find_line(text, "name", (table or "config") + ".task") or _find_line(text, "task", table)
            else:
                line = _find_line(text, key, table)
            if line:
                return line
    return _find_line(text, table.split(".")[-1]) if table else None


def _normalise_config(data: dict) -> dict:
    """Accept ``task = "adding"`` as a flat key beside [config.*] tables."""
    data = dict(data)
    if isinstance(data.get("task"), str):
        data["task"] = {"name": data["task"]}
        for key, (section, name) in FLAT_KEYS.items():
            if section == "task" and key in data and key != "task":
                data["task"][name] = data.pop(key)
    return data


def _flat_overrides(data: dict) -> dict:
    """A variant's / compare run's config table as flat keys for ``RunConfig.with_overrides``."""
    flat = {}
    for key, value in data.items():
        if key in ("model", "task", "train") and isinstance(value, dict):
            for sub, subvalue in value.items():
                flat["task" if (key, sub) == ("task", "name") else sub] = subvalue
        else:
            flat[key] = value
    return flat


class _Parser:
    def __init__(self, text: str, path: Path | str):
        self.text, self.path = text, path

    def fail(self, message: str, key: str | None = None, table: str | None = None, line: int | None = None):
        if line is None and key is not None:
            line = _find_line(self.text, key, table)
        raise LessonError(message, self.path, line)

    def config(self, data, table: str, base: RunConfig | None = None) -> RunConfig:
        if not isinstance(data, dict):
            self.fail(f"[{table}] must be a table of config keys", table.split(".")[-1])
        from rnnviz.core.budget import check_run_size

        try:
            cfg = RunConfig.from_dict(_normalise_config(data)) if base is None \
                else base.with_overrides(**_flat_overrides(data))
            check_run_size(cfg)  # the same memory check as the CLI and the window
            return cfg
        except ConfigError as exc:
            raise LessonError(f"bad config: {exc}", self.path, _error_line(self.text, str(exc), table)) from None

    def parse(self, data: dict, builtin: bool) -> Lesson:
        for key in data:
            if key not in TOP_KEYS:
                self.fail(f"unknown key {key!r}; valid keys: {', '.join(TOP_KEYS)}", key)
        for key in ("name", "title", "config", "action"):
            if key not in data:
                self.fail(f"missing required key {key!r}", line=1)
        name = data["name"]
        if not isinstance(name, str) or not _NAME_RE.match(name):
            self.fail(f"name = {name!r} must be a word of letters, digits, '-', '_' (what a user types)", "name")
        strings = {}
        for key in ("title", "description", "text"):
            value = data.get(key, "")
            if not isinstance(value, str):
                self.fail(f"{key} must be a string", key)
            strings[key] = value.strip()
        order = data.get("order", 1000)
        if isinstance(order, bool) or not isinstance(order, int):
            self.fail(f"order = {order!r} must be a whole number", "order")
        panels = data.get("panels", [])
        if not isinstance(panels, list) or not all(isinstance(p, str) for p in panels):
            self.fail("panels must be a list of panel names", "panels")
        for p in panels:
            if p not in PANELS:
                self.fail(f"unknown panel {p!r}; valid panels: {', '.join(PANELS)}", "panels")
        config = self.config(data["config"], "config")
        action = self.action(data["action"], config)
        variants = self.variants(data.get("variants", []), config)
        check = data.get("check", {})
        if not isinstance(check, dict):
            self.fail("[check] must be a table", "check")
        return Lesson(name=name, title=strings["title"], description=strings["description"], order=order,
                      text=strings["text"], panels=list(panels), config=config, action=action,
                      path=Path(self.path) if self.path else None, check=dict(check), variants=variants,
                      builtin=builtin)

    def action(self, data, config: RunConfig) -> dict:
        if not isinstance(data, dict):
            self.fail("[action] must be a table", "action")
        for key in data:
            if key not in ACTION_KEYS:
                self.fail(f"unknown key {key!r} in [action]; valid keys: {', '.join(ACTION_KEYS)}", key, "action")
        kind = data.get("kind")
        if kind not in ACTION_KINDS:
            self.fail(f"[action] kind = {kind!r} is not one of: {', '.join(ACTION_KINDS)}",
                      "kind" if "kind" in data else None, "action", None if "kind" in data else
                      _find_line(self.text, "action"))
        action = dict(data)
        for key, lo, hi in (("steps", 0, MAX_STEPS), ("length", 0, 100_000), ("extrapolate", 0, 10_000)):
            if key in action:
                v = action[key]
                if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                    self.fail(f"[action] {key} = {v!r} must be a whole number in [{lo}, {hi}]", key, "action")
        action.setdefault("steps", config.train.steps if kind in ("train", "compare", "sample") else 0)
        if "temperature" in action:
            temps = action["temperature"]
            temps = temps if isinstance(temps, list) else [temps]
            for t in temps:
                if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 <= t <= 100:
                    self.fail(f"[action] temperature = {t!r} must be a number in [0, 100]", "temperature", "action")
        for key in ("prime", "label"):
            if key in action and not isinstance(action[key], str):
                self.fail(f"[action] {key} must be a string", key, "action")
        compare = action.get("compare", [])
        compare = [compare] if isinstance(compare, dict) else compare
        if kind == "compare" and not compare:
            self.fail("a 'compare' action needs an [action.compare] table of overrides for the second run",
                      "kind", "action")
        if not isinstance(compare, list) or not all(isinstance(c, dict) for c in compare):
            self.fail("[action.compare] must be a table (or [[action.compare]] tables)", "compare", "action")
        for c in compare:
            overrides = {k: v for k, v in c.items() if k != "label"}
            self.config(overrides, "action.compare", config)
            if "label" in c and not isinstance(c["label"], str):
                self.fail("[action.compare] label must be a string", "label", "action.compare")
        action["compare"] = [dict(c) for c in compare]
        return action

    def variants(self, data, config: RunConfig) -> list[Variant]:
        if not isinstance(data, list) or not all(isinstance(v, dict) for v in data):
            self.fail("variants must be [[variants]] tables", "variants")
        out = []
        for i, v in enumerate(data):
            for key in v:
                if key not in VARIANT_KEYS:
                    self.fail(f"unknown key {key!r} in [[variants]]; valid keys: {', '.join(VARIANT_KEYS)}",
                              key, "variants")
            shape = v.get("shape")
            if shape is not None and shape not in SHAPES:
                self.fail(f"variant shape = {shape!r} is not one of: {', '.join(SHAPES)}", "shape", "variants")
            label = v.get("label", f"variant {i + 1}")
            if not isinstance(label, str):
                self.fail("variant label must be a string", "label", "variants")
            cfg = self.config(v.get("config", {}), "variants", config)
            out.append(Variant(label=label, config=cfg, shape=shape, description=str(v.get("description", ""))))
        return out


def parse_lesson(text: str, path: str | Path = "<lesson>", builtin: bool = False) -> Lesson:
    """Parse lesson TOML ``text``; ``path`` is only used in messages and ``Lesson.path``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        raise LessonError(f"malformed TOML: {exc}", path, int(m.group(1)) if m else None) from None
    except RecursionError:
        raise LessonError("malformed TOML: nested too deeply", path) from None
    return _Parser(text, path).parse(data, builtin)


# --------------------------------------------------------------------------- finding lessons


def builtin_dir():
    """The folder (a Traversable) of the built-in lessons."""
    return resources.files("rnnviz").joinpath("lessons")


def user_lesson_dirs() -> list[Path]:
    """``$RNNVIZ_LESSONS_DIR`` (``os.pathsep``-separated) if set, else ``~/.config/rnnviz/lessons``."""
    env = os.environ.get("RNNVIZ_LESSONS_DIR")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return [Path(base) / "rnnviz" / "lessons"]


def _builtin_lessons() -> list[Lesson]:
    out = []
    for entry in builtin_dir().iterdir():
        if entry.name.endswith(".toml"):
            out.append(parse_lesson(entry.read_text(encoding="utf-8"), f"rnnviz/lessons/{entry.name}", True))
    return sorted(out, key=lambda lesson: (lesson.order, lesson.name))


def _read_file(path: Path) -> Lesson:
    """A lesson file: regular, at most a few MB of UTF-8 (a FIFO or a device is refused, not read)."""
    from rnnviz.core.safeio import FileRefused, read_text

    if not path.exists() and not path.is_symlink():
        raise LessonError("lesson file not found", path)
    try:
        text = read_text(path, "a lesson file (.toml)")
    except FileRefused as exc:
        err = LessonError(f"cannot read lesson file: {exc}")  # the message names the file already
        err.path = str(path)
        raise err from None
    return parse_lesson(text, path)


def list_lessons(user_dirs: list[str | Path] | None = None, errors: list | None = None) -> list[Lesson]:
    """Built-in lessons sorted by ``order``, then the user's lessons (sorted by order, name).

    ``user_dirs`` defaults to :func:`user_lesson_dirs`. A broken user file is skipped; its
    LessonError is appended to ``errors`` when a list is given.
    """
    lessons = _builtin_lessons()
    taken = {lesson.name: "a built-in lesson" for lesson in lessons}
    user = []
    for d in (user_lesson_dirs() if user_dirs is None else [Path(p) for p in user_dirs]):
        if not Path(d).is_dir():
            continue
        for path in sorted(Path(d).glob("*.toml")):
            try:
                lesson = _read_file(path)
                if lesson.name in taken:  # listed once: the built-in (or the first) one wins
                    raise LessonError(f"name = {lesson.name!r} is already {taken[lesson.name]}, which is the one "
                                      "shown; give this lesson another name", path)
            except LessonError as exc:
                if errors is not None:
                    errors.append(exc)
                continue
            taken[lesson.name] = f"the lesson in {path}"
            user.append(lesson)
    return lessons + sorted(user, key=lambda lesson: (lesson.order, lesson.name))


def load_lesson(name_or_path: str | Path, user_dirs: list[str | Path] | None = None) -> Lesson:
    """A built-in lesson by name ("exploding"), a user lesson by name, or any ``.toml`` file."""
    if isinstance(name_or_path, Path) or str(name_or_path).endswith(".toml") or os.sep in str(name_or_path):
        return _read_file(Path(name_or_path).expanduser())
    name = str(name_or_path).strip()
    for entry in builtin_dir().iterdir():
        if entry.name == f"{name}.toml":
            lesson = parse_lesson(entry.read_text(encoding="utf-8"), f"rnnviz/lessons/{entry.name}", True)
            if lesson.name == name:
                return lesson
    lessons = list_lessons(user_dirs)
    for lesson in lessons:
        if lesson.name == name:
            return lesson
    raise LessonError(f"no lesson called {name!r}; available: {', '.join(le.name for le in lessons)} "
                      "(or give the path of a .toml lesson file)")


def neighbour(lessons: list[Lesson], current: str | None, delta: int) -> Lesson | None:
    """The lesson ``delta`` places after ``current`` (by name) in ``lessons``, or None past the ends."""
    names = [le.name for le in lessons]
    if not lessons:
        return None
    if current not in names:
        return lessons[0] if delta >= 0 else lessons[-1]
    i = names.index(current) + delta
    return lessons[i] if 0 <= i < len(lessons) else None


__all__ = ["ACTION_KINDS", "PANELS", "Lesson", "LessonError", "Variant", "builtin_dir", "list_lessons",
           "load_lesson", "neighbour", "parse_lesson", "user_lesson_dirs"]
