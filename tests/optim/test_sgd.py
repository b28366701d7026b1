"""One SGD step equals the textbook update computed independently."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import SquaredLoss
from streamgd.model.penalties import Penalty
from streamgd.optim import SGD

finite = st.floats(-5, 5, allow_nan=False)


@given(X=arrays(np.float64, (6, 3), elements=finite),
       y=arrays(np.float64, 6, elements=finite),
       weights=arrays(np.float64, 3, elements=finite),
       rate=st.floats(1e-4, 1.0), l2=st.sampled_from([0.0, 0.1]))
def test_sgd_step_is_w_minus_lr_grad(X, y, weights, rate, l2):
    """w' = w - lr * (X^T (Xw + b - y) / n + l2 w) and b' = b - lr * mean residual."""
    params = LinearParams(weights, 0.7)
    optimizer = SGD(Penalty(l2=l2), np.ones(3, dtype=bool))
    gradient = batch_gradient(X, y, None, params, SquaredLoss(), optimizer.penalty)
    new, state = optimizer.update(gradient, optimizer.init(), params, rate)
    residual = X @ weights + 0.7 - y
    expected = weights - rate * (X.T @ residual / 6 + l2 * weights)
    np.testing.assert_allclose(new.weights, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(new.intercept, 0.7 - rate * residual.mean(), atol=1e-12)
    assert state.update_count == 1


def test_sgd_inactive_weights_never_move():
    """A frozen (constant-column) weight keeps its value through updates."""
    optimizer = SGD(Penalty(l2=0.5), np.array([True, False]))
    params = LinearParams(np.array([1.0, 0.0]), 0.0)
    X, y = np.array([[1.0, 3.0], [2.0, 3.0]]), np.array([1.0, 2.0])
    state = optimizer.init()
    for _ in range(5):
        gradient = batch_gradient(X, y, None, params, SquaredLoss(), optimizer.penalty)
        params, state = optimizer.update(gradient, state, params, 0.1)
    assert params.weights[1] == 0.0
    assert params.weights[0] != 1.0
