"""Laws of the batch cost and gradient for every loss and every penalty.

test_linear.py checks the smooth penalties against finite differences; here
every penalty of the config (none, l2, l1, elasticnet) is covered, the cost is
checked against its formula written out independently, and the L1 part, which
the optimizer applies as a proximal step, is checked as the subgradient it is.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty

PENALTY_KINDS = ("none", "l2", "l1", "elasticnet")
# finite differences of step h err by about h^2 f''' / 6 + eps |f| / h; with
# |x| <= 4 and |w| <= 3 the cost's third derivative stays below 1e3
STEP = 1e-5
TOLERANCE = 1e-5


@st.composite
def batches(draw, loss_name: str, margin: float = 4.0):
    """(X, y, sample weight or None, params): a batch and a model to judge it."""
    n_rows = draw(st.integers(1, 10))
    n_features = draw(st.integers(1, 4))
    values = st.floats(-margin, margin)
    X = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=values))
    labels = st.sampled_from([0.0, 1.0]) if loss_name == "log" else values
    y = draw(hnp.arrays(np.float64, n_rows, elements=labels))
    weight = draw(st.none() | hnp.arrays(np.float64, n_rows,
                                         elements=st.floats(0.01, 5)))
    # weights kept away from 0, where the L1 part has a kink
    magnitude = st.floats(0.01, 3)
    signs = hnp.arrays(np.float64, n_features, elements=st.sampled_from([-1., 1.]))
    weights = draw(hnp.arrays(np.float64, n_features, elements=magnitude))
    weights = weights * draw(signs)
    return X, y, weight, LinearParams(weights, draw(st.floats(-3, 3)))


def penalties() -> st.SearchStrategy[Penalty]:
    """Penalties as the config makes them: a kind, alpha and l1_ratio."""
    return st.builds(
        Penalty.of, st.sampled_from(PENALTY_KINDS), st.floats(0, 2), st.floats(0, 1)
    )


def reference_cost(X, y, weight, params, loss_name: str, penalty: Penalty) -> float:
    """The cost written out: weighted mean loss plus the whole penalty."""
    z = X @ params.weights + params.intercept
    if loss_name == "squared":
        losses = 0.5 * (z - y) ** 2
    else:
        losses = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0.0) - y * z
    weight = np.ones(len(y)) if weight is None else weight
    w = params.weights
    return float(
        weight @ losses / weight.sum()
        + 0.5 * penalty.l2 * w @ w + penalty.l1 * np.abs(w).sum()
    )


def central_differences(cost, params: LinearParams) -> np.ndarray:
    """d cost / d (weights, intercept) by central differences of step STEP."""
    theta = np.append(params.weights, params.intercept)
    gradient = np.empty_like(theta)
    for k in range(theta.size):
        bump = np.zeros_like(theta)
        bump[k] = STEP
        up, down = theta + bump, theta - bump
        rise = cost(LinearParams(up[:-1], up[-1]))
        gradient[k] = (rise - cost(LinearParams(down[:-1], down[-1]))) / (2 * STEP)
    return gradient


@pytest.mark.parametrize("loss_name", ["squared", "log"])
@given(data=st.data(), penalty=penalties())
def test_cost_equals_weighted_mean_loss_plus_penalty(loss_name, data, penalty):
    """The batch cost is the formula of the docs, written out independently."""
    X, y, weight, params = data.draw(batches(loss_name))
    loss = LOSSES["linear" if loss_name == "squared" else "logistic"]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        cost = batch_gradient(X, y, weight, params, loss, penalty).cost
    expected = reference_cost(X, y, weight, params, loss_name, penalty)
    assert cost == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("loss_name", ["squared", "log"])
@given(data=st.data(), penalty=penalties())
def test_gradient_plus_l1_subgradient_matches_central_differences(
    loss_name, data, penalty
):
    """Away from zero weights, gradient + l1 * sign(w) is d cost / d params.

    The gradient holds the smooth part only; the L1 part is the optimizer's
    proximal step, whose slope off zero is l1 * sign(w).
    """
    X, y, weight, params = data.draw(batches(loss_name))
    loss = LOSSES["linear" if loss_name == "squared" else "logistic"]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        gradient = batch_gradient(X, y, weight, params, loss, penalty)

        def cost(at: LinearParams) -> float:
            return batch_gradient(X, y, weight, at, loss, penalty).cost

        numeric = central_differences(cost, params)
    analytic = np.append(
        gradient.weights + penalty.l1 * np.sign(params.weights), gradient.intercept
    )
    scale = 1.0 + np.abs(numeric).max()
    np.testing.assert_allclose(analytic, numeric, rtol=0, atol=TOLERANCE * scale)


@given(
    z=st.floats(-700, 700) | st.sampled_from([-1e300, -745.0, 745.0, 1e300]),
    y=st.sampled_from([0.0, 1.0]),
)
@example(z=1e300, y=0.0)
@example(z=-1e300, y=1.0)
def test_log_loss_slope_and_value_stay_finite_at_any_margin(z, y):
    """At any margin the log loss is finite, >= 0, and its slope in [-1, 1]."""
    loss = LOSSES["logistic"]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, slope = loss.value_and_slope(np.array([z]), np.array([y]))
    assert np.isfinite(value[0]) and value[0] >= 0.0
    assert -1.0 <= slope[0] <= 1.0
    # a confident mistake costs |z|, to rounding
    if (z > 40 and y == 0.0) or (z < -40 and y == 1.0):
        assert value[0] == pytest.approx(abs(z), rel=1e-12)


@pytest.mark.parametrize("kind", PENALTY_KINDS)
@given(alpha=st.floats(0, 10), ratio=st.floats(0, 1))
def test_penalty_of_splits_alpha_as_documented(kind, alpha, ratio):
    """l2 and l1 strengths follow the penalty table in model/penalties.py."""
    penalty = Penalty.of(kind, alpha, ratio)
    expected = {
        "none": (0.0, 0.0),
        "l2": (alpha, 0.0),
        "l1": (0.0, alpha),
        "elasticnet": (alpha * (1 - ratio), alpha * ratio),
    }[kind]
    assert (penalty.l2, penalty.l1) == pytest.approx(expected, rel=1e-15, abs=0)
