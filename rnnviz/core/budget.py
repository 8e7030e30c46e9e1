"""What a run will allocate, estimated before anything is allocated, and refused when it cannot fit.

One estimate for the CLI, the window's build panel, lessons and sessions::

    from rnnviz.core.budget import check_run_size, estimate_run
    estimate_run(cfg)        # RunEstimate(weights=..., inputs=..., recording=..., total=...) in bytes
    check_run_size(cfg)      # ConfigError naming what to make smaller, if it would not fit

The estimate counts the weights with their gradients and optimiser state (every layer and
direction), the task's inputs (T x B x features, where a text task's features are its distinct
characters or words) and a recorded trace (states, gates and gradients for every step). It is
compared with the memory this process can still get (:func:`rnnviz.core.safeio.available_memory`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.core.cells import get_cell
from rnnviz.core.config import ConfigError, ModelConfig, RunConfig, TaskConfig
from rnnviz.core.safeio import available_memory, human_bytes

__all__ = ["KEPT_BUDGET", "RECORD_BUDGET", "RunEstimate", "check_run_size", "estimate_run", "plan_samples",
           "record_budget", "sample_bytes", "task_features", "weight_shapes"]

USABLE_FRACTION = 0.8  # leave room for Python, torch and the window
FLOAT = 4


def _blocks(cell: str) -> int:
    return get_cell(cell).num_blocks


def weight_shapes(m: ModelConfig, input_size: int | None = None,
                  output_size: int | None = None) -> dict[str, tuple[int, ...]]:
    """The state_dict shapes of the model ``m`` describes (torch.nn's names and layout).

    ``input_size`` / ``output_size`` override the config's (a task decides them).
    """
    spec = get_cell(m.cell)
    G, H, D = spec.num_blocks, m.hidden_size, m.num_directions
    I = m.input_size if input_size is None else input_size
    O = m.output_size if output_size is None else output_size
    shapes: dict[str, tuple[int, ...]] = {}
    for layer in range(m.num_layers):
        width = I if layer == 0 else D * H
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            full = {"weight_ih": (G * H, width), "weight_hh": (G * H, H), "bias_ih": (G * H,), "bias_hh": (G * H,)}
            for name in spec.params:
                shapes[f"rnn.{name}{sfx}"] = full[name]
    shapes["head.weight"] = (O, D * H)
    shapes["head.bias"] = (O,)
    return shapes


def task_features(task: TaskConfig) -> tuple[int, int, int]:
    """(T, input features, output features) of ``task`` without building a full batch.

    Text tasks count their distinct characters / words; the other tasks are built once at a
    tiny size (a task whose length is fixed reports its own T).
    """
    from rnnviz.core import tasks

    if task.name == "char_lm":
        text = task.text if task.text is not None else tasks.load_corpus()
        n = len(set(text))
        return task.seq_len, n, n
    if task.name == "word_lm":
        text = task.text if task.text is not None else "This morning I took my cat for a walk."
        n = len(set(tasks.tokenize(text)))
        return task.seq_len, n, n
    small = min(task.seq_len, 64)
    try:
        batch = tasks.make_task(task.name, seq_len=small, batch_size=1, seed=task.seed, text=task.text)
    except ValueError:
        return task.seq_len, 64, 64
    T = task.seq_len if batch.seq_len == small else batch.seq_len
    return T, batch.input_size, batch.output_size


@dataclass(frozen=True)
class RunEstimate:
    """Bytes a run needs: weights (with gradients and optimiser state), task inputs, recording."""

    weights: int
    inputs: int
    recording: int
    parameters: int

    @property
    def total(self) -> int:
        return self.weights + self.inputs + self.recording


def estimate_run(cfg: RunConfig) -> RunEstimate:
    """What building, training and recording ``cfg`` allocates, roughly and from above."""
    m, t = cfg.model, cfg.task
    T, I, O = task_features(t)
    B = t.batch_size
    params = sum(math.prod(s) for s in weight_shapes(m, I, O).values())
    weights = params * FLOAT * 4  # weights, gradients, two optimiser moments
    inputs = T * B * I * (FLOAT + 8) * 2 + T * B * 8 * 2  # one-hot built as int64, kept as float32; probe + batch
    K, H, G = m.num_layers * m.num_directions, m.hidden_size, _blocks(m.cell)
    spec = get_cell(m.cell)
    # a recording keeps the samples that fit and records them in chunks (plan_samples)
    per_sample = sample_bytes(spec, K, T, H, I, max(O, 1))
    kept, chunk = plan_samples(B, per_sample)
    recording = len(kept) * per_sample[0] + chunk * per_sample[1] + K * G * H * H * FLOAT
    return RunEstimate(weights=int(weights), inputs=int(inputs), recording=int(recording), parameters=int(params))


def check_run_size(cfg: RunConfig, available: int | None = None) -> RunEstimate:
    """Raise ConfigError when ``cfg`` would need more memory than this machine can give; else the estimate."""
    est = estimate_run(cfg)
    avail = available_memory() if available is None else available
    usable = int(avail * USABLE_FRACTION)
    if est.total <= usable:
        return est
    m, t = cfg.model, cfg.task
    parts = {"weights": est.weights, "inputs": est.inputs, "recording": est.recording}
    biggest = max(parts, key=parts.get)
    extra = ""
    if biggest == "weights":
        knobs = f"hidden_size ({m.hidden_size}) or num_layers ({m.num_layers})"
        extra = ", or untick bidirectional" if m.bidirectional else ""
    elif biggest == "inputs":
        knobs = f"seq_len ({t.seq_len}) or batch_size ({t.batch_size})"
        extra = ", or use a text with fewer distinct characters" if t.name in ("char_lm", "word_lm") else ""
    else:
        knobs = f"seq_len ({t.seq_len}), batch_size ({t.batch_size}) or hidden_size ({m.hidden_size})"
    detail = ", ".join(f"{k} {human_bytes(v)}" for k, v in parts.items())
    raise ConfigError(f"this run needs about {human_bytes(est.total)} of memory ({detail}) but only about "
                      f"{human_bytes(usable)} can be used here: make {knobs} smaller{extra}")


# ---------------------------------------------------------------------------------------
# Recording within a memory budget: which samples a Trace keeps, how many are recorded at once
# ---------------------------------------------------------------------------------------
KEPT_BUDGET = 3 * 2**29  # bytes of per-sample arrays a Trace keeps by default (1.5 GiB: 4 samples at T=10,000, H=1024)
RECORD_BUDGET = 8 * 2**30  # bytes a recording may hold at once (kept arrays + one chunk's working arrays), at most
MIN_BUDGET = 256 * 2**20  # ... and at least


def record_budget(available: int | None = None) -> int:
    """The default memory budget of one recording: a quarter of the memory this process can still
    get, between 256 MiB and :data:`RECORD_BUDGET`. A larger budget records more samples at
    once: at H=1024 one sample at a time is several times slower than a batch of 16 (each step
    reads all of W_hh for however few rows it multiplies)."""
    avail = available_memory() if available is None else available
    return int(max(MIN_BUDGET, min(RECORD_BUDGET, avail // 4)))


def sample_bytes(spec, layers_dirs: int, T: int, H: int, I: int, O: int) -> tuple[int, int]:
    """(bytes one sample adds to a Trace, bytes one sample needs while it is recorded).

    The Trace keeps every gate, h, dL/dh (and c, dL/dc) for each layer and direction, plus the
    sample's inputs and outputs. Recording also holds the pre-activations, their gradients and
    the BPTT factors (about three (T, G*H) arrays), the layer input and a few (T, H) temporaries.
    """
    kept = len(spec.gates) + 2 + (2 if spec.has_cell_state else 0)
    trace = T * (layers_dirs * H * kept + I + O) * FLOAT
    # measured at T=2000, H=256 (peak RSS per sample): LSTM 20, GRU 22, SimpleRNN 7 (T, H) arrays
    working = T * (layers_dirs * H * (5 * spec.num_blocks + 7) + 2 * (I + O)) * FLOAT
    return int(trace), int(working)


def plan_samples(batch: int, per_sample: tuple[int, int], keep=None,
                 budget: int | None = None) -> tuple[list[int], int]:
    """(the batch indices a Trace keeps, how many samples to record at once).

    ``keep``: None keeps every sample when they fit in half the ``budget`` (and in
    :data:`KEPT_BUDGET`), otherwise as many of the first samples as fit (at least one); ``"all"``
    every sample; an int n the first n; a sequence of indices those (sorted). The samples are
    then recorded in chunks small enough that the kept arrays and one chunk's working arrays stay
    within ``budget`` (default :func:`record_budget`): samples do not interact in a recurrent
    network, so chunks give the same numbers as one pass.
    """
    if batch < 1:
        raise ValueError("the batch is empty")
    trace_b, work_b = per_sample
    if budget is None:  # reading the free memory costs more than a small recording: only when it matters
        budget = MIN_BUDGET if batch * (trace_b + work_b) <= MIN_BUDGET else record_budget()
    budget = int(budget)
    if keep is None:
        kept = list(range(min(batch, max(1, min(budget // 2, KEPT_BUDGET) // max(1, trace_b)))))
    elif isinstance(keep, str):
        if keep != "all":
            raise ValueError(f"keep_samples must be None, 'all', a number or a list of sample indices, not {keep!r}")
        kept = list(range(batch))
    elif isinstance(keep, (int, np.integer)) and not isinstance(keep, bool):
        if not 1 <= keep:
            raise ValueError(f"keep_samples must keep at least one sample, not {keep}")
        kept = list(range(min(batch, int(keep))))
    else:
        try:
            kept = sorted({int(k) for k in keep})
        except (TypeError, ValueError):
            raise ValueError(f"keep_samples must be None, 'all', a number or a list of sample indices, "
                             f"not {keep!r}") from None
        if not kept or kept[0] < 0 or kept[-1] >= batch:
            raise ValueError(f"keep_samples must list sample indices between 0 and {batch - 1}, not {list(keep)!r}")
    room = budget - len(kept) * trace_b
    chunk = int(min(batch, max(1, room // max(1, work_b))))
    return kept, chunk
