"""Ensemble weights learned by stacking on out-of-fold predictions.

The stacked ensemble is a convex blend of the models' probabilities, p = sum_k w_k p_k with
w_k >= 0 and sum w_k = 1 (so its signal 2p - 1 is the same blend of the models' signals). The
weights maximise the mean Bernoulli log-likelihood of the labels,
L(w) = mean(y ln p + (1 - y) ln(1 - p)), p clipped to [1e-6, 1 - 1e-6], over a grid of step
``step`` on the simplex (exhaustive: the answer does not depend on a solver's start point).

Honest evaluation: :func:`walk_forward_weights` gives fold k the weights learned on the
out-of-fold predictions of folds 0..k-1 only, so a stacked fold is scored on data its weights
never saw; fold 0 (nothing before it) keeps the fixed default weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from raytrade.core.errors import DataError

EPS = 1e-6


def log_likelihood(prob: np.ndarray, y: np.ndarray) -> float:
    """Mean Bernoulli log-likelihood of labels ``y`` (0/1) under probabilities ``prob``."""
    p = np.clip(np.asarray(prob, dtype=np.float64), EPS, 1 - EPS)
    y = np.asarray(y, dtype=np.float64)
    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _simplex(k: int, n: int) -> np.ndarray:
    """Every weight vector of ``k`` components in multiples of 1/n that sums to 1."""
    if k == 1:
        return np.array([[1.0]])
    rows = [np.concatenate([[i / n], rest * (n - i) / n]) for i in range(n + 1)
            for rest in (_simplex(k - 1, n - i) if i < n else np.zeros((1, k - 1)))]
    return np.array(rows)


def stack_weights(signals: Mapping[str, np.ndarray], y: np.ndarray, step: float = 0.01) -> dict[str, float]:
    """The convex weights of the models' signals (each in [-1, 1]; p = (1 + s) / 2) that maximise
    the log-likelihood of ``y``. Ties go to the first grid point (the first model's largest weight)."""
    names = list(signals)
    if not names:
        raise DataError("no model predictions to stack", source="stacking")
    n = round(1 / step)
    if not np.isclose(n * step, 1.0) or n < 1:
        raise DataError(f"step must divide 1, got {step}", source="stacking")
    probs = np.column_stack([(1 + np.asarray(signals[k], dtype=np.float64)) / 2 for k in names])
    y = np.asarray(y, dtype=np.float64)
    if len(y) == 0 or probs.shape[0] != len(y):
        raise DataError(f"{probs.shape[0]} predictions for {len(y)} labels", source="stacking")
    if not np.isfinite(probs).all():
        raise DataError("predictions must be finite", source="stacking")
    grid = _simplex(len(names), n)
    p = np.clip(probs @ grid.T, EPS, 1 - EPS)
    ll = (y[:, None] * np.log(p) + (1 - y[:, None]) * np.log(1 - p)).mean(axis=0)
    best = grid[int(np.argmax(ll))]
    return {k: round(float(w), 10) for k, w in zip(names, best, strict=True)}


def walk_forward_weights(folds: Sequence[tuple[Mapping[str, np.ndarray], np.ndarray]],
                         default: Mapping[str, float], step: float = 0.01) -> list[dict[str, float]]:
    """Weights for each fold in time order: fold 0 gets ``default``, fold k those stacked on the
    out-of-fold predictions and labels of folds 0..k-1."""
    out: list[dict[str, float]] = [dict(default)]
    for k in range(1, len(folds)):
        names = list(folds[0][0])
        seen = {m: np.concatenate([f[0][m] for f in folds[:k]]) for m in names}
        out.append(stack_weights(seen, np.concatenate([f[1] for f in folds[:k]]), step))
    return out[:len(folds)]
