"""The recurrent model: a torch.nn RNN/LSTM/GRU for the parameters plus the output head W_hy.

Parameters live in a real ``torch.nn.RNN``/``LSTM``/``GRU`` (``model.rnn``) so they have
PyTorch's names and layout, the fast native kernel can run training, and ``to_torch`` /
``from_torch`` are exact. ``forward_equations`` runs the cells of :mod:`rnnviz.core.cells` step
by step instead; tests prove both agree with each other and with torch.nn.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from rnnviz.core.cells import cell_step
from rnnviz.core.config import ModelConfig
from rnnviz.core.device import resolve_device

_TORCH_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RNNModel(nn.Module):
    """ŷ_t = W_hy h_t + b_y on top of a (deep, bi-directional) recurrent stack."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        kwargs = dict(num_layers=cfg.num_layers, bidirectional=cfg.bidirectional)
        if cfg.cell == "rnn":
            # torch.nn.RNN has no identity nonlinearity: the linear RNN stores its weights here
            # and always runs the equations.
            kwargs["nonlinearity"] = "relu" if cfg.activation == "relu" else "tanh"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.rnn = _TORCH_CLASSES[cfg.cell](cfg.input_size, cfg.hidden_size, **kwargs)
            self.head = nn.Linear(cfg.num_directions * cfg.hidden_size, cfg.output_size)
            initialise(self, cfg)

    # -- weights in the notes' notation -------------------------------------------------
    def layer_weights(self, layer: int, direction: int = 0):
        """(W_xh, W_hh, b_xh, b_hh) of one layer and direction, in PyTorch's layout."""
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        r = self.rnn
        return (getattr(r, "weight_ih" + sfx), getattr(r, "weight_hh" + sfx),
                getattr(r, "bias_ih" + sfx), getattr(r, "bias_hh" + sfx))

    @property
    def W_hy(self) -> torch.Tensor:  # noqa: N802 - the notes' name
        return self.head.weight

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    @property
    def native(self) -> bool:
        """True when torch's own kernel computes exactly these equations."""
        return not (self.cfg.cell == "rnn" and self.cfg.activation == "linear")

    def zero_state(self, batch_size: int):
        cfg = self.cfg
        h0 = self.head.weight.new_zeros(cfg.num_layers * cfg.num_directions, batch_size, cfg.hidden_size)
        return (h0, h0.clone()) if cfg.cell == "lstm" else h0

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
        cfg = self.cfg
        T, B, _ = x.shape
        D = cfg.num_directions
        if state is None:
            state = self.zero_state(B)
        h0, c0 = state if cfg.cell == "lstm" else (state, None)
        rec = {"h": [], "c": [], "gates": []}
        finals_h, finals_c = [], []
        layer_in = x
        for layer in range(cfg.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                weights = self.layer_weights(layer, d)
                s = (h0[k], c0[k]) if cfg.cell == "lstm" else h0[k]
                hs, cs, gs = [None] * T, [None] * T, [None] * T
                for t in (reversed(range(T)) if d else range(T)):
                    s, gates = cell_step(cfg.cell, layer_in[t], s, weights, cfg.activation)
                    hs[t] = s[0] if cfg.cell == "lstm" else s
                    cs[t] = s[1] if cfg.cell == "lstm" else None
                    gs[t] = gates
                finals_h.append(s[0] if cfg.cell == "lstm" else s)
                if cfg.cell == "lstm":
                    finals_c.append(s[1])
                outs.append(torch.stack(hs))  # (T, B, H)
                if keep:
                    rec["h"].append(hs)
                    rec["c"].append(cs)
                    rec["gates"].append(gs)
            layer_in = torch.cat(outs, dim=2) if D == 2 else outs[0]  # (T, B, D*H)
        y = self.head(layer_in)
        h_n = torch.stack(finals_h)
        final = (h_n, torch.stack(finals_c)) if cfg.cell == "lstm" else h_n
        return y, final, rec

    # -- interchange with torch.nn ------------------------------------------------------
    def to_torch(self) -> TorchEquivalent:
        """An equivalent plain ``torch.nn`` model (a copy): ``rnn`` + ``head``."""
        if not self.native:
            raise ValueError("torch.nn.RNN has no linear (identity) activation; "
                             "use tanh or relu to export to torch.nn")
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
    H = cfg.hidden_size
    with torch.no_grad():
        for layer in range(cfg.num_layers):
            for d in range(cfg.num_directions):
                W_xh, W_hh, b_xh, b_hh = model.layer_weights(layer, d)
                if cfg.init != "default":
                    b_xh.zero_()
                    b_hh.zero_()
                if cfg.init == "identity":
                    for blk in W_hh.split(H, dim=0):
                        blk.copy_(torch.eye(H) * cfg.init_scale)
                    for blk in W_xh.split(H, dim=0):
                        nn.init.xavier_uniform_(blk)
                elif cfg.init == "orthogonal":
                    for blk in W_hh.split(H, dim=0):
                        nn.init.orthogonal_(blk, gain=cfg.init_scale)
                    for blk in W_xh.split(H, dim=0):
                        nn.init.xavier_uniform_(blk)
                elif cfg.init == "xavier":
                    for blk in (*W_hh.split(H, dim=0), *W_xh.split(H, dim=0)):
                        nn.init.xavier_uniform_(blk, gain=cfg.init_scale)
                if cfg.cell == "lstm" and cfg.forget_bias is not None:
                    b_xh[H:2 * H] = cfg.forget_bias
                    b_hh[H:2 * H] = 0.0


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
    kinds = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}
    cell = next((v for k, v in kinds.items() if type(module) is k), None)
    if cell is None:
        raise TypeError(f"from_torch expects torch.nn.RNN, LSTM or GRU, not {type(module).__name__}")
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
