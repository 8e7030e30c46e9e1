"""The step map F of one layer and direction: s_t = F(s_{t-1}, u_t), differentiable, batched.

The state s is what the cell carries from step to step: h for SimpleRNN and GRU, the
concatenation [h, c] (2H) for the LSTM. u_t is the layer's input at that step (x_t for the first
layer, the layer below's hidden states above it). Everything in :mod:`rnnviz.dynamics` is built
on this one map: Jacobians, fixed points and Lyapunov exponents need nothing else from a cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from rnnviz.core.cells import get_cell


@dataclass
class StepMap:
    """F(s, u) for layer-direction ``k`` of a model, on detached copies of its weights.

    ``dtype`` float64 by default: fixed points and long Jacobian products want the precision,
    and the networks rnnviz shows are small enough that it costs little.
    """

    cell: str
    activation: str
    hidden_size: int
    weights: tuple  # (W_xh, W_hh, b_xh, b_hh), detached, in ``dtype``
    layer: int
    direction: int

    @property
    def has_cell_state(self) -> bool:
        """The cell carries (h, c) (the LSTM); the dynamics state is then [h, c]."""
        return get_cell(self.cell).has_cell_state

    @property
    def state_size(self) -> int:
        """S: H, or 2H for a cell with a cell state (h, c)."""
        return 2 * self.hidden_size if self.has_cell_state else self.hidden_size

    @property
    def input_size(self) -> int:
        return int(self.weights[0].shape[1])

    @property
    def dtype(self) -> torch.dtype:
        return self.weights[0].dtype

    @property
    def device(self) -> torch.device:
        return self.weights[0].device

    def __call__(self, s: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """s (N, S), u (N, I) → F(s, u) (N, S). Also works on single vectors (S,), (I,)."""
        H = self.hidden_size
        step = get_cell(self.cell).step  # through the registry: any registered cell has dynamics
        if self.has_cell_state:
            (h, c), _ = step(u, (s[..., :H], s[..., H:]), self.weights, self.activation)
            return torch.cat([h, c], dim=-1)
        new, _ = step(u, s, self.weights, self.activation)
        return new

    def split(self, s):
        """(h, c) views of a state array (…, S); c is None for cells without a cell state."""
        H = self.hidden_size
        return (s[..., :H], s[..., H:]) if self.has_cell_state else (s, None)

    def jacobian(self, s: torch.Tensor, u: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """∂F/∂s at each of N points: s (N, S), u (N, I) → (N, S, S), rows = outputs.

        Computed by autograd (vectorised reverse mode over the S output units), so any cell
        the step function can express is covered, in chunks that keep memory bounded.
        """
        N, S = s.shape
        if chunk is None:  # the vmapped backward keeps ~S x (gate activations) per point
            chunk = max(1, int(2**26 // (S * S * 4)))
        out = s.new_empty(N, S, S)
        eye = torch.eye(S, dtype=s.dtype, device=s.device)
        for a in range(0, N, chunk):
            b = min(N, a + chunk)
            si = s[a:b].detach().requires_grad_(True)
            with torch.enable_grad():
                fs = self(si, u[a:b])
                # one backward per output unit, vectorised: grad of (e_j · F) for all j at once
                (g,) = torch.autograd.grad(fs, si, eye[:, None, :].expand(S, b - a, S),
                                           is_grads_batched=True)
            out[a:b] = g.transpose(0, 1)  # (S_out, n, S_in) → (n, S_out, S_in)
        return out


    def jvp(self, s: torch.Tensor, u: torch.Tensor, V: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """F(s, u) and J·V at N points without forming J: s (N, S), u (N, I), V (N, S, k).

        Forward mode on the N·k replicated states: k tangents cost about k forward steps, which
        is what the Lyapunov QR method needs (k ≪ S) where a full Jacobian would cost S.
        """
        N, S, k = V.shape
        s_rep = s.repeat_interleave(k, 0)
        u_rep = u.repeat_interleave(k, 0)
        tangents = V.transpose(1, 2).reshape(N * k, S)
        out, jv = torch.func.jvp(lambda a: self(a, u_rep), (s_rep,), (tangents,))
        return out.view(N, k, S)[:, 0], jv.view(N, k, S).transpose(1, 2)


def step_map(model, layer: int = 0, direction: int = 0, dtype: torch.dtype = torch.float64) -> StepMap:
    """The :class:`StepMap` of one layer and direction of an :class:`~rnnviz.core.model.RNNModel`."""
    cfg = model.cfg
    if not 0 <= layer < cfg.num_layers:
        raise ValueError(f"layer {layer} does not exist: the model has {cfg.num_layers} layer(s)")
    if not 0 <= direction < cfg.num_directions:
        raise ValueError(f"direction {direction} does not exist: the model has {cfg.num_directions}")
    weights = tuple(w.detach().to(dtype) for w in model.layer_weights(layer, direction))
    return StepMap(cfg.cell, cfg.activation, cfg.hidden_size, weights, layer, direction)


def as_state(h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """The dynamics state from hidden (and cell) states: h, or [h, c] for a cell with a cell state."""
    return h if c is None else torch.cat([h, c], dim=-1)
