"""The cell registry: one :class:`CellSpec` per recurrent cell, read by everything else.

A spec says what a cell *is* (its display name, gates with the notes' symbols, equations, how
the notes' symbols map to PyTorch's), and holds what computes it: the step function, and the
vectorised forward (every gate for all steps at once) beside its hand-written BPTT backward.
``record``, the model, the graph, the build panel, the views and the exporters read the spec;
nobody keeps a second table. Adding a cell is one file and one :func:`register_cell` call.

Weights use PyTorch's layout: ``W_xh`` is ``weight_ih`` (G*H, I), ``W_hh`` is ``weight_hh``
(G*H, H), with the G gate blocks stacked in the order of :attr:`CellSpec.gates` (PyTorch's
order for its own cells: LSTM i, f, g, o; GRU r, z, n).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

#: PyTorch's names of one layer's parameters, in the order torch.nn registers them.
TORCH_PARAMS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
SIGMOID_RANGE = (0.0, 1.0)
TANH_RANGE = (-1.0, 1.0)


@dataclass(frozen=True)
class GateSpec:
    """One gate of a cell, as the views label it.

    key: the Trace's key, PyTorch's letter (``trace.gates[key]``: i f g o / r z n).
    symbol: the notes' symbol, plain Unicode with ``_`` for a subscript (a Greek capital gamma
    with the gate's letter for a sigmoid gate, a letter with a tilde for a candidate).
    title: what a heatmap is titled (the gate's name and its symbol).
    candidate: a candidate value (tanh or linear) rather than a sigmoid gate in (0, 1).
    value_range: the values the gate can take, (lo, hi); ±inf where it is unbounded.
    """

    key: str
    symbol: str
    title: str
    candidate: bool = False
    value_range: tuple[float, float] = SIGMOID_RANGE


@dataclass(frozen=True)
class CellSpec:
    """Everything about one recurrent cell.

    name: the config key (lower case); display: what a user reads (the cell's usual name).
    gates: the gates in the order of the weight blocks (a gateless cell has none).
    num_blocks: G, the number of H-row blocks in W_xh / W_hh (1 for a gateless cell).
    has_cell_state: the state is (h, c) rather than h. memory_gate: the gate key that decides
    how much of the old state is kept (LSTM f, GRU z) or None. forget_bias_gate: the gate block
    whose bias ``ModelConfig.forget_bias`` sets (LSTM f) or None.
    torch_class: the torch.nn class with the same equations and parameter layout, or None (the
    model then holds the parameters itself and always runs :attr:`step`).
    uses_activation: the cell's nonlinearity is ``ModelConfig.activation`` (SimpleRNN);
    torch_activations: those of them torch_class can run.
    params: which of :data:`TORCH_PARAMS` the cell has (a cell without W_hh leaves it out).
    equations: the step in the notes' notation, one plain-Unicode line each (``_x`` / ``_{t−1}``
    subscripts, ``{act}`` for the activation). torch_mapping: how the notes' symbols map to
    PyTorch's names. summary: one sentence for a tooltip.

    step(x_t (B, I), state, weights, activation) -> (new state, {gate key: (B, H)}) where
    weights = (W_xh, W_hh, b_xh, b_hh) (None for a parameter the cell does not have). The
    model's forward_equations and the autograd reference engine of ``record`` run it.

    The fast recording path (``record(engine="bptt")``), run without autograd:

    layer_forward(layer_in (T, B, I), [weights per direction], activation) -> [(T, B, H) per
        direction]: the hidden states, e.g. by torch's native kernel. None: ``step`` in a loop.
    forward(x (T, B, I), Hs (T, B, H), h_prev (T, B, H), weights, d, activation) -> saved:
        every gate for all steps at once from h_{t−1} and x_t: ``saved["gates"]`` {key:
        (T, B, H)}, ``saved["C"]`` (T, B, H) for a cell state, plus what backward needs.
        d = 1 is the backward direction: its h_{t−1} is the state at t + 1.
    backward(saved, direct (T, B, H), weights, d) -> (dH, dC or None, dzx, dzh or None): BPTT.
        ``direct`` is dL/dh_t arriving from above (head or next layer); dH / dC the total
        dL/dh_t, dL/dc_t (T, B, H); dzx (T, B, G*H) the gradient of the input-side
        pre-activation W_xh x_t + b_xh, dzh that of the hidden side W_hh h_{t−1} + b_hh
        (``dzh is dzx`` when one pre-activation gets both). ``record`` turns them into every
        parameter gradient and the gradient passed to the layer below. A backward that gets
        those another way (the LSTM's, when torch's kernel ran BPTT) returns dzx = dzh = None
        and leaves ``saved["param_grads"]`` {"weight_ih", ...: gradient} and ``saved["d_input"]``
        (dL/dx, (T, B, I)) instead.
    run_forward(x (T, B, I), weights, d, activation) -> (Hs (T, B, H), saved) or None: optional,
        the forward pass and what ``backward`` needs in one go (a written-out loop that keeps its
        gates instead of recomputing them, or torch's kernel under autograd, whose backward is
        then BPTT); None where ``layer_forward`` + ``forward`` is better.
        Its loop reports each step to :mod:`rnnviz.core.progress` (``time_order(..., ticks=True)``).
    With forward or backward None, ``record`` uses autograd through ``step`` instead.
    """

    name: str
    display: str
    gates: tuple[GateSpec, ...]
    step: Callable
    equations: tuple[str, ...]
    torch_mapping: str
    summary: str = ""
    num_blocks: int = 1
    has_cell_state: bool = False
    memory_gate: str | None = None
    forget_bias_gate: str | None = None
    torch_class: type | None = None
    uses_activation: bool = False
    torch_activations: tuple[str, ...] = ()
    params: tuple[str, ...] = TORCH_PARAMS
    aliases: tuple[str, ...] = ()
    forward: Callable | None = field(default=None, compare=False)
    backward: Callable | None = field(default=None, compare=False)
    layer_forward: Callable | None = field(default=None, compare=False)
    run_forward: Callable | None = field(default=None, compare=False)

    def __post_init__(self):
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"a cell name must be a lower-case identifier, not {self.name!r}")
        keys = [g.key for g in self.gates]
        if len(set(keys)) != len(keys):
            raise ValueError(f"cell {self.name!r}: gate keys repeat: {keys}")
        if self.memory_gate is not None and self.memory_gate not in keys:
            raise ValueError(f"cell {self.name!r}: memory gate {self.memory_gate!r} is not one of {keys}")
        if self.num_blocks < 1 or (self.gates and self.num_blocks < len(self.gates)):
            raise ValueError(f"cell {self.name!r}: num_blocks must be >= 1 and >= the number of gates")
        unknown = set(self.params) - set(TORCH_PARAMS)
        if unknown or "weight_ih" not in self.params:
            raise ValueError(f"cell {self.name!r}: params must include weight_ih and come from {TORCH_PARAMS}")

    @property
    def gate_keys(self) -> tuple[str, ...]:
        """The Trace's gate keys, in block order (``()`` for a gateless cell)."""
        return tuple(g.key for g in self.gates)

    def gate(self, key: str) -> GateSpec:
        """The gate with Trace key ``key``; KeyError naming the cell's gates otherwise."""
        for g in self.gates:
            if g.key == key:
                return g
        raise KeyError(f"{self.display} has no gate {key!r} (its gates: {', '.join(self.gate_keys) or 'none'})")

    def block_index(self, key: str) -> int:
        """The position of gate ``key``'s H-row block in W_xh / W_hh."""
        return self.gate_keys.index(self.gate(key).key)

    @property
    def has_recurrent_weight(self) -> bool:
        return "weight_hh" in self.params

    def is_native(self, activation: str = "tanh") -> bool:
        """True when ``torch_class``'s own kernel computes exactly these equations."""
        if self.torch_class is None:
            return False
        return not self.uses_activation or activation in self.torch_activations

    def equation_lines(self, activation: str = "tanh") -> list[str]:
        """The equations with ``{act}`` filled in (the identity activation leaves brackets)."""
        act = {"linear": ""}.get(activation, activation)
        return [line.replace("{act}", act) for line in self.equations]


class UnknownCellError(KeyError, ValueError):
    """A cell name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


#: name -> CellSpec, in registration order. Iterating gives the names (``for name in CELLS``).
CELLS: dict[str, CellSpec] = {}


def canonical_cell_name(name) -> str:
    """``name`` lower-cased, with aliases ("simplernn", "elman") resolved; not checked."""
    key = str(name).strip().lower()
    if key in CELLS:
        return key
    for spec in CELLS.values():
        if key in spec.aliases or key == spec.display.lower():
            return spec.name
    return key


def get_cell(name) -> CellSpec:
    """The spec of cell ``name`` (case and aliases ignored); UnknownCellError lists the valid ones."""
    spec = CELLS.get(canonical_cell_name(name))
    if spec is None:
        raise UnknownCellError(f"unknown cell {name!r}; valid cells: {', '.join(CELLS)}")
    return spec


def register_cell(spec: CellSpec, replace: bool = False) -> CellSpec:
    """Add ``spec`` to :data:`CELLS` (ValueError if the name is taken, unless ``replace``)."""
    if not isinstance(spec, CellSpec):
        raise TypeError(f"register_cell expects a CellSpec, not {type(spec).__name__}")
    if spec.name in CELLS and not replace:
        raise ValueError(f"a cell named {spec.name!r} is already registered")
    CELLS[spec.name] = spec
    return spec


def unregister_cell(name: str) -> CellSpec:
    """Remove cell ``name`` from the registry (tests that register a cell call it afterwards)."""
    spec = get_cell(name)
    del CELLS[spec.name]
    return spec


def display_name(name) -> str:
    """What a user reads for cell ``name`` ("SimpleRNN"); an unregistered name comes back as it is."""
    spec = CELLS.get(canonical_cell_name(name))
    return spec.display if spec is not None else str(name)


def gate_spec(cell, key: str) -> GateSpec | None:
    """The GateSpec of gate ``key`` of ``cell``, or None (unregistered cell or unknown gate)."""
    spec = CELLS.get(canonical_cell_name(cell))
    return next((g for g in spec.gates if g.key == key), None) if spec is not None else None
