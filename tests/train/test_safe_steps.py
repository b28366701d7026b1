"""The step cap of SGD: never past the batch's minimum along the gradient."""

import logging

import numpy as np
import pytest

import streamgd
from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.optim.stepcap import directional_cap, trace_caps
from streamgd.report.show import format_model
from streamgd.train.updates import Updater
from tests.helpers import job, write_parquet


def test_trace_caps_are_the_inverse_weighted_trace_per_batch():
    """Each batch's screen is 1 / (curvature (sum w ||x||^2 / sum w + 1)), and
    finite for a batch of weight 0 too (which makes no step)."""
    X = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.0], [10.0, 0.0], [1.0, 1.0]])
    weight = np.array([1.0, 3.0, 0.0, 0.0, 2.0])
    caps = trace_caps(X, weight, 2, 1.0, True)
    assert caps[0] == pytest.approx(1.0 / ((1 * 5 + 3 * 9) / 4 + 1))
    assert caps.shape == (3,) and np.isfinite(caps[1])
    assert caps[2] == pytest.approx(1.0 / (2 + 1))
    logistic = trace_caps(X, None, 5, 0.25, False)
    assert logistic.tolist() == [pytest.approx(4.0 / np.mean((X**2).sum(axis=1)))]


@pytest.mark.parametrize("weighted", [False, True])
def test_directional_cap_steps_exactly_to_the_batch_minimum_along_the_gradient(
        weighted):
    """Squared loss: a step of the cap lands where the batch cost's slope along
    the gradient is 0, so the cost falls; inactive weights take no part."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(8, 3)) * [1.0, 30.0, 1e6]
    y = rng.normal(size=8)
    weight = rng.uniform(0.5, 2, 8) if weighted else None
    active = np.array([True, True, False])
    loss, params = LOSSES["linear"], LinearParams(np.zeros(3), 0.0)
    gradient = batch_gradient(X, y, weight, params, loss, Penalty())
    cap = directional_cap(X, weight, gradient, active, 1.0, True)
    step = np.where(active, gradient.weights, 0.0)
    moved = LinearParams(-cap * step, -cap * gradient.intercept)
    after = batch_gradient(X, y, weight, moved, loss, Penalty())
    slope = after.weights @ step + after.intercept * gradient.intercept
    assert abs(slope) < 1e-9 * (step @ step + gradient.intercept**2)
    assert after.cost < gradient.cost
    # the trace screen is a lower bound of the cap (Cauchy-Schwarz)
    assert trace_caps(X[:, :2], weight, 8, 1.0, True)[0] <= cap


def _wide(tmp_path, n_features=100, n_rows=4000):
    rng = np.random.default_rng(100)
    X = rng.normal(size=(n_rows, n_features))
    names = [f"x{j}" for j in range(n_features)]
    columns = dict(zip(names, X.T))
    columns["y"] = X @ np.linspace(-1, 1, n_features) + 0.5
    write_parquet(tmp_path / "wide.parquet", columns, row_group_size=1000)
    return tmp_path / "wide.parquet", names


def test_cap_leaves_mini_batches_of_many_features_alone(tmp_path, monkeypatch):
    """d = 100 standardized features, batch 32, rate 0.05: the old trace cap
    (1 / 101) cut every step; the directional cap cuts none, so the model is
    bit for bit that of uncapped steps, and the summary counts 0."""
    path, names = _wide(tmp_path)
    settings = job([path], names, tmp_path / "out", optimizer__learning_rate=0.05,
                   optimizer__max_epochs=2, optimizer__kernel="numpy")
    capped = streamgd.train(settings).model
    monkeypatch.setattr(Updater, "_safe_rates", lambda self, block: None)
    plain = streamgd.train(settings).model
    assert capped.params.weights.tobytes() == plain.params.weights.tobytes()
    assert capped.training["capped_updates"] == 0


def test_safe_rates_leave_ordinary_scaled_runs_unchanged(tmp_path, monkeypatch):
    """On standardized data at the usual rates no cap acts: the model is bit for
    bit the one of steps without caps."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(2000, 3)) * [1.0, 50.0, 0.01]
    write_parquet(tmp_path / "d.parquet",
                  {"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2],
                   "y": X @ [1.0, 0.1, 30.0] + 2}, row_group_size=250)
    settings = job([tmp_path / "d.parquet"], ["x1", "x2", "x3"], tmp_path / "out",
                   optimizer__learning_rate=0.1, optimizer__max_epochs=3,
                   optimizer__kernel="numpy")  # the path whose caps are patched
    capped = streamgd.train(settings).model.params
    monkeypatch.setattr(Updater, "_safe_rates", lambda self, block: None)
    plain = streamgd.train(settings).model.params
    assert capped.weights.tobytes() == plain.weights.tobytes()
    assert capped.intercept == plain.intercept


@pytest.mark.parametrize("kernel", ["numpy", "auto"])
def test_a_binding_cap_is_logged_once_and_counted(tmp_path, caplog, kernel):
    """Rare rows 16 standard deviations out, in one batch at the rate 0.5: the
    cap binds; one log line says so and the summary counts the capped steps
    (the same count from the kernel and the numpy path)."""
    rng = np.random.default_rng(3)
    x = np.r_[rng.normal(size=3000), np.full(8, 30.0)]
    write_parquet(tmp_path / "r.parquet", {"x": x, "y": 2 * x + 1},
                  row_group_size=1000)
    settings = job([tmp_path / "r.parquet"], ["x"], tmp_path / "out",
                   optimizer__learning_rate=0.5, optimizer__schedule="constant",
                   optimizer__max_epochs=2, optimizer__kernel=kernel,
                   shuffle__enabled=False)
    with caplog.at_level(logging.INFO, logger="streamgd.train.loop"):
        model = streamgd.train(settings).model
    said = [r for r in caplog.records if "capped a step" in r.getMessage()]
    assert len(said) == 1
    assert model.training["capped_updates"] >= 2
    capped = model.training["capped_updates"]
    assert f"{capped:,} steps capped" in format_model(model)
    np.testing.assert_allclose(model.original_coefficients()[0], [2.0], rtol=1e-6)
