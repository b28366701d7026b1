"""Averaged SGD: its iterates are SGD's, and its model is their mean."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim import SGD, AveragedSGD
from tests.optim.references import build, drive
from tests.strategies import gradient_runs


@given(gradient_runs(max_steps=8), st.integers(0, 10))
def test_averaged_sgd_average_is_mean_of_iterates(run, average_start):
    """After each update, the model is the mean of iterates after average_start."""
    optimizer = build(AveragedSGD, run, average_start=average_start)
    trail = drive(optimizer, run)
    for t, (params, state) in enumerate(trail, start=1):
        model = optimizer.model_params(params, state)
        averaged = [p for p, _ in trail[average_start:t]]
        if not averaged:
            # averaging has not started: the model is the iterate itself
            assert model is params
            continue
        expected = np.mean([p.weights for p in averaged], axis=0)
        np.testing.assert_allclose(model.weights, expected, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            model.intercept, np.mean([p.intercept for p in averaged]),
            rtol=1e-9, atol=1e-12,
        )
        assert state.n_averaged == len(averaged)


@given(gradient_runs())
def test_averaged_sgd_iterates_are_sgd_iterates(run):
    """The iterate (where gradients are taken) follows plain SGD exactly."""
    averaged = drive(build(AveragedSGD, run, average_start=0), run)
    plain = drive(build(SGD, run), run)
    for (params, _), (expected, _) in zip(averaged, plain):
        np.testing.assert_array_equal(params.weights, expected.weights)
        assert params.intercept == expected.intercept


def test_averaged_sgd_model_is_a_copy():
    """Changing the written average leaves the optimizer state untouched."""
    optimizer = AveragedSGD(Penalty(), np.array([True]))
    gradient = BatchGradient(0.0, np.array([1.0]), 1.0, 1.0)
    params, state = optimizer.update(
        gradient, optimizer.init(1), LinearParams(np.zeros(1), 0.0), 0.5
    )
    model = optimizer.model_params(params, state)
    model.weights[0] = 99.0
    assert state.average_weights[0] == -0.5
