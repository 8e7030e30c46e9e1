"""Principal components of hidden-state clouds: the 2-D (or 3-D) view of the phase portrait."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Projection:
    """mean (S,), components (S, P) orthonormal columns, explained (P,) share of the variance."""

    mean: np.ndarray
    components: np.ndarray
    explained: np.ndarray

    def transform(self, states: np.ndarray) -> np.ndarray:
        """(…, S) → (…, P) coordinates on the components (NaN where an exploded run's state is)."""
        with np.errstate(invalid="ignore", over="ignore"):  # NaN/Inf states are data, not a warning
            return (np.asarray(states, dtype=np.float64) - self.mean) @ self.components

    def direction(self, v: np.ndarray) -> np.ndarray:
        """(…, S) vectors (no centring) → (…, P): how a direction in state space looks in the view."""
        with np.errstate(invalid="ignore", over="ignore"):
            return np.asarray(v, dtype=np.float64) @ self.components


def pca(states: np.ndarray, n: int = 6, max_rows: int = 20_000, seed: int = 0) -> Projection:
    """The first ``n`` principal components of ``states`` (N, S), from at most ``max_rows`` rows."""
    X = np.asarray(states, dtype=np.float64).reshape(-1, np.shape(states)[-1])
    X = X[np.isfinite(X).all(axis=1)]
    if len(X) > max_rows:  # a random subset gives the same components to plotting precision
        X = X[np.random.default_rng(seed).choice(len(X), max_rows, replace=False)]
    S = X.shape[1] if X.ndim == 2 else 0
    n = max(1, min(n, S))
    if len(X) < 2:
        return Projection(np.zeros(S), np.eye(S)[:, :n], np.zeros(n))
    mean = X.mean(0)
    # eigenvectors of the S×S covariance (torch's BLAS: numpy's would start a second, competing
    # pool of threads, and an SVD of the N×S matrix costs N/S times more)
    Xc = torch.from_numpy(X - mean)
    evals, evecs = torch.linalg.eigh(Xc.T @ Xc)
    order = torch.argsort(evals, descending=True)
    var = evals[order].clamp_min(0).numpy()
    comps = evecs[:, order[:n]].numpy()
    # a fixed sign per component (largest loading positive) so views do not flip between runs
    signs = np.sign(comps[np.abs(comps).argmax(0), np.arange(comps.shape[1])])
    comps = comps * np.where(signs == 0, 1, signs)
    explained = var[:n] / var.sum() if var.sum() > 0 else np.zeros(n)
    if comps.shape[1] < n:  # fewer rows than components
        comps = np.pad(comps, ((0, 0), (0, n - comps.shape[1])))
        explained = np.pad(explained, (0, n - len(explained)))
    return Projection(mean, comps, explained)
