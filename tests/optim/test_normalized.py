"""The normalized adaptive update equals its formula, and is scale invariant."""

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import SquaredLoss
from streamgd.model.penalties import Penalty
from streamgd.optim import Normalized
from tests.optim.references import (
    assert_trails_match, build, drive, soft_threshold,
)
from tests.strategies import gradient_runs


def normalized_reference(run):
    """Algorithm NAG of Ross, Mineiro and Langford (2013), batch by batch."""
    weights, intercept = list(run["weights"]), float(run["intercept"])
    n_features = len(weights)
    scale, squares = [0.0] * n_features, [0.0] * n_features
    intercept_square = rows_seen = normalizer = 0.0
    trail = []
    for step in run["steps"]:
        # observe: grow the scales (shrinking grown weights), count the norms
        for i in range(n_features):
            largest = max(abs(row[i]) for row in step["X"])
            if run["active"][i] and largest > scale[i]:
                if scale[i] > 0:
                    weights[i] *= scale[i] / largest
                scale[i] = largest
        for row in step["X"]:
            rows_seen += 1
            normalizer += float(run["fit_intercept"]) + sum(
                (row[i] / scale[i]) ** 2 for i in range(n_features) if scale[i] > 0
            )

        # update: lr sqrt(t / N) g / (s sqrt(G)) per coordinate
        overall = step["learning_rate"]
        if normalizer > 0:
            overall *= math.sqrt(rows_seen / normalizer)
        for i, g in enumerate(step["weights"]):
            if not run["active"][i]:
                continue
            squares[i] += g * g
            # undefined (no step) while s_i sqrt(G_i) is 0, underflow included
            denominator = scale[i] * math.sqrt(squares[i])
            if denominator > 0:
                rate = overall / denominator
                weights[i] = soft_threshold(weights[i] - rate * g, rate * run["l1"])
        g = step["intercept"]
        intercept_square += g * g
        if run["fit_intercept"] and intercept_square > 0:
            intercept -= overall / math.sqrt(intercept_square) * g
        trail.append((list(weights), intercept))
    return trail


@given(gradient_runs())
def test_normalized_matches_formula_step_by_step(run):
    """Every step (observe, then update) equals the NAG reference."""
    assert_trails_match(drive(build(Normalized, run), run), normalized_reference(run))


@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3),
       st.integers(-6, 6), st.integers(0, 2))
def test_normalized_predictions_do_not_depend_on_feature_units(base, power, column):
    """Multiplying a feature by 10^k leaves every prediction unchanged."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)) * np.array(base) + 1.0
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=60)
    factor = np.ones(3)
    factor[column] = 10.0**power

    def predictions(inputs):
        optimizer = Normalized(Penalty(), np.ones(3, dtype=bool))
        params, state = LinearParams(np.zeros(3), 0.0), optimizer.init(3)
        for start in range(0, 60, 4):
            batch, target = inputs[start:start + 4], y[start:start + 4]
            params, state = optimizer.observe(batch, None, state, params)
            gradient = batch_gradient(batch, target, None, params, SquaredLoss(),
                                      Penalty())
            params, state = optimizer.update(gradient, state, params, 0.5)
        return params.margin(inputs)

    np.testing.assert_allclose(predictions(X * factor), predictions(X),
                               rtol=1e-7, atol=1e-7)


def test_normalized_rescales_weights_when_a_scale_grows():
    """A larger |x| shrinks the weight by old/new scale: w s stays the same."""
    optimizer = Normalized(Penalty(), np.array([True]))
    state = optimizer.init(1)
    params, state = optimizer.observe(np.array([[2.0]]), None, state,
                                      LinearParams(np.array([3.0]), 0.0))
    params, state = optimizer.observe(np.array([[8.0]]), None, state, params)
    assert params.weights[0] == 0.75 and state.scale[0] == 8.0
