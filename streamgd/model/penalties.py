"""Penalties on the weights (never on the intercept).

    none        0
    l2          alpha / 2 * ||w||^2                      (in the gradient)
    l1          alpha * ||w||_1                          (proximal step)
    elasticnet  alpha * ((1 - r) / 2 ||w||^2 + r ||w||_1), r = l1_ratio

The L1 part is applied as a proximal step after the gradient step (soft
thresholding by learning_rate * alpha * r), which sets weights exactly to zero;
a subgradient step would only make them oscillate around it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Penalty:
    """A penalty split into its smooth (L2) and proximal (L1) strengths.

    Attributes:
        l2: coefficient of ||w||^2 / 2.
        l1: coefficient of ||w||_1.
    """

    l2: float = 0.0
    l1: float = 0.0

    @classmethod
    def of(cls, kind: str, alpha: float, l1_ratio: float) -> Penalty:
        if kind == "l2":
            return cls(l2=alpha)
        if kind == "l1":
            return cls(l1=alpha)
        if kind == "elasticnet":
            return cls(l2=alpha * (1 - l1_ratio), l1=alpha * l1_ratio)
        return cls()

    def value(self, weights: np.ndarray) -> float:
        return float(
            0.5 * self.l2 * weights @ weights + self.l1 * np.abs(weights).sum()
        )

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        """Gradient of the smooth part; float64 of weights' shape."""
        return self.l2 * weights

    def prox(self, weights: np.ndarray, learning_rate: float) -> np.ndarray:
        """Soft-threshold by learning_rate * l1; the identity without L1."""
        if self.l1 == 0.0:
            return weights
        shrink = learning_rate * self.l1
        return np.sign(weights) * np.maximum(np.abs(weights) - shrink, 0.0)
