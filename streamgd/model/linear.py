"""A linear model's parameters and the batch gradient of its cost."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.losses import LogLoss, SquaredLoss
from streamgd.model.penalties import Penalty

Loss = SquaredLoss | LogLoss


@dataclass(frozen=True)
class LinearParams:
    """Weights (float64, shape (n_features,)) and intercept of a linear model."""

    weights: np.ndarray
    intercept: float

    def margin(self, X: np.ndarray) -> np.ndarray:
        """z = X w + b; X float64 of shape (n_rows, n_features)."""
        return X @ self.weights + self.intercept


@dataclass(frozen=True)
class BatchGradient:
    """Cost and gradient of one batch.

    Attributes:
        cost: weighted mean loss plus the penalty's value.
        weights: d cost / d weights, float64 of shape (n_features,), penalty
            included (its smooth part).
        intercept: d cost / d intercept.
        total_weight: sum of the rows' sample weights (n_rows when unweighted).
    """

    cost: float
    weights: np.ndarray
    intercept: float
    total_weight: float


def batch_gradient(
    X: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None,
    params: LinearParams,
    loss: Loss,
    penalty: Penalty,
) -> BatchGradient:
    """Cost and exact gradient of a batch: the weighted mean of per-row terms.

    Args:
        X: float64 (n_rows, n_features); y: float64 (n_rows,);
        sample_weight: float64 (n_rows,) or None for all ones.

    A batch whose weights sum to 0 has cost 0 and gradient 0 (it teaches nothing).
    """
    losses, slopes = loss.value_and_slope(params.margin(X), y)
    if sample_weight is None:
        total = float(len(y))
    else:
        total = float(sample_weight.sum())
        losses, slopes = losses * sample_weight, slopes * sample_weight
    if total == 0.0:
        zeros = np.zeros_like(params.weights)
        return BatchGradient(0.0, zeros, 0.0, 0.0)
    cost = float(losses.sum()) / total + penalty.value(params.weights)
    gradient = X.T @ slopes / total + penalty.gradient(params.weights)
    return BatchGradient(cost, gradient, float(slopes.sum()) / total, total)
