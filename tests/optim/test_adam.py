"""Adam steps equal Algorithm 1 of Kingma and Ba, coordinate by coordinate."""

import math

from hypothesis import given
from hypothesis import strategies as st

from streamgd.optim import Adam
from tests.optim.references import (
    assert_trails_match, build, drive, soft_threshold,
)
from tests.strategies import gradient_runs

EPSILON = 1e-8


def adam_reference(run, beta1, beta2):
    """Bias-corrected moments; w <- prox(w - lr m_hat / (sqrt(v_hat) + eps))."""
    weights, intercept = list(run["weights"]), float(run["intercept"])
    first, second = [0.0] * len(weights), [0.0] * len(weights)
    intercept_first = intercept_second = 0.0
    trail = []
    for t, step in enumerate(run["steps"], start=1):
        lr = step["learning_rate"]
        for i, g in enumerate(step["weights"]):
            if not run["active"][i]:
                continue
            first[i] = beta1 * first[i] + (1 - beta1) * g
            second[i] = beta2 * second[i] + (1 - beta2) * g * g
            m_hat, v_hat = first[i] / (1 - beta1**t), second[i] / (1 - beta2**t)
            rate = lr / (math.sqrt(v_hat) + EPSILON)
            weights[i] = soft_threshold(weights[i] - rate * m_hat, rate * run["l1"])
        g = step["intercept"]
        intercept_first = beta1 * intercept_first + (1 - beta1) * g
        intercept_second = beta2 * intercept_second + (1 - beta2) * g * g
        if run["fit_intercept"]:
            m_hat = intercept_first / (1 - beta1**t)
            v_hat = intercept_second / (1 - beta2**t)
            intercept -= lr * m_hat / (math.sqrt(v_hat) + EPSILON)
        trail.append((list(weights), intercept))
    return trail


@given(gradient_runs(), st.floats(0.0, 0.99), st.floats(0.5, 0.999))
def test_adam_matches_formula_step_by_step(run, beta1, beta2):
    """Every Adam step equals the reference from the bias-corrected moments."""
    optimizer = build(Adam, run, beta1=beta1, beta2=beta2, epsilon=EPSILON)
    assert_trails_match(drive(optimizer, run), adam_reference(run, beta1, beta2))
