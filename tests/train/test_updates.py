"""Every `optimizer.update` trains end to end through the engine."""

import json

import numpy as np
import pytest

import streamgd
from streamgd.optim import UPDATES
from tests.helpers import least_squares, write_parquet
from tests.train.test_train import _job

# rates at which each rule settles on 2,000 standardized rows in 20 epochs
# (the adaptive rules move each weight about `rate` per update at first, so
# their rate is on the scale of the weights: here the intercept is near 214)
# (rmsprop at 1.0 stays 0.3-4% above the optimum, whichever the seed or the
# shuffle's blocks; at 0.3, seeds 0-5 came within 0.21%)
RATES = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adagrad": 10.0,
         "rmsprop": 0.3, "adam": 1.0, "asgd": 0.1, "normalized": 30.0}


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    """2,000 rows of y = 2 x1 - 3 x2 + 5 + noise, features of unlike scales."""
    folder = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(11)
    X = rng.normal(size=(2000, 2)) * [10.0, 0.1] + [100.0, -3.0]
    y = X @ [2.0, -3.0] + 5.0 + rng.normal(0, 0.5, 2000)
    write_parquet(folder / "data.parquet", {"x1": X[:, 0], "x2": X[:, 1], "y": y},
                  row_group_size=250)
    return folder, X, y


def test_every_update_rule_is_covered():
    """The rates table names every rule the config accepts."""
    assert set(RATES) == set(UPDATES)


@pytest.mark.parametrize("update", UPDATES)
def test_update_rule_reaches_least_squares_rmse(update, regression, tmp_path):
    """Each rule's written model is within 1% of the least-squares RMSE."""
    folder, X, y = regression
    result = streamgd.train(_job(
        [folder], ["x1", "x2"], out=tmp_path, optimizer__update=update,
        optimizer__learning_rate=RATES[update], optimizer__max_epochs=20,
        optimizer__tol=0.0, optimizer__schedule="constant"))
    *_, best_rmse = least_squares(X, y)
    rmse = streamgd.evaluate(result.model_path, folder).metrics["rmse"]
    assert rmse <= 1.01 * best_rmse


def test_asgd_writes_the_average_not_the_iterate(regression, tmp_path):
    """With averaging on, the written model differs from the last SGD iterate."""
    folder, _, _ = regression
    models = {}
    for update in ("sgd", "asgd"):
        result = streamgd.train(_job(
            [folder], ["x1", "x2"], out=tmp_path / update, optimizer__update=update,
            optimizer__learning_rate=0.5, optimizer__max_epochs=2,
            optimizer__schedule="constant", optimizer__average_start=60))
        models[update] = json.loads(result.model_path.read_text())["scaled"]
    assert models["sgd"] != models["asgd"]
