"""What every task returns: a :class:`TaskBatch`, and the size checks every task makes."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional

from rnnviz.core.losses import remember_task_loss

IGNORE = -100  # CE target value meaning "no target at this step"
MAX_SIZE = 100_000


@dataclass
class TaskBatch:
    """One batch of a task: inputs, targets and what views need to label them."""

    x: torch.Tensor  # (T, B, I) float32
    y: torch.Tensor  # see module docstring
    loss: str  # "mse" | "ce" | "bce"
    shape: str  # "many-to-one" | "many-to-many" | "one-to-many" | "encoder-decoder" | "one-to-one"
    output_size: int
    vocab: list[str] | None = None  # one-hot token strings, index = position
    tokens: list[str] | None = None  # input tokens of sample 0, length T
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        remember_task_loss(self.y, self.loss)  # ``x, y = batch`` still knows its loss in record()

    def __iter__(self):
        yield self.x
        yield self.y

    @property
    def input_size(self) -> int:
        return int(self.x.shape[2])

    @property
    def seq_len(self) -> int:
        return int(self.x.shape[0])

    @property
    def batch_size(self) -> int:
        return int(self.x.shape[1])


# --------------------------------------------------------------------------- helpers


def _check_int(name: str, value, lo: int = 1, hi: int = MAX_SIZE) -> int:
    try:
        v = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {v}")
    return v


def _check_sizes(seq_len, batch_size) -> tuple[int | None, int]:
    seq = None if seq_len is None else _check_int("seq_len", seq_len)
    return seq, _check_int("batch_size", batch_size)


def _one_hot(idx: np.ndarray, size: int) -> torch.Tensor:
    """(T, B) integer indices -> (T, B, size) float32 one-hot."""
    return functional.one_hot(torch.as_tensor(idx, dtype=torch.long), size).to(torch.float32)
