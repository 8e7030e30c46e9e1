"""The recurrent model: the cell's parameters (``model.rnn``) plus the output head W_hy.

For a cell with a torch.nn counterpart (its spec's ``torch_class``: ``torch.nn.RNN``/``LSTM``/
``GRU``) the parameters live in a real instance of it, so they have PyTorch's names and layout,
the fast native kernel can run training, and ``to_torch`` / ``from_torch`` are exact. A cell
without one gets :class:`CellParameters`: the same names and layout, PyTorch's default init.
``forward_equations`` runs the spec's step function step by step; tests prove both agree with
each other and with torch.nn.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from rnnviz.core.cells import CELLS, TORCH_PARAMS, get_cell
from rnnviz.core.config import ModelConfig
from rnnviz.core.device import resolve_device


class CellParameters(nn.Module):
    """The parameters of a cell without a torch.nn class, named and laid out as torch.nn would.

    ``weight_ih_l{layer}[_reverse]`` (G*H, I or D*H), ``weight_hh_…`` (G*H, H), ``bias_ih_…``,
    ``bias_hh_…`` (G*H,) — those of ``spec.params`` — initialised uniform ±1/√H like PyTorch.
    """

    def __init__(self, spec, input_size: int, hidden_size: int, num_layers: int = 1,
                 bidirectional: bool = False):
        super().__init__()
        self.spec = spec
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional = bidirectional
        G, H, D = spec.num_blocks, hidden_size, 2 if bidirectional else 1
        bound = 1.0 / H**0.5
        for layer in range(num_layers):
            for d in range(D):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                cols = {"weight_ih": input_size if layer == 0 else D * H, "weight_hh": H}
                for name in spec.params:
                    shape = (G * H, cols[name]) if name in cols else (G * H,)
                    self.register_parameter(name + sfx, nn.Parameter(torch.empty(shape).uniform_(-bound, bound)))


class RNNModel(nn.Module):
    """ŷ_t = W_hy h_t + b_y on top of a (deep, bi-directional) recurrent stack."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.spec = spec = get_cell(cfg.cell)
        kwargs = dict(num_layers=cfg.num_layers, bidirectional=cfg.bidirectional)
        if spec.uses_activation and spec.torch_class is not None:
            # torch.nn.RNN has no identity nonlinearity: the linear RNN stores its weights here
            # and always runs the equations.
            kwargs["nonlinearity"] = "relu" if cfg.activation == "relu" else "tanh"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            if spec.torch_class is None:
                self.rnn = CellParameters(spec, cfg.input_size, cfg.hidden_size, **kwargs)
            else:
                self.rnn = spec.torch_class(cfg.input_size, cfg.hidden_size, **kwargs)
            self.head = nn.Linear(cfg.num_directions * cfg.hidden_size, cfg.output_size)
            initialise(self, cfg)

    # -- weights in the notes' notation -------------------------------------------------
    def layer_weights(self, layer: int, direction: int = 0):
        """(W_xh, W_hh, b_xh, b_hh) of one layer and direction, in PyTorch's layout.

        A parameter the cell does not have (not in ``spec.params``) is None."""
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        have = self.spec.params
        return tuple(self.rnn.get_parameter(n + sfx) if n in have else None for n in TORCH_PARAMS)

    @property
    def W_hy(self) -> torch.Tensor:  # noqa: N802 - the notes' name
        return self.head.weight

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    @property
    def native(self) -> bool:
        """True when torch's own kernel computes exactly these equations."""
        return self.spec.is_native(self.cfg.activation)

    def zero_state(self, batch_size: int):
        cfg = self.cfg
        h0 = self.head.weight.new_zeros(cfg.num_layers * cfg.num_directions, batch_size, cfg.hidden_size)
        return (h0, h0.clone()) if self.spec.has_cell_state else h0

    # -- forward --------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (T, B, I) → ŷ (T, B, O), using torch's native kernel when it can."""
        return self.forward_with_state(x)[0]

    def forward_with_state(self, x: torch.Tensor, state=None):
        """x (T, B, I), optional state → (ŷ (T, B, O), final state) — state in torch's layout."""
        if self.native:
            out, state = self.rnn(x, state)  # out (T, B, D*H)
            return self.head(out), state
        y, state, _ = self.forward_equations(x, state)
        return y, state

    def forward_equations(self, x: torch.Tensor, state=None, keep: bool = False):
        """Run the cells step by step.

        Returns (ŷ (T, B, O), final state, record). With ``keep`` the record holds, per layer
        and direction k = layer*D + direction, the lists of h_t, c_t and gate tensors (each
        (B, H)), in time order for both directions — the graph autograd can differentiate.
        """
        cfg, spec = self.cfg, self.spec
        T, B, _ = x.shape
        D = cfg.num_directions
        cs_ = spec.has_cell_state
        if state is None:
            state = self.zero_state(B)
        h0, c0 = state if cs_ else (state, None)
        rec = {"h": [], "c": [], "gates": []}
        finals_h, finals_c = [], []
        layer_in = x
        for layer in range(cfg.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                weights = self.layer_weights(layer, d)
                s = (h0[k], c0[k]) if cs_ else h0[k]
                hs, cs, gs = [None] * T, [None] * T, [None] * T
                for t in (reversed(range(T)) if d else range(T)):
                    s, gates = spec.step(layer_in[t], s, weights, cfg.activation)
                    hs[t] = s[0] if cs_ else s
                    cs[t] = s[1] if cs_ else None
                    gs[t] = gates
                finals_h.append(s[0] if cs_ else s)
                if cs_:
                    finals_c.append(s[1])
                outs.append(torch.stack(hs))  # (T, B, H)
                if keep:
                    rec["h"].append(hs)
                    rec["c"].append(cs)
                    rec["gates"].append(gs)
            layer_in = torch.cat(outs, dim=2) if D == 2 else outs[0]  # (T, B, D*H)
        y = self.head(layer_in)
        h_n = torch.stack(finals_h)
        final = (h_n, torch.stack(finals_c)) if cs_ else h_n
        return y, final, rec

    # -- interchange with torch.nn ------------------------------------------------------
    def to_torch(self) -> TorchEquivalent:
        """An equivalent plain ``torch.nn`` model (a copy): ``rnn`` + ``head``."""
        if self.spec.torch_class is None:
            raise ValueError(f"the {self.spec.display} cell has no torch.nn counterpart to export to")
        if not self.native:
            raise ValueError(f"{self.spec.torch_class.__name__} has no {self.cfg.activation} activation; "
                             f"use one of {', '.join(self.spec.torch_activations)} to export to torch.nn")
        return TorchEquivalent(copy.deepcopy(self.rnn), copy.deepcopy(self.head))


class TorchEquivalent(nn.Module):
    """A torch.nn RNN/LSTM/GRU with a Linear head: what ``RNNModel.to_torch`` returns."""

    def __init__(self, rnn: nn.RNNBase, head: nn.Linear):
        super().__init__()
        self.rnn, self.head = rnn, head

    def forward(self, x, state=None):
        out, _ = self.rnn(x, state)
        return self.head(out)


def initialise(model: RNNModel, cfg: ModelConfig) -> None:
    """Apply ``cfg.init`` to the recurrent weights (the head keeps PyTorch's default).

    default    exactly PyTorch's (uniform ±1/√H), untouched
    identity   W_hh = init_scale·I (per gate block), biases zero — the IRNN of Le et al. 2015
    orthogonal W_hh blocks orthogonal × init_scale, W_xh xavier, biases zero
    xavier     every weight Glorot-uniform × init_scale, biases zero
    """
    H, spec = cfg.hidden_size, model.spec
    with torch.no_grad():
        for layer in range(cfg.num_layers):
            for d in range(cfg.num_directions):
                W_xh, W_hh, b_xh, b_hh = model.layer_weights(layer, d)
                hh_blocks = W_hh.split(H, dim=0) if W_hh is not None else ()  # a cell may have no W_hh
                if cfg.init != "default":
                    for b in (b_xh, b_hh):
                        if b is not None:
                            b.zero_()
                if cfg.init == "identity":
                    for blk in hh_blocks:
                        blk.copy_(torch.eye(H) * cfg.init_scale)
                    for blk in W_xh.split(H, dim=0):
                        nn.init.xavier_uniform_(blk)
                elif cfg.init == "orthogonal":
                    for blk in hh_blocks:
                        nn.init.orthogonal_(blk, gain=cfg.init_scale)
                    for blk in W_xh.split(H, dim=0):
                        nn.init.xavier_uniform_(blk)
                elif cfg.init == "xavier":
                    for blk in (*hh_blocks, *W_xh.split(H, dim=0)):
                        nn.init.xavier_uniform_(blk, gain=cfg.init_scale)
                if spec.forget_bias_gate is not None and cfg.forget_bias is not None:
                    j = spec.block_index(spec.forget_bias_gate)
                    blk = slice(j * H, (j + 1) * H)
                    b_xh[blk] = cfg.forget_bias
                    if b_hh is not None:
                        b_hh[blk] = 0.0


def build_model(cfg: ModelConfig, device: str | torch.device = "cpu") -> RNNModel:
    """Build the model for ``cfg`` on ``device`` (a missing GPU falls back to CPU with a message)."""
    cfg.validate()
    return RNNModel(cfg).to(resolve_device(device))


def from_torch(module: nn.RNNBase | nn.Module, head: nn.Linear | None = None, seed: int = 0) -> RNNModel:
    """Import a ``torch.nn.RNN``/``LSTM``/``GRU`` (or a module with ``.rnn`` and ``.head``).

    Without a head, an identity-like head of size D*H is made so outputs equal the hidden states.
    """
    if head is None and hasattr(module, "rnn") and hasattr(module, "head"):
        module, head = module.rnn, module.head
    kinds = {spec.torch_class: name for name, spec in CELLS.items() if spec.torch_class is not None}
    cell = kinds.get(type(module))
    if cell is None:
        names = ", ".join(f"torch.nn.{k.__name__}" for k in kinds)
        raise TypeError(f"from_torch expects one of {names}, not {type(module).__name__}")
    if getattr(module, "batch_first", False) or getattr(module, "proj_size", 0) or not module.bias \
            or module.dropout:
        raise ValueError("from_torch supports time-major, biased modules without projection or dropout")
    D = 2 if module.bidirectional else 1
    out_size = head.out_features if head is not None else D * module.hidden_size
    cfg = ModelConfig(cell=cell, input_size=module.input_size, hidden_size=module.hidden_size,
                      output_size=out_size, num_layers=module.num_layers, bidirectional=module.bidirectional,
                      activation=getattr(module, "nonlinearity", "tanh"), seed=seed)
    model = RNNModel(cfg).to(next(module.parameters()).device)
    with torch.no_grad():
        model.rnn.load_state_dict(module.state_dict())
        if head is not None:
            model.head.load_state_dict(head.state_dict())
        else:
            model.head.weight.copy_(torch.eye(out_size))
            model.head.bias.zero_()
    return model
