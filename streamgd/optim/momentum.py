"""Heavy-ball momentum and Nesterov momentum, with explicit state.

    momentum  v <- mu v + g                 w <- prox(w - lr v)
    nesterov  v <- mu v + g                 w <- prox(w - lr (g + mu v))

(Polyak 1964; the Nesterov form is the one of Sutskever, Martens, Dahl and Hinton
2013, eq. 3-4, rewritten on the current iterate as Bengio, Boulanger-Lewandowski
and Pascanu 2013 do, so the gradient is taken where the parameters are.) The
velocity keeps the gradient's units, so the learning rate means the same as in
plain SGD and a changing schedule rate does not rescale past steps. The intercept
has its own velocity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, active_gradient, step_params


@dataclass(frozen=True)
class MomentumState:
    """velocity: float64 (n_features,); intercept_velocity: float."""

    velocity: np.ndarray
    intercept_velocity: float = 0.0
    update_count: int = 0


@dataclass(frozen=True)
class Momentum(Hooks):
    """Momentum SGD; `nesterov=True` looks ahead along the velocity.

    Attributes:
        penalty, active, fit_intercept: as for `SGD`.
        momentum: mu in [0, 1); 0 gives plain SGD.
        nesterov: use the Nesterov step.
    """

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True
    momentum: float = 0.9
    nesterov: bool = False

    def init(self, n_features: int) -> MomentumState:
        return MomentumState(np.zeros(n_features))

    def update(
        self,
        gradient: BatchGradient,
        state: MomentumState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, MomentumState]:
        # accumulate the velocity
        g, g_intercept = active_gradient(gradient, self.active), gradient.intercept
        velocity = self.momentum * state.velocity + g
        intercept_velocity = self.momentum * state.intercept_velocity + g_intercept

        # step along it (or, for Nesterov, along the look-ahead direction)
        direction, intercept_direction = velocity, intercept_velocity
        if self.nesterov:
            direction = g + self.momentum * velocity
            intercept_direction = g_intercept + self.momentum * intercept_velocity
        new = step_params(
            params, learning_rate * direction,
            learning_rate * intercept_direction, learning_rate, self,
        )
        return new, MomentumState(
            velocity, float(intercept_velocity), state.update_count + 1
        )
