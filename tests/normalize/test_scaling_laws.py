"""Laws of scaling: it re-parametrises the model and changes no prediction.

A scaler is an affine map of each feature, so a linear model on scaled inputs
is a linear model on the raw inputs; mapped back to original units it must
predict the same, and the least-squares optimum on scaled data must map to the
least-squares optimum on raw data.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamgd
from streamgd.normalize.moments import RunningStats
from streamgd.normalize.scalers import SCALERS, Scaler
from tests.helpers import least_squares, scratch_folder


@st.composite
def regressions(draw, max_rows: int = 60):
    """A full-rank design of varied offsets and units, and a noisy linear target."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_features = draw(st.integers(1, 4))
    n_rows = draw(st.integers(n_features + 2, max_rows))
    offset = rng.normal(0.0, 10.0 ** draw(st.integers(0, 6)), n_features)
    unit = 10.0 ** rng.uniform(-3, 3, n_features)
    X = offset + unit * rng.normal(size=(n_rows, n_features))
    y = X @ rng.normal(size=n_features) + rng.normal() + rng.normal(size=n_rows)
    return X, y


def centred_least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares with an intercept, solved on centred columns.

    Centring is itself a change of parameters, so the fit is the same; it
    keeps numpy's solver accurate on columns such as 1e6 plus noise of 1e-3,
    where solving on the raw columns loses the digits this test compares.
    """
    centre, y_centre = X.mean(axis=0), y.mean()
    weights, *_ = np.linalg.lstsq(X - centre, y - y_centre, rcond=None)
    return weights, float(y_centre - centre @ weights)


@pytest.mark.parametrize("method", SCALERS)
@given(problem=regressions())
def test_scaled_least_squares_maps_to_raw_least_squares(method, problem):
    """The exact optimum on scaled inputs, in original units, fits as the raw one.

    Compared by their fitted values (the coefficients of a badly conditioned
    design are themselves uncertain, the fit is not), to the rounding of the
    terms that cancel in X @ weights + intercept.
    """
    X, y = problem
    scaler = Scaler.fit(method, RunningStats.of(X))
    weights, intercept = scaler.to_original(
        *centred_least_squares(scaler.transform(X), y)
    )
    raw_weights, raw_intercept = centred_least_squares(X, y)

    fitted, raw_fitted = X @ weights + intercept, X @ raw_weights + raw_intercept
    terms = np.abs(X) @ np.abs(raw_weights) + abs(raw_intercept)
    np.testing.assert_allclose(fitted, raw_fitted, rtol=0, atol=1e-9 * terms.max())


@pytest.mark.parametrize("method", ["standard", "minmax", "maxabs"])
@given(problem=regressions(max_rows=40))
def test_trained_model_predicts_the_same_in_both_units(method, problem):
    """The written model on raw rows predicts what its scaled model predicts on
    scaled rows, and what its original-unit coefficients give."""
    X, y = problem
    features = [f"x{j}" for j in range(X.shape[1])]
    with scratch_folder() as folder:
        columns = {name: X[:, j] for j, name in enumerate(features)} | {"y": y}
        pq.write_table(pa.table(columns), folder / "data.parquet")
        model = streamgd.train({
            "data": {"paths": str(folder / "data.parquet"), "features": features,
                     "target": "y"},
            "preprocess": {"scaler": method}, "optimizer": {"max_epochs": 2},
            "output": {"dir": str(folder / "out")},
        }).model

    scaled = model.params.margin(model.scaler.transform(X))
    weights, intercept = model.original_coefficients()
    np.testing.assert_allclose(model.predict(X), scaled, rtol=1e-12, atol=0)
    # to the rounding of the terms that cancel in X @ weights + intercept
    terms = np.abs(X) @ np.abs(weights) + abs(intercept)
    np.testing.assert_allclose(X @ weights + intercept, scaled, rtol=0,
                               atol=1e-12 * terms.max())


# min-max and max-abs leave the columns uncentred, so descent needs over a
# thousand epochs there: slow runs, outside the default suite
@pytest.mark.parametrize("method", [
    "standard",
    pytest.param("minmax", marks=pytest.mark.slow),
    pytest.param("maxabs", marks=pytest.mark.slow),
])
def test_trained_model_at_the_optimum_is_the_raw_least_squares_fit(
    method, tmp_path
):
    """Full-batch descent on scaled inputs converges to raw least squares.

    The columns differ in unit by 500 times: unscaled, a rate stable for one is
    500 ** 2 times too slow for the other. tol 1e-15 stops the run once the
    cost no longer moves (min-max needs about 1,300 epochs, standard 55).
    """
    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 2)) * [5.0, 0.01] + [3.0, -0.02]
    y = X @ [0.2, 300.0] + 7.0 + rng.normal(0, 0.1, 200)
    pq.write_table(pa.table({"x0": X[:, 0], "x1": X[:, 1], "y": y}),
                   tmp_path / "data.parquet")
    model = streamgd.train({
        "data": {"paths": str(tmp_path / "data.parquet"), "features": ["x0", "x1"],
                 "target": "y"},
        "preprocess": {"scaler": method},
        "optimizer": {"batch_size": 200, "max_epochs": 1500, "tol": 1e-15,
                      "n_iter_no_change": 3,
                      "schedule": "constant", "learning_rate": 1.0},
        "shuffle": {"enabled": False}, "output": {"dir": str(tmp_path / "out")},
    }).model
    weights, intercept = model.original_coefficients()
    expected, expected_intercept = centred_least_squares(X, y)
    np.testing.assert_allclose(weights, expected, rtol=1e-6)
    assert intercept == pytest.approx(expected_intercept, rel=1e-6)
