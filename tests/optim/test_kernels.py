"""The compiled SGD kernel makes the updates of the generic numpy path.

The two agree to rounding (numpy sums pairwise and through BLAS, the kernel
left to right; see `streamgd.optim.kernels`), so models and costs are compared
at a relative tolerance of 1e-9, far above the 1e-15 rounding they show and far
below any difference a wrong formula would make.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import streamgd
from streamgd.errors import ConfigError, DivergenceError
from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.optim import kernels
from streamgd.optim.kernels import select_kernel
from streamgd.optim.schedules import Schedule
from streamgd.optim.sgd import SGD
from streamgd.optim.stepcap import directional_cap
from tests.helpers import write_parquet

pytest.importorskip("numba")

RTOL = 1e-9


def _generic(X, y, weight, batch_size, params, sgd, loss, schedule, mean_weight,
             safe_steps):
    """The loop of the engine's generic path, written out for one block."""
    count, costs, rates = 0, [], []
    squared_norms = np.einsum("ij,ij->i", X, X)
    for start in range(0, len(y), batch_size):
        rows = slice(start, start + batch_size)
        sample_weight = None if weight is None else weight[rows]
        gradient = batch_gradient(X[rows], y[rows], sample_weight, params, loss,
                                  sgd.penalty)
        if gradient.total_weight == 0.0:
            continue
        rate = schedule(count + 1, 0)
        step_rate = rate * gradient.total_weight / (len(y[rows]) * mean_weight)
        if safe_steps:
            norms = squared_norms[rows]
            trace = 1.0 + (norms.mean() if weight is None else
                           weight[rows] @ norms / gradient.total_weight)
            if step_rate > 1.0 / (loss.curvature * trace):
                step_rate = min(step_rate, directional_cap(
                    X[rows], sample_weight, gradient, sgd.active,
                    loss.curvature, True))
        params, _ = sgd.update(gradient, sgd.init(), params, step_rate)
        count += 1
        costs.append(gradient.cost)
        rates.append(rate)
    return params, count, np.array(costs), np.array(rates)


@pytest.mark.parametrize("loss_name", ["linear", "logistic"])
@pytest.mark.parametrize("penalty", [Penalty(), Penalty(l2=0.01),
                                     Penalty(l2=0.005, l1=0.02)])
@pytest.mark.parametrize("schedule_kind", ["constant", "invscaling", "epoch_decay"])
@pytest.mark.parametrize("batch_size", [1, 3, 32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("safe_steps", [False, True])
def test_kernel_matches_generic_updates(loss_name, penalty, schedule_kind,
                                        batch_size, weighted, safe_steps):
    """Every penalty, schedule, loss, batch size, with and without the safe-step
    cap: the kernel's parameters, costs and rates equal the generic path's to
    1e-9 (relative)."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(200, 4))
    X[50:53] *= 30.0  # rare large rows, where the safe-step cap acts
    y = X @ [1.0, -2.0, 0.5, 0.0] + 0.3 + rng.normal(0, 0.1, 200)
    if loss_name == "logistic":
        y = (y > 0).astype(float)
    weight = rng.uniform(0, 2, 200) if weighted else None
    if weighted:
        weight[:7] = 0.0  # a whole batch of zero weight at batch sizes 1 and 3
    active = np.array([True, True, False, True])
    start = LinearParams(np.array([0.1, 0.0, 0.0, -0.2]), 0.05)
    schedule = Schedule(schedule_kind, 0.3, 0.5, 0.7)
    loss = LOSSES[loss_name]
    mean_weight = 1.0 if weight is None else float(weight.mean())

    sgd = SGD(penalty, active, True)
    expected, count, costs, rates = _generic(
        X, y, weight, batch_size, start, sgd, loss, schedule, mean_weight,
        safe_steps,
    )
    kernel = select_kernel("numba", "sgd", loss.name, penalty, active, True,
                           schedule, mean_weight, safe_steps)
    done = kernel.run(X, y, weight, batch_size, start, 0, 0)

    assert done.update_count == count and not done.diverged
    np.testing.assert_allclose(done.params.weights, expected.weights, rtol=RTOL)
    assert done.params.weights[2] == 0.0  # inactive: never moved
    assert done.params.intercept == pytest.approx(expected.intercept, rel=RTOL)
    np.testing.assert_allclose(done.costs, costs, rtol=RTOL)
    np.testing.assert_array_equal(done.learning_rates, rates)


def test_kernel_without_intercept_keeps_it():
    """fit_intercept False: the kernel leaves the intercept where it was."""
    X, y = np.ones((10, 2)), np.arange(10.0)
    kernel = select_kernel("numba", "sgd", "squared", Penalty(),
                           np.ones(2, bool), False, Schedule("constant", 0.1))
    done = kernel.run(X, y, None, 2, LinearParams(np.zeros(2), 1.5), 0, 0)
    assert done.params.intercept == 1.5
    assert done.update_count == 5


def test_kernel_stops_at_the_first_non_finite_cost():
    """A huge learning rate: the kernel stops after the update whose cost or
    intercept is not finite and says it diverged."""
    X = np.full((50, 1), 1e150)
    y = np.zeros(50)
    kernel = select_kernel("numba", "sgd", "squared", Penalty(), np.ones(1, bool),
                           True, Schedule("constant", 1e10))
    done = kernel.run(X, y, None, 1, LinearParams(np.ones(1), 0.0), 0, 0)
    assert done.diverged
    assert 0 < len(done.costs) < 50
    assert not np.isfinite(done.costs[-1]) or not np.isfinite(done.params.intercept)


def test_select_kernel_numpy_and_other_updates_take_the_generic_path():
    """`numpy`, and `auto` with an optimizer other than sgd, give no kernel."""
    common = ("squared", Penalty(), np.ones(2, bool), True, Schedule("constant", 1))
    assert select_kernel("numpy", "sgd", *common) is None
    assert select_kernel("auto", "adam", *common) is None
    assert select_kernel("auto", "sgd", *common) is not None


def test_select_kernel_numba_refuses_other_updates():
    """`numba` with an update rule the kernel lacks is an error naming both keys."""
    common = ("squared", Penalty(), np.ones(2, bool), True, Schedule("constant", 1))
    with pytest.raises(ConfigError, match="optimizer.update: sgd only"):
        select_kernel("numba", "adam", *common)


def test_select_kernel_numba_missing_is_an_error(monkeypatch):
    """Without numba, `numba` fails with the install hint and `auto` falls back."""
    monkeypatch.setattr(kernels, "numba", None)
    common = ("squared", Penalty(), np.ones(2, bool), True, Schedule("constant", 1))
    with pytest.raises(ImportError, match=r"streamgd\[fast\]"):
        select_kernel("numba", "sgd", *common)
    assert select_kernel("auto", "sgd", *common) is None


@pytest.fixture
def data_file(tmp_path):
    """4,000 rows of a noisy linear target in row groups of 300 rows."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4000, 3)) * [5.0, 0.5, 20.0] + [10.0, 0.0, -50.0]
    y = X @ [0.3, -2.0, 0.05] + 1.0 + rng.normal(0, 0.2, 4000)
    columns = {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}
    return write_parquet(tmp_path / "data.parquet", columns, row_group_size=300)


def _job(path, out, kernel, **optimizer):
    return {
        "data": {"paths": str(path), "features": ["a", "b", "c"], "target": "y"},
        "model": {"penalty": "elasticnet", "alpha": 0.001},
        "optimizer": {"kernel": kernel, "max_epochs": 3, "learning_rate": 0.01,
                      **optimizer},
        "shuffle": {"buffer_rows": 1000},
        "output": {"dir": str(out / kernel), "log_every": 50},
    }


@pytest.mark.parametrize("batch_size", [1, 32])
def test_train_with_kernel_gives_the_generic_model(data_file, tmp_path,
                                                   batch_size):
    """Three epochs: the same model (to 1e-9) and a cost log of the same
    records, with or without the compiled kernel."""
    fast = streamgd.train(_job(data_file, tmp_path, "numba", batch_size=batch_size))
    plain = streamgd.train(_job(data_file, tmp_path, "numpy", batch_size=batch_size))

    np.testing.assert_allclose(fast.model.params.weights,
                               plain.model.params.weights, rtol=RTOL)
    assert fast.model.params.intercept == pytest.approx(
        plain.model.params.intercept, rel=RTOL)
    assert len(fast.records) == len(plain.records)
    for mine, theirs in zip(fast.records, plain.records):
        assert (mine["kind"], mine["update"], mine["rows_seen"]) == (
            theirs["kind"], theirs["update"], theirs["rows_seen"])
        assert mine["cost_100"] == pytest.approx(theirs["cost_100"], rel=RTOL)
        assert mine["learning_rate"] == theirs["learning_rate"]


def test_train_with_kernel_reports_divergence(data_file, tmp_path):
    """A learning rate far too large: the kernel path stops with the same
    DivergenceError as the generic path, and writes no model."""
    job = _job(data_file, tmp_path, "numba", learning_rate=1e6)
    job["preprocess"] = {"scaler": "none"}
    with pytest.raises(DivergenceError, match="lower optimizer.learning_rate"):
        streamgd.train(job)
    assert not (tmp_path / "numba" / "model.json").exists()


@given(update=st.integers(1, 10**9), power_t=st.sampled_from([0.5, 0.25, 0.3, 1.0]),
       initial=st.floats(1e-6, 10.0))
def test_kernel_rates_are_the_schedule_rates_to_the_bit(update, power_t, initial):
    """The compiled invscaling rate (square roots for power_t 0.5 and 0.25, pow
    for others) rounds exactly as `Schedule`, within 4 ulps of pow."""
    schedule = Schedule("invscaling", initial, power_t)
    rate = kernels._rate(1, initial, power_t, 0.0, update)
    assert rate == schedule(update, 0)
    assert rate == pytest.approx(initial / update**power_t, rel=1e-15)


@given(data=st.data(), n_features=st.integers(1, 30))
def test_margin_and_norm_sum_the_row(data, n_features):
    """The four-part sums of a row's margin and squared norm equal numpy's to
    rounding, whatever the number of features (parts of four and a tail)."""
    values = st.floats(-1e3, 1e3, allow_nan=False)
    X = np.array(data.draw(st.lists(values, min_size=2 * n_features,
                                    max_size=2 * n_features))).reshape(2, -1)
    weights = np.array(data.draw(st.lists(values, min_size=n_features,
                                          max_size=n_features)))
    for row in range(2):
        z, norm = kernels._margin_and_norm(X, row, weights, True)
        scale = np.abs(X[row]) @ np.abs(weights) + 1.0
        assert abs(z - X[row] @ weights) <= 1e-13 * scale
        assert norm == pytest.approx(X[row] @ X[row], rel=1e-13, abs=1e-300)
        assert kernels._margin_and_norm(X, row, weights, False) == (z, 0.0)
