"""Number-sequence tasks: adding, copy, a moving ball, a melody, reversing a sequence."""

from __future__ import annotations

import numpy as np
import torch

from rnnviz.core.tasks.batch import IGNORE, TaskBatch, _check_int, _check_sizes, _one_hot


def adding_problem(seq_len: int = 50, batch_size: int = 16, seed: int = 0) -> TaskBatch:
    """Add the two marked numbers: one marker in each half; predict the sum at the end.

    x (T, B, 2): channel 0 uniform [0, 1] values, channel 1 the markers (0/1).
    y (B, 1): sum of the two marked values. Predicting the constant 1 gives MSE ~ 1/6.
    """
    T, B = _check_sizes(seq_len, batch_size)
    if T < 2:
        raise ValueError(f"adding problem needs seq_len >= 2 (one marker per half), got {T}")
    rng = np.random.default_rng(seed)
    vals = rng.random((T, B)).astype(np.float32)  # (T, B)
    first = rng.integers(0, T // 2, size=B)  # (B,)
    second = rng.integers(T // 2, T, size=B)  # (B,)
    marks = np.zeros((T, B), np.float32)
    cols = np.arange(B)
    marks[first, cols] = 1.0
    marks[second, cols] = 1.0
    x = torch.from_numpy(np.stack([vals, marks], axis=2))  # (T, B, 2)
    y = torch.from_numpy(vals[first, cols] + vals[second, cols]).unsqueeze(1)  # (B, 1)
    tokens = [f"{v:.2f}" + ("*" if m else "") for v, m in zip(vals[:, 0], marks[:, 0], strict=True)]
    return TaskBatch(x, y, "mse", "many-to-one", 1, None, tokens, "adding",
                     {"markers": np.stack([first, second], axis=1)})  # (B, 2)


def copy_task(seq_len: int = 20, batch_size: int = 16, seed: int = 0,
              n_symbols: int = 8, n_copy: int = 5) -> TaskBatch:
    """Remember n_copy symbols over a stretch of blanks and repeat them after the delimiter.

    Input: n_copy symbols, blanks "_", the delimiter ":" at T - n_copy - 1, n_copy blanks.
    y (T, B) int64: the copied symbols (0..n_symbols-1) in the last n_copy steps, -100 before.
    vocab = symbols + ["_", ":"]; output_size = n_symbols.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_symbols = _check_int("n_symbols", n_symbols, 1, 1000)
    n_copy = _check_int("n_copy", n_copy)
    if T < 2 * n_copy + 1:
        raise ValueError(f"copy task needs seq_len >= 2*n_copy+1 = {2 * n_copy + 1} "
                         f"(symbols, delimiter, recall), got seq_len={T}")
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    symbols = list(letters[:n_symbols]) if n_symbols <= 26 else [str(i) for i in range(n_symbols)]
    blank, delim = n_symbols, n_symbols + 1
    rng = np.random.default_rng(seed)
    data = rng.integers(0, n_symbols, size=(n_copy, B))  # (n_copy, B)
    idx = np.full((T, B), blank)
    idx[:n_copy] = data
    idx[T - n_copy - 1] = delim
    y = np.full((T, B), IGNORE, dtype=np.int64)
    y[T - n_copy:] = data
    vocab = symbols + ["_", ":"]
    return TaskBatch(_one_hot(idx, n_symbols + 2), torch.from_numpy(y), "ce", "many-to-many",
                     n_symbols, vocab, [vocab[i] for i in idx[:, 0]], "copy",
                     {"targets": [symbols[i] for i in data[:, 0]], "out_vocab": symbols})


def trajectory(seq_len: int = 50, batch_size: int = 16, seed: int = 0,
               kind: str = "ball") -> TaskBatch:
    """"Given a ball, where does it go next?" x (T, B, 2) positions, y (T, B, 2) next position.

    kind "ball": a ball in the unit box under gravity, bouncing off floor and walls with
    damping. kind "sine": (A sin(wt+p), A cos(wt+p)), a point circling — a pure oscillator.
    """
    T, B = _check_sizes(seq_len, batch_size)
    rng = np.random.default_rng(seed)
    if kind == "ball":
        dt, g, damping = 0.05, 9.8 * 0.2, 0.85
        pos = np.stack([rng.uniform(0.1, 0.9, B), rng.uniform(0.4, 0.9, B)], axis=1)  # (B, 2)
        vel = np.stack([rng.uniform(-1.0, 1.0, B), rng.uniform(-0.5, 0.5, B)], axis=1)  # (B, 2)
        path = np.empty((T + 1, B, 2))
        for t in range(T + 1):
            path[t] = pos
            vel[:, 1] -= g * dt
            pos = pos + vel * dt
            for d in (0, 1):  # reflect off the walls (d=0) and floor/ceiling (d=1)
                low, high = pos[:, d] < 0.0, pos[:, d] > 1.0
                pos[low, d] = -pos[low, d]
                pos[high, d] = 2.0 - pos[high, d]
                vel[low | high, d] *= -damping
    elif kind == "sine":
        w = rng.uniform(0.15, 0.5, B)
        p = rng.uniform(0, 2 * np.pi, B)
        a = rng.uniform(0.5, 1.0, B)
        ang = np.arange(T + 1)[:, None] * w + p  # (T+1, B)
        path = np.stack([a * np.sin(ang), a * np.cos(ang)], axis=2)  # (T+1, B, 2)
    else:
        raise ValueError(f"trajectory kind must be 'ball' or 'sine', got {kind!r}")
    path = torch.from_numpy(path.astype(np.float32))
    return TaskBatch(path[:-1].clone(), path[1:].clone(), "mse", "many-to-many", 2, None,
                     [f"t{t}" for t in range(T)], "trajectory", {"kind": kind})


_MELODY = (0, 2, 4, 7, 4, 2)  # up the arpeggio and back down, in scale steps


def one_to_many_melody(seq_len: int = 16, batch_size: int = 8, seed: int = 0,
                       n_notes: int = 8) -> TaskBatch:
    """One-to-many generation: a single seed note at t=0 (zeros afterwards) -> a melody.

    The melody is m[k] = (seed + (0, 2, 4, 7, 4, 2)[k % 6]) mod n_notes; the target at step t
    is the next note m[t + 1]. y (T, B) int64; loss ce, output_size n_notes.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_notes = _check_int("n_notes", n_notes, 2, 1000)
    names = list("CDEFGAB") + ["C'"] if n_notes == 8 else [f"n{i}" for i in range(n_notes)]
    seed_notes = np.random.default_rng(seed).integers(0, n_notes, size=B)  # (B,)
    steps = np.array([_MELODY[(t + 1) % len(_MELODY)] for t in range(T)])  # (T,)
    y = (seed_notes[None, :] + steps[:, None]) % n_notes  # (T, B)
    x = torch.zeros(T, B, n_notes)
    x[0] = _one_hot(seed_notes, n_notes)
    return TaskBatch(x, torch.from_numpy(y.astype(np.int64)), "ce", "one-to-many", n_notes,
                     names, [names[seed_notes[0]]] + ["-"] * (T - 1), "melody",
                     {"targets": [names[i] for i in y[:, 0]], "pattern": list(_MELODY)})


def reverse_sequence(seq_len: int = 12, batch_size: int = 16, seed: int = 0,
                     n_symbols: int = 6) -> TaskBatch:
    """Encoder-decoder ("translation-shaped"): read n = T // 2 symbols, then say them reversed.

    Input: n symbols, "<go>" at step n, blanks "_" after. y (T, B) int64: -100 for the n
    encoder steps, then the input reversed at steps n .. 2n-1 (-100 at a last odd step).
    vocab = symbols + ["<go>", "_"]; output_size n_symbols.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_symbols = _check_int("n_symbols", n_symbols, 1, 26)
    if T < 2:
        raise ValueError(f"reverse task needs seq_len >= 2 (encode and decode), got {T}")
    n = T // 2
    data = np.random.default_rng(seed).integers(0, n_symbols, size=(n, B))  # (n, B)
    idx = np.full((T, B), n_symbols + 1)
    idx[:n] = data
    idx[n] = n_symbols
    y = np.full((T, B), IGNORE, dtype=np.int64)
    y[n : 2 * n] = data[::-1]
    symbols = list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"[:n_symbols])
    vocab = symbols + ["<go>", "_"]
    return TaskBatch(_one_hot(idx, n_symbols + 2), torch.from_numpy(y), "ce", "encoder-decoder",
                     n_symbols, vocab, [vocab[i] for i in idx[:, 0]], "reverse",
                     {"enc_len": n, "dec_len": n, "out_vocab": symbols,
                      "targets": [symbols[i] for i in data[::-1, 0]]})
