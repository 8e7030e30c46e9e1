"""Tasks from the dynamical-systems papers: the 3-bit flip-flop (Sussillo & Barak 2013) and a
sine-wave generator whose frequency a static input sets."""

from __future__ import annotations

import math

import numpy as np
import torch

from rnnviz.core.tasks.batch import TaskBatch, _check_int, _check_sizes


def flip_flop(seq_len: int = 100, batch_size: int = 16, seed: int = 0, n_bits: int = 3,
              p_pulse: float = 0.05, noise: float = 0.0) -> TaskBatch:
    """The n-bit flip-flop of Sussillo & Barak (2013): remember the sign of each line's last pulse.

    x (T, B, n_bits): each input line is 0 except for occasional ±1 pulses (probability p_pulse per
    step and line); at t = 0 every line gets a pulse, so every output is defined from the start.
    y (T, B, n_bits) float32: output j holds the sign (±1) of line j's most recent pulse. A network
    that solves it needs 2**n_bits stable memories — the corners of a cube for three bits.
    ``noise`` adds Gaussian noise of that standard deviation to the inputs (the targets stay
    clean): a network trained with it must pull its state back, so its memories become
    attracting fixed points rather than slowly drifting states.
    """
    T, B = _check_sizes(seq_len, batch_size)
    n_bits = _check_int("n_bits", n_bits, 1, 64)
    p = float(p_pulse)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p_pulse must be a probability in [0, 1], got {p_pulse!r}")
    noise = float(noise)
    if not 0.0 <= noise <= 10.0:
        raise ValueError(f"noise must be between 0 and 10, got {noise!r}")
    rng = np.random.default_rng(seed)
    pulse = rng.random((T, B, n_bits)) < p
    pulse[0] = True
    signs = np.where(rng.random((T, B, n_bits)) < 0.5, -1.0, 1.0)
    x = np.where(pulse, signs, 0.0).astype(np.float32)  # (T, B, n_bits)
    last = np.where(pulse, np.arange(T)[:, None, None], 0)
    np.maximum.accumulate(last, axis=0, out=last)  # index of the latest pulse, per line
    y = np.take_along_axis(x, last, axis=0)  # (T, B, n_bits): its sign, held
    marks = {1.0: "+", -1.0: "-", 0.0: "."}
    tokens = ["".join(marks[float(v)] for v in x[t, 0]) for t in range(T)]
    if noise:
        x = x + (noise * rng.standard_normal(x.shape)).astype(np.float32)
    return TaskBatch(torch.from_numpy(x), torch.from_numpy(y.astype(np.float32)), "mse", "many-to-many",
                     n_bits, None, tokens, "flipflop", {"n_bits": n_bits, "p_pulse": p, "noise": noise})


def flip_flop_error(y_hat, y) -> float:
    """Share of (step, sample, bit) outputs whose sign differs from the flip-flop target."""
    y_hat, y = torch.as_tensor(y_hat), torch.as_tensor(y)
    mask = ~torch.isnan(y)
    return float((torch.sign(y_hat[mask]) != y[mask]).float().mean())


def sine_wave(seq_len: int = 100, batch_size: int = 16, seed: int = 0, omega_min: float = 0.1,
              omega_max: float = 0.6) -> TaskBatch:
    """Sine-wave generator (Sussillo & Barak 2013): a static input sets the frequency.

    Each sample draws ω uniformly in [omega_min, omega_max] radians per step. x (T, B, 1) holds the
    constant cue (ω − omega_min)/(omega_max − omega_min) + 0.25 at every step; y (T, B, 1) is
    sin(ω·t). Solved by a family of oscillations (limit cycles) whose speed the input tunes.
    """
    T, B = _check_sizes(seq_len, batch_size)
    lo, hi = float(omega_min), float(omega_max)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0.0 < lo < hi <= math.pi):
        raise ValueError(f"need 0 < omega_min < omega_max <= pi, got {omega_min!r}, {omega_max!r}")
    omega = np.random.default_rng(seed).uniform(lo, hi, size=B)  # (B,)
    cue = (omega - lo) / (hi - lo) + 0.25
    x = np.broadcast_to(cue, (T, B))[:, :, None].astype(np.float32)
    y = np.sin(np.arange(T)[:, None] * omega[None, :])[:, :, None].astype(np.float32)
    return TaskBatch(torch.from_numpy(x.copy()), torch.from_numpy(y), "mse", "many-to-many", 1, None,
                     [f"t{t}" for t in range(T)], "sine",
                     {"omega": omega.tolist(), "cue": cue.tolist()})


# --------------------------------------------------------------------------- registry
