"""The full-batch objective: mean loss over all rows plus the penalty.

The solvers see a flat parameter vector theta = [weights..., intercept] and call
the objective, which runs one pass over the partitions per call. Frozen
coordinates (constant features, and the intercept when it is not fitted) get a
zero gradient, so every solver leaves them where they start.

    cost         = sum(w_i * loss_i) / sum(w_i) + l2 / 2 ||weights||^2
                   + l1 ||weights||_1
    smooth_cost  = the same without the L1 term (what gradients describe)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from streamgd.errors import DataError
from streamgd.fullbatch.passes import GradientSums
from streamgd.model.linear import LinearParams
from streamgd.model.penalties import Penalty


@dataclass(frozen=True)
class Evaluation:
    """The objective at one point.

    Attributes:
        cost: smooth_cost plus the L1 term.
        smooth_cost: mean loss plus the L2 term.
        gradient: float64 array of shape (n_features + 1,): d smooth_cost /
            d theta, the intercept last; 0.0 at frozen coordinates.
        total_weight: sum of the sample weights over all rows.
        n_rows: rows in the pass.
    """

    cost: float
    smooth_cost: float
    gradient: np.ndarray
    total_weight: float
    n_rows: int


def as_params(theta: np.ndarray) -> LinearParams:
    """The linear parameters of a flat vector [weights..., intercept]."""
    return LinearParams(np.array(theta[:-1], dtype=np.float64), float(theta[-1]))


def as_theta(params: LinearParams) -> np.ndarray:
    """The flat vector [weights..., intercept] of linear parameters."""
    return np.append(params.weights, params.intercept).astype(np.float64)


def evaluation_of(
    sums: GradientSums, theta: np.ndarray, penalty: Penalty, free: np.ndarray
) -> Evaluation:
    """Cost and gradient from the sums of a whole pass, at `theta`.

    Args:
        free: bool array of theta's shape; False freezes a coordinate.

    Raises:
        DataError: the sample weights sum to 0 (nothing to fit).
    """
    if sums.total_weight <= 0.0:
        raise DataError(
            f"the sample weights of all {sums.n_rows} rows sum to 0: there is"
            " nothing to fit; check data.weight"
        )
    weights = theta[:-1]
    mean_loss = sums.loss / sums.total_weight
    smooth_cost = mean_loss + 0.5 * penalty.l2 * float(weights @ weights)
    gradient = np.append(sums.weights, sums.intercept) / sums.total_weight
    gradient[:-1] += penalty.gradient(weights)
    gradient[~free] = 0.0
    cost = smooth_cost + penalty.l1 * float(np.abs(weights).sum())
    return Evaluation(cost, smooth_cost, gradient, sums.total_weight, sums.n_rows)


@dataclass
class Objective:
    """Evaluates theta by one pass; counts the passes run.

    Attributes:
        run_pass: the gradient sums over every partition at some parameters.
        penalty: the job's penalty (its L1 part is applied by `prox`).
        free: bool array (n_features + 1,); False freezes a coordinate.
        n_passes: passes run so far.
    """

    run_pass: Callable[[LinearParams], GradientSums]
    penalty: Penalty
    free: np.ndarray
    n_passes: int = 0

    def __call__(self, theta: np.ndarray) -> Evaluation:
        sums = self.run_pass(as_params(theta))
        self.n_passes += 1
        return evaluation_of(sums, theta, self.penalty, self.free)

    def prox(self, theta: np.ndarray, step: float) -> np.ndarray:
        """Soft-thresholding of the free weights by step * l1 (the L1 part)."""
        if self.penalty.l1 == 0.0:
            return theta
        shrunk = theta.copy()
        weights = self.free[:-1]
        shrunk[:-1][weights] = self.penalty.prox(theta[:-1][weights], step)
        return shrunk
