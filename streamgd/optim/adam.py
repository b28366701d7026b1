"""Adam: bias-corrected moving averages of the gradient and its square.

    m <- b1 m + (1 - b1) g           v <- b2 v + (1 - b2) g^2
    m_hat = m / (1 - b1^t)           v_hat = v / (1 - b2^t)       t = 1, 2, ...
    w <- prox(w - lr m_hat / (sqrt(v_hat) + eps))

(Kingma and Ba 2015, Algorithm 1.) The L1 proximal step uses the per-coordinate
rate lr / (sqrt(v_hat) + eps). The intercept has its own moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, active_gradient, step_params


@dataclass(frozen=True)
class AdamState:
    """first_moment, second_moment: float64 (n_features,); the intercept's are
    floats; update_count is t before the next update."""

    first_moment: np.ndarray
    second_moment: np.ndarray
    intercept_first_moment: float = 0.0
    intercept_second_moment: float = 0.0
    update_count: int = 0


@dataclass(frozen=True)
class Adam(Hooks):
    """Attributes: penalty, active, fit_intercept as for `SGD`; beta1, beta2 in
    [0, 1) the decays of the two moments; epsilon > 0."""

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True
    beta1: float = 0.9
    beta2: float = 0.999
    epsilon: float = 1e-8

    def init(self, n_features: int) -> AdamState:
        return AdamState(np.zeros(n_features), np.zeros(n_features))

    def update(
        self,
        gradient: BatchGradient,
        state: AdamState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, AdamState]:
        # moving averages of the gradient and of its square
        g, g_intercept = active_gradient(gradient, self.active), gradient.intercept
        b1, b2 = self.beta1, self.beta2
        first = b1 * state.first_moment + (1 - b1) * g
        second = b2 * state.second_moment + (1 - b2) * g * g
        intercept_first = b1 * state.intercept_first_moment + (1 - b1) * g_intercept
        intercept_second = (
            b2 * state.intercept_second_moment + (1 - b2) * g_intercept**2
        )

        # bias correction, then per-coordinate rates
        t = state.update_count + 1
        correction1, correction2 = 1 - b1**t, 1 - b2**t
        rate = learning_rate / (np.sqrt(second / correction2) + self.epsilon)
        intercept_rate = learning_rate / (
            np.sqrt(intercept_second / correction2) + self.epsilon
        )
        new = step_params(
            params, rate * first / correction1,
            intercept_rate * intercept_first / correction1, rate, self,
        )
        return new, AdamState(
            first, second, float(intercept_first), float(intercept_second), t
        )
