"""The default learning rate when a job gives none."""

import numpy as np
import pytest

import streamgd
from streamgd.normalize import RunningStats, Scaler
from streamgd.optim.defaults import (
    ADAPTIVE_DEFAULTS, default_learning_rate, mean_squared_norm,
)
from tests.helpers import write_parquet


@pytest.mark.parametrize("scaler", ["none", "standard", "minmax", "maxabs"])
def test_mean_squared_norm_equals_numpy_on_scaled_rows(scaler):
    """E[||x||^2] from the statistics equals the mean of the scaled rows' norms."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 3)) * [1.0, 30.0, 0.01] + [5.0, -200.0, 0.0]
    X = np.c_[X, np.full(500, 7.0)]  # a constant column does not count
    stats = RunningStats.of(X)
    fitted = Scaler.fit(scaler, stats)
    scaled = fitted.transform(X)[:, :3]
    expected = float((scaled**2).sum(axis=1).mean()) + 1.0
    assert mean_squared_norm(stats, fitted, True) == pytest.approx(expected, rel=1e-9)


def test_default_rate_is_a_tenth_of_the_stable_rate():
    """sgd: 0.1 / E||x||^2; log loss 4 times more; momentum (1 - mu) of it."""
    X = np.random.default_rng(0).normal(size=(200, 2))
    stats = RunningStats.of(X)
    scaler = Scaler.fit("standard", stats)
    rate = default_learning_rate("sgd", "linear", stats, scaler, True, 0.9)
    assert rate == pytest.approx(0.1 / 3)
    assert default_learning_rate("asgd", "logistic", stats, scaler, True, 0.9) == (
        pytest.approx(0.4 / 3))
    assert default_learning_rate("momentum", "linear", stats, scaler, True, 0.9) == (
        pytest.approx(0.01 / 3))
    assert default_learning_rate("adam", "linear", stats, scaler, True, 0.9) == (
        ADAPTIVE_DEFAULTS["adam"])


def test_null_learning_rate_trains_with_the_derived_rate(tmp_path):
    """learning_rate: null trains, and the summary names the rate it used."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(1000, 2)) * [100.0, 0.1]
    y = x @ [0.02, 30.0] + 1 + rng.normal(0, 0.1, 1000)
    write_parquet(tmp_path / "d.parquet", {"a": x[:, 0], "b": x[:, 1], "y": y})
    result = streamgd.train({
        "data": {"paths": [str(tmp_path / "d.parquet")], "features": ["a", "b"],
                 "target": "y"},
        "optimizer": {"learning_rate": None, "max_epochs": 20},
        "output": {"dir": str(tmp_path / "out")}})
    assert result.model.training["learning_rate"] == pytest.approx(0.1 / 3, rel=1e-9)
    rmse = streamgd.evaluate(result.model_path, tmp_path / "d.parquet").metrics["rmse"]
    assert rmse < 0.15
