"""Losses, penalties and the batch gradient against independent computations."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LogLoss, SquaredLoss
from streamgd.model.penalties import Penalty

LOSSES = [SquaredLoss(), LogLoss()]
PENALTIES = [Penalty(), Penalty(l2=0.3), Penalty(l2=0.1, l1=0.0)]
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False)


@st.composite
def problems(draw, min_rows=1):
    """A batch (X, y, weights or None) and parameters of matching shapes."""
    n_rows = draw(st.integers(min_rows, 12))
    n_features = draw(st.integers(1, 4))
    X = draw(arrays(np.float64, (n_rows, n_features), elements=finite))
    y = draw(arrays(np.float64, n_rows, elements=st.sampled_from([0.0, 1.0])))
    weight = draw(st.none() | arrays(np.float64, n_rows, elements=st.floats(0.1, 3)))
    weights = draw(arrays(np.float64, n_features, elements=finite))
    return X, y, weight, LinearParams(weights, draw(finite))


def _cost(X, y, weight, params, loss, penalty):
    return batch_gradient(X, y, weight, params, loss, penalty).cost


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
@pytest.mark.parametrize("penalty", PENALTIES, ids=["none", "l2", "l2_small"])
@given(problem=problems())
@settings(max_examples=40)
def test_batch_gradient_matches_central_differences(loss, penalty, problem):
    """The analytic gradient equals central finite differences of the cost."""
    X, y, weight, params = problem
    gradient = batch_gradient(X, y, weight, params, loss, penalty)
    step = 1e-6
    for j in range(len(params.weights)):
        bump = np.zeros_like(params.weights)
        bump[j] = step
        up = _cost(X, y, weight, LinearParams(params.weights + bump,
                                              params.intercept), loss, penalty)
        down = _cost(X, y, weight, LinearParams(params.weights - bump,
                                                params.intercept), loss, penalty)
        assert gradient.weights[j] == pytest.approx((up - down) / (2 * step),
                                                    rel=1e-5, abs=1e-6)
    up = _cost(X, y, weight, LinearParams(params.weights, params.intercept + step),
               loss, penalty)
    down = _cost(X, y, weight, LinearParams(params.weights, params.intercept - step),
                 loss, penalty)
    assert gradient.intercept == pytest.approx((up - down) / (2 * step),
                                               rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
@given(problem=problems())
@settings(max_examples=40)
def test_batch_gradient_is_weighted_mean_of_row_gradients(loss, problem):
    """A batch's gradient is the sample-weighted mean of its rows' gradients."""
    X, y, weight, params = problem
    weight_or_ones = np.ones(len(y)) if weight is None else weight
    rows = [batch_gradient(X[i:i + 1], y[i:i + 1], None, params, loss, Penalty())
            for i in range(len(y))]
    expected = sum(w * row.weights for w, row in zip(weight_or_ones, rows))
    expected_intercept = sum(w * row.intercept for w, row in zip(weight_or_ones, rows))
    gradient = batch_gradient(X, y, weight, params, loss, Penalty())
    np.testing.assert_allclose(gradient.weights, expected / weight_or_ones.sum(),
                               rtol=1e-10, atol=1e-12)
    assert gradient.intercept == pytest.approx(
        expected_intercept / weight_or_ones.sum(), rel=1e-10, abs=1e-12)


def test_batch_gradient_zero_total_weight_teaches_nothing():
    """A batch whose sample weights sum to zero has zero gradient and weight."""
    params = LinearParams(np.array([1.0, -2.0]), 0.5)
    gradient = batch_gradient(np.ones((3, 2)), np.ones(3), np.zeros(3), params,
                              SquaredLoss(), Penalty())
    assert gradient.total_weight == 0.0
    assert not gradient.weights.any() and gradient.intercept == 0.0


def test_log_loss_is_finite_for_confident_mistakes():
    """Log loss of a margin of +-800 is finite and equals |z| for the wrong label."""
    losses, slopes = LogLoss().value_and_slope(np.array([800.0, -800.0]),
                                               np.array([0.0, 1.0]))
    np.testing.assert_allclose(losses, [800.0, 800.0])
    np.testing.assert_allclose(slopes, [1.0, -1.0])


def test_penalty_prox_soft_thresholds():
    """The L1 proximal step shrinks toward zero by lr * l1 and stops at zero."""
    penalty = Penalty(l1=2.0)
    shrunk = penalty.prox(np.array([1.0, -0.05, 0.1, -3.0]), learning_rate=0.1)
    np.testing.assert_allclose(shrunk, [0.8, 0.0, 0.0, -2.8])


def test_penalty_of_elasticnet_splits_alpha():
    """Elastic net puts l1_ratio of alpha on L1 and the rest on L2."""
    penalty = Penalty.of("elasticnet", alpha=0.2, l1_ratio=0.25)
    assert penalty.l1 == pytest.approx(0.05) and penalty.l2 == pytest.approx(0.15)


@pytest.mark.parametrize("loss", [SquaredLoss(), LogLoss()])
def test_loss_into_given_arrays_equals_new_arrays_bit_for_bit(loss):
    """value_and_slope writing into reused arrays gives the values of the route
    that makes new ones, bit for bit, margins of +-800 and subnormal ones
    included; the arrays given are the ones returned."""
    rng = np.random.default_rng(11)
    z = np.concatenate([rng.normal(size=500) * 30.0, [800.0, -800.0, 5e-320, 0.0]])
    y = (rng.random(len(z)) > 0.5).astype(float)
    out = (np.full(len(z), np.nan), np.full(len(z), np.nan))
    losses, slopes = loss.value_and_slope(z, y, out=out)
    assert losses is out[0] and slopes is out[1]
    expected_losses, expected_slopes = loss.value_and_slope(z, y)
    np.testing.assert_array_equal(losses.view(np.int64),
                                  expected_losses.view(np.int64))
    np.testing.assert_array_equal(slopes.view(np.int64),
                                  expected_slopes.view(np.int64))
