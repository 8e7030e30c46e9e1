"""The Equations tab: the cell registry's equations typeset with their accents where they belong,
and the mapping of the notes' symbols to PyTorch's gate names."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

import rnnviz  # noqa: E402
from rnnviz.app.actions import record_run  # noqa: E402
from rnnviz.core.cells import get_cell  # noqa: E402
from rnnviz.qt.views.equations import EquationsView, parse_math, render_math  # noqa: E402

TILDE = "\u0303"


def ink(img) -> np.ndarray:
    """(H, W) bool: where the image has paint."""
    h, w = img.height(), img.width()
    ptr = img.constBits()
    a = np.frombuffer(ptr, dtype=np.uint8, count=img.bytesPerLine() * h).reshape(h, img.bytesPerLine())
    return a[:, : 4 * w].reshape(h, w, 4)[..., 3] > 60


def test_parse_math_keeps_the_tilde_on_its_letter():
    glyphs = parse_math("c" + TILDE + "_t = tanh(W_c [h_{t−1}, x_t])")
    assert glyphs[0] == ("c", False, True) and glyphs[1] == ("t", True, False)
    assert [c for c, sub, _ in glyphs if sub] == ["t", "c", "t", "−", "1", "t"]
    assert sum(tilde for *_, tilde in glyphs) == 1


def test_a_tilde_is_drawn_over_its_letter_and_nowhere_else(qapp):
    from PySide6.QtGui import QColor

    black = QColor("black")
    plain = ink(render_math("c_t", 24, black))
    accented = ink(render_math("c" + TILDE + "_t", 24, black))
    assert plain.shape == accented.shape
    extra = accented & ~plain
    assert extra.any(), "the tilde is drawn"
    rows, cols = np.nonzero(extra)
    c_cols = np.nonzero(plain.any(axis=0))[0]
    c_top = np.nonzero(plain[:, c_cols[0]:c_cols[0] + 3].any(axis=1))[0].min()
    assert rows.max() < c_top, "the tilde sits above the letter"
    letter_w = plain.shape[1] * 0.6
    assert cols.max() < letter_w, "over the c, not over its subscript"


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_equations_come_from_the_registry_and_carry_no_loose_accent(qtbot, cell):
    tr = record_run(rnnviz.RunConfig().with_overrides(cell=cell, task="adding", seq_len=6, hidden_size=4,
                                                      batch_size=1)).trace
    v = EquationsView()
    qtbot.addWidget(v)
    v.set_trace(tr)
    v.set_cursor(2, "backward", 0, 0)
    spec = get_cell(cell)
    assert v.lines[: len(spec.equations)] == spec.equation_lines("tanh")
    assert TILDE not in v.html, "every accented symbol is typeset as a picture"
    assert len(v.browser.images) >= len(v.lines)
    for g in spec.gates:  # the table maps each of the notes' symbols to PyTorch's letter
        assert f"<code>{g.key}</code>" in v.html
    if cell == "gru":
        assert "z = 1 − Γ" in v.html  # PyTorch's z is the notes' 1 − Γ_u
    assert v.numbers["t"] == 2 and np.isfinite(v.numbers["grad_norm"])
