"""Progressive validation, holdout records, early stopping and the constant baseline."""

import json

import numpy as np
import pytest

import streamgd
from tests.helpers import write_parquet


@pytest.fixture(scope="module")
def noisy(tmp_path_factory):
    """3,000 rows of y = 3 x - 1 + noise, in row groups of 200, and a second file."""
    folder = tmp_path_factory.mktemp("noisy")
    rng = np.random.default_rng(5)
    for name, n in (("train", 3000), ("valid", 500)):
        x = rng.normal(size=n)
        y = 3 * x - 1 + rng.normal(0, 0.5, n)
        write_parquet(folder / f"{name}.parquet", {"x": x, "y": y},
                      row_group_size=200)
    return folder


def _train(folder, out, **sections):
    job = {"data": {"paths": [str(folder / "train.parquet")], "features": ["x"],
                    "target": "y"},
           "optimizer": {"max_epochs": 4, "tol": 0.0, "learning_rate": 0.05},
           "output": {"dir": str(out)}}
    for section, values in sections.items():
        job.setdefault(section, {}).update(values)
    return streamgd.train(job)


def test_holdout_record_each_epoch_marked_holdout(noisy, tmp_path):
    """The cost log holds one "holdout" record per epoch, after its epoch record."""
    result = _train(noisy, tmp_path, validation={"holdout": 0.2, "patience": None})
    lines = [json.loads(line) for line in result.cost_log_path.read_text().splitlines()]
    kinds = [(r["kind"], r["epoch"]) for r in lines if r["kind"] != "update"]
    assert kinds == [(kind, e) for e in range(1, 5) for kind in ("epoch", "holdout")]
    holdout = [r["cost"] for r in lines if r["kind"] == "holdout"]
    assert result.model.training["holdout_costs"] == holdout
    assert result.model.training["holdout_cost"] == holdout[-1]


def test_holdout_cost_is_the_written_models_loss_on_the_held_rows(noisy, tmp_path):
    """With a validation file, the last holdout cost equals evaluating the model."""
    result = _train(noisy, tmp_path,
                    validation={"paths": str(noisy / "valid.parquet"),
                                "patience": None})
    evaluation = streamgd.evaluate(result.model_path, noisy / "valid.parquet")
    # the cost is the mean of (z - y)^2 / 2, so twice it is the mean squared error
    mse = evaluation.metrics["rmse"] ** 2
    assert 2 * result.model.training["holdout_cost"] == pytest.approx(mse, rel=1e-9)
    assert result.model.training["holdout_rows"] == 500


def test_constant_baseline_is_mean_and_half_variance(noisy, tmp_path):
    """The best constant is the training mean; its cost is the variance over 2."""
    import pyarrow.parquet as pq

    result = _train(noisy, tmp_path)
    y = pq.read_table(noisy / "train.parquet")["y"].to_numpy()
    training = result.model.training
    assert training["constant"] == pytest.approx(y.mean(), rel=1e-12)
    assert training["constant_train_cost"] == pytest.approx(y.var() / 2, rel=1e-9)
    assert training["final_cost"] < 0.1 * training["constant_train_cost"]


def test_progressive_cost_is_the_first_epochs_cost_without_penalty(noisy, tmp_path):
    """Unpenalised, progressive cost equals epoch 1's averaged pre-update cost;
    with an L2 penalty it is lower by the penalty."""
    plain = _train(noisy, tmp_path / "plain")
    first = next(r for r in plain.records if r["kind"] == "epoch")
    progressive = plain.model.training["progressive_cost"]
    assert progressive == pytest.approx(first["cost_epoch"], rel=1e-12)
    penalised = _train(noisy, tmp_path / "l2", model={"penalty": "l2", "alpha": 0.5})
    first = next(r for r in penalised.records if r["kind"] == "epoch")
    assert penalised.model.training["progressive_cost"] < first["cost_epoch"]


def test_early_stopping_keeps_the_best_epochs_model(noisy, tmp_path):
    """A constant rate too large to settle stops the run after `patience`
    epochs and writes the model of the best holdout epoch."""
    result = _train(noisy, tmp_path,
                    optimizer={"learning_rate": 0.3, "schedule": "constant",
                               "batch_size": 1, "max_epochs": 30,
                               "n_iter_no_change": 30},
                    validation={"holdout": 0.2, "patience": 2, "tol": 0.0})
    training = result.model.training
    costs = training["holdout_costs"]
    assert training["stop_reason"] == "early_stopped"
    assert len(costs) < 30
    best = int(np.argmin(costs))
    assert training["best_epoch"] == best + 1
    assert len(costs) == best + 1 + 2
    assert training["holdout_cost"] == costs[best]


def test_holdout_records_read_back_as_the_plots_holdout_curve(noisy, tmp_path):
    """The cost-log reader accepts holdout records and plots them as "holdout"."""
    from streamgd.report.costs import cost_series, read_cost_log

    result = _train(noisy, tmp_path, validation={"holdout": 0.2, "patience": None})
    curves = {curve.label: curve for curve in cost_series(
        read_cost_log(result.cost_log_path))}
    assert list(curves["holdout"].cost) == result.model.training["holdout_costs"]


@pytest.mark.parametrize("penalty, alpha", [("none", 1e-4), ("l2", 0.0),
                                            ("l2", 0.5), ("elasticnet", 0.1)])
def test_progressive_sums_are_the_losses_less_the_penalty_to_the_bit(penalty, alpha):
    """The progressive sums are those of costs - penalties block by block, bit
    for bit, whether the subtraction is made (penalised) or skipped (the
    penalty values are then +0.0, as the engines record them)."""
    from streamgd.config import make_config
    from streamgd.validate import Validation

    config = make_config({
        "data": {"paths": "train.parquet", "features": ["x"], "target": "y"},
        "model": {"penalty": penalty, "alpha": alpha},
    })
    validation = Validation(config, prepared=None, loss=None)
    penalised = penalty != "none" and alpha > 0
    rng = np.random.default_rng(7)
    total, mass = 0.0, 0.0
    for n in (1, 0, 700, 65):
        # costs include -0.0, which cost - (+0.0) keeps
        costs = np.where(rng.random(n) < 0.2, -0.0, 10.0 ** rng.uniform(-6, 6, n))
        penalties = rng.uniform(0, 1, n) if penalised else np.zeros(n)
        weights = rng.uniform(0, 3, n)
        validation.add_progressive(0, costs, penalties, weights)
        validation.add_progressive(1, costs, penalties, weights)  # epoch 2: no
        if n:
            total += float(np.einsum("i,i->", costs - penalties, weights))
            mass += float(weights.sum())
    assert validation.state.progressive == (total, mass)
    assert validation.penalised == penalised
