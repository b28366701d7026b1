"""The learning rate used when a job gives none (`optimizer.learning_rate: null`,
the default).

For the rules whose step is the gradient times the rate (sgd, asgd, momentum,
nesterov) the rate comes from the data. The expected cost's Hessian is
c * E[x x^T], x a scaled row with a 1 for the intercept, c = 1 for the squared
loss and 1/4 for the log loss. Two numbers of the statistics pass describe it:

    L = its largest eigenvalue / c    (`normalize.comoments`; when not measured,
                                       its upper bound T)
    T = E[||x||^2] = sum over active features of (scaled variance + scaled
        mean^2) + 1, its trace / c

Two limits bound the rate, and the default is the smaller:

    CURVATURE_SHARE / (c L + l2)   the expected cost is stable below 2 over
                                   its largest curvature, the L2 penalty's
                                   included; half of that
    (ROW_SHARE + B / BATCH_RATIO) / (c T)
                                   B the batch size. A batch gradient's noise
                                   keeps the iterate off the optimum by an
                                   excess cost of about rate * c * T / (2 B)
                                   times the noise's own (the misadjustment of
                                   LMS, Widrow): B / (64 c T) holds it near
                                   1/128. For one row 1 / (c T) is the edge of
                                   stability (normalized LMS), and a tenth of
                                   it learns faster than B / 64 would allow.

The second binds at ordinary batch sizes, the first for large batches, whose
gradients are nearly exact but few. The shares come from measurement
(`scripts/default_rate.py`, README "Learning rate"): over the flights job and
generated data with d = 1 to 100, the rates that fit best in the default 5
epochs were near 0.1 / (c T) at batch 1, 0.5 / (c T) at batch 32 and up to
1 / (c L) at batch 4096. The engine's step cap (`optim.stepcap`) guards the
batches of rare, large rows the expectation leaves out. Momentum takes
(1 - mu) of the rate, since its steps accumulate to 1 / (1 - mu) times the
gradient's.

The adaptive rules (adagrad, rmsprop, adam, normalized) step each weight by about
the rate whatever the gradient's size, so their rate is in the units of the
weights. For the log loss, whose weights are of order one, fixed defaults serve.
For the squared loss the weights scale with the target: the default is the fixed
one times the target's standard deviation from the statistics pass. (The
normalized update's weights act on x / max|x|, larger by max|x| / std, but its
factor sqrt(t / N) already grows its steps by about as much. On flights, raw,
constant schedule, the fit at rates 22 (the default), 45, 89 and 151 varied
more with the chunking and shuffle, 1.006 to 1.029 of the least-squares RMSE,
than with the rate.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.normalize import RunningStats, Scaler

CURVATURE_SHARE = 1.0  # of 1 / (c L), see the module docstring
ROW_SHARE = 0.1  # of 1 / (c T)
BATCH_RATIO = 64  # B / BATCH_RATIO of 1 / (c T)
ADAPTIVE_DEFAULTS = {"adagrad": 0.5, "rmsprop": 0.01, "adam": 0.01, "normalized": 0.5}
# a job without optimizer.schedule: normalized's steps already shrink as
# 1 / sqrt(t), and invscaling on top left flights at 1.90x the least-squares
# RMSE against 1.02 with a constant rate (scripts/default_rate.py --adaptive)
DEFAULT_SCHEDULES = {"normalized": "constant"}


@dataclass(frozen=True)
class DataScales:
    """What the statistics pass measured that sets a default rate.

    Attributes:
        stats, scaler: the features' statistics and the job's scaler.
        fit_intercept: whether a 1 enters each row.
        largest_curvature: the largest eigenvalue of E[x x^T] over the scaled
            rows, or None when not measured.
        target_scale: the target's standard deviation (squared loss), or None.
    """

    stats: RunningStats
    scaler: Scaler
    fit_intercept: bool
    largest_curvature: float | None = None
    target_scale: float | None = None


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
    update: str, model_type: str, scales: DataScales, batch_size: int,
    momentum: float, l2: float = 0.0,
) -> tuple[float, str]:
    """The rate for a job with none, and how it was found, in words.

    `l2`, the penalty's coefficient of ||w||^2 / 2, adds to the curvature."""
    if update in ADAPTIVE_DEFAULTS:
        return _adaptive_rate(update, model_type, scales)
    curvature = 1.0 if model_type == "linear" else 0.25
    trace = mean_squared_norm(scales.stats, scales.scaler, scales.fit_intercept)
    largest = scales.largest_curvature
    if largest is None or not largest > 0:
        largest = trace
    tiny = np.finfo(float).tiny
    stable = CURVATURE_SHARE / max(curvature * largest + l2, tiny)
    quiet = (ROW_SHARE + batch_size / BATCH_RATIO) / max(curvature * trace, tiny)
    rate = min(stable, quiet)
    if stable <= quiet:
        how = (f"{CURVATURE_SHARE:g} / ({curvature:g} x largest curvature"
               f" {largest:.4g} + l2 {l2:g})")
    else:
        how = (f"({ROW_SHARE:g} + batch {batch_size} / {BATCH_RATIO}) /"
               f" ({curvature:g} x mean squared norm {trace:.4g})")
    if update in ("momentum", "nesterov"):
        rate *= 1.0 - momentum
        how += f", times 1 - momentum {momentum:g}"
    return rate, how


def default_schedule(update: str) -> str:
    """The learning-rate schedule of a job that names none."""
    return DEFAULT_SCHEDULES.get(update, "invscaling")


def _adaptive_rate(update: str, model_type: str,
                   scales: DataScales) -> tuple[float, str]:
    base = ADAPTIVE_DEFAULTS[update]
    target = scales.target_scale
    if model_type != "linear" or target is None or not target > 0:
        return base, f"the fixed default of {update}"
    return base * target, f"{base:g} x target std {target:.4g}"
