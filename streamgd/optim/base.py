"""What every optimizer shares: the step on the parameters, and its contract.

An optimizer is a frozen dataclass holding the job's fixed choices (penalty,
active features, hyper-parameters) and two pure functions, in the optax style:

    init(n_features) -> state
    update(gradient, state, params, learning_rate) -> (params, state)

The state is a frozen dataclass of numpy arrays, ints and floats, with an
`update_count` field: a checkpoint serialises it field by field, so a resumed run
continues bit for bit. Two optional hooks exist for the optimizers that need them:

    observe(X, sample_weight, state, params) -> (params, state)
        sees a batch's inputs before its gradient (the normalized update tracks
        each feature's scale; it may rescale weights before the prediction)
    model_params(params, state) -> params
        the parameters to write and evaluate (averaged SGD writes its average)
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty


class OptimizerState(Protocol):
    update_count: int


class Optimizer(Protocol):
    """The contract the training loop relies on (see the module docstring)."""

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool
    observes_inputs: ClassVar[bool]

    def init(self, n_features: int) -> Any: ...

    def update(
        self, gradient: BatchGradient, state: Any, params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, Any]: ...

    def model_params(self, params: LinearParams, state: Any) -> LinearParams: ...


class Hooks:
    """Defaults of the optional hooks: see nothing, write the iterate."""

    observes_inputs: ClassVar[bool] = False

    def observe(
        self, X: np.ndarray, sample_weight: np.ndarray | None, state: Any,
        params: LinearParams,
    ) -> tuple[LinearParams, Any]:
        return params, state

    def model_params(self, params: LinearParams, state: Any) -> LinearParams:
        return params


def active_gradient(gradient: BatchGradient, active: np.ndarray) -> np.ndarray:
    """The weight gradient with inactive (constant) features' entries set to 0.

    With a zero gradient, every accumulator of an inactive feature stays 0, so no
    optimizer ever moves its weight.
    """
    return np.where(active, gradient.weights, 0.0)


def step_params(
    params: LinearParams,
    weight_step: np.ndarray,
    intercept_step: float,
    rate: np.ndarray | float,
    optimizer: Any,
) -> LinearParams:
    """w <- prox(w - weight_step, rate) on active features; b <- b - intercept_step.

    `rate` is the effective per-feature step size (float64 of shape (n_features,),
    or a float): the L1 part of the penalty soft-thresholds by rate * l1, the
    proximal step of the same size as the gradient step.
    """
    stepped = optimizer.penalty.prox(params.weights - weight_step, rate)
    weights = np.where(optimizer.active, stepped, params.weights)
    intercept = params.intercept
    if optimizer.fit_intercept:
        intercept = intercept - intercept_step
    return LinearParams(weights, float(intercept))
