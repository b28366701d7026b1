"""One SGD step, for every loss, penalty, feature mask and intercept setting,
equals the textbook update computed here from the data, not from the package."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.optim import SGD
from tests.model.test_gradient_laws import PENALTY_KINDS


def textbook_gradient(X, y, weight, params, model_type, penalty):
    """(d cost / d w without the L1 part, d cost / d b), from the formulas."""
    z = X @ params.weights + params.intercept
    if model_type == "linear":
        slope = z - y
    else:
        slope = 1.0 / (1.0 + np.exp(-np.clip(z, -700, 700))) - y
    weight = np.ones(len(y)) if weight is None else weight
    total = weight.sum()
    return (
        X.T @ (weight * slope) / total + penalty.l2 * params.weights,
        float(weight @ slope / total),
    )


def soft_threshold(values: np.ndarray, threshold: float) -> np.ndarray:
    """The proximal map of threshold * |.|, written with a branch per case."""
    out = np.zeros_like(values)
    above, below = values > threshold, values < -threshold
    out[above] = values[above] - threshold
    out[below] = values[below] + threshold
    return out


@st.composite
def steps(draw):
    """A batch, parameters, a penalty, a feature mask and a learning rate."""
    n_rows, n_features = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    model_type = draw(st.sampled_from(["linear", "logistic"]))
    values = st.floats(-5, 5)
    X = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=values))
    labels = st.sampled_from([0.0, 1.0]) if model_type == "logistic" else values
    y = draw(hnp.arrays(np.float64, n_rows, elements=labels))
    weight = draw(st.none() | hnp.arrays(np.float64, n_rows,
                                         elements=st.floats(0.1, 5)))
    params = LinearParams(
        draw(hnp.arrays(np.float64, n_features, elements=values)),
        draw(values),
    )
    penalty = Penalty.of(draw(st.sampled_from(PENALTY_KINDS)), draw(st.floats(0, 1)),
                         draw(st.floats(0, 1)))
    active = draw(hnp.arrays(np.bool_, n_features))
    return (X, y, weight, params, model_type, penalty, active,
            draw(st.booleans()), draw(st.floats(1e-4, 2.0)))


@given(steps())
def test_sgd_step_is_textbook_proximal_gradient_step(step):
    """w' = soft(w - lr g, lr l1) on active features, w elsewhere; b' = b - lr g_b.

    With fit_intercept False the intercept does not move; the state counts 1.
    """
    X, y, weight, params, model_type, penalty, active, fit_intercept, rate = step
    optimizer = SGD(penalty, active, fit_intercept)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        gradient = batch_gradient(X, y, weight, params, LOSSES[model_type], penalty)
        new, state = optimizer.update(gradient, optimizer.init(), params, rate)

    g_weights, g_intercept = textbook_gradient(X, y, weight, params, model_type,
                                               penalty)
    moved = soft_threshold(params.weights - rate * g_weights, rate * penalty.l1)
    expected = np.where(active, moved, params.weights)
    np.testing.assert_allclose(new.weights, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(new.weights[~active], params.weights[~active])
    intercept = params.intercept - rate * g_intercept if fit_intercept else (
        params.intercept)
    np.testing.assert_allclose(new.intercept, intercept, rtol=1e-12, atol=1e-12)
    assert state.update_count == 1
