"""Averaged SGD (Polyak and Juditsky 1992; Ruppert 1988): plain SGD steps, and
the running mean of the iterates from a chosen update on.

    w <- prox(w - lr g)                        (the iterate, where gradients are taken)
    w_avg <- mean of the iterates after updates average_start + 1, ..., t

The model written and evaluated is the average (`model_params`); before averaging
starts it is the iterate. The mean is kept by the running update
avg <- avg + (w - avg) / n, which never sums large numbers of iterates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, step_params


@dataclass(frozen=True)
class AveragedSGDState:
    """average_weights: float64 (n_features,); average_intercept: float;
    n_averaged: iterates in the average (0 before averaging starts)."""

    average_weights: np.ndarray
    average_intercept: float = 0.0
    n_averaged: int = 0
    update_count: int = 0


@dataclass(frozen=True)
class AveragedSGD(Hooks):
    """Attributes: penalty, active, fit_intercept as for `SGD`; average_start:
    the number of updates after which iterates enter the average (0: all)."""

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True
    average_start: int = 0

    def init(self, n_features: int) -> AveragedSGDState:
        return AveragedSGDState(np.zeros(n_features))

    def update(
        self,
        gradient: BatchGradient,
        state: AveragedSGDState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, AveragedSGDState]:
        # the SGD step on the iterate
        new = step_params(
            params, learning_rate * gradient.weights,
            learning_rate * gradient.intercept, learning_rate, self,
        )
        t = state.update_count + 1
        if t <= self.average_start:
            return new, AveragedSGDState(state.average_weights, 0.0, 0, t)

        # the running mean of the iterates
        n = state.n_averaged + 1
        weights = state.average_weights + (new.weights - state.average_weights) / n
        intercept = (
            state.average_intercept + (new.intercept - state.average_intercept) / n
        )
        return new, AveragedSGDState(weights, float(intercept), n, t)

    def model_params(
        self, params: LinearParams, state: AveragedSGDState
    ) -> LinearParams:
        if state.n_averaged == 0:
            return params
        return LinearParams(state.average_weights.copy(), state.average_intercept)
