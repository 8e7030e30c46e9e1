"""Text drawn on the unrolled graph, without a GUI: tokens of each step and label colours.

:func:`step_tokens` says what every time step of a trace reads and predicts (the input token,
the predicted and the target token) wherever the task has tokens; :func:`label_color` picks
black or white text for a node's fill by the WCAG 2 contrast ratio, so a label reads on every
colour a colour map produces. The Qt graph view and the exported graph frame both use them.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

__all__ = ["BLACK", "WHITE", "contrast_ratio", "display_token", "label_color", "relative_luminance",
           "step_tokens"]

_TOKEN_SHOW = {" ": "␣", "\n": "⏎", "\t": "⇥", "": "∅"}


def display_token(token: Any) -> str:
    """A token as it is shown on a node: blanks made visible (␣ ⏎ ⇥ ∅)."""
    s = str(token)
    return _TOKEN_SHOW.get(s, s)


def _names(meta: dict, size: int, keys: tuple[str, ...]) -> list[str] | None:
    for key in keys:
        names = meta.get(key)
        if isinstance(names, (list, tuple)) and len(names) == size:
            return [display_token(n) for n in names]
    return None


def step_tokens(trace: Any, b: int = 0) -> dict[str, list]:
    """What each time step of sample ``b`` reads and predicts, as text, where the task has tokens.

    Returns ``{"inputs": [str | None] * T, "outputs": [(predicted, target, correct) | None] * T}``.
    Inputs are decoded from one-hot rows with ``trace.meta["vocab"]`` (any sample), else taken
    from ``meta["tokens"]`` (sample 0 only). Outputs: the arg-max class name for a
    cross-entropy task (``classes`` / ``out_vocab`` / ``vocab`` from the meta, else the class
    number), the probability for a binary tag, the value for a one-number regression; the
    target as text (None where a step has none) and whether the prediction matches it.
    Multi-dimensional regressions (positions) have no tokens: everything is None there.
    """
    meta = trace.meta or {}
    T = int(trace.seq_len)
    x = np.asarray(trace.inputs)
    inputs: list[str | None] = [None] * T
    vocab = meta.get("vocab")
    if isinstance(vocab, (list, tuple)) and x.ndim == 3 and len(vocab) == x.shape[2] and 0 <= b < x.shape[1]:
        rows = x[:, b, :]
        hot = (np.count_nonzero(rows, axis=1) == 1) & np.isclose(rows.max(axis=1), 1.0)
        idx = rows.argmax(axis=1)
        inputs = [display_token(vocab[int(i)]) if h else None for i, h in zip(idx, hot, strict=True)]
    else:
        tokens = meta.get("tokens")
        if b == 0 and isinstance(tokens, (list, tuple)) and len(tokens) == T:
            inputs = [display_token(tok) for tok in tokens]
            if all(tok == f"t{t}" for t, tok in enumerate(inputs)):  # positions: no tokens
                inputs = [None] * T

    outputs: list[tuple[str, str | None, bool | None] | None] = [None] * T
    out = np.asarray(trace.outputs)
    y = np.asarray(trace.targets)
    loss = meta.get("loss")
    if out.ndim != 3 or not 0 <= b < out.shape[1]:
        return {"inputs": inputs, "outputs": outputs}
    O = out.shape[2]
    classifier = loss == "ce" and (meta.get("shape") == "many-to-one" or y.ndim == 1)
    if loss == "ce":
        keys = ("classes", "out_vocab", "vocab") if classifier else ("out_vocab", "vocab", "classes")
        names = _names(meta, O, keys) or [str(i) for i in range(O)]
        for t in range(T):
            row = out[t, b]
            if not np.all(np.isfinite(row)):
                outputs[t] = ("NaN", None, None)
                continue
            pred = int(row.argmax())
            tgt = None
            if y.ndim == 1 and t == T - 1 and b < y.shape[0]:
                tgt = int(y[b])
            elif y.ndim == 2 and b < y.shape[1]:
                tgt = int(y[t, b])
            target = names[tgt] if tgt is not None and 0 <= tgt < O else None
            outputs[t] = (names[pred], target, None if target is None else tgt == pred)
    elif loss in ("bce", "mse") and O == 1:
        for t in range(T):
            v = float(out[t, b, 0])
            if loss == "bce":
                v = 1.0 / (1.0 + math.exp(-min(max(v, -60.0), 60.0))) if math.isfinite(v) else v
            tgt = None
            if y.ndim == 3 and b < y.shape[1] and t < y.shape[0]:
                tgt = float(y[t, b, 0])
            elif y.ndim == 2 and t == T - 1 and b < y.shape[0]:
                tgt = float(y[b, 0])
            if tgt is not None and not math.isfinite(tgt):
                tgt = None
            if loss == "bce":
                ok = None if tgt is None or not math.isfinite(v) else (v >= 0.5) == (tgt >= 0.5)
                outputs[t] = (f"{v:.2f}", None if tgt is None else f"{tgt:.0f}", ok)
            else:
                outputs[t] = (f"{v:.2f}", None if tgt is None else f"{tgt:.2f}", None)
    return {"inputs": inputs, "outputs": outputs}


def relative_luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG 2 relative luminance of an sRGB colour given as 0..255 components."""
    def channel(c: float) -> float:
        c = min(max(float(c), 0.0), 255.0) / 255.0
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: tuple[float, float, float], bg: tuple[float, float, float]) -> float:
    """WCAG 2 contrast ratio (1 .. 21) between two sRGB colours (0..255 components)."""
    a, b = relative_luminance(fg), relative_luminance(bg)
    hi, lo = max(a, b), min(a, b)
    return (hi + 0.05) / (lo + 0.05)


BLACK, WHITE = (0, 0, 0), (255, 255, 255)


@functools.lru_cache(maxsize=4096)
def label_color(fill: tuple[float, float, float]) -> tuple[int, int, int]:
    """Black or white, whichever contrasts more with ``fill``: at least 4.58 : 1 on any colour
    (the worst case is a mid grey), above WCAG's 4.5 for normal text."""
    return BLACK if contrast_ratio(BLACK, fill) >= contrast_ratio(WHITE, fill) else WHITE
