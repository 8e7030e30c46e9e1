"""Running a lesson's suggested action headless (record, train, compare two runs, sample text):
:func:`run_action` returns its traces and histories as a :class:`LessonResult`; the window runs
the same function in its worker thread. This module imports no Qt."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rnnviz.app.lessons import Lesson, LessonError
from rnnviz.core.config import ConfigError
from rnnviz.core.graph import graph_for_trace


def encode_tokens(tokens: list[str], vocab: list[str]):
    """One-hot ``(T, 1, V)`` float tensor of ``tokens`` in ``vocab`` (unknown token → LessonError)."""
    import torch

    index = {w: i for i, w in enumerate(vocab)}
    missing = [t for t in tokens if t not in index]
    if missing:
        raise LessonError(f"words not in the task's vocabulary: {missing}")
    ids = torch.tensor([index[t] for t in tokens])
    return torch.nn.functional.one_hot(ids, len(vocab)).to(torch.float32)[:, None, :]


def classify(model, tokens: list[str], vocab: list[str]) -> list[float]:
    """Class probabilities of a many-to-one model after reading ``tokens``."""
    import torch

    with torch.no_grad():
        logits = model(encode_tokens(tokens, vocab).to(model.device))[-1, 0]
    return torch.softmax(logits.float(), 0).cpu().tolist()


def extrapolate(model, x, warmup: int, n: int):
    """Feed ``x[:warmup]`` (T, B, I) in, then ``n`` steps of the model's own predictions.

    Returns ``(predicted (n, B, O), one_step (warmup, B, O))`` numpy arrays: a closed loop, as
    the notes' "where does the ball go next", one step at a time.
    """
    import torch

    with torch.no_grad():
        y, state = model.forward_with_state(x[:warmup].to(model.device))
        out, cur = [], y[-1:]
        for _ in range(n):
            out.append(cur)
            cur, state = model.forward_with_state(cur, state)
    return torch.cat(out).cpu().numpy(), y.cpu().numpy()


@dataclass
class Extrapolation:
    """A closed-loop prediction: ``warmup`` true steps fed in, then the model's own outputs.

    ``predicted`` (n, B, O) continues from the warm-up, ``one_step`` (warmup, B, O) are the
    one-step predictions during it, ``true`` the probe's targets (T, B, O)."""

    warmup: int
    predicted: object
    one_step: object
    true: object


@dataclass
class LessonResult:
    """What :func:`run_action` produced. ``runs`` holds one :class:`~rnnviz.app.actions.RunResult`
    per run, the lesson's own first (a "compare" action adds one per compared config, each
    labelled); the properties below read the first run. ``samples`` maps temperature → sampled
    text ("sample" actions); ``graphs`` / ``variant_traces`` map a variant's label to its
    unrolled graph and its recorded Trace (lessons with variants)."""

    kind: str
    steps: int
    runs: list
    samples: dict = field(default_factory=dict)
    extrapolation: Extrapolation | None = None
    graphs: dict = field(default_factory=dict)
    variant_traces: dict = field(default_factory=dict)

    @property
    def main(self):
        """The lesson's own run (a RunResult)."""
        return self.runs[0]

    @property
    def compared(self) -> list:
        """The runs shown beside the lesson's own ("compare" actions; else empty)."""
        return self.runs[1:]

    label = property(lambda self: self.main.label, doc="The lesson's own run's label.")
    trace = property(lambda self: self.main.trace, doc="The lesson's run after training.")
    initial_trace = property(lambda self: self.main.initial_trace, doc="The lesson's run before training.")
    history = property(lambda self: self.main.history, doc="Training rows of the lesson's run.")
    model = property(lambda self: self.main.model, doc="The lesson's (trained) model.")
    probe = property(lambda self: self.main.probe, doc="The batch traces are recorded on.")
    trainer = property(lambda self: self.main.trainer, doc="The lesson run's Trainer.")

    @property
    def sample(self) -> str | None:
        """Text sampled at the first temperature (None if the action sampled nothing)."""
        return next(iter(self.samples.values()), None)


def run_action(lesson: Lesson, steps: int | None = None, callbacks=()) -> LessonResult:
    """Run the lesson's suggested action headless; return a :class:`LessonResult`.

    Every run is recorded (with its clipping) and trained through
    :func:`rnnviz.app.actions.train_run`, variants through :func:`~rnnviz.app.actions.record_run`:
    the same path as the window's buttons. ``steps`` overrides the action's training steps
    (e.g. fewer for a quick preview).
    """
    from rnnviz.app.actions import record_run, train_run

    action = lesson.action
    kind = action["kind"]
    n = action.get("steps", 0) if steps is None else steps
    if kind == "record":
        n = 0 if steps is None else steps
    try:
        if kind == "compare":
            runs = [train_run(cfg, n, callbacks, label=label) for label, cfg in lesson.compare_runs]
        else:
            runs = [train_run(lesson.config, n, callbacks, label=action.get("label", lesson.title))]
        result = LessonResult(kind, n, runs)
        main = result.main
        if kind == "sample":
            from rnnviz.core.sampling import sample_text

            temps = action.get("temperature", 1.0)
            temps = temps if isinstance(temps, list) else [temps]
            prime = action.get("prime", "")
            vocab = main.probe.vocab or []
            prime = "".join(c for c in prime if c in vocab) if all(len(v) == 1 for v in vocab) else prime
            result.samples = {float(t): sample_text(main.model, vocab, prime, action.get("length", 100),
                                                    float(t), seed=lesson.config.seed) for t in temps}
        if action.get("extrapolate"):
            probe = main.probe
            k = min(int(action["extrapolate"]), probe.seq_len - 1)
            pred, one = extrapolate(main.model, probe.x, probe.seq_len - k, k)
            result.extrapolation = Extrapolation(probe.seq_len - k, pred, one, probe.y.numpy())
        for v in lesson.variants:
            meta = {"shape": v.shape} if v.shape else {}  # else the task's own, from batch_meta
            trace = result.variant_traces[v.label] = record_run(v.config, label=v.label, **meta).trace
            result.graphs[v.label] = graph_for_trace(trace)  # the graph the window draws for it
    except (ConfigError, ValueError) as exc:
        if isinstance(exc, LessonError):
            raise
        raise LessonError(f"cannot run the lesson's action: {exc}", lesson.path) from None
    return result


def finite(value: float) -> bool:
    """``math.isfinite`` that accepts numpy scalars (for callers checking losses)."""
    return math.isfinite(float(value))


__all__ = ["Extrapolation", "LessonResult", "classify", "encode_tokens", "extrapolate", "finite", "run_action"]
