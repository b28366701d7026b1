"""The cap on a plain SGD step: never past the batch's own minimum along it.

A step of rate r moves the parameters (w, b) by -r (g, g_b), the batch
gradient. Along that line the batch cost is a function of r whose second
derivative is at most

    curvature x sum_i s_i (x_i . g + g_b)^2 / W          W = sum_i s_i

(`curvature` the largest d2l/dz2 of the loss: 1 squared, 1/4 log; s_i the
sample weights; g restricted to the active features, the only ones that move).
Its first derivative at r = 0 is -(|g|^2 + g_b^2), so any rate up to

    cap = (|g|^2 + g_b^2) / (curvature x sum_i s_i (x_i . g + g_b)^2 / W)

lowers the batch cost: the step stops at or before the batch's minimum along
the gradient (for one row this is normalized LMS, Nagumo and Noda 1967). The
penalty's curvature is left out.

An ordinary batch of scaled rows allows far more than the schedule's rate, so
the cap acts only on a batch of rare, large rows, where a plain step would
diverge (bugcase b21: ten rows at 31.6 standard deviations in one batch).

Computing the cap costs a product of the batch with g, as much as the
gradient itself, so it is screened first: by Cauchy-Schwarz the curvature
along any direction is at most curvature x (sum_i s_i |x_i|^2 / W + 1), the
batch's Hessian trace, whose inverse `trace_caps` gives for a whole block at
once. Only a rate above that screen needs the exact cap. The trace alone
(which an earlier version used as the cap) is exact for one row but for
mini-batches of d standardized features caps the rate near 1 / (d + 1).
"""

from __future__ import annotations

import numpy as np

from streamgd.model.linear import BatchGradient


def trace_caps(
    X: np.ndarray, sample_weight: np.ndarray | None, batch_size: int,
    curvature: float, fit_intercept: bool,
) -> np.ndarray:
    """Per batch of a block, 1 / (curvature x its Hessian's trace): float64
    (n_batches,). A rate at most this cannot overshoot (see the module
    docstring); a batch of weight 0 or of zero rows gets inf."""
    n_rows = X.shape[0]
    starts = np.arange(0, n_rows, batch_size)
    squared_norms = np.einsum("ij,ij->i", X, X)
    if sample_weight is None:
        sums = np.add.reduceat(squared_norms, starts)
        totals = np.diff(np.append(starts, n_rows)).astype(np.float64)
    else:
        sums = np.add.reduceat(sample_weight * squared_norms, starts)
        totals = np.add.reduceat(sample_weight, starts)
    trace = np.divide(sums, totals, out=np.zeros_like(sums), where=totals > 0)
    bound = curvature * (trace + float(fit_intercept))
    return np.divide(1.0, bound, out=np.full_like(bound, np.inf), where=bound > 0)


def directional_cap(
    X: np.ndarray, sample_weight: np.ndarray | None, gradient: BatchGradient,
    active: np.ndarray, curvature: float, fit_intercept: bool,
) -> float:
    """The largest rate whose step along `gradient` does not pass the batch's
    minimum along it (see the module docstring); inf for a zero gradient.

    Args:
        X: float64 (n_rows, n_features), the batch; sample_weight: (n_rows,)
            or None; gradient: the batch's, whose total_weight is > 0.
        active: bool (n_features,); inactive weights never move.
    """
    direction = np.where(active, gradient.weights, 0.0)
    intercept = gradient.intercept if fit_intercept else 0.0
    length = float(direction @ direction) + intercept * intercept
    along = X @ direction + intercept
    squares = along * along
    if sample_weight is not None:
        squares = squares * sample_weight
    bend = curvature * float(squares.sum()) / gradient.total_weight
    return length / bend if bend > 0.0 else float("inf")
