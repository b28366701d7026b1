"""Without an intercept the scalers scale only, so the model keeps the origin."""

import numpy as np
import pytest

import streamgd
from streamgd.normalize import RunningStats, Scaler
from tests.helpers import write_parquet


@pytest.mark.parametrize("method", ["standard", "minmax", "maxabs", "none"])
def test_scaler_fit_without_center_has_no_shift(method):
    """center=False keeps each method's scale and sets the shift to 0."""
    rng = np.random.default_rng(3)
    stats = RunningStats.of(rng.normal(50.0, 4.0, size=(100, 3)))
    centered, scaled = Scaler.fit(method, stats), Scaler.fit(method, stats, False)
    np.testing.assert_array_equal(scaled.scale, centered.scale)
    np.testing.assert_array_equal(scaled.shift, np.zeros(3))
    _, intercept = scaled.to_original(np.array([1.0, -2.0, 0.5]), 0.0)
    assert intercept == 0.0


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_train_without_intercept_passes_through_origin(tmp_path, method):
    """fit_intercept: false gives intercept 0 in original units and the slope."""
    rng = np.random.default_rng(5)
    x = rng.normal(100.0, 10.0, 2000)
    path = write_parquet(tmp_path / "d.parquet", {"x": x, "y": 2.0 * x})
    result = streamgd.train({
        "data": {"paths": [str(path)], "features": ["x"], "target": "y"},
        "preprocess": {"scaler": method},
        "model": {"fit_intercept": False},
        "optimizer": {"max_epochs": 20, "learning_rate": 0.05, "tol": 0.0},
        "output": {"dir": str(tmp_path / "out")},
    })
    weights, intercept = result.model.original_coefficients()
    assert intercept == 0.0
    assert weights[0] == pytest.approx(2.0, rel=1e-3)
