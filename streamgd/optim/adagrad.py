"""AdaGrad: a per-coordinate rate from the sum of past squared gradients.

    G <- G + g^2                 w <- prox(w - lr g / (sqrt(G) + eps))

(Duchi, Hazan and Singer 2011, the diagonal variant.) The L1 proximal step uses
the same per-coordinate rate lr / (sqrt(G) + eps). The intercept has its own sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, active_gradient, step_params


@dataclass(frozen=True)
class AdaGradState:
    """squared_gradients: float64 (n_features,), the sum G; intercept's is a float."""

    squared_gradients: np.ndarray
    intercept_squared_gradient: float = 0.0
    update_count: int = 0


@dataclass(frozen=True)
class AdaGrad(Hooks):
    """Attributes: penalty, active, fit_intercept as for `SGD`; epsilon > 0."""

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True
    epsilon: float = 1e-8

    def init(self, n_features: int) -> AdaGradState:
        return AdaGradState(np.zeros(n_features))

    def update(
        self,
        gradient: BatchGradient,
        state: AdaGradState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, AdaGradState]:
        # accumulate the squared gradients
        g, g_intercept = active_gradient(gradient, self.active), gradient.intercept
        squared = state.squared_gradients + g * g
        intercept_squared = state.intercept_squared_gradient + g_intercept**2

        # per-coordinate rates
        rate = learning_rate / (np.sqrt(squared) + self.epsilon)
        intercept_rate = learning_rate / (np.sqrt(intercept_squared) + self.epsilon)
        new = step_params(params, rate * g, intercept_rate * g_intercept, rate, self)
        return new, AdaGradState(
            squared, float(intercept_squared), state.update_count + 1
        )
