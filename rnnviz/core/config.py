"""Declarative, serialisable configuration: one RunConfig reproduces an experiment.

A RunConfig is a model, a task, a training set-up and a device. It round-trips through
plain dicts, TOML and JSON, and every bad value raises :class:`ConfigError` with a one-line
message that names the key, so the CLI and the GUI can show it as it is.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from rnnviz.core.cells import CELLS, canonical_cell_name, get_cell

ACTIVATIONS = ("tanh", "relu", "linear")
INITS = ("default", "identity", "orthogonal", "xavier")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
CLIPS = ("none", "norm", "value")

MAX_SIZE = 100_000  # larger sizes are typos, not experiments
MAX_HIDDEN = 8192
MAX_LAYERS = 16


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the key."""


def _choice(key: str, value, options) -> str:
    value = str(value).strip().lower()
    if value not in options:
        raise ConfigError(f"{key} = {value!r} is not one of: {', '.join(options)}")
    return value


def _int(key: str, value, lo: int, hi: int) -> int:
    if isinstance(value, float) and not math.isfinite(value):  # inf, 1e400 and NaN: int() would raise
        raise ConfigError(f"{key} = {value!r} must be a whole number (not infinity or NaN)")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ConfigError(f"{key} = {value!r} must be a whole number")
    value = int(value)
    if not lo <= value <= hi:
        raise ConfigError(f"{key} = {value} is out of range [{lo}, {hi}]")
    return value


def _float(key: str, value, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} = {value!r} must be a number")
    try:
        value = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise ConfigError(f"{key} = {value} is out of range") from None
    if not math.isfinite(value) or value > hi or value < lo or (lo_open and value == lo):
        bracket = "(" if lo_open else "["
        raise ConfigError(f"{key} = {value} is out of range {bracket}{lo}, {hi}]")
    return value


def _bool(key: str, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ConfigError(f"{key} = {value!r} must be true or false")


@dataclass
class ModelConfig:
    """The recurrent network: cell, sizes, activation and initialisation."""

    cell: str = "rnn"
    input_size: int = 1
    hidden_size: int = 32
    output_size: int = 1
    num_layers: int = 1
    bidirectional: bool = False
    activation: str = "tanh"  # for cells whose spec uses_activation; gated cells have their own
    init: str = "default"
    init_scale: float = 1.0
    forget_bias: float | None = None  # LSTM: sets b_f (b_if + b_hf); None keeps the init's biases
    seed: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> ModelConfig:
        """Normalise and check every field; raise ConfigError naming the first bad key."""
        self.cell = _choice("cell", canonical_cell_name(self.cell), CELLS)
        self.input_size = _int("input_size", self.input_size, 1, MAX_SIZE)
        self.hidden_size = _int("hidden_size", self.hidden_size, 1, MAX_HIDDEN)
        self.output_size = _int("output_size", self.output_size, 1, MAX_SIZE)
        self.num_layers = _int("num_layers", self.num_layers, 1, MAX_LAYERS)
        self.bidirectional = _bool("bidirectional", self.bidirectional)
        self.activation = _choice("activation", self.activation, ACTIVATIONS)
        self.init = _choice("init", self.init, INITS)
        self.init_scale = _float("init_scale", self.init_scale, 0.0, 100.0)
        if self.forget_bias is not None:
            self.forget_bias = _float("forget_bias", self.forget_bias, -100.0, 100.0)
        self.seed = _int("seed", self.seed, 0, 2**63 - 1)
        return self

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def spec(self):
        """The cell's :class:`~rnnviz.core.cells.CellSpec` from the registry."""
        return get_cell(self.cell)

    @property
    def gate_names(self) -> tuple[str, ...]:
        return self.spec.gate_keys

    @property
    def num_gates(self) -> int:
        """G, the number of H-row blocks in W_xh / W_hh."""
        return self.spec.num_blocks


@dataclass
class TaskConfig:
    """Which sequence problem, and how much of it per batch."""

    name: str = "adding"
    seq_len: int = 50
    batch_size: int = 16
    text: str | None = None  # for the language-model tasks: the user's own text
    seed: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> TaskConfig:
        from rnnviz.core.tasks import TASKS  # tasks import torch-heavy code; keep config light

        self.name = _choice("task", self.name, tuple(TASKS))
        self.seq_len = _int("seq_len", self.seq_len, 1, MAX_SIZE)
        self.batch_size = _int("batch_size", self.batch_size, 1, MAX_SIZE)
        if self.text is not None:
            if not isinstance(self.text, str):
                raise ConfigError(f"text = {self.text!r} must be a string")
            if not self.text.strip():
                raise ConfigError("text is empty: type a sentence, or leave text out to use the bundled corpus")
        self.seed = _int("task seed", self.seed, 0, 2**63 - 1)
        return self


@dataclass
class TrainConfig:
    """How the network learns: optimiser, learning rate, clipping, truncation, recording."""

    optimizer: str = "adam"
    lr: float = 1e-2
    momentum: float = 0.9  # for "momentum" (SGD with momentum) and RMSprop
    clip: str = "none"
    clip_norm: float = 1.0
    clip_value: float = 1.0
    steps: int = 200
    tbptt: int = 0  # truncated BPTT window in time steps; 0 = full backpropagation through time
    record_every: int = 0  # record a Trace every N steps; 0 = only at the end
    seed: int = 0

    def __post_init__(self):
        self.validate()

    def validate(self) -> TrainConfig:
        self.optimizer = _choice("optimizer", self.optimizer, OPTIMIZERS)
        self.lr = _float("lr", self.lr, 0.0, 100.0, lo_open=True)
        self.momentum = _float("momentum", self.momentum, 0.0, 0.9999)
        self.clip = _choice("clip", self.clip, CLIPS)
        self.clip_norm = _float("clip_norm", self.clip_norm, 0.0, 1e9, lo_open=True)
        self.clip_value = _float("clip_value", self.clip_value, 0.0, 1e9, lo_open=True)
        self.steps = _int("steps", self.steps, 0, 10_000_000)
        self.tbptt = _int("tbptt", self.tbptt, 0, MAX_SIZE)
        self.record_every = _int("record_every", self.record_every, 0, 10_000_000)
        self.seed = _int("train seed", self.seed, 0, 2**63 - 1)
        return self


# Flat keys (CLI flags, top-level TOML keys) → (section, field name).
FLAT_KEYS: dict[str, tuple[str, str]] = {
    **{k: ("model", k) for k in ("cell", "hidden_size", "num_layers", "bidirectional", "activation",
                                   "init", "init_scale", "forget_bias")},
    "task": ("task", "name"), "seq_len": ("task", "seq_len"), "batch_size": ("task", "batch_size"),
    "text": ("task", "text"),
    **{k: ("train", k) for k in ("optimizer", "lr", "momentum", "clip", "clip_norm", "clip_value",
                                   "steps", "tbptt", "record_every")},
}


@dataclass
class RunConfig:
    """Everything that reproduces one experiment. ``model.input_size`` / ``output_size`` follow the task."""

    model: ModelConfig = field(default_factory=ModelConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self):
        self.device = str(self.device).strip().lower()
        from rnnviz.core.device import DEVICES

        if self.device.split(":")[0] not in DEVICES:
            raise ConfigError(f"device = {self.device!r} is not one of: {', '.join(DEVICES)}")
        self.seed = _int("seed", self.seed, 0, 2**63 - 1)
        problem = combination_problem(self)
        if problem:
            raise ConfigError(problem)

    def to_dict(self) -> dict:
        """Plain nested dict (TOML/JSON-ready; ``forget_bias``/``text`` left out when unset)."""
        out = {"device": self.device, "seed": self.seed,
               "model": asdict(self.model), "task": asdict(self.task), "train": asdict(self.train)}
        for section in ("model", "task"):
            out[section] = {k: v for k, v in out[section].items() if v is not None}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Build from nested sections and/or flat keys; unknown keys are errors, not silence."""
        if not isinstance(data, dict):
            raise ConfigError("a config must be a table of keys")
        sections: dict[str, dict] = {"model": {}, "task": {}, "train": {}}
        top: dict = {}
        for key, value in data.items():
            if key in sections and not (key == "task" and isinstance(value, str)):  # task = "name" is flat
                if not isinstance(value, dict):
                    raise ConfigError(f"[{key}] must be a table")
                valid = {f.name for f in fields({"model": ModelConfig, "task": TaskConfig,
                                                  "train": TrainConfig}[key])}
                for sub, subvalue in value.items():
                    if sub not in valid:
                        raise ConfigError(f"unknown key {sub!r} in [{key}]; valid: {', '.join(sorted(valid))}")
                    sections[key][sub] = subvalue
            elif key in ("device", "seed"):
                top[key] = value
            elif key in FLAT_KEYS:
                section, name = FLAT_KEYS[key]
                sections[section][name] = value
            else:
                valid = sorted({"model", "task", "train", "device", "seed", *FLAT_KEYS})
                raise ConfigError(f"unknown key {key!r}; valid: {', '.join(valid)}")
        seed = top.get("seed", 0)
        for section in sections.values():
            section.setdefault("seed", seed)
        try:
            return cls(model=ModelConfig(**sections["model"]), task=TaskConfig(**sections["task"]),
                       train=TrainConfig(**sections["train"]), **top)
        except TypeError as exc:  # e.g. a value of the wrong kind for a dataclass field
            raise ConfigError(str(exc)) from None

    def with_overrides(self, **flat) -> RunConfig:
        """A copy with flat keys changed (``None`` values are ignored), validated."""
        data = self.to_dict()
        for key, value in flat.items():
            if value is None:
                continue
            if key in ("device", "seed"):
                data[key] = value
                if key == "seed":
                    for section in ("model", "task", "train"):
                        data[section]["seed"] = value
                continue
            if key not in FLAT_KEYS:
                raise ConfigError(f"unknown key {key!r}")
            section, name = FLAT_KEYS[key]
            data[section][name] = value
        return RunConfig.from_dict(data)

    def to_toml(self) -> str:
        """TOML text that :func:`load_config` reads back to an equal RunConfig."""
        lines = [f"device = {json.dumps(self.device)}", f"seed = {self.seed}"]
        for section, values in self.to_dict().items():
            if isinstance(values, dict):
                lines += ["", f"[{section}]"]
                lines += [f"{k} = {_toml_value(v)}" for k, v in values.items()]
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        """Write TOML (or JSON for a .json path) through the atomic writer."""
        from rnnviz.core.safewrite import atomic_write

        path = Path(path)
        text = json.dumps(self.to_dict(), indent=2) if path.suffix == ".json" else self.to_toml()
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def combination_problem(cfg: RunConfig) -> str:
    """Why the model cannot run the task (one line), or '' when the pair is fine.

    The one rule for the CLI, lessons, sessions and the build panel: a one-to-many task
    generates its later inputs one step at a time, so a bidirectional network cannot read them.
    """
    from rnnviz.core.tasks import TASKS

    spec = TASKS.get(cfg.task.name)
    if spec is not None and spec.shape == "one-to-many" and cfg.model.bidirectional:
        return (f"task {cfg.task.name!r} is one-to-many: its later inputs are generated one at a time, "
                "so a bidirectional network cannot read them; untick bidirectional or pick another task")
    return ""


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(value)  # a JSON string literal is a valid TOML basic string


def parse_config_text(text: str, suffix: str = ".toml") -> RunConfig:
    """Parse TOML or JSON text into a RunConfig; syntax errors become ConfigError with the line."""
    try:
        data = json.loads(text) if suffix == ".json" else tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"malformed TOML: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise ConfigError("nested too deeply (thousands of levels of [ or {)") from None
    return RunConfig.from_dict(data)


def load_config(path: str | Path) -> RunConfig:
    """Read a run config from a .toml or .json file."""
    from rnnviz.core.safeio import FileRefused, read_text

    path = Path(path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"config file not found: {path}")
    try:
        text = read_text(path, "a config file (.toml or .json)")
    except FileRefused as exc:
        raise ConfigError(f"cannot read config: {exc}") from None
    try:
        return parse_config_text(text, path.suffix.lower())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


__all__ = ["ConfigError", "ModelConfig", "RunConfig", "TaskConfig", "TrainConfig", "combination_problem",
           "load_config", "parse_config_text", "replace"]
