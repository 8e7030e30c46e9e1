"""Toy sequence tasks from the lecture notes, each returning a :class:`TaskBatch`.

Every task is a plain function of keyword arguments (``seq_len``, ``batch_size``, ``seed`` and
task-specific options) that returns a ``TaskBatch`` — it unpacks as ``x, y = batch``. All
randomness comes from a local ``numpy.random.Generator`` seeded with ``seed``, so the same
arguments always give identical tensors and the global RNG is never touched.

Layouts (T = time steps, B = batch, I = input size, O = output size)::

    x  (T, B, I) float32
    y  loss "mse"/"bce": float32 (B, O) = target at the last step only, or (T, B, O), NaN = none
       loss "ce":        int64   (B,)   = target at the last step only, or (T, B),  -100 = none

Use :func:`make_task` with a name from :data:`TASKS` to build any task from a config.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from rnnviz.core.tasks.batch import IGNORE, MAX_SIZE, TaskBatch, _check_sizes
from rnnviz.core.tasks.dynamics import flip_flop, flip_flop_error, sine_wave
from rnnviz.core.tasks.sequences import (
    adding_problem,
    copy_task,
    one_to_many_melody,
    reverse_sequence,
    trajectory,
)
from rnnviz.core.tasks.text import (
    PAD,
    SENTIMENT_NOTES,
    agreement,
    bag_of_words,
    char_lm,
    detokenize,
    load_corpus,
    name_tagging,
    sentiment,
    tokenize,
    word_lm,
)

__all__ = [
    "IGNORE", "MAX_SIZE", "PAD", "SENTIMENT_NOTES", "TASKS", "TaskBatch", "TaskSpec", "adding_problem",
    "agreement", "bag_of_words", "char_lm", "copy_task", "detokenize", "flip_flop", "flip_flop_error",
    "load_corpus", "make_task", "name_tagging", "one_to_many_melody", "reverse_sequence", "sentiment",
    "sine_wave", "tokenize", "trajectory", "word_lm",
]


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: its function and what kind of problem it is."""

    name: str
    fn: Callable[..., TaskBatch]
    loss: str
    shape: str
    description: str
    uses_text: bool = False
    #: The loss of the best trivial answer, where there is one (the loss plot draws it): a model
    #: whose loss flattens there has learned nothing beyond it.
    baseline: float | None = None
    baseline_label: str = ""


TASKS: dict[str, TaskSpec] = {s.name: s for s in (
    TaskSpec("adding", adding_problem, "mse", "many-to-one",
             "Add the two marked numbers of a long sequence (long-range memory).",
             baseline=1 / 6, baseline_label="always answering 1"),
    TaskSpec("copy", copy_task, "ce", "many-to-many",
             "Remember a few symbols across blanks and repeat them after the delimiter."),
    TaskSpec("char_lm", char_lm, "ce", "many-to-many",
             "Predict the next character of a text; sample new text from it.", True),
    TaskSpec("word_lm", word_lm, "ce", "many-to-many",
             "Predict the next word: 'This morning I took my cat for a walk.'", True),
    TaskSpec("sentiment", sentiment, "ce", "many-to-one",
             "Good or bad? Same words, different order: a bag of words cannot tell."),
    TaskSpec("agreement", agreement, "ce", "many-to-one",
             "'The cat(s), which ate ..., was/were': agreement across a gap."),
    TaskSpec("trajectory", trajectory, "mse", "many-to-many",
             "Given a ball, where does it go next? (bouncing ball or sine)"),
    TaskSpec("tagging", name_tagging, "bce", "many-to-many",
             "Is each word part of a person's name? (Harry Potter and Hermione Granger ...)"),
    TaskSpec("melody", one_to_many_melody, "ce", "one-to-many",
             "One seed note in, a whole arpeggio out (music generation shape)."),
    TaskSpec("reverse", reverse_sequence, "ce", "encoder-decoder",
             "Read a sequence, then output it reversed (translation shape)."),
    TaskSpec("flipflop", flip_flop, "mse", "many-to-many",
             "3-bit flip-flop: hold the sign of each line's last pulse (eight memories)."),
    TaskSpec("sine", sine_wave, "mse", "many-to-many",
             "Generate a sine wave whose frequency a constant input sets."),
)}


def make_task(name: str, **kwargs) -> TaskBatch:
    """Build task ``name`` from keyword args, dropping the ones it does not take.

    ``None`` values are dropped too, so the task's own default applies (e.g. text=None).
    """
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid names: {', '.join(TASKS)}")
    batch_size = kwargs.get("batch_size")
    _check_sizes(kwargs.get("seq_len"), 1 if batch_size is None else batch_size)
    fn = TASKS[name].fn
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kwargs.items() if k in params and v is not None})
