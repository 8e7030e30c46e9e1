"""The dynamics goal on the 3-bit flip-flop: a small GRU learns it (< 1% sign errors) and its
fixed-point search finds the eight memories — one stable point per corner — and saddles."""

import itertools

import numpy as np
import pytest
import torch

from rnnviz.core.tasks import flip_flop, flip_flop_error
from rnnviz.dynamics import fixed_points, jacobians
from rnnviz.dynamics.flipflop import RECIPE, evaluation_batch, flip_flop_config, memory_codes, train_flip_flop

CORNERS = sorted("".join(bits) for bits in itertools.product("+-", repeat=3))


@pytest.fixture(autouse=True)
def one_thread():
    """Small GRU steps gain nothing from a second thread, and on a busy machine its spin-waits
    cost more CPU than the training itself."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_recipe_gru_learns_the_flip_flop_and_has_eight_memories_and_saddles():
    assert RECIPE["cell"] == "gru" and 16 <= RECIPE["hidden_size"] <= 64
    run = train_flip_flop()
    assert run.error < 0.01, f"flip-flop error {run.error:.2%} after {run.steps} steps"
    ev = evaluation_batch()
    with torch.no_grad():
        assert flip_flop_error(run.model(ev.x), ev.y) == run.error
    fps = fixed_points(run.model, x=flip_flop(seq_len=100, batch_size=16, seed=7).x)
    codes = memory_codes(run.model, fps)
    stable = [c for c, k in zip(codes, fps.kinds, strict=True) if k == "stable"]
    assert sorted(stable) == CORNERS, fps.summary()  # eight stable points, one per memory
    assert fps.count("saddle") >= 1, fps.summary()
    assert np.all(fps.q < 1e-12)
    # a saddle sits between memories: at least one read-out is undecided (near 0) on some bit
    saddles = [c for c, k in zip(codes, fps.kinds, strict=True) if k == "saddle"]
    assert any("?" in c for c in saddles)
    # the memories hold: every stable point's slowest mode still contracts
    assert np.all(np.abs(fps.eigvals[[k == "stable" for k in fps.kinds], 0]) < 1)


def test_recipe_config_is_what_the_lesson_trains():
    cfg = flip_flop_config()
    assert (cfg.model.cell, cfg.model.hidden_size, cfg.task.name) == ("gru", RECIPE["hidden_size"], "flipflop")
    assert (cfg.task.seq_len, cfg.task.batch_size, cfg.train.lr) == (RECIPE["seq_len"], RECIPE["batch_size"],
                                                                      RECIPE["lr"])


def test_untrained_network_holds_no_memories():
    """The criterion can fail: before training the error is near chance and there are no eight memories."""
    run = train_flip_flop(steps=1)
    assert run.error > 0.2
    fps = fixed_points(run.model, x=flip_flop(seq_len=50, batch_size=8, seed=7).x, n_starts=64)
    assert fps.count("stable") < 8
    J = jacobians(run.model, flip_flop(seq_len=20, batch_size=2, seed=1).x)
    assert J.singular_values.shape == (1, 20, 2, RECIPE["hidden_size"])
