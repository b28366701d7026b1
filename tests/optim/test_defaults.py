"""The default learning rate when a job gives none."""

import logging

import numpy as np
import pytest

import streamgd
from streamgd.normalize import RunningStats, Scaler
from streamgd.normalize.comoments import Comoments, largest_curvature
from streamgd.optim.defaults import (
    ADAPTIVE_DEFAULTS, DataScales, default_learning_rate, mean_squared_norm,
)
from streamgd.report.show import format_model
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


@pytest.mark.parametrize("scaler", ["none", "standard", "minmax", "maxabs"])
def test_largest_curvature_equals_numpy_on_scaled_rows(scaler):
    """Chunked co-moments, scaled afterwards: the largest eigenvalue of the
    scaled rows' E[x x^T] with the intercept's 1, as numpy finds it on the
    rows themselves; columns far from 0 keep their digits, constant and
    incomplete rows take no part."""
    rng = np.random.default_rng(4)
    common = rng.normal(size=(900, 1))
    X = (rng.normal(size=(900, 3)) + common) * [1.0, 30.0, 0.01] + [5.0, 1e9, 0.0]
    X = np.c_[X, np.full(900, 7.0)]
    with_gap = X.copy()
    with_gap[5, 0] = np.nan
    stats = RunningStats.of(X)
    comoments = Comoments.empty(4)
    for part in np.array_split(with_gap, 7):
        comoments = comoments.update(part)
    fitted = Scaler.fit(scaler, stats)
    rows = np.delete(X, 5, axis=0)
    scaled = np.c_[fitted.transform(rows)[:, :3], np.ones(len(rows))]
    expected = np.linalg.eigvalsh(scaled.T @ scaled / len(rows))[-1]
    found = largest_curvature(comoments, fitted.shift, fitted.scale,
                              ~stats.constant, True)
    assert found == pytest.approx(expected, rel=1e-7)


def test_comoments_stop_past_their_feature_limit_and_sample_long_chunks():
    """Past MAX_FEATURES nothing is kept (the rate falls back to the trace); a
    long chunk contributes an evenly strided sample of SAMPLE_ROWS rows."""
    from streamgd.normalize import comoments as module

    assert Comoments.empty(module.MAX_FEATURES + 1) is None
    X = np.arange(10 * module.SAMPLE_ROWS, dtype=float)[:, None]
    assert Comoments.empty(1).update(X).count == module.SAMPLE_ROWS


def _scales(X, scaler="standard", target=None):
    stats = RunningStats.of(X)
    fitted = Scaler.fit(scaler, stats)
    comoments = Comoments.empty(X.shape[1]).update(X)
    largest = largest_curvature(comoments, fitted.shift, fitted.scale,
                                ~stats.constant, True)
    return DataScales(stats, fitted, True, largest, target)


def test_default_rate_is_the_smaller_of_the_noise_and_curvature_limits():
    """sgd: min(1 / (c L), (0.1 + B / 64) / (c T)); the log loss 4 times more;
    momentum (1 - mu) of it; the summary text names the limit that binds."""
    X = np.random.default_rng(0).normal(size=(2000, 2))
    scales = _scales(X)
    L, T = scales.largest_curvature, 3.0
    rate, how = default_learning_rate("sgd", "linear", scales, 32, 0.9)
    assert rate == pytest.approx(0.6 / T)
    assert "(0.1 + batch 32 / 64)" in how
    rate, how = default_learning_rate("asgd", "logistic", scales, 4096, 0.9)
    assert rate == pytest.approx(4.0 / L) and "largest curvature" in how
    # an L2 penalty adds its curvature (a heavy one binds at batch 32 too)
    rate, _ = default_learning_rate("sgd", "logistic", scales, 32, 0.0, l2=10.0)
    assert rate == pytest.approx(1.0 / (L / 4 + 10.0))
    rate, _ = default_learning_rate("momentum", "linear", scales, 1, 0.9)
    assert rate == pytest.approx(0.1 * (0.1 + 1 / 64) / T)
    # without a measured curvature, its upper bound T stands in
    unmeasured = DataScales(scales.stats, scales.scaler, True)
    assert default_learning_rate("sgd", "linear", unmeasured, 4096, 0.0)[0] == (
        pytest.approx(1.0 / T))


def test_adaptive_defaults_follow_the_target_scale():
    """Squared loss: the fixed default times the target's std; log loss or no
    target scale: the fixed one."""
    X = np.random.default_rng(0).normal(size=(2000, 2)) * [1.0, 10.0]
    scales = _scales(X, "none", target=40.0)
    assert default_learning_rate("adam", "linear", scales, 32, 0.9)[0] == (
        pytest.approx(ADAPTIVE_DEFAULTS["adam"] * 40.0))
    rate, how = default_learning_rate("normalized", "linear", scales, 32, 0.9)
    assert rate == pytest.approx(ADAPTIVE_DEFAULTS["normalized"] * 40.0)
    assert how == "0.5 x target std 40"
    unknown = DataScales(scales.stats, scales.scaler, True)
    assert default_learning_rate("adam", "linear", unknown, 32, 0.9)[0] == (
        ADAPTIVE_DEFAULTS["adam"])
    assert default_learning_rate("adagrad", "logistic", scales, 32, 0.9)[0] == (
        ADAPTIVE_DEFAULTS["adagrad"])


def test_a_job_without_a_rate_trains_with_the_derived_one(tmp_path, caplog):
    """No learning_rate in the job: the derived rate is used, logged, and kept
    in the summary with how it was found; `show` prints it; an explicit rate
    is used exactly."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4000, 2)) * [100.0, 0.1]
    y = x @ [0.02, 30.0] + 1 + rng.normal(0, 0.1, 4000)
    write_parquet(tmp_path / "d.parquet", {"a": x[:, 0], "b": x[:, 1], "y": y})
    job = {"data": {"paths": [str(tmp_path / "d.parquet")], "features": ["a", "b"],
                    "target": "y"},
           "output": {"dir": str(tmp_path / "out")}}
    with caplog.at_level(logging.INFO, logger="streamgd.train.loop"):
        result = streamgd.train(job)
    training = result.model.training
    assert training["learning_rate"] == pytest.approx(0.6 / 3, rel=1e-9)
    assert "mean squared norm 3" in training["learning_rate_from"]
    assert any("learning_rate not given" in r.getMessage() for r in caplog.records)
    shown = format_model(result.model)
    assert f"learning rate {training['learning_rate']:.4g} (not given" in shown
    rmse = streamgd.evaluate(result.model_path, tmp_path / "d.parquet").metrics["rmse"]
    assert rmse < 0.102
    job["optimizer"] = {"learning_rate": 0.0123}
    given = streamgd.train(job).model.training
    assert given["learning_rate"] == 0.0123 and given["learning_rate_from"] == "job"


def test_largest_curvature_of_a_tiny_spread_is_that_of_scaled_rows():
    """A feature spread of 1e-158: the scaled rows are ordinary, and so is
    their curvature (the outer product of the inverse scales alone overflows)."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 2)) * [1e-158, 1.0]
    comoments = Comoments.empty(2).update(X)
    shift, scale = X.mean(axis=0), X.std(axis=0)
    expected = np.linalg.eigvalsh(np.cov(((X - shift) / scale).T, bias=True))[-1]
    found = largest_curvature(comoments, shift, scale, np.ones(2, bool), False)
    assert found == pytest.approx(expected, rel=1e-6)
