"""The loss of a task, total and per time step, for every target layout of ``TaskBatch``.

``task_loss(y_hat, y, loss)`` takes the model output ``y_hat`` (T, B, O) and targets ``y``:

* ``"mse"`` / ``"bce"``: float ``y`` (B, O) = target at the last step only, or (T, B, O)
  with NaN where there is no target. ``"bce"`` treats ``y_hat`` as logits.
* ``"ce"``: int64 ``y`` (B,) = last step only, or (T, B) with -100 where there is no target;
  ``y_hat`` are the logits over O classes.

``L`` is the mean over every target element present (differentiable). ``per_step`` (T,) is
the same mean restricted to step t — detached, NaN at steps without any target. If no target
is present at all, ``L`` is a differentiable zero (e.g. an early truncated-BPTT chunk).
"""

from __future__ import annotations

import weakref

import torch
from torch.nn import functional

IGNORE = -100
LOSSES = ("mse", "ce", "bce")

# id(targets) → (weak reference, loss) for the targets of every TaskBatch made: ``x, y = batch``
# loses the batch, but ``y`` still says which loss its task uses.
_TASK_TARGETS: dict[int, tuple[weakref.ref, str]] = {}


def remember_task_loss(y: torch.Tensor, loss: str) -> None:
    """Note that targets ``y`` belong to a task whose loss is ``loss`` (TaskBatch does this)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    key = id(y)
    _TASK_TARGETS[key] = (weakref.ref(y), loss)
    weakref.finalize(y, _TASK_TARGETS.pop, key, None)


def task_loss_of(y: torch.Tensor) -> str | None:
    """The loss of the task ``y`` came from (these very targets, not a copy), or None."""
    entry = _TASK_TARGETS.get(id(y))
    return entry[1] if entry is not None and entry[0]() is y else None


def resolve_loss(y: torch.Tensor, loss: str = "auto") -> str:
    """The loss to use for targets ``y``: ``loss`` itself unless it is "auto", else

    * the task's own loss when ``y`` are the targets of a TaskBatch;
    * "ce" for integer class targets;
    * "mse" for float targets with a value outside [0, 1] (they cannot be binary labels);
    * otherwise ValueError: float targets in [0, 1] could be regression targets or binary labels,
      and MSE on a BCE task gives a wrong loss and wrong gradients without any sign of it.
    """
    if loss != "auto":
        if loss not in LOSSES:
            raise ValueError(f"loss must be 'auto' or one of {', '.join(LOSSES)}, got {loss!r}")
        return loss
    known = task_loss_of(y)
    if known is not None:
        return known
    if not torch.is_floating_point(y):
        return "ce"
    present = y[~torch.isnan(y)]
    if present.numel() == 0 or bool(((present < 0) | (present > 1)).any()):
        return "mse"
    raise ValueError("loss='auto' cannot tell whether float targets in [0, 1] are regression targets (mse) "
                     "or binary labels (bce): pass loss='mse' or loss='bce', or record(model, batch) "
                     "with the task's TaskBatch, which knows its loss")


def _masked_mean(per_elem: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """per_elem, mask (T, B, ...) -> (mean over present elements, (T,) per-step means)."""
    per_elem = torch.where(mask, per_elem, torch.zeros_like(per_elem))
    count = mask.sum()
    total = per_elem.sum() / count if count > 0 else per_elem.sum() * 0.0
    dims = tuple(range(1, per_elem.dim()))
    step_count = mask.sum(dim=dims).to(per_elem.dtype)  # (T,)
    step_sum = per_elem.detach().sum(dim=dims)  # (T,)
    per_step = torch.where(step_count > 0, step_sum / step_count.clamp(min=1),
                           torch.full_like(step_sum, float("nan")))
    return total, per_step


def _targets(y_hat: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(targets, mask) laid out like the per-element loss: for "ce" class indices (T, B) (0 where
    absent) and mask (T, B); else values (T, B, O) (0 where absent) and mask (T, B, O)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if y_hat.dim() != 3:
        raise ValueError(f"y_hat must be (T, B, O), got shape {tuple(y_hat.shape)}")
    T, B, n_out = y_hat.shape  # n_out = O
    y = y.to(y_hat.device)
    if loss == "ce":
        if tuple(y.shape) not in {(B,), (T, B)}:
            raise ValueError(f"ce targets must be (B,)=({B},) or (T, B)=({T}, {B}), "
                             f"got {tuple(y.shape)}")
        if y.dim() == 1:  # (B,) -> (T, B), target at the last step only
            full = torch.full((T, B), IGNORE, dtype=torch.long, device=y.device)
            full[-1] = y
            y = full
        y = y.long()
        mask = y != IGNORE
        return torch.where(mask, y, 0), mask
    if tuple(y.shape) not in {(B, n_out), (T, B, n_out)}:
        raise ValueError(f"{loss} targets must be (B, O)=({B}, {n_out}) or "
                         f"(T, B, O)=({T}, {B}, {n_out}), got {tuple(y.shape)}")
    if y.dim() == 2:  # (B, O) -> (T, B, O), NaN = no target
        full = torch.full((T, B, n_out), float("nan"), dtype=y_hat.dtype, device=y.device)
        full[-1] = y
        y = full
    y = y.to(y_hat.dtype)
    mask = ~torch.isnan(y)  # (T, B, O)
    return torch.nan_to_num(y, nan=0.0), mask


def _per_element(y_hat: torch.Tensor, target: torch.Tensor, loss: str) -> torch.Tensor:
    if loss == "ce":
        T, B, n_out = y_hat.shape
        return functional.cross_entropy(y_hat.reshape(T * B, n_out), target.reshape(-1),
                                        reduction="none").view(T, B)  # (T, B)
    if loss == "mse":
        return (y_hat - target) ** 2
    return functional.binary_cross_entropy_with_logits(y_hat, target, reduction="none")


def task_loss(y_hat: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (L scalar, per_step (T,)) for outputs y_hat (T, B, O) and targets y."""
    target, mask = _targets(y_hat, y, loss)
    return _masked_mean(_per_element(y_hat, target, loss), mask)


def loss_and_grad(y_hat: torch.Tensor, y: torch.Tensor, loss: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, per_step, dL/dy_hat (T, B, O)) without autograd: :func:`task_loss` and the closed
    form of its gradient, the mean over the present targets of
    mse: 2 (y_hat − y);  bce: σ(y_hat) − y;  ce: softmax(y_hat) − one-hot(y)."""
    T, B, n_out = y_hat.shape
    if T > 1 and tuple(y.shape) == ((B,) if loss == "ce" else (B, n_out)):  # targets at the last step only
        if loss != "ce":
            with torch.no_grad():
                target = y.to(device=y_hat.device, dtype=y_hat.dtype)
                if not bool(torch.isnan(target).any()):  # every target there: a plain mean (a few ops)
                    return _last_step_plain(y_hat, target, loss)
        L, last, grad_last = loss_and_grad(y_hat[-1:], y.unsqueeze(0), loss)
        per_step = torch.full((T,), float("nan"), dtype=last.dtype, device=last.device)
        per_step[-1] = last[0]
        grad = torch.zeros_like(y_hat)
        grad[-1] = grad_last[0]
        return L, per_step, grad
    with torch.no_grad():
        target, mask = _targets(y_hat, y, loss)
        L, per_step = _masked_mean(_per_element(y_hat, target, loss), mask)
        count = mask.sum()
        if loss == "ce":
            grad = torch.softmax(y_hat, dim=2)
            grad.scatter_add_(2, target.unsqueeze(2), torch.full_like(grad[..., :1], -1.0))
            mask = mask.unsqueeze(2)
        else:
            grad = 2.0 * (y_hat - target) if loss == "mse" else torch.sigmoid(y_hat) - target
        grad = torch.where(mask, grad, 0.0) / count.clamp(min=1)
    return L, per_step, grad


def _last_step_plain(y_hat: torch.Tensor, target: torch.Tensor, loss: str):
    """:func:`loss_and_grad` for mse/bce targets (B, O) at the last step, none missing."""
    last = y_hat[-1]  # (B, O)
    if loss == "mse":
        diff = last - target
        L = (diff * diff).mean()
        grad_last = diff * (2.0 / diff.numel())
    else:
        L = functional.binary_cross_entropy_with_logits(last, target)
        grad_last = (torch.sigmoid(last) - target) / target.numel()
    per_step = torch.full((y_hat.shape[0],), float("nan"), dtype=L.dtype, device=L.device)
    per_step[-1] = L
    grad = torch.zeros_like(y_hat)
    grad[-1] = grad_last
    return L, per_step, grad


def batch_axis(y: torch.Tensor, loss: str) -> int:
    """The batch axis of targets ``y`` laid out for ``loss``: 0 for last-step targets ((B,) class
    indices, (B, O) values), 1 for targets at every step ((T, B), (T, B, O))."""
    return 0 if y.dim() == (1 if loss == "ce" else 2) else 1


def present_per_step(y: torch.Tensor, loss: str, T: int) -> torch.Tensor:
    """(T,) float64: how many target elements step t has (those :func:`task_loss` averages over)."""
    present = (y != IGNORE) if loss == "ce" else ~torch.isnan(y.float())
    counts = torch.zeros(T, dtype=torch.float64)
    if batch_axis(y, loss) == 0:  # last step only
        counts[-1] = float(present.sum())
    else:
        counts[:] = present.reshape(present.shape[0], -1).sum(1).double().cpu()
    return counts
