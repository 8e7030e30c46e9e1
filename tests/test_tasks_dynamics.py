"""The tasks from the dynamics papers: the 3-bit flip-flop and the sine-wave generator."""

import math

import numpy as np
import pytest
import torch

from rnnviz.core.tasks import flip_flop, flip_flop_error, make_task, sine_wave


def test_flip_flop_outputs_hold_the_sign_of_each_lines_last_pulse():
    b = flip_flop(seq_len=80, batch_size=6, seed=3, p_pulse=0.1)
    x, y = b.x.numpy(), b.y.numpy()
    assert x.shape == y.shape == (80, 6, 3) and b.loss == "mse" and b.output_size == 3
    assert set(np.unique(x)) <= {-1.0, 0.0, 1.0} and np.all(x[0] != 0)  # every line starts with a pulse
    held = np.zeros((6, 3))
    for t in range(80):  # the definition, step by step
        held = np.where(x[t] != 0, x[t], held)
        assert np.array_equal(y[t], held)
    assert 0.05 < (x[1:] != 0).mean() < 0.15  # about p_pulse of the later steps pulse
    assert len(b.tokens) == 80 and all(len(tok) == 3 for tok in b.tokens)


def test_flip_flop_is_seeded_and_noise_leaves_targets_clean():
    a, b = flip_flop(seed=5), flip_flop(seed=5)
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    noisy = flip_flop(seed=5, noise=0.1)
    assert torch.equal(noisy.y, a.y) and not torch.equal(noisy.x, a.x)
    assert abs(float((noisy.x - a.x).std()) - 0.1) < 0.01


def test_flip_flop_error_counts_sign_mistakes():
    b = flip_flop(seq_len=10, batch_size=2, seed=0)
    assert flip_flop_error(b.y * 0.3, b.y) == 0.0
    wrong = b.y.clone()
    wrong[0, 0, 0] *= -1
    assert flip_flop_error(wrong, b.y) == pytest.approx(1 / 60)


@pytest.mark.parametrize("bad", [dict(p_pulse=1.5), dict(n_bits=0), dict(noise=-1.0)])
def test_flip_flop_rejects_bad_options(bad):
    with pytest.raises(ValueError):
        flip_flop(**bad)


def test_sine_wave_frequency_is_set_by_the_static_input():
    b = sine_wave(seq_len=60, batch_size=8, seed=2)
    x, y = b.x.numpy()[..., 0], b.y.numpy()[..., 0]
    assert np.all(x == x[0])  # static over time
    omega = np.asarray(b.meta["omega"])
    assert np.all((0.1 <= omega) & (omega <= 0.6))
    assert np.allclose(x[0], (omega - 0.1) / 0.5 + 0.25, atol=1e-6)  # the cue rises with ω
    assert np.allclose(y, np.sin(np.arange(60)[:, None] * omega), atol=1e-6)
    # the frequency can be read off the output: zero crossings every π/ω steps
    b1 = sine_wave(seq_len=400, batch_size=1, seed=9)
    crossings = np.sum(np.diff(np.sign(b1.y.numpy()[1:, 0, 0])) != 0)
    assert abs(crossings - 399 * b1.meta["omega"][0] / math.pi) <= 1.5


def test_sine_wave_rejects_bad_frequencies_and_make_task_builds_both():
    with pytest.raises(ValueError):
        sine_wave(omega_min=0.5, omega_max=0.2)
    assert make_task("flipflop", seq_len=20, batch_size=3).x.shape == (20, 3, 3)
    assert make_task("sine", seq_len=20, batch_size=3).y.shape == (20, 3, 1)
