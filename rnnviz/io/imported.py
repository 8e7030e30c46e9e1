"""A network read from another framework's file, rebuilt as an rnnviz model and checked.

Every importer (PyTorch, ONNX, Keras) turns its file into a :class:`NetSpec`: the cell, the sizes
and the weights in PyTorch's layout and gate order (LSTM i, f, g, o; GRU r, z, n), an optional
``nn.Linear``-like head and an optional embedding, plus a *reference*: the source framework's own
computation of the network (torch's kernel, onnxruntime, Keras's equations). :func:`build` makes
the :class:`~rnnviz.core.model.RNNModel`, runs rnnviz's step-by-step equations and the reference
on the same input and refuses the import unless they agree to :data:`TOLERANCE`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rnnviz.core.cells import display_name
from rnnviz.core.config import ConfigError, ModelConfig
from rnnviz.core.model import RNNModel
from rnnviz.io.errors import ModelImportError

TOLERANCE = 1e-4  # largest |rnnviz − source| accepted on the check input
CHECK_SEQ_LEN, CHECK_BATCH = 7, 3
NUM_GATES = {"rnn": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}

_MODEL_TASKS: dict[str, dict] = {}  # task name -> the file whose network's input it is (Copy as Python)

# reference(inputs) -> outputs. inputs: (T, B, I) float32, or (T, B) int64 token ids when the
# network has an embedding. outputs: (T, B, O) for every step, or (B, O) for the last step only.
Reference = Callable[[np.ndarray], np.ndarray]


@dataclass
class NetSpec:
    """What an importer read: a recurrent stack in PyTorch's layout, a head and an embedding."""

    framework: str  # "PyTorch" | "ONNX" | "Keras"
    kind: str  # what the file held: "state_dict", "nn.Module Net", "Sequential", "ONNX graph", ...
    cell: str  # a registered cell: "rnn" | "lstm" | "gru" | "gru_reset_before"
    input_size: int
    hidden_size: int
    num_layers: int = 1
    bidirectional: bool = False
    activation: str = "tanh"
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # torch names; missing biases = 0
    head: tuple[np.ndarray, np.ndarray] | None = None  # W (O, D*H), b (O,)
    embedding: np.ndarray | None = None  # (V, I): token id -> x_t
    notes: list[str] = field(default_factory=list)
    reference: Reference | None = None
    reference_name: str = ""
    check_shape: tuple[int, int] | None = None  # (T, B) for a source that takes only fixed shapes

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1


@dataclass
class ImportedModel:
    """An imported network: the rnnviz model, its input map and how well it matched the source.

    ``model`` is an ordinary :class:`RNNModel` (record, train and the window use it as any
    other); ``embedding`` (V, I) maps token ids to inputs x_t when the source had one.
    ``max_diff`` is the largest |rnnviz − source| on the check input, ``reference`` names what
    computed the source side. ``notes`` says what was adapted (dropout off, batch_first, ...).
    """

    model: RNNModel
    embedding: torch.Tensor | None
    framework: str
    kind: str
    source: str
    max_diff: float
    reference: str
    notes: list[str] = field(default_factory=list)

    @property
    def input_size(self) -> int:
        return self.model.cfg.input_size

    @property
    def vocab_size(self) -> int | None:
        return None if self.embedding is None else int(self.embedding.shape[0])

    def embed(self, tokens) -> torch.Tensor:
        """Token ids (T, B) -> inputs x (T, B, I) through the embedding (the network's input map)."""
        if self.embedding is None:
            raise ValueError("this network has no embedding: give it inputs x (T, B, I) directly")
        return self.embedding[torch.as_tensor(tokens, dtype=torch.long)]

    @property
    def task_name(self) -> str:
        """``model_<stem>``: the task :meth:`register_task` adds (random input for this network)."""
        stem = re.sub(r"[^a-z0-9_]+", "_", Path(self.source).stem.lower()).strip("_") or "file"
        return f"model_{stem}"

    def batch(self, seq_len: int = 20, batch_size: int = 4, seed: int = 0):
        """A reproducible TaskBatch for this network: random tokens through the embedding (else
        N(0, 1) inputs) and zero targets — with no data, the gradients shown are those of ½‖ŷ‖²."""
        from rnnviz.core.tasks import TaskBatch

        g = torch.Generator().manual_seed(seed)
        meta = {"source": self.source}
        if self.embedding is not None:
            tokens = torch.randint(0, self.vocab_size, (seq_len, batch_size), generator=g)
            x = self.embed(tokens)
            meta["token_ids"] = tokens.tolist()
        else:
            x = torch.randn(seq_len, batch_size, self.input_size, generator=g)
        out = self.model.cfg.output_size
        return TaskBatch(x, torch.zeros(seq_len, batch_size, out), "mse", "many-to-many", out, None,
                         [f"t{t}" for t in range(seq_len)], self.task_name, meta)

    def register_task(self) -> str:
        """Make :meth:`batch` the task :attr:`task_name` (so configs, the trainer and the window can
        use it); returns the name."""
        from rnnviz.core.tasks import TASKS, TaskSpec

        what = "random tokens" if self.embedding is not None else "random N(0, 1) input"
        _MODEL_TASKS[self.task_name] = {"path": self.source, "trust": self.kind.startswith("nn.Module")}
        TASKS[self.task_name] = TaskSpec(self.task_name, self.batch, "mse", "many-to-many",
                                         f"{what} for the network from {Path(self.source).name} "
                                         "(zero targets: gradients of ½‖ŷ‖²)")
        return self.task_name

    def record(self, seq_len: int = 20, batch_size: int = 4, seed: int = 0, **clip):
        """Record a trace of :meth:`batch`; returns (probe TaskBatch, Trace).

        ``clip``: record's clip_norm / clip_value (reported, never applied).
        """
        from rnnviz.core.record import record

        probe = self.batch(seq_len, batch_size, seed)
        meta = {"task": self.task_name, "shape": "many-to-many", "source": self.source, "import": self.summary(),
                "step": 0, **({"token_ids": probe.meta["token_ids"]} if "token_ids" in probe.meta else {})}
        return probe, record(self.model, probe.x, probe.y, loss="mse", meta=meta, **clip)

    def describe(self) -> str:
        """'LSTM H=32 L=2 bi (+embedding 100, head 5)'."""
        c = self.model.cfg
        s = f"{display_name(c.cell)} H={c.hidden_size}"
        if c.num_layers > 1:
            s += f" L={c.num_layers}"
        if c.bidirectional:
            s += " bi"
        extra = []
        if self.embedding is not None:
            extra.append(f"embedding {self.vocab_size}x{self.input_size}")
        extra.append(f"{c.input_size} in, {c.output_size} out")
        return f"{s} ({', '.join(extra)})"

    def summary(self) -> str:
        """One line for the status bar and the CLI: the file, the largest difference, then what it is.

        The difference comes early: a narrow status bar cuts the end of the line."""
        notes = "; ".join(self.notes)
        return (f"imported {Path(self.source).name}: max |rnnviz - {self.reference}| = {self.max_diff:.2g}; "
                f"{self.describe()}, {self.framework} {self.kind}" + (f"; {notes}" if notes else ""))


def registered_model_task(task: str) -> dict | None:
    """``{"path", "trust"}`` of the file whose :meth:`ImportedModel.register_task` made ``task``, else None."""
    return _MODEL_TASKS.get(task)


def build(spec: NetSpec, source: str, seed: int = 0) -> ImportedModel:
    """Make the rnnviz model of ``spec``, check it against ``spec.reference``, or refuse."""
    model = _rnnviz_model(spec)
    embedding = None if spec.embedding is None else torch.tensor(np.asarray(spec.embedding, np.float32))
    max_diff = check(model, embedding, spec, seed)
    if not max_diff <= TOLERANCE:  # also refuses NaN
        raise ModelImportError(
            f"refused: rnnviz's equations do not reproduce {spec.reference_name} for {Path(source).name}: "
            f"largest difference {max_diff:.3g} > {TOLERANCE:g} on a check input "
            f"({'; '.join(spec.notes) or 'no adaptations'})")
    return ImportedModel(model=model, embedding=embedding, framework=spec.framework, kind=spec.kind,
                         source=str(source), max_diff=float(max_diff), reference=spec.reference_name,
                         notes=list(spec.notes))


def _rnnviz_model(spec: NetSpec) -> RNNModel:
    D, H = spec.num_directions, spec.hidden_size
    out = D * H if spec.head is None else int(np.shape(spec.head[0])[0])
    try:
        cfg = ModelConfig(cell=spec.cell, input_size=spec.input_size, hidden_size=H, output_size=out,
                          num_layers=spec.num_layers, bidirectional=spec.bidirectional,
                          activation=spec.activation, seed=0)
    except ConfigError as exc:
        raise ModelImportError(f"this network cannot be shown: {exc}") from None
    model = RNNModel(cfg)
    state = {}
    for name, param in model.rnn.named_parameters():
        value = spec.weights.get(name)
        if value is None:
            if not name.startswith("bias"):
                raise ModelImportError(f"the file has no weight {name} for a {num_layers_text(spec)} "
                                       f"{display_name(spec.cell)}")
            value = np.zeros(tuple(param.shape), np.float32)
        value = np.asarray(value, dtype=np.float32)
        if value.shape != tuple(param.shape):
            raise ModelImportError(f"weight {name} has shape {value.shape}, expected {tuple(param.shape)} "
                                   f"for {display_name(spec.cell)} input {spec.input_size}, hidden {H}")
        state[name] = torch.from_numpy(value.copy())
    with torch.no_grad():
        model.rnn.load_state_dict(state)
        if spec.head is None:  # outputs = the hidden states themselves
            model.head.weight.copy_(torch.eye(out))
            model.head.bias.zero_()
        else:
            W, b = (np.asarray(a, dtype=np.float32) for a in spec.head)
            if W.shape != (out, D * H) or b.shape != (out,):
                raise ModelImportError(f"the output layer has shape {W.shape} + {b.shape}; "
                                       f"expected ({out}, {D * H}) + ({out},) after the {D * H} hidden units")
            model.head.weight.copy_(torch.from_numpy(W.copy()))
            model.head.bias.copy_(torch.from_numpy(b.copy()))
    if spec.embedding is not None and np.shape(spec.embedding)[1:] != (spec.input_size,):
        raise ModelImportError(f"the embedding has shape {np.shape(spec.embedding)}; the first recurrent "
                               f"layer expects vectors of {spec.input_size}")
    return model.eval()


def num_layers_text(spec: NetSpec) -> str:
    return f"{spec.num_layers}-layer{' bidirectional' if spec.bidirectional else ''}"


def check_inputs(vocab: int | None, input_size: int, seed: int = 0, shape: tuple[int, int] | None = None):
    """The check input: token ids (T, B) when there is a vocabulary, else N(0, 1) floats (T, B, I)."""
    rng = np.random.default_rng(seed)
    T, B = shape or (CHECK_SEQ_LEN, CHECK_BATCH)
    if vocab:
        return rng.integers(0, vocab, size=(T, B), dtype=np.int64)
    return rng.standard_normal((T, B, input_size)).astype(np.float32)


def check(model: RNNModel, embedding: torch.Tensor | None, spec: NetSpec, seed: int = 0) -> float:
    """Largest |rnnviz's equations − the source's computation| on a reproducible check input."""
    vocab = None if embedding is None else int(embedding.shape[0])
    inputs = check_inputs(vocab, spec.input_size, seed, spec.check_shape)
    x = torch.from_numpy(inputs) if embedding is None else embedding[torch.from_numpy(inputs)]
    with torch.no_grad():
        ours = model.forward_equations(x.float())[0].numpy()  # (T, B, O)
    try:
        theirs = np.asarray(spec.reference(inputs), dtype=np.float64)
    except ModelImportError:
        raise
    except Exception as exc:  # the source framework could not run its own network
        raise ModelImportError(f"{spec.reference_name} could not run the network on a check input "
                               f"of shape {inputs.shape}: {type(exc).__name__}: {exc}") from None
    if theirs.shape == ours.shape[1:] and ours.shape[0] != ours.shape[1]:  # the source gives the last step only
        ours = ours[-1]
    if theirs.shape != ours.shape:
        raise ModelImportError(f"{spec.reference_name} returned outputs of shape {theirs.shape}; rnnviz's "
                               f"network gives {ours.shape} (time, batch, outputs): the file's network "
                               "is wired differently from [embedding ->] RNN [-> linear head]")
    diff = np.abs(ours - theirs)
    return float(diff.max()) if np.all(np.isfinite(diff)) else math.nan
