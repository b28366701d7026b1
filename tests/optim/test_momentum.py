"""Momentum and Nesterov steps equal their formulas, coordinate by coordinate."""

from hypothesis import given
from hypothesis import strategies as st

from streamgd.optim import Momentum
from tests.optim.references import (
    assert_trails_match, build, drive, soft_threshold,
)
from tests.strategies import gradient_runs


def momentum_reference(run, mu, nesterov):
    """v <- mu v + g; w <- prox(w - lr v), or w - lr (g + mu v) for Nesterov."""
    weights, intercept = list(run["weights"]), float(run["intercept"])
    velocity, intercept_velocity = [0.0] * len(weights), 0.0
    trail = []
    for step in run["steps"]:
        rate = step["learning_rate"]
        for i, g in enumerate(step["weights"]):
            if not run["active"][i]:
                continue
            velocity[i] = mu * velocity[i] + g
            direction = g + mu * velocity[i] if nesterov else velocity[i]
            weights[i] = soft_threshold(weights[i] - rate * direction,
                                        rate * run["l1"])
        g = step["intercept"]
        intercept_velocity = mu * intercept_velocity + g
        direction = g + mu * intercept_velocity if nesterov else intercept_velocity
        if run["fit_intercept"]:
            intercept -= rate * direction
        trail.append((list(weights), intercept))
    return trail


@given(gradient_runs(), st.floats(0.0, 0.99), st.booleans())
def test_momentum_matches_formula_step_by_step(run, mu, nesterov):
    """Every step of (Nesterov) momentum equals the reference written from v, g."""
    optimizer = build(Momentum, run, momentum=mu, nesterov=nesterov)
    assert_trails_match(drive(optimizer, run), momentum_reference(run, mu, nesterov))


@given(gradient_runs())
def test_momentum_zero_is_plain_sgd(run):
    """With mu = 0 both momentum forms reduce to w <- prox(w - lr g)."""
    for nesterov in (False, True):
        trail = drive(build(Momentum, run, momentum=0.0, nesterov=nesterov), run)
        assert_trails_match(trail, momentum_reference(run, 0.0, False))
