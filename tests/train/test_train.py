"""The streaming engine end to end on small generated data."""

import json

import numpy as np
import pytest

import streamgd
from streamgd.errors import DivergenceError, MissingValueError
from streamgd.report.show import learning_rate_line
from tests.helpers import least_squares, logistic_optimum, write_csv, write_parquet


def _job(paths, features, target="y", **sections):
    job = {"data": {"paths": [str(p) for p in paths], "features": features,
                    "target": target},
           "output": {"dir": str(sections.pop("out"))}}
    for key, value in sections.items():
        section, nested, leaf = key.partition("__")
        if nested:
            job.setdefault(section, {})[leaf] = value
        else:
            job[key] = value
    return job


@pytest.fixture
def regression(tmp_path):
    """1,000 rows of y = 2 x1 - 3 x2 + 5 + noise in 3 Parquet files of 3 row groups."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(1000, 2)) * [10.0, 0.1] + [100.0, -3.0]
    y = X @ [2.0, -3.0] + 5.0 + rng.normal(0, 0.1, 1000)
    for k, rows in enumerate(np.array_split(np.arange(1000), 3)):
        write_parquet(tmp_path / f"part{k}.parquet",
                      {"x1": X[rows, 0], "x2": X[rows, 1], "y": y[rows]},
                      row_group_size=120)
    return tmp_path, X, y


def test_train_reaches_least_squares(regression, tmp_path):
    """Mini-batch SGD on standardized inputs lands on the exact least-squares fit
    (to the noise of a constant rate: seeds 0-7 missed it by 0.1-0.43%, as the
    epoch ends with batches of one 120-row chunk; row-level shuffling, by
    0.02-0.49%)."""
    folder, X, y = regression
    result = streamgd.train(_job(
        [folder], ["x1", "x2"], out=tmp_path / "out", optimizer__max_epochs=30,
        optimizer__learning_rate=0.1, optimizer__tol=0.0))
    weights, intercept = result.model.original_coefficients()
    expected, expected_intercept, _ = least_squares(X, y)
    np.testing.assert_allclose(weights, expected, rtol=5e-3)
    assert intercept == pytest.approx(expected_intercept, rel=2e-2)


def test_train_sees_every_row_once_per_epoch(regression, tmp_path):
    """Each epoch's record counts exactly the dataset's rows, for batch size 7."""
    folder, _, _ = regression
    result = streamgd.train(_job(
        [folder], ["x1", "x2"], out=tmp_path / "out", optimizer__batch_size=7,
        optimizer__max_epochs=3, optimizer__tol=0.0, shuffle__buffer_rows=50))
    epochs = [r for r in result.records if r["kind"] == "epoch"]
    assert [r["rows_seen"] for r in epochs] == [1000, 2000, 3000]
    assert [r["update"] for r in epochs] == [143, 286, 429]


def test_train_same_seed_same_model_bitwise(regression, tmp_path):
    """Two runs with one seed write identical coefficients; another seed differs."""
    folder, _, _ = regression
    runs = []
    for name, seed in [("a", 3), ("b", 3), ("c", 4)]:
        result = streamgd.train(_job([folder], ["x1", "x2"], out=tmp_path / name,
                                     seed=seed, model__init="random"))
        runs.append(json.loads(result.model_path.read_text())["scaled"])
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_train_per_row_sgd(regression, tmp_path):
    """Batch size 1 trains: one update per row and a cost far below the first."""
    folder, _, _ = regression
    result = streamgd.train(_job(
        [folder], ["x1", "x2"], out=tmp_path / "out", optimizer__batch_size=1,
        optimizer__max_epochs=2, optimizer__learning_rate=0.01))
    assert result.model.training["updates"] == 2000
    costs = result.model.training["epoch_costs"]
    assert costs[-1] < 0.01 * result.records[0]["cost_10"]


def test_train_divergence_raises_and_writes_no_model(tmp_path):
    """Unscaled inputs with a fixed rate diverge: an error, the old model untouched."""
    rng = np.random.default_rng(22)
    x = rng.uniform(0, 100, 500)
    write_csv(tmp_path / "unscaled.csv", {"x1": x, "y": 5 * x + 3})
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.json").write_text("previous model")
    job = _job([tmp_path / "unscaled.csv"], ["x1"], out=out,
               preprocess__scaler="none", optimizer__schedule="constant",
               optimizer__learning_rate=0.01)
    with pytest.raises(DivergenceError, match="learning_rate.*scaler: standard"):
        streamgd.train(job)
    assert (out / "model.json").read_text() == "previous model"
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []


def test_train_constant_column_weight_is_zero(tmp_path):
    """A constant feature is reported and keeps a weight of exactly 0."""
    rng = np.random.default_rng(13)
    x1 = rng.uniform(-10, 10, 400)
    write_csv(tmp_path / "c.csv", {"x1": x1, "c1": np.full(400, 14.62),
                                   "y": 3 * x1 + 2})
    result = streamgd.train(_job([tmp_path / "c.csv"], ["x1", "c1"],
                                 out=tmp_path / "out", optimizer__max_epochs=40,
                                 optimizer__learning_rate=0.2, optimizer__tol=0.0))
    weights, intercept = result.model.original_coefficients()
    assert weights[1] == 0.0
    assert json.loads(result.model_path.read_text())["constant_features"] == ["c1"]
    assert weights[0] == pytest.approx(3.0, rel=1e-3)
    assert intercept == pytest.approx(2.0, abs=1e-2)


def test_train_logistic_string_labels(tmp_path):
    """Two string classes map to 0/1 (sorted), and the fit nears the exact optimum."""
    rng = np.random.default_rng(30)
    X = rng.normal(size=(3000, 2))
    p = 1 / (1 + np.exp(-(1.5 * X[:, 0] - X[:, 1] + 0.3)))
    y = (rng.uniform(size=3000) < p).astype(float)
    labels = np.where(y == 1, "late", "early")
    write_parquet(tmp_path / "d.parquet",
                  {"x1": X[:, 0], "x2": X[:, 1], "label": labels}, row_group_size=500)
    result = streamgd.train(_job(
        [tmp_path / "d.parquet"], ["x1", "x2"], target="label", out=tmp_path / "o",
        model__type="logistic", optimizer__max_epochs=20,
        optimizer__learning_rate=0.5, optimizer__tol=0.0))
    assert result.model.labels.negative == "early"
    assert result.model.labels.positive == "late"
    _, optimum = logistic_optimum(X, y)
    metrics = streamgd.evaluate(result.model_path, tmp_path / "d.parquet").metrics
    assert metrics["log_loss"] == pytest.approx(optimum, rel=5e-3)


def test_train_missing_value_default_is_an_error(tmp_path):
    """A null under the default policy names file, column, row and line."""
    (tmp_path / "m.csv").write_text("x1,y\n1,2\n2,4\nNA,6\n4,8\n")
    with pytest.raises(MissingValueError, match=r"'x1' of .*m.csv, row 2 \(line 4\)"):
        streamgd.train(_job([tmp_path / "m.csv"], ["x1"], out=tmp_path / "out"))
    assert not (tmp_path / "out" / "model.json").exists()


def test_train_impute_fills_the_mean(tmp_path):
    """Under impute, a missing feature takes the column mean of the other rows."""
    (tmp_path / "m.csv").write_text("x1,y\n1,3\n2,5\nNA,4\n3,7\n")
    result = streamgd.train(_job([tmp_path / "m.csv"], ["x1"], out=tmp_path / "out",
                                 data__missing="impute"))
    assert result.model.impute_values.tolist() == [2.0]
    assert result.model.training["rows"] == 4


def test_train_zero_weight_rows_are_ignored(tmp_path):
    """Outliers of weight 0 do not pull the fit, whatever the shuffle."""
    rng = np.random.default_rng(28)
    x = rng.uniform(-1, 1, 2000)
    outlier = np.arange(2000) % 20 == 0
    write_csv(tmp_path / "w.csv", {"x1": x, "y": np.where(outlier, 1000.0, 2 * x + 1),
                                   "w": np.where(outlier, 0.0, 1.0)})
    result = streamgd.train(_job([tmp_path / "w.csv"], ["x1"], out=tmp_path / "o",
                                 data__weight="w", optimizer__max_epochs=40,
                                 optimizer__learning_rate=0.2, optimizer__tol=0.0))
    weights, intercept = result.model.original_coefficients()
    assert weights[0] == pytest.approx(2.0, abs=0.01)
    assert intercept == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_train_sample_weights_count_at_small_batch_sizes(tmp_path, batch_size):
    """Weights 10 and 1 on the two arms of a V move the fit to the weighted one.

    Regression: each batch's gradient is a weighted mean, in which the weights'
    size cancels, so at batch size 1 the weights were ignored (slope -0.02, the
    unweighted fit, instead of 1.2). The step now scales with the batch's weight.
    """
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, 400)
    weight = np.where(x > 0, 10.0, 1.0)
    y = 3 * np.abs(x) + rng.normal(0, 0.01, 400)
    write_parquet(tmp_path / "v.parquet", {"x": x, "y": y, "w": weight})
    result = streamgd.train(_job(
        [tmp_path / "v.parquet"], ["x"], out=tmp_path / "out", data__weight="w",
        preprocess__scaler="none", optimizer__batch_size=batch_size,
        optimizer__max_epochs=40, optimizer__tol=0.0,
        optimizer__learning_rate=0.01, optimizer__schedule="constant"))
    (slope,), intercept = result.model.original_coefficients()

    A = np.c_[x, np.ones_like(x)] * np.sqrt(weight)[:, None]
    expected, *_ = np.linalg.lstsq(A, y * np.sqrt(weight), rcond=None)
    unweighted, _, _ = least_squares(x[:, None], y)
    assert abs(slope - expected[0]) < 0.1 < abs(slope - unweighted[0])
    assert intercept == pytest.approx(expected[1], abs=0.1)


@pytest.mark.parametrize("opening", [0.0, 1e-138])
def test_train_opening_rows_fitted_exactly_are_not_divergence(tmp_path, opening):
    """Regression: opening rows the zero model fits (nearly) exactly made the
    starting cost 0 or 1e-276, and the first ordinary cost a "divergence".

    Found by the per-row textbook and Parquet/CSV batch properties; the starting
    cost is now at least the zero model's cost over all the data.
    """
    y = np.full(40, opening)
    y[30:] = 1.0
    write_parquet(tmp_path / "data.parquet", {"x": np.zeros(40), "y": y},
                  row_group_size=12)
    result = streamgd.train(_job(
        [tmp_path / "data.parquet"], ["x"], out=tmp_path / "out",
        preprocess__scaler="none", optimizer__batch_size=1,
        optimizer__max_epochs=2, shuffle__enabled=False))
    assert result.model.training["updates"] == 80
    assert 0.0 < result.model.params.intercept < 1.0


def _weights(job):
    model = streamgd.train(job).model
    return model, np.append(model.params.weights, model.params.intercept)


@pytest.mark.parametrize("update, default", [("normalized", "constant"),
                                             ("sgd", "invscaling")])
def test_train_schedule_not_given_follows_the_update(regression, tmp_path, update,
                                                     default):
    """No schedule given: normalized trains at a constant rate (its steps
    already shrink), the other rules at invscaling, exactly as if named; the
    summary line says which and that it was not given."""
    def job(**optimizer):
        out = tmp_path / f"out{len(optimizer)}"
        return _job([regression[0]], ["x1", "x2"], out=out,
                    optimizer={"update": update, "learning_rate": 0.05,
                               "max_epochs": 2, **optimizer})
    model, implicit = _weights(job())
    _, named = _weights(job(schedule=default))
    assert np.array_equal(implicit, named)
    assert model.training["schedule"] == default
    line = learning_rate_line(model.training)
    assert line.endswith(f"schedule {default} (not given; the default for {update})")


def test_train_schedule_given_is_kept(regression, tmp_path):
    """An explicit schedule is used as given, also where the update's default
    differs: normalized at invscaling does not train as at constant."""
    def job(schedule):
        return _job([regression[0]], ["x1", "x2"], out=tmp_path / schedule,
                    optimizer={"update": "normalized", "learning_rate": 0.05,
                               "max_epochs": 2, "schedule": schedule})
    model, invscaling = _weights(job("invscaling"))
    _, constant = _weights(job("constant"))
    assert model.training["schedule"] == "invscaling"
    assert not np.array_equal(invscaling, constant)
    line = learning_rate_line(model.training)
    assert line.endswith("schedule invscaling")
