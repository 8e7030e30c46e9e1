"""The cell registry: one spec per cell, read by config, model, graph, views and exporters."""

import re
from pathlib import Path

import pytest
import torch

import rnnviz
from rnnviz.core.cells import CELLS, CellSpec, GateSpec, get_cell, register_cell
from rnnviz.core.cells.base import UnknownCellError, display_name, unregister_cell

RNNVIZ = Path(rnnviz.__file__).parent


def test_builtin_specs_carry_the_notes_symbols_and_pytorchs_keys():
    assert list(CELLS)[:3] == ["rnn", "lstm", "gru"]
    rnn, lstm, gru = get_cell("rnn"), get_cell("lstm"), get_cell("gru")
    assert (rnn.display, lstm.display, gru.display) == ("SimpleRNN", "LSTM", "GRU")
    assert rnn.gates == () and rnn.num_blocks == 1 and rnn.torch_class is torch.nn.RNN
    assert lstm.gate_keys == ("i", "f", "g", "o") and lstm.num_blocks == 4 and lstm.has_cell_state
    assert [g.symbol for g in lstm.gates] == ["Γ_u", "Γ_f", "c̃", "Γ_o"]
    assert lstm.memory_gate == "f" and lstm.gate("g").candidate and lstm.gate("g").value_range == (-1, 1)
    assert gru.gate_keys == ("r", "z", "n") and not gru.has_cell_state and gru.memory_gate == "z"
    # PyTorch's z multiplies h_{t−1}: it is 1 − Γ_u, and says so
    assert gru.gate("z").symbol != "Γ_u" and "1 − Γ_u" in gru.gate("z").title
    assert "z = 1 − Γ_u" in gru.torch_mapping
    assert any("Γ_u ⊙ h̃_t + (1 − Γ_u) ⊙ h_{t−1}" in line for line in gru.equations)
    assert any("c_t = Γ_u ⊙ c̃_t + Γ_f ⊙ c_{t−1}" in line for line in lstm.equations)
    assert rnn.equation_lines("relu")[0].startswith("h_t = relu(")


def test_config_accepts_aliases_and_names_unknown_cells():
    assert rnnviz.ModelConfig(cell="SimpleRNN").cell == "rnn"
    assert rnnviz.ModelConfig(cell="elman").cell == "rnn"
    assert rnnviz.ModelConfig(cell=" LSTM ").num_gates == 4
    with pytest.raises(rnnviz.ConfigError, match="cell = 'mystery' is not one of: rnn, lstm, gru"):
        rnnviz.ModelConfig(cell="mystery")
    with pytest.raises(KeyError, match="valid cells: rnn, lstm, gru") as err:
        get_cell("mystery")
    assert isinstance(err.value, UnknownCellError) and str(err.value).startswith("unknown cell 'mystery'")
    assert display_name("not-a-cell") == "not-a-cell"


def test_register_refuses_duplicates_and_bad_specs():
    with pytest.raises(ValueError, match="already registered"):
        register_cell(get_cell("gru"))
    with pytest.raises(ValueError, match="memory gate"):
        CellSpec(name="bad", display="Bad", gates=(GateSpec("a", "Γ_a", "a gate"),), step=None,
                 equations=(), torch_mapping="", memory_gate="b")
    with pytest.raises(ValueError, match="lower-case identifier"):
        CellSpec(name="Bad Name", display="Bad", gates=(), step=None, equations=(), torch_mapping="")
    with pytest.raises(TypeError):
        register_cell("gru")


def test_a_registered_spec_is_read_by_config_and_removed_again():
    spec = CellSpec(name="gru_copy", display="GRU copy", gates=get_cell("gru").gates, step=get_cell("gru").step,
                    equations=("h_t = …",), torch_mapping="", num_blocks=3, memory_gate="z")
    register_cell(spec)
    try:
        cfg = rnnviz.ModelConfig(cell="GRU copy", input_size=2, hidden_size=3)
        assert cfg.cell == "gru_copy" and cfg.gate_names == ("r", "z", "n")
    finally:
        unregister_cell("gru_copy")
    assert "gru_copy" not in CELLS
    with pytest.raises(rnnviz.ConfigError):
        rnnviz.ModelConfig(cell="gru_copy")


def _python_sources():
    return [p for p in RNNVIZ.rglob("*.py") if "cells" not in p.relative_to(RNNVIZ).parts[:2]]


def test_display_names_and_gate_symbols_live_only_in_the_cell_files():
    """One vocabulary: no module outside rnnviz/core/cells/ spells a cell's name or a gate's symbol."""
    symbols = {g.symbol for spec in CELLS.values() for g in spec.gates}
    offenders = []
    for path in _python_sources():
        text = path.read_text(encoding="utf-8")
        for spec in CELLS.values():
            # a display name as a string literal (prose such as "an LSTM's cell state" is fine,
            # a table {"lstm": "LSTM"} is not); SimpleRNN is only ever a display name
            if re.search(rf"[\"']{re.escape(spec.display)}[\"']", text) or (
                    spec.display == "SimpleRNN" and "SimpleRNN" in text):
                offenders.append(f"{path.relative_to(RNNVIZ)}: {spec.display}")
        for sym in symbols:
            if sym in text:
                offenders.append(f"{path.relative_to(RNNVIZ)}: {sym}")
    assert not offenders, offenders
