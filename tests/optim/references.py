"""Drive an optimizer through a drawn run, and the scalar helpers of the references.

The references in the test modules are written coordinate by coordinate in plain
Python floats, straight from each method's formula, so they share no vectorised
code (and no masking trick) with the package.
"""

from __future__ import annotations

import math

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty


def soft_threshold(value: float, threshold: float) -> float:
    """The L1 proximal step: shrink towards 0 by `threshold`, stopping at 0."""
    return math.copysign(max(abs(value) - threshold, 0.0), value)


def build(kind, run: dict, **options):
    """The optimizer `kind` with the run's penalty, mask and intercept choice."""
    return kind(Penalty(l1=run["l1"]), run["active"], run["fit_intercept"], **options)


def drive(optimizer, run: dict) -> list[tuple[LinearParams, object]]:
    """The (params, state) after each step of the run."""
    params = LinearParams(run["weights"].copy(), run["intercept"])
    state = optimizer.init(len(run["weights"]))
    trail = []
    for step in run["steps"]:
        if optimizer.observes_inputs:
            params, state = optimizer.observe(step["X"], None, state, params)
        gradient = BatchGradient(0.0, step["weights"], step["intercept"], 1.0)
        params, state = optimizer.update(
            gradient, state, params, step["learning_rate"]
        )
        trail.append((params, state))
    return trail


def assert_trails_match(trail, expected) -> None:
    """Each step's weights and intercept equal the reference's (w, b) pairs."""
    assert len(trail) == len(expected)
    for number, ((params, state), (weights, intercept)) in enumerate(
        zip(trail, expected), start=1
    ):
        np.testing.assert_allclose(
            params.weights, weights, rtol=1e-9, atol=1e-12, err_msg=f"step {number}"
        )
        assert math.isclose(params.intercept, intercept, rel_tol=1e-9, abs_tol=1e-12)
        assert state.update_count == number
