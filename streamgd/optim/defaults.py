"""The learning rate used when a job gives none (`optimizer.learning_rate: null`).

For the rules whose step is the gradient times the rate (sgd, asgd, momentum,
nesterov) the rate comes from the data. The expected mean loss of a batch has
Hessian c * E[x x^T], x a scaled row with a 1 for the intercept, c = 1 for the
squared loss and 1/4 for the log loss. Its largest eigenvalue is at most its
trace, c * E[||x||^2], which the statistics pass gives exactly:

    E[||x||^2] = sum over active features of (scaled variance + scaled mean^2) + 1

so a rate of 1 / (c * E[||x||^2]) never overshoots the expected cost (2 /
lambda_max would). The default is a tenth of it, 0.1 / (c * E[||x||^2]): a
batch's gradient is a noisy estimate, and at the full stable rate the iterate
wanders by about that noise (on one standardized feature the tenth is 0.05, the
rate streamgd used as its fixed default before). Single rows far larger than the
mean are left to the engine's cap on overshooting steps. Momentum takes
(1 - mu) of the rate, since its steps accumulate to 1 / (1 - mu) times the
gradient's.

The adaptive rules (adagrad, rmsprop, adam, normalized) step each weight by about
the rate whatever the gradient's size, so their rate is in the units of the
weights and no feature statistic sets it; they use fixed defaults, which suit
targets of order one (log loss, or a standardized target). For a squared loss on
a target of another scale, run `streamgd tune`.
"""

from __future__ import annotations

import numpy as np

from streamgd.normalize import RunningStats, Scaler

SAFETY = 0.1  # the share of the largest stable rate (see the module docstring)
ADAPTIVE_DEFAULTS = {"adagrad": 0.5, "rmsprop": 0.01, "adam": 0.01, "normalized": 0.5}


def mean_squared_norm(stats: RunningStats, scaler: Scaler,
                      fit_intercept: bool) -> float:
    """E[||x||^2] over the scaled rows, the intercept's 1 included."""
    active = ~stats.constant & (stats.count > 0)
    # the scalers are affine: the image of mean + std less that of the mean is
    # the scaled standard deviation
    scaled = scaler.transform(np.vstack([stats.mean, stats.mean + stats.std]))
    second_moment = scaled[0] ** 2 + (scaled[1] - scaled[0]) ** 2
    return float(second_moment[active].sum()) + float(fit_intercept)


def default_learning_rate(
    update: str, model_type: str, stats: RunningStats, scaler: Scaler,
    fit_intercept: bool, momentum: float,
) -> float:
    """The rate for a job with none; see the module docstring."""
    if update in ADAPTIVE_DEFAULTS:
        return ADAPTIVE_DEFAULTS[update]
    curvature = 1.0 if model_type == "linear" else 0.25
    trace = mean_squared_norm(stats, scaler, fit_intercept)
    rate = SAFETY / (curvature * max(trace, np.finfo(float).tiny))
    if update in ("momentum", "nesterov"):
        rate *= 1.0 - momentum
    return rate
