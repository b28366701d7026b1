"""Plain stochastic gradient descent, with explicit state.

    init(n_features) -> state
    update(gradient, state, params, learning_rate) -> (params, state)

The state counts updates; the schedule reads the rate from it. The L1 part of a
penalty is applied as a proximal step after the gradient step. Weights of inactive
features (constant columns) stay exactly where they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, step_params


@dataclass(frozen=True)
class SGDState:
    """update_count: updates applied so far (the schedule's t before the next)."""

    update_count: int = 0


@dataclass(frozen=True)
class SGD(Hooks):
    """w <- prox(w - lr * g), b <- b - lr * g_b.

    Attributes:
        penalty: its L1 part is applied as the proximal step.
        active: bool array (n_features,); False freezes a weight.
        fit_intercept: False keeps the intercept at its initial value.
    """

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True

    def init(self, n_features: int | None = None) -> SGDState:
        return SGDState()

    def update(
        self,
        gradient: BatchGradient,
        state: SGDState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, SGDState]:
        step = learning_rate * gradient.weights
        new = step_params(
            params, step, learning_rate * gradient.intercept, learning_rate, self
        )
        return new, SGDState(state.update_count + 1)
