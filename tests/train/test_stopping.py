"""Stopping and divergence: rising costs are never reported as convergence."""

import logging

import numpy as np
import pytest

import streamgd
from streamgd.errors import DivergenceError
from streamgd.train.state import Monitor
from streamgd.train.stopping import (
    epoch_divergence, judge_epoch, made_progress, starting_cost,
)
from tests.helpers import write_csv


def _unscaled_job(tmp_path, spread, **optimizer):
    """2,000 rows of y = 3 x1 + 10 with x1 ~ N(0, spread), no scaler, lr 7e-4."""
    rng = np.random.default_rng(0)
    x1 = rng.normal(0, spread, 2000)
    y = 3 * x1 + rng.normal(0, 1, 2000) + 10
    path = write_csv(tmp_path / "wide.csv", {"x1": x1, "y": y})
    return {"data": {"paths": [str(path)], "features": ["x1"], "target": "y"},
            "preprocess": {"scaler": "none"},
            "optimizer": {"learning_rate": 0.0007, "schedule": "constant",
                          "max_epochs": 20, **optimizer},
            "output": {"dir": str(tmp_path / "out")}}


def test_train_rising_epoch_costs_raise_divergence(tmp_path):
    """An epoch cost over 100 times the starting cost (1.9e9 against 7e4 in
    epoch 2, at this spread) stops with DivergenceError, no model written."""
    with pytest.raises(DivergenceError, match="epoch cost .* starting cost"):
        streamgd.train(_unscaled_job(tmp_path, 55.8))
    assert not (tmp_path / "out" / "model.json").exists()


def test_train_blow_up_inside_first_block_is_caught(tmp_path):
    """A first block holding the whole epoch is no baseline: one epoch diverges."""
    with pytest.raises(DivergenceError, match="diverged in epoch 1,"):
        streamgd.train(_unscaled_job(tmp_path, 60.0, max_epochs=1))
    assert not (tmp_path / "out" / "model.json").exists()


def test_train_tiny_learning_rate_warns_no_progress(tmp_path, caplog):
    """A learning rate too small to move anything is logged as a warning."""
    with caplog.at_level(logging.WARNING, logger="streamgd"):
        streamgd.train(_unscaled_job(tmp_path, 1.0, learning_rate=1e-320,
                                     max_epochs=3))
    assert "made no progress" in caplog.text


def test_train_learning_run_does_not_warn(tmp_path, caplog):
    """A run whose cost falls logs no no-progress warning."""
    with caplog.at_level(logging.WARNING, logger="streamgd"):
        streamgd.train(_unscaled_job(tmp_path, 1.0, learning_rate=0.01,
                                     max_epochs=3))
    assert "made no progress" not in caplog.text


def test_starting_cost_is_the_first_ten_updates():
    """The baseline averages the first 10 update costs by weight, not the block."""
    costs = np.r_[np.full(10, 2.0), np.full(50, 1e9)]
    assert starting_cost(costs, np.ones(60)) == 2.0
    assert starting_cost(np.array([1.0, 4.0]), np.array([3.0, 1.0])) == 1.75
    assert starting_cost(np.array([]), np.array([])) is None


def test_judge_epoch_rising_cost_is_not_converged():
    """Epochs that stop improving by rising stop as no_improvement."""
    monitor = Monitor()
    for cost in (1.0, 5.0, 8.0):
        monitor = judge_epoch(monitor, cost, tol=1e-4, patience=2)
    assert monitor.stop_reason == "no_improvement"


def test_judge_epoch_settled_cost_is_converged():
    """Epochs within tol of the best cost stop as converged."""
    monitor = Monitor()
    for cost in (1.0, 1.00001, 0.99999):
        monitor = judge_epoch(monitor, cost, tol=1e-4, patience=2)
    assert monitor.stop_reason == "converged"


def test_epoch_divergence_rules():
    """Far above the start, or rising twice to 10x the best, is divergence."""
    assert epoch_divergence(Monitor(first_cost=1.0), 101.0) is not None
    assert epoch_divergence(Monitor(first_cost=1.0), 99.0) is None
    rising = Monitor(epoch_costs=(1.0, 3.0), best_cost=1.0, first_cost=50.0)
    assert "rose 2 epochs" in epoch_divergence(rising, 11.0)
    assert epoch_divergence(rising, 9.0) is None
    wobbling = Monitor(epoch_costs=(1.0, 30.0), best_cost=1.0, first_cost=50.0)
    assert epoch_divergence(wobbling, 20.0) is None
    assert epoch_divergence(Monitor(), float("nan")) is not None


def test_made_progress_compares_with_first_epoch():
    """Progress means the final epoch cost is below the first epoch's."""
    assert made_progress(Monitor(epoch_costs=(5.0, 2.0), first_cost=9.0))
    assert not made_progress(Monitor(epoch_costs=(5.0, 5.0), first_cost=9.0))
    assert not made_progress(Monitor(epoch_costs=(9.0,), first_cost=9.0))
    # summation order changes the last bits of an unchanged cost
    assert not made_progress(Monitor(epoch_costs=(5.0, 5.0 - 1e-14)))
    assert made_progress(Monitor())


def test_train_no_better_than_a_constant_warns(tmp_path, caplog):
    """Two epochs at a rate that barely moves the weights end costlier than the
    best constant predictor (the mean of y, 10 here): a warning says so."""
    with caplog.at_level(logging.WARNING, logger="streamgd"):
        streamgd.train(_unscaled_job(tmp_path, 1.0, learning_rate=1e-9,
                                     max_epochs=2))
    assert "no better than a constant" in caplog.text


def test_train_that_learns_does_not_warn_about_the_constant(tmp_path, caplog):
    """A run that fits y = 3 x1 + 10 beats the constant predictor: no warning."""
    with caplog.at_level(logging.WARNING, logger="streamgd"):
        streamgd.train(_unscaled_job(tmp_path, 1.0, learning_rate=0.01,
                                     max_epochs=3))
    assert "no better than a constant" not in caplog.text


def test_divergence_in_the_first_updates_names_the_zero_model_cost(tmp_path):
    """Diverging before a starting cost exists names the zero model's cost as
    the yardstick, never a 'starting cost nan'."""
    job = _unscaled_job(tmp_path, 60.0, learning_rate=5.0, max_epochs=1)
    with pytest.raises(DivergenceError) as caught:
        streamgd.train(job)
    assert "nan" not in str(caught.value)


def test_constant_features_warning_says_they_carry_no_information(tmp_path, caplog):
    """With every feature constant no rate can beat the constant predictor: the
    warning names the features as the cause instead of advising a higher rate."""
    rng = np.random.default_rng(0)
    y = rng.normal(10, 1, 2000)
    path = write_csv(tmp_path / "flat.csv",
                     {"x1": np.full(2000, 5.0), "x2": np.full(2000, -1.0), "y": y})
    job = {"data": {"paths": [str(path)], "features": ["x1", "x2"], "target": "y"},
           "optimizer": {"learning_rate": 1e-9, "schedule": "constant",
                         "max_epochs": 2},
           "output": {"dir": str(tmp_path / "out")}}
    with caplog.at_level(logging.WARNING, logger="streamgd"):
        streamgd.train(job)
    assert "every feature is constant (x1, x2)" in caplog.text
    assert "raise optimizer.learning_rate" not in caplog.text


def _two_scales_job(tmp_path, spread, scaler):
    """2,000 rows of y = x1 + x2 / spread with x1 ~ N(0, 1), x2 ~ N(0, spread)."""
    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(0, 1, 2000), rng.normal(0, spread, 2000)
    path = write_csv(tmp_path / "two.csv", {"x1": x1, "x2": x2, "y": x1 + x2 / spread})
    return {"data": {"paths": [str(path)], "features": ["x1", "x2"], "target": "y"},
            "preprocess": {"scaler": scaler},
            "optimizer": {"learning_rate": 1e-12, "schedule": "constant",
                          "max_epochs": 1},
            "output": {"dir": str(tmp_path / "out")}}


@pytest.mark.parametrize(("spread", "scaler", "warned"), [
    (1e4, "none", True), (1e4, "standard", False), (10.0, "none", False),
])
def test_unscaled_features_of_far_apart_scales_warn_once(
    tmp_path, caplog, spread, scaler, warned
):
    """Unscaled features whose deviations differ by more than 1e3 get one
    warning naming them and the settings that fix it."""
    with caplog.at_level(logging.WARNING, logger="streamgd"):
        streamgd.train(_two_scales_job(tmp_path, spread, scaler))
    hits = [record.getMessage() for record in caplog.records
            if "standard deviations differ" in record.getMessage()]
    assert len(hits) == (1 if warned else 0)
    if warned:
        assert "'x1'" in hits[0] and "'x2'" in hits[0]
        assert "preprocess.scaler: standard" in hits[0]
        assert "optimizer.update: normalized" in hits[0]
