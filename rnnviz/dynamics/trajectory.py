"""Hidden-state trajectories as the dynamics sees them: per layer and direction, the states s_t,
the previous states s_{t-1} (in the direction's own time order) and the layer inputs u_t."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.cells import get_cell
from rnnviz.core.model import RNNModel
from rnnviz.core.trace import Trace
from rnnviz.dynamics.step import StepMap, as_state, step_map


@dataclass
class LayerTrajectory:
    """One layer-direction's run: ``states``, ``prev`` (T, B, S) and ``inputs`` (T, B, I)."""

    step: StepMap
    states: torch.Tensor
    prev: torch.Tensor
    inputs: torch.Tensor


def _shift(S: torch.Tensor, direction: int) -> torch.Tensor:
    """s_{t-1} in the direction's own order: zeros where the sequence starts."""
    zero = torch.zeros_like(S[:1])
    return torch.cat([zero, S[:-1]]) if direction == 0 else torch.cat([S[1:], zero])


def _check_model(model) -> None:
    if not isinstance(model, RNNModel):
        raise TypeError("the dynamics needs the rnnviz model (an RNNModel) that made the states: "
                        "pass model=... with a Trace, or pass the model and its input x")


def trajectories(source, x=None, model=None, dtype: torch.dtype = torch.float64) -> list[LayerTrajectory]:
    """Every layer-direction's trajectory, k = layer * D + direction.

    ``source`` is a model (then ``x`` (T, B, I) is run through its equations) or a
    :class:`~rnnviz.core.trace.Trace` (then ``model`` gives the weights and the Trace's own
    inputs and states are used, so the results line up with what the Trace shows).
    """
    if isinstance(source, Trace):
        trace = source
        _check_model(model)
        cfg = model.cfg
        if trace.cell_type != cfg.cell or trace.hidden_size != cfg.hidden_size \
                or trace.hidden.shape[0] != cfg.num_layers * cfg.num_directions:
            raise ValueError(f"the Trace ({trace.cell_type}, H={trace.hidden_size}, {trace.hidden.shape[0]} "
                             f"layer-directions) was not made by this model ({cfg.cell}, H={cfg.hidden_size})")
        dev = model.device
        hidden = torch.from_numpy(np.asarray(trace.hidden)).to(dev, dtype)
        cell = None if trace.cell is None else torch.from_numpy(np.asarray(trace.cell)).to(dev, dtype)
        x = torch.from_numpy(np.asarray(trace.inputs)).to(dev, dtype)
    else:
        model = source
        _check_model(model)
        cfg = model.cfg
        if x is None:
            raise ValueError("pass the input sequence x (T, B, I) to compute the dynamics of a model")
        x = torch.as_tensor(x)
        if x.dim() != 3 or x.shape[2] != cfg.input_size:
            raise ValueError(f"x must be (T, B, {cfg.input_size}); got {tuple(x.shape)}")
        with torch.no_grad():
            _, _, rec = model.forward_equations(x.to(model.device, torch.float32), keep=True)
        hidden = torch.stack([torch.stack(seq) for seq in rec["h"]]).to(dtype)
        cell = torch.stack([torch.stack(seq) for seq in rec["c"]]).to(dtype) \
            if get_cell(cfg.cell).has_cell_state else None
        x = x.to(model.device, dtype)
    D = cfg.num_directions
    out = []
    for layer in range(cfg.num_layers):
        u = x if layer == 0 else torch.cat([hidden[(layer - 1) * D + d] for d in range(D)], dim=2)
        for d in range(D):
            k = layer * D + d
            states = as_state(hidden[k], None if cell is None else cell[k])
            out.append(LayerTrajectory(step_map(model, layer, d, dtype), states, _shift(states, d), u))
    return out
