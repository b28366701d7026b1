"""RMSProp steps equal the formula, coordinate by coordinate."""

import math

from hypothesis import given
from hypothesis import strategies as st

from streamgd.optim import RMSProp
from tests.optim.references import (
    assert_trails_match, build, drive, soft_threshold,
)
from tests.strategies import gradient_runs

EPSILON = 1e-8


def rmsprop_reference(run, beta2):
    """S <- b2 S + (1 - b2) g^2; w <- prox(w - lr g / (sqrt(S) + eps))."""
    weights, intercept = list(run["weights"]), float(run["intercept"])
    averages, intercept_average = [0.0] * len(weights), 0.0
    trail = []
    for step in run["steps"]:
        lr = step["learning_rate"]
        for i, g in enumerate(step["weights"]):
            if not run["active"][i]:
                continue
            averages[i] = beta2 * averages[i] + (1 - beta2) * g * g
            rate = lr / (math.sqrt(averages[i]) + EPSILON)
            weights[i] = soft_threshold(weights[i] - rate * g, rate * run["l1"])
        g = step["intercept"]
        intercept_average = beta2 * intercept_average + (1 - beta2) * g * g
        if run["fit_intercept"]:
            intercept -= lr / (math.sqrt(intercept_average) + EPSILON) * g
        trail.append((list(weights), intercept))
    return trail


@given(gradient_runs(), st.floats(0.0, 0.999))
def test_rmsprop_matches_formula_step_by_step(run, beta2):
    """Every RMSProp step equals the reference from the decayed squared gradients."""
    optimizer = build(RMSProp, run, beta2=beta2, epsilon=EPSILON)
    assert_trails_match(drive(optimizer, run), rmsprop_reference(run, beta2))
