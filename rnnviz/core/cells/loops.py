"""Helpers for the cells' time loops (the hand-written BPTT and the cell-state scan).

The loops run on numpy when the tensors are on the CPU: a numpy op on a (B, H) row costs
~1 µs, a torch op ~5 µs, and a loop over T steps does a handful per step. On a GPU they run
on torch. Callers run under ``np.errstate(all="ignore")``: an exploding run overflowing to
Inf/NaN is data to show, not a warning to print.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

from rnnviz.core import progress

LOOP_ON_NUMPY = True  # tests switch this off to run the torch loops a GPU uses, on the CPU
SMALL_PRODUCT = 1 << 16  # multiply-adds below which numpy's BLAS stays on one thread: call it directly

sig_bwd = torch.ops.aten.sigmoid_backward.grad_input  # g·σ(1−σ) in one pass, into a slice
tanh_bwd = torch.ops.aten.tanh_backward.grad_input  # g·(1−tanh²) in one pass


def loop_arrays(*tensors):
    """(arrays, xp): the tensors as numpy arrays and ``np`` on the CPU, else as they are and ``torch``."""
    if LOOP_ON_NUMPY and tensors[0].device.type == "cpu":
        return [t.numpy() for t in tensors], np
    return list(tensors), torch


def as_torch(*arrays):
    """Back from :func:`loop_arrays`: numpy arrays become tensors (sharing memory), tensors stay."""
    return [torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in arrays]


def cat(xp):
    """The concatenation of the loop's array library."""
    return np.concatenate if xp is np else torch.cat


def recurrent_product(W_hh: torch.Tensor, xp, batch: int):
    """``rows ↦ rows @ W_hh`` for the loop's (B, G*H) rows, the cheapest way for its size.

    numpy's own BLAS is left out above tiny sizes: it would start a second pool of threads
    whose threads keep spinning after each product and fight torch's OpenMP threads for the
    cores (seen here: the native LSTM ran up to 2x slower right after a recording). Larger
    products go to torch's BLAS, written into one buffer the loop reads before the next step
    overwrites it."""
    W = W_hh.detach()
    if xp is not np:
        return lambda rows: rows @ W
    if batch * W.shape[0] * W.shape[1] < SMALL_PRODUCT:
        Wn = W.numpy()
        return lambda rows: rows @ Wn
    out = torch.empty(batch, W.shape[1], dtype=W.dtype)
    out_np, mm, from_numpy = out.numpy(), torch.mm, torch.from_numpy

    def times_w(rows):
        mm(from_numpy(rows), W, out=out)
        return out_np
    return times_w


class _Scratch(threading.local):
    def __init__(self):
        self.buffers: dict[int, torch.Tensor] = {}
        self.next = 0


_scratch = _Scratch()
SCRATCH_BYTES = 64 << 20  # temporaries a thread keeps for its next recording


def scratch_begin() -> None:
    """A recording starts in this thread: its temporaries may take the memory the last one's used."""
    _scratch.next = 0


def scratch(like: torch.Tensor, *shape: int) -> torch.Tensor:
    """An uninitialised tensor of ``shape`` (``like``'s dtype) for a temporary that never leaves
    the recording in progress, in memory the previous recording of this thread used.

    A fresh array costs the operating system a page fault per 4 KiB page on its first touch
    (measured here: 1.5-3 µs each, 6,700 of them at B=32, T=200, H=128 — over 10 ms of a
    100 ms recording); reused memory costs none. At most :data:`SCRATCH_BYTES` per thread are
    kept, only on the CPU; the k-th temporary of a recording takes the k-th buffer, so callers
    ask in the same order each time (:func:`scratch_begin` starts the count)."""
    n = math.prod(shape)
    if like.device.type != "cpu" or n * like.element_size() > SCRATCH_BYTES:
        return like.new_empty(shape)
    slot = _scratch.next
    _scratch.next += 1
    buffers = _scratch.buffers
    buf = buffers.get(slot)
    if buf is not None and buf.dtype == like.dtype and buf.numel() >= n:
        return buf[:n].view(shape)
    buf = like.new_empty(n)
    kept = sum(b.numel() * b.element_size() for k, b in buffers.items() if k != slot)
    if kept + n * like.element_size() <= SCRATCH_BYTES:
        buffers[slot] = buf
    return buf.view(shape)


def step_rows(x: torch.Tensor, H: int) -> torch.Tensor:
    """[x_t, 1, h_{t−1}] side by side: (T, B, I+1+H), with x and the ones written and the h part
    left for the caller (:func:`put_h_prev`). One operand for a cell's pre-activations and for its
    weight and bias gradients (the ones column multiplies the biases); its first I+1 columns
    alone give the input side of every step in one product."""
    T, B, I = x.shape
    xh = scratch(x, T, B, I + 1 + H)  # a temporary of the recording
    xh[..., :I] = x
    xh[..., I] = 1.0
    return xh


def put_h_prev(xh: torch.Tensor, Hs: torch.Tensor, d: int) -> torch.Tensor:
    """Write h_{t−1} (the direction's own order; zeros where the sequence starts) into the h part
    of :func:`step_rows`' array; returns it."""
    H = Hs.shape[2]
    h_part = xh[..., -H:]
    now, before = (slice(1, None), slice(None, -1)) if d == 0 else (slice(None, -1), slice(1, None))
    h_part[now] = Hs[before]
    h_part[0 if d == 0 else -1] = 0.0
    return xh


def time_order(T: int, d: int, backward: bool = False, ticks: bool | None = None):
    """The steps in the direction's own order (d = 1 runs from T−1 down), or the reverse for BPTT.

    The steps are reported to :mod:`rnnviz.core.progress` (progress bar, cancel) when ``ticks``
    (default: for the BPTT loops, whose caller plans one unit a step)."""
    forward_in_time = (d == 0) != backward
    order = range(T) if forward_in_time else range(T - 1, -1, -1)
    return progress.steps(order) if (backward if ticks is None else ticks) else order


def shift(Hs: torch.Tensor, d: int) -> torch.Tensor:
    """h_{t−1} in the direction's own time order: (T, B, H), zeros where the sequence starts."""
    zero = torch.zeros_like(Hs[:1])
    return torch.cat([zero, Hs[:-1]]) if d == 0 else torch.cat([Hs[1:], zero])


def scan_memory(keep: torch.Tensor, add: torch.Tensor, d: int) -> torch.Tensor:
    """m_t = keep_t ⊙ m_{t−1} + add_t over time (the direction's own order), m_0 = 0: (T, B, H)."""
    (keep_, add_), xp = loop_arrays(keep, add)
    # gates in [0, 1] (LSTM's Γ_f): their running products cannot overflow in the prefix scan
    if xp is np and keep_[0].size <= SMALL_SCAN and len(keep_) >= 8 and (np.abs(keep_) <= 1).all():
        if d:
            return torch.from_numpy(np.ascontiguousarray(_prefix_scan(keep_[::-1], add_[::-1])[::-1]))
        return torch.from_numpy(_prefix_scan(keep_, add_))
    M = xp.empty_like(add_)
    m = xp.zeros_like(add_[0])
    for t in time_order(len(M), d):
        m = keep_[t] * m + add_[t]
        M[t] = m
    return as_torch(M)[0]


SMALL_SCAN = 1024  # B·H up to which a step is so small that the cost per call decides the scan


def _prefix_scan(keep: np.ndarray, add: np.ndarray) -> np.ndarray:
    """:func:`scan_memory` forward in time as a parallel prefix scan (Hillis–Steele): log₂T
    whole-sequence operations instead of T tiny ones (B=1, H=64, T=200: 8 levels, ~4x faster).

    After the level with shift s, (P_t, M_t) is the affine map of steps t−2s+1 .. t composed
    (m ↦ P_t ⊙ m + M_t); composing (P2, M2) after (P1, M1) gives (P2 ⊙ P1, P2 ⊙ M1 + M2).
    """
    M, P = add.copy(), keep.copy()
    P[0] = 0.0  # m_{−1} = 0: nothing before the first step survives
    s = 1
    while s < len(M):
        M[s:] += P[s:] * M[:-s]  # the right side is evaluated before M changes
        P[s:] *= P[:-s]  # numpy buffers the overlapping operands
        s *= 2
    return M
