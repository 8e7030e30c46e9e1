"""What the app's buttons do, as plain functions (no Qt): record, compare, run the user's text.

Each returns Traces (and training histories); the GUI runs them in a worker thread, the CLI and
tests call them directly.
"""

from __future__ import annotations

import copy

from rnnviz.core.config import ConfigError, RunConfig
from rnnviz.core.record import record
from rnnviz.core.tasks import TASKS, tokenize
from rnnviz.core.train import Trainer, batch_meta, build_run, clip_kwargs

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


def record_run(cfg: RunConfig):
    """Build the model for ``cfg`` and record one forward + BPTT pass on its probe batch.

    Returns ``(model, probe_batch, trace)``; nothing is trained. ``cfg`` is not modified.
    """
    cfg = copy.deepcopy(cfg)
    try:
        model, probe = build_run(cfg)
    except ValueError as exc:  # a task that cannot be built with these sizes / this text
        raise ConfigError(str(exc)) from None
    trace = record(model, probe.x, probe.y, loss=probe.loss, meta=batch_meta(probe), **clip_kwargs(cfg.train))
    return model, probe, trace


def train_run(cfg: RunConfig, steps: int, callbacks=()):
    """Build and train ``cfg`` for ``steps`` steps; returns ``(trainer, final_trace)``."""
    cfg = copy.deepcopy(cfg)
    try:
        model, _ = build_run(cfg)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    trainer = Trainer(model, cfg.task, cfg.train, callbacks)
    trainer.run(steps)
    return trainer, trainer.traces[-1][1]


def compare_runs(cfg: RunConfig, overrides: dict, steps: int = 0):
    """Run A = ``cfg``, run B = ``cfg`` with ``overrides``: same data, same seed, one change.

    With ``steps > 0`` both are trained that many steps first. Returns
    ``(trace_a, trace_b, history_a, history_b)``. Bad overrides raise :class:`ConfigError`.
    """
    cfg_b = cfg.with_overrides(**overrides)
    if steps > 0:
        ta, trace_a = train_run(cfg, steps)
        tb, trace_b = train_run(cfg_b, steps)
        return trace_a, trace_b, list(ta.history), list(tb.history)
    _, _, trace_a = record_run(cfg)
    _, _, trace_b = record_run(cfg_b)
    return trace_a, trace_b, [], []


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


def user_text_run(cfg: RunConfig, text: str):
    """The user typed ``text``: record a char_lm / word_lm run on it, token by token.

    Returns ``(config, model, probe_batch, trace)``; sample 0 is the text from its first token
    (longer texts are cut to ``MAX_TEXT_STEPS`` tokens).
    """
    new = text_config(cfg, text)
    model, probe, trace = record_run(new)
    return new, model, probe, trace


__all__ = ["COMPARISONS", "MAX_TEXT_STEPS", "batch_meta", "compare_runs", "record_run", "text_config",
           "train_run", "user_text_run"]
