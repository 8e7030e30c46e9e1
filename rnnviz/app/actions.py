"""What the app's buttons do, as plain functions (no Qt): record, compare, run the user's text.

Each returns a :class:`RunResult` (config, model, probe batch, traces, history); the GUI runs
them in a worker thread, the CLI and tests call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rnnviz.core.config import ConfigError, RunConfig
from rnnviz.core.tasks import TASKS, TaskBatch, tokenize
from rnnviz.core.train import Trainer, build_run, record_batch

MAX_TEXT_STEPS = 400  # the user's sentence is cut to this many tokens

#: Ready-made comparisons for the Compare dialog: label → flat overrides for run B.
COMPARISONS: dict[str, dict] = {
    "clipping off → norm clipping": {"clip": "norm"},
    "tanh → ReLU": {"cell": "rnn", "activation": "relu"},
    "default → identity init": {"init": "identity"},
    "RNN → LSTM": {"cell": "lstm"},
    "RNN → GRU": {"cell": "gru"},
    "1 layer → 2 layers": {"num_layers": 2},
    "unidirectional → bidirectional": {"bidirectional": True},
}


@dataclass
class RunResult:
    """What one run produced: its config (as given; the model's sized copy is ``model.cfg``),
    model, probe batch and traces.

    ``trace`` is the latest Trace (after training, if any), ``initial_trace`` the one recorded
    before training; ``history`` the training rows (empty for a plain recording); ``trainer``
    the Trainer when the run was trained (its optimizer state goes into a saved session).
    """

    config: RunConfig
    model: Any
    probe: TaskBatch
    trace: Any
    initial_trace: Any = None
    history: list[dict] = field(default_factory=list)
    trainer: Trainer | None = None
    label: str = ""

    def __post_init__(self):
        if self.initial_trace is None:
            self.initial_trace = self.trace


def _build(cfg: RunConfig):
    try:
        return build_run(cfg)
    except ValueError as exc:  # a task that cannot be built with these sizes / this text
        raise ConfigError(str(exc)) from None


def record_run(cfg: RunConfig, label: str = "", **meta) -> RunResult:
    """Build the model for ``cfg`` and record one forward + BPTT pass on its probe batch (with
    ``cfg``'s clipping), nothing trained: the one recording path of the app and the lessons.
    ``meta`` adds to the trace's metadata (e.g. a graph ``shape``). ``cfg`` is not modified."""
    model, probe = _build(cfg)
    trace = record_batch(model, probe, cfg.train, **meta)
    return RunResult(cfg, model, probe, trace, label=label)


def train_run(cfg: RunConfig, steps: int, callbacks=(), label: str = "") -> RunResult:
    """Record ``cfg`` untrained, then train it ``steps`` steps (0: just the recording)."""
    run = record_run(cfg, label=label)
    run.trainer = Trainer(run.model, cfg.task, cfg.train, callbacks)
    if steps:
        run.trainer.run(steps)
        run.history = list(run.trainer.history)
        run.trace = run.trainer.traces[-1][1]
    return run


def compare_runs(cfg: RunConfig, overrides: dict, steps: int = 0, label: str = "") -> list[RunResult]:
    """Run A = ``cfg``, run B = ``cfg`` with ``overrides``: same data, same seed, one change.

    With ``steps > 0`` both are trained that many steps first. Returns ``[run_a, run_b]`` (run B
    labelled ``label``). Bad overrides raise :class:`ConfigError`.
    """
    cfg_b = cfg.with_overrides(**overrides)
    return [train_run(cfg, steps), train_run(cfg_b, steps, label=label)]


def text_config(cfg: RunConfig, text: str) -> RunConfig:
    """``cfg`` set up to read ``text``: char_lm (or word_lm if already chosen), one window = the text."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("text is empty: type a sentence for the network to read")
    task = cfg.task.name if cfg.task.name in TASKS and TASKS[cfg.task.name].uses_text else "char_lm"
    n = len(tokenize(text)) if task == "word_lm" else len(text)
    if n < 2:
        raise ConfigError("text is too short: it needs at least two "
                          + ("words" if task == "word_lm" else "characters"))
    seq_len = min(n - 1, MAX_TEXT_STEPS)
    bidir = cfg.model.bidirectional
    return cfg.with_overrides(task=task, text=text, seq_len=seq_len,
                              batch_size=1, bidirectional=bidir)


def user_text_run(cfg: RunConfig, text: str) -> RunResult:
    """The user typed ``text``: record a char_lm / word_lm run on it, token by token.

    Sample 0 is the text from its first token (longer texts are cut to ``MAX_TEXT_STEPS`` tokens);
    the result's ``config`` is the text's config.
    """
    return record_run(text_config(cfg, text))


__all__ = ["COMPARISONS", "MAX_TEXT_STEPS", "RunResult", "compare_runs", "record_run", "text_config", "train_run",
           "user_text_run"]
