"""AdaGrad steps equal the formula, coordinate by coordinate."""

import math

from hypothesis import given

from streamgd.optim import AdaGrad
from tests.optim.references import (
    assert_trails_match, build, drive, soft_threshold,
)
from tests.strategies import gradient_runs

EPSILON = 1e-8


def adagrad_reference(run):
    """G <- G + g^2; w <- prox(w - lr g / (sqrt(G) + eps)) with that rate."""
    weights, intercept = list(run["weights"]), float(run["intercept"])
    squares, intercept_square = [0.0] * len(weights), 0.0
    trail = []
    for step in run["steps"]:
        lr = step["learning_rate"]
        for i, g in enumerate(step["weights"]):
            if not run["active"][i]:
                continue
            squares[i] += g * g
            rate = lr / (math.sqrt(squares[i]) + EPSILON)
            weights[i] = soft_threshold(weights[i] - rate * g, rate * run["l1"])
        g = step["intercept"]
        intercept_square += g * g
        if run["fit_intercept"]:
            intercept -= lr / (math.sqrt(intercept_square) + EPSILON) * g
        trail.append((list(weights), intercept))
    return trail


@given(gradient_runs())
def test_adagrad_matches_formula_step_by_step(run):
    """Every AdaGrad step equals the reference from the summed squared gradients."""
    optimizer = build(AdaGrad, run, epsilon=EPSILON)
    assert_trails_match(drive(optimizer, run), adagrad_reference(run))
