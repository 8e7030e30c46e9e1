"""The 3-bit flip-flop, trained and opened: the recipe behind lesson 10 and the dynamics goals.

A GRU of a couple of dozen units learns the task in a few hundred Adam steps; its fixed-point
search then shows the eight memories (stable fixed points at the corners of a cube in state
space) with saddles between them — Sussillo & Barak's picture, on a laptop CPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnviz.core.config import ModelConfig, RunConfig, TaskConfig, TrainConfig
from rnnviz.core.losses import task_loss
from rnnviz.core.model import RNNModel, build_model
from rnnviz.core.tasks import flip_flop, flip_flop_error
from rnnviz.dynamics.fixed_points import FixedPoints

#: The recipe: small, fast and reliable on two CPU cores.
RECIPE = dict(cell="gru", hidden_size=24, seq_len=100, batch_size=32, lr=0.02, steps=300, noise=0.1)


@dataclass
class FlipFlopRun:
    """A trained flip-flop network: error = share of wrong output signs on a held-out batch."""

    model: RNNModel
    error: float
    steps: int
    seconds: float
    history: list[dict] = field(default_factory=list)  # {"step", "loss", "error"?}


def flip_flop_config(hidden_size: int = RECIPE["hidden_size"], steps: int = RECIPE["steps"],
                     seed: int = 0) -> RunConfig:
    """The recipe as a RunConfig (what the lesson and ``rnnviz train --task flipflop`` run)."""
    return RunConfig(model=ModelConfig(cell="gru", input_size=3, hidden_size=hidden_size, output_size=3, seed=seed),
                     task=TaskConfig(name="flipflop", seq_len=RECIPE["seq_len"], batch_size=RECIPE["batch_size"],
                                     seed=seed),
                     train=TrainConfig(optimizer="adam", lr=RECIPE["lr"], steps=steps, seed=seed))


def evaluation_batch(seed: int = 12345):
    """The held-out batch the error is measured on: 64 sequences of 200 steps, clean inputs."""
    return flip_flop(seq_len=200, batch_size=64, seed=seed)


def train_flip_flop(hidden_size: int = RECIPE["hidden_size"], steps: int = RECIPE["steps"], seed: int = 0,
                    noise: float = RECIPE["noise"], target_error: float | None = None,
                    check_every: int = 25) -> FlipFlopRun:
    """Train the recipe's GRU on the flip-flop with Adam; stop early once ``target_error`` is reached.

    Training batches carry input ``noise`` (see :func:`~rnnviz.core.tasks.flip_flop`): it makes
    the memories attracting fixed points instead of slowly drifting states.
    """
    cfg = flip_flop_config(hidden_size, steps, seed)
    model = build_model(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.train.lr)
    ev = evaluation_batch()
    history: list[dict] = []
    t0 = time.perf_counter()
    error, step = 1.0, 0
    for step in range(1, steps + 1):
        # the second half anneals the learning rate tenfold: the memories settle into sharp
        # attractors instead of being shaken by full-size Adam steps to the end
        frac = max(0.0, (step - steps / 2) / (steps / 2))
        for group in opt.param_groups:
            group["lr"] = cfg.train.lr * 0.1 ** frac
        b = flip_flop(seq_len=cfg.task.seq_len, batch_size=cfg.task.batch_size, seed=seed * 1_000_003 + step,
                      noise=noise)
        opt.zero_grad(set_to_none=True)
        loss, _ = task_loss(model(b.x), b.y, "mse")
        loss.backward()
        opt.step()
        row = {"step": step, "loss": loss.item()}
        if step % check_every == 0 or step == steps:
            with torch.no_grad():
                error = flip_flop_error(model(ev.x), ev.y)
            row["error"] = error
            if target_error is not None and error < target_error:
                history.append(row)
                break
        history.append(row)
    return FlipFlopRun(model, error, step, time.perf_counter() - t0, history)


def memory_codes(model: RNNModel, fps: FixedPoints) -> list[str]:
    """What each fixed point's read-out says, as signs of the three outputs: '+-+', … ('?' near 0)."""
    H = model.cfg.hidden_size
    with torch.no_grad():
        h = torch.as_tensor(fps.points[:, :H], dtype=torch.float32, device=model.device)
        out = model.head(h).cpu().numpy() if len(h) else np.zeros((0, 3))
    return ["".join("+" if v > 0.5 else "-" if v < -0.5 else "?" for v in row) for row in out]
