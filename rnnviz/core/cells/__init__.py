"""Recurrent cells written from the equations of the notes, and their registry.

    from rnnviz.core.cells import CELLS, CellSpec, GateSpec, get_cell, register_cell

One file per cell (:mod:`.rnn`, :mod:`.lstm`, :mod:`.gru`, :mod:`.gru_reset_before`) defines its :class:`CellSpec`;
this module registers them in :data:`CELLS`. See :mod:`rnnviz.core.cells.base`.
"""

from rnnviz.core.cells import gru, gru_reset_before, lstm, rnn
from rnnviz.core.cells.base import (
    CELLS,
    TORCH_PARAMS,
    CellSpec,
    GateSpec,
    UnknownCellError,
    canonical_cell_name,
    display_name,
    gate_spec,
    get_cell,
    register_cell,
    unregister_cell,
)

for _module in (rnn, lstm, gru, gru_reset_before):
    register_cell(_module.SPEC)


def cell_step(cell: str, x_t, state, weights, activation="tanh"):
    """One step of ``cell`` with weights (W_xh, W_hh, b_xh, b_hh): (new state, {gate: (B, H)})."""
    return get_cell(cell).step(x_t, state, weights, activation)


__all__ = ["CELLS", "TORCH_PARAMS", "CellSpec", "GateSpec", "UnknownCellError", "canonical_cell_name",
           "cell_step", "display_name", "gate_spec", "get_cell", "register_cell", "unregister_cell"]
