"""Training: a plain PyTorch loop with clipping, truncated BPTT and callbacks.

The trainer knows nothing about windows or progress bars: it calls ``callback(event, payload)``
with ``"step"`` (a dict per step), ``"trace"`` (a :class:`Trace` every ``record_every`` steps)
and ``"end"`` (the history). Steps that record nothing run the native kernel and pay for no
instrumentation. ``stop``/``pause``/``resume`` are safe to call from another thread.

``run`` and ``train_step`` run in :func:`rnnviz.core.numerics.fast_mode` (subnormals flushed,
a sensible thread count), restoring the caller's settings when they return.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Callable, Iterable

import torch
from torch.nn import functional

from rnnviz.core.config import RunConfig, TaskConfig, TrainConfig
from rnnviz.core.losses import IGNORE, task_loss
from rnnviz.core.model import RNNModel, build_model
from rnnviz.core.numerics import fast_mode
from rnnviz.core.record import record
from rnnviz.core.tasks import TaskBatch, make_task

Callback = Callable[[str, object], None]
HISTORY_COLUMNS = ("step", "loss", "grad_norm", "clipped")


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """SGD, SGD with momentum, RMSprop or Adam at ``cfg.lr``."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr)
    return torch.optim.Adam(params, lr=cfg.lr)


def task_batch(task: TaskConfig, index: int | None = None) -> TaskBatch:
    """Batch ``index`` of a task (``None``: the fixed probe batch that traces are recorded on)."""
    seed = task.seed if index is None else (task.seed * 1_000_003 + 7919 * (index + 1)) % 2**63
    kwargs = dict(seq_len=task.seq_len, batch_size=task.batch_size, seed=seed)
    if task.text is not None:
        kwargs["text"] = task.text
    return make_task(task.name, **kwargs)


class Trainer:
    """Trains ``model`` on batches of ``task``; see the module docstring for the callbacks."""

    def __init__(self, model: RNNModel, task: TaskConfig, cfg: TrainConfig,
                 callbacks: Iterable[Callback] = ()):
        self.model, self.task, self.cfg = model, task, cfg
        self.callbacks = list(callbacks)
        self.optimizer = make_optimizer(model.parameters(), cfg)
        self._params = list(model.parameters())
        self.history: list[dict] = []
        self.traces: list = []  # (step, Trace)
        self.step = 0
        self.probe = task_batch(task)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        torch.manual_seed(cfg.seed)

    # -- control (any thread) ----------------------------------------------------------
    def stop(self) -> None:
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def _emit(self, event: str, payload) -> None:
        for cb in self.callbacks:
            cb(event, payload)

    # -- the loop ------------------------------------------------------------------------
    def record_trace(self):
        """Record a Trace of the current weights on the probe batch and announce it."""
        trace = record_batch(self.model, self.probe, self.cfg, self.step)
        self.traces.append((self.step, trace))
        self._emit("trace", trace)
        return trace

    def train_step(self, batch: TaskBatch) -> dict:
        """One optimiser step on ``batch``; returns the history row."""
        with fast_mode():
            return self._train_step(batch)

    def _train_step(self, batch: TaskBatch) -> dict:
        model, cfg = self.model, self.cfg
        x, y = batch.x.to(model.device), batch.y.to(model.device)
        if not model.training:
            model.train()
        self.optimizer.zero_grad(set_to_none=True)
        loss = self._loss(x, y, batch.loss)
        loss.backward()
        params = [p for p in self._params if p.grad is not None]
        if cfg.clip == "norm":
            norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_norm))
            clipped = norm > cfg.clip_norm
        else:
            norm = float(torch.nn.utils.get_total_norm([p.grad for p in params]))
            clipped = False
            if cfg.clip == "value":
                clipped = any(bool((p.grad.abs() > cfg.clip_value).any()) for p in params)
                torch.nn.utils.clip_grad_value_(params, cfg.clip_value)
        loss_value = loss.item()
        finite = math.isfinite(norm) and math.isfinite(loss_value)
        if finite:  # an exploded step is recorded, not applied: the weights stay usable
            self.optimizer.step()
        self.step += 1
        return {"step": self.step, "loss": loss_value, "grad_norm": norm, "clipped": bool(clipped),
                "applied": finite}

    def _loss(self, x, y, kind: str):
        """The task loss of one batch, as :func:`task_loss` computes it.

        When every sequence has its one target at the last step (the adding problem, sentiment),
        the head runs on the last step only and torch's own loss is used: what a plain PyTorch
        loop does, the same number and gradients, without the per-step bookkeeping.
        """
        model = self.model
        if model.native and not (self.cfg.tbptt and self.cfg.tbptt < x.shape[0]) and _last_step_only(y, kind):
            out, _ = model.rnn(x)
            y_last = model.head(out[-1])
            if kind == "ce":
                return functional.cross_entropy(y_last, y)
            if kind == "mse":
                return functional.mse_loss(y_last, y.to(y_last.dtype))
            return functional.binary_cross_entropy_with_logits(y_last, y.to(y_last.dtype))
        return task_loss(self._forward(x), y, kind)[0]

    def _forward(self, x):
        k = self.cfg.tbptt
        if not k or k >= x.shape[0]:
            return self.model(x)
        outs, state = [], None  # truncated BPTT: gradients stop at chunk boundaries
        for chunk in x.split(k, dim=0):
            if state is not None:
                state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            y, state = self.model.forward_with_state(chunk, state)
            outs.append(y)
        return torch.cat(outs)

    def run(self, steps: int | None = None) -> list[dict]:
        """Train for ``steps`` (default ``cfg.steps``) more steps, or until :meth:`stop`."""
        with fast_mode():
            return self._run(self.cfg.steps if steps is None else steps)

    def _run(self, steps: int) -> list[dict]:
        every = self.cfg.record_every
        self._stop.clear()
        start = time.perf_counter()
        if every and self.step == 0 and not self.traces:
            self.record_trace()
        for _ in range(steps):
            self._running.wait()
            if self._stop.is_set():
                break
            row = self._train_step(task_batch(self.task, self.step))
            row["elapsed"] = time.perf_counter() - start
            self.history.append(row)
            self._emit("step", row)
            if every and self.step % every == 0:
                self.record_trace()
        if not self.traces or self.traces[-1][0] != self.step:
            self.record_trace()
        self._emit("end", self.history)
        return self.history


def _last_step_only(y: torch.Tensor, kind: str) -> bool:
    """True when ``y`` holds exactly one target per sequence, all present (see ``losses``)."""
    if kind == "ce":
        return y.dim() == 1 and not torch.is_floating_point(y) and bool((y != IGNORE).all())
    return y.dim() == 2 and torch.is_floating_point(y) and not bool(torch.isnan(y).any())


def batch_meta(batch: TaskBatch, step: int = 0) -> dict:
    """Trace metadata for a task batch: task name, shape, vocab, input tokens, training step."""
    meta = {"task": batch.name, "shape": batch.shape, "vocab": batch.vocab, "tokens": batch.tokens,
            "step": step}
    # what the graph and the predictions need to name outputs and split an encoder-decoder
    meta.update({k: batch.meta[k] for k in ("classes", "out_vocab", "enc_len", "dec_len") if k in batch.meta})
    return meta


def clip_kwargs(cfg: TrainConfig) -> dict:
    """``record``'s clip_norm / clip_value for a training config's clipping choice."""
    return {"clip_norm": cfg.clip_norm if cfg.clip == "norm" else None,
            "clip_value": cfg.clip_value if cfg.clip == "value" else None}


def record_batch(model: RNNModel, batch: TaskBatch, cfg: TrainConfig, step: int = 0, **meta):
    """Record ``model`` on ``batch`` with ``cfg``'s clipping: the one recording path of the trainer,
    the app's buttons, the lessons and their variants. ``meta`` adds to :func:`batch_meta`."""
    return record(model, batch.x, batch.y, loss=batch.loss, meta={**batch_meta(batch, step), **meta},
                  **clip_kwargs(cfg))


def sized_config(cfg: RunConfig, probe: TaskBatch | None = None) -> RunConfig:
    """A copy of ``cfg`` whose model's input/output sizes are its task's (``cfg`` is not changed)."""
    probe = task_batch(cfg.task) if probe is None else probe
    model = dataclasses.replace(cfg.model, input_size=probe.input_size, output_size=probe.output_size)
    return dataclasses.replace(cfg, model=model.validate())


def build_run(cfg: RunConfig) -> tuple[RNNModel, TaskBatch]:
    """The model for ``cfg`` with input/output sizes taken from its task, and the probe batch.

    ``cfg`` is not modified: the model is built from :func:`sized_config` (``model.cfg``).
    """
    probe = task_batch(cfg.task)
    sized = sized_config(cfg, probe)
    return build_model(sized.model, sized.device), probe


def train(cfg: RunConfig, callbacks: Iterable[Callback] = (), steps: int | None = None) -> Trainer:
    """Build the model for ``cfg``, train it for ``steps`` (default ``cfg.train.steps``), return the Trainer."""
    model, _ = build_run(cfg)
    trainer = Trainer(model, cfg.task, cfg.train, callbacks)
    trainer.run(steps)
    return trainer
