"""RMSProp: a per-coordinate rate from a moving average of squared gradients.

    S <- beta2 S + (1 - beta2) g^2      w <- prox(w - lr g / (sqrt(S) + eps))

(Tieleman and Hinton 2012, lecture 6.5.) Unlike AdaGrad the average forgets,
so the rate does not decay to zero. The L1 proximal step uses the same
per-coordinate rate. The intercept has its own average.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, active_gradient, step_params


@dataclass(frozen=True)
class RMSPropState:
    """mean_squares: float64 (n_features,), the average S; intercept's a float."""

    mean_squares: np.ndarray
    intercept_mean_square: float = 0.0
    update_count: int = 0


@dataclass(frozen=True)
class RMSProp(Hooks):
    """Attributes: penalty, active, fit_intercept as for `SGD`; beta2 in [0, 1)
    the decay of the average; epsilon > 0."""

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True
    beta2: float = 0.999
    epsilon: float = 1e-8

    def init(self, n_features: int) -> RMSPropState:
        return RMSPropState(np.zeros(n_features))

    def update(
        self,
        gradient: BatchGradient,
        state: RMSPropState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, RMSPropState]:
        # decay the average of squared gradients
        g, g_intercept = active_gradient(gradient, self.active), gradient.intercept
        forget = 1.0 - self.beta2
        mean_squares = self.beta2 * state.mean_squares + forget * g * g
        intercept_mean_square = (
            self.beta2 * state.intercept_mean_square + forget * g_intercept**2
        )

        # per-coordinate rates
        rate = learning_rate / (np.sqrt(mean_squares) + self.epsilon)
        intercept_rate = learning_rate / (
            np.sqrt(intercept_mean_square) + self.epsilon
        )
        new = step_params(params, rate * g, intercept_rate * g_intercept, rate, self)
        return new, RMSPropState(
            mean_squares, float(intercept_mean_square), state.update_count + 1
        )
