"""The full-batch engine end to end: exact optima, schedulers, caching, errors."""

import json
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamgd
from streamgd.config import make_config
from streamgd.errors import ConfigError, DivergenceError, SchemaError
from streamgd.fullbatch import ConvergenceWarning
from streamgd.fullbatch.partitions import list_partitions
from streamgd.readers import column_plan
from tests.helpers import least_squares, logistic_optimum, write_csv, write_parquet


def _job(paths, out, target="y", features=("x1", "x2", "x3"), **sections):
    job = {"data": {"paths": [str(p) for p in paths], "features": list(features),
                    "target": target},
           "optimizer": {"method": "batch"},
           "fullbatch": {"tol": 1e-13, "max_iter": 500},
           "output": {"dir": str(out)}}
    for key, value in sections.items():
        section, _, leaf = key.partition("__")
        job.setdefault(section, {})[leaf] = value
    return job


def _relative_error(actual, expected):
    return float(np.max(np.abs(actual - expected) / np.abs(expected)))


def _coefficients(result):
    weights, intercept = result.model.original_coefficients()
    return np.append(weights, intercept)


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    """1,500 rows of a linear target, as Parquet files of uneven row groups (one
    file empty) and as CSV files of 1, 0 (header only), 499 and 1,000 rows."""
    folder = tmp_path_factory.mktemp("regression")
    rng = np.random.default_rng(11)
    X = rng.normal(size=(1500, 3)) * [10.0, 0.1, 3.0] + [100.0, -3.0, 0.0]
    X[:, 2] += 0.5 * X[:, 0]  # correlated columns: a harder problem for gd
    y = X @ [2.0, -3.0, 0.7] + 5.0 + rng.normal(0, 0.5, 1500)
    columns = {"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2], "y": y}
    (folder / "parquet").mkdir()
    (folder / "csv").mkdir()
    bounds = [0, 1, 1, 500, 1500]
    for k, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        part = {name: values[a:b] for name, values in columns.items()}
        write_parquet(folder / f"parquet/part{k}.parquet", part, row_group_size=97)
        write_csv(folder / f"csv/part{k}.csv", part)
    return folder, X, y


@pytest.fixture(scope="module")
def classification(tmp_path_factory):
    """1,200 rows of a logistic target with text labels, in 3 Parquet files."""
    folder = tmp_path_factory.mktemp("classification")
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1200, 3)) * [2.0, 50.0, 1.0] + [0.0, 200.0, -1.0]
    z = X @ [0.8, 0.02, -1.5] - 4.0
    positive = rng.random(1200) < 1 / (1 + np.exp(-z))
    label = np.where(positive, "late", "early")
    for k, rows in enumerate(np.array_split(np.arange(1200), 3)):
        write_parquet(folder / f"part{k}.parquet",
                      {"x1": X[rows, 0], "x2": X[rows, 1], "x3": X[rows, 2],
                       "label": label[rows]}, row_group_size=150)
    return folder, X, positive.astype(float)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_lbfgs_reaches_least_squares_threaded(regression, tmp_path, fmt):
    """L-BFGS on the threaded scheduler lands on exact least squares (1e-6)."""
    folder, X, y = regression
    result = streamgd.train(_job([folder / fmt], tmp_path))
    expected_weights, expected_intercept, _ = least_squares(X, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(result), expected) < 1e-6
    assert result.model.training["rows"] == 1500
    assert result.model.training["stop_reason"] in ("gradient_norm", "cost_change")


def test_lbfgs_reaches_least_squares_on_local_cluster(
    regression, tmp_path, local_cluster
):
    """The same fit on a LocalCluster at tcp://127.0.0.1, from CSV files."""
    folder, X, y = regression
    result = streamgd.train(_job([folder / "csv"], tmp_path,
                                 dask__scheduler=local_cluster))
    expected_weights, expected_intercept, _ = least_squares(X, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(result), expected) < 1e-6


@pytest.mark.parametrize("on_cluster", [False, True])
def test_csv_files_cut_into_byte_ranges_give_the_same_fit(
    regression, tmp_path, local_cluster, monkeypatch, on_cluster
):
    """With ranges of 2,000 bytes the CSV files become dozens of partitions: the
    rows, the statistics and the fit are those of the whole files."""
    folder, X, y = regression
    whole = streamgd.train(_job([folder / "csv"], tmp_path / "whole"))
    monkeypatch.setattr("streamgd.fullbatch.partitions.RANGE_BYTES", 2000)
    job = _job([folder / "csv"], tmp_path / "cut")
    if on_cluster:
        job["dask"] = {"scheduler": local_cluster}
    config = make_config(job)
    assert len(list_partitions(config, column_plan(config))) > 20
    cut = streamgd.train(job)

    assert cut.model.training["rows"] == whole.model.training["rows"] == 1500
    np.testing.assert_allclose(cut.model.stats.mean, whole.model.stats.mean,
                               rtol=1e-13)
    expected_weights, expected_intercept, _ = least_squares(X, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(cut), expected) < 1e-6


@pytest.mark.parametrize("on_cluster", [False, True])
def test_lbfgs_reaches_logistic_optimum(
    classification, tmp_path, local_cluster, on_cluster
):
    """L-BFGS lands on the exact (Newton) logistic optimum to 1e-5, text labels."""
    folder, X, late = classification
    job = _job([folder], tmp_path, target="label", model__type="logistic")
    if on_cluster:
        job["dask"] = {"scheduler": local_cluster}
    result = streamgd.train(job)
    beta, optimum = logistic_optimum(X, late)
    assert _relative_error(_coefficients(result), beta) < 1e-5
    assert result.model.training["final_cost"] == pytest.approx(optimum, rel=1e-10)
    assert result.model.labels.positive == "late"


@pytest.mark.parametrize("cache", ["always", "auto"])
def test_cached_partitions_give_the_same_model(regression, tmp_path, cache):
    """Passes over partitions cached in memory equal passes that re-read files."""
    folder, _, _ = regression
    read = streamgd.train(_job([folder / "parquet"], tmp_path / "read",
                               dask__cache="never"))
    kept = streamgd.train(_job([folder / "parquet"], tmp_path / "kept",
                               dask__cache=cache))
    assert (read.model.training["cached"], kept.model.training["cached"]) == (
        False, True)
    np.testing.assert_array_equal(kept.model.params.weights,
                                  read.model.params.weights)
    assert kept.model.training["iteration_costs"] == read.model.training[
        "iteration_costs"]


def test_cost_log_has_one_epoch_record_per_iteration(regression, tmp_path):
    """The start is a "start" record, not an update; each iteration k >= 1 is
    one update and epoch k, in the streaming engine's record format."""
    folder, _, _ = regression
    result = streamgd.train(_job([folder / "parquet"], tmp_path))
    lines = result.cost_log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines]
    start, epochs = records[0], [r for r in records if r["kind"] == "epoch"]
    training = result.model.training
    iterations = training["iterations"]
    assert (start["kind"], start["epoch"], start["update"]) == ("start", 0, 0)
    assert [r["epoch"] for r in epochs] == list(range(1, iterations + 1))
    assert [r["update"] for r in epochs] == list(range(1, iterations + 1))
    assert training["updates"] == iterations == epochs[-1]["update"]
    assert [start["cost"]] + [r["cost_epoch"] for r in epochs] == pytest.approx(
        training["iteration_costs"], rel=1e-12)
    assert set(epochs[0]) == {"kind", "epoch", "update", "rows_seen", "cost_10",
                              "cost_100", "cost_1000", "cost_epoch",
                              "learning_rate", "elapsed"}
    assert epochs[-1]["rows_seen"] == 1500 * iterations


def test_gd_cost_decreases_every_iteration(regression, tmp_path):
    """Fixed-rate descent at a safe rate lowers the cost at every iteration."""
    folder, _, _ = regression
    job = _job([folder / "parquet"], tmp_path, fullbatch__solver="gd",
               fullbatch__learning_rate=0.3, fullbatch__max_iter=40)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        result = streamgd.train(job)
    costs = result.model.training["iteration_costs"]
    assert len(costs) == 41
    assert np.all(np.diff(costs) < 0)
    assert result.model.training["stop_reason"] == "max_iter"


def test_linesearch_reaches_least_squares(regression, tmp_path):
    """Backtracking descent from too large a first rate still converges."""
    folder, X, y = regression
    job = _job([folder / "parquet"], tmp_path, fullbatch__solver="linesearch",
               fullbatch__learning_rate=50.0, fullbatch__tol=1e-10,
               fullbatch__max_iter=2000)
    result = streamgd.train(job)
    expected_weights, expected_intercept, _ = least_squares(X, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(result), expected) < 1e-3
    assert np.all(np.diff(result.model.training["iteration_costs"]) <= 0)


def test_linesearch_l1_sets_weak_weights_to_zero(regression, tmp_path):
    """A strong L1 penalty zeroes the weight of the weakest feature exactly."""
    folder, _, _ = regression
    job = _job([folder / "parquet"], tmp_path, fullbatch__solver="linesearch",
               fullbatch__learning_rate=1.0, fullbatch__tol=1e-9,
               model__penalty="l1", model__alpha=2.0)
    result = streamgd.train(job)
    assert np.count_nonzero(result.model.params.weights == 0.0) >= 1


def test_gd_divergence_raises_and_writes_no_model(regression, tmp_path):
    """Too large a fixed rate stops with an error naming fullbatch.learning_rate."""
    folder, _, _ = regression
    job = _job([folder / "parquet"], tmp_path, fullbatch__solver="gd",
               fullbatch__learning_rate=10.0)
    with pytest.raises(DivergenceError, match="fullbatch.learning_rate"):
        streamgd.train(job)
    assert not (tmp_path / "model.json").exists()
    # the log of the diverging run is kept, to be read
    assert (tmp_path / "costs.jsonl").read_text().count('"kind": "epoch"') >= 2


def test_lbfgs_with_l1_is_not_implemented(regression, tmp_path):
    """L-BFGS refuses a non-smooth penalty before reading any data."""
    job = _job([tmp_path / "nothing-here.parquet"], tmp_path, model__penalty="l1")
    with pytest.raises(ConfigError, match="linesearch"):
        streamgd.train(job)


def test_validation_holdout_is_not_implemented(tmp_path):
    """A holdout is refused rather than silently trained on."""
    job = _job([tmp_path / "nothing-here.parquet"], tmp_path,
               validation__holdout=0.1)
    with pytest.raises(ConfigError, match="validation.holdout"):
        streamgd.train(job)


@pytest.mark.parametrize("sections, why", [
    ({}, "L-BFGS keeps its state inside scipy"),
    ({"optimizer__method": "sgd+batch"}, "SGD phase is not checkpointed"),
    ({"fullbatch__solver": "gd", "checkpoint__enabled": False},
     "checkpoint.enabled is false"),
])
def test_resume_is_refused_where_no_checkpoint_is_written(tmp_path, sections, why):
    """L-BFGS, sgd+batch and runs with checkpoints off write no checkpoints:
    --resume says so instead of silently training from the start."""
    job = _job([tmp_path / "nothing-here.parquet"], tmp_path, **sections)
    with pytest.raises(ConfigError, match=f"{why}.*nothing to resume"):
        streamgd.train(job, resume=True)


def test_sgd_then_lbfgs_polish(regression, tmp_path):
    """sgd+batch runs SGD epochs, then L-BFGS from their weights to the optimum."""
    folder, X, y = regression
    job = _job([folder / "parquet"], tmp_path,
               optimizer__method="sgd+batch", optimizer__max_epochs=2,
               optimizer__tol=0.0)
    result = streamgd.train(job)
    training = result.model.training
    assert len(training["epoch_costs"]) == 2
    epochs = [r for r in result.records if r["kind"] == "epoch"]
    assert [r["epoch"] for r in epochs] == list(range(1, training["iterations"] + 3))
    start = next(r for r in result.records if r["kind"] == "start")
    assert start["epoch"] == 2 and start["update"] == epochs[1]["update"]
    # the polish starts where SGD stopped, far closer than the zero weights
    assert training["iteration_costs"][0] < 0.05 * 0.5 * np.mean(y**2)
    expected_weights, expected_intercept, _ = least_squares(X, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(result), expected) < 1e-6


def test_constant_column_weight_stays_zero(tmp_path):
    """A constant feature keeps weight 0 under L-BFGS, as under SGD."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=300)
    write_parquet(tmp_path / "d.parquet",
                  {"x": x, "c": np.full(300, 7.0), "y": 3 * x + 1})
    result = streamgd.train(_job([tmp_path / "d.parquet"], tmp_path / "out",
                                 features=["x", "c"]))
    weights, intercept = result.model.original_coefficients()
    assert weights[1] == 0.0
    assert weights[0] == pytest.approx(3.0, rel=1e-9)
    assert intercept == pytest.approx(1.0, rel=1e-9)


def test_weighted_rows_match_weighted_least_squares(tmp_path):
    """Sample weights: the fit is the weighted least-squares solution."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 2))
    y = X @ [1.0, -2.0] + rng.normal(size=400)
    w = rng.random(400) * 3
    w[:50] = 0.0  # rows of zero weight teach nothing
    write_parquet(tmp_path / "d.parquet", {"x1": X[:, 0], "x2": X[:, 1], "y": y,
                                           "w": w}, row_group_size=33)
    result = streamgd.train(_job([tmp_path / "d.parquet"], tmp_path / "out",
                                 features=["x1", "x2"], data__weight="w"))
    root = np.sqrt(w)[:, None]
    A = np.c_[X, np.ones(400)]
    expected, *_ = np.linalg.lstsq(A * root, y * root[:, 0], rcond=None)
    assert _relative_error(_coefficients(result), expected) < 1e-6


def test_bad_value_is_located_from_a_worker(regression, tmp_path, local_cluster):
    """A value that is not a number, read by a cluster task, names file and row."""
    folder, _, _ = regression
    bad = tmp_path / "data"
    bad.mkdir()
    (bad / "a.csv").write_text((folder / "csv/part3.csv").read_text())
    lines = (folder / "csv/part2.csv").read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[1], "oops", 1)
    (bad / "b.csv").write_text("\n".join(lines) + "\n")
    job = _job([bad], tmp_path / "out", dask__scheduler=local_cluster)
    with pytest.raises(SchemaError, match=r"'x2' of .*b.csv, row 4.*'oops'") as info:
        streamgd.train(job)
    assert (info.value.column, info.value.row) == ("x2", 4)
    assert not (tmp_path / "out/model.json").exists()


def test_data_error_keeps_its_location_through_pickling():
    """An error raised in a worker process arrives with file, column and row."""
    error = SchemaError("bad", file="f.csv", column="c", row=3, line=5)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is SchemaError and str(copy) == str(error)
    assert (copy.file, copy.column, copy.row, copy.line) == ("f.csv", "c", 3, 5)


def test_missing_parquet_column_fails_before_any_task(tmp_path):
    """A Parquet file without a feature column is refused while listing partitions."""
    write_parquet(tmp_path / "d.parquet", {"x1": np.ones(3), "y": np.ones(3)})
    with pytest.raises(SchemaError, match="'x2' of .*d.parquet: column not found"):
        streamgd.train(_job([tmp_path / "d.parquet"], tmp_path / "out",
                            features=["x1", "x2"]))


def test_empty_partitions_only_is_an_error(tmp_path):
    """Data with no rows at all stops with an error naming the file."""
    empty = pa.array([], pa.float64())
    table = pa.table({"x1": empty, "y": empty})
    pq.write_table(table, tmp_path / "d.parquet")
    with pytest.raises(streamgd.DataError, match="d.parquet: no rows to train on"):
        streamgd.train(_job([tmp_path / "d.parquet"], tmp_path / "out",
                            features=["x1"]))


@pytest.mark.parametrize("override, message", [
    ("dask.scheduler=localhost:8786", "dask scheduler address"),
    ("dask.workers=0", "must be > 0"),
    ("fullbatch.solver=newton", "gd, linesearch, lbfgs"),
    ("optimizer.method=adam", "sgd, batch, sgd\\+batch"),
])
def test_config_rejects_bad_fullbatch_keys(override, message):
    """The new keys are checked before any data is read."""
    with pytest.raises(ConfigError, match=message):
        streamgd.load_config(None, [override])


def test_config_scheduler_and_workers_are_exclusive():
    """An existing cluster and a local one cannot both be asked for."""
    with pytest.raises(ConfigError, match="not both"):
        streamgd.load_config(None, ["dask.scheduler=tcp://127.0.0.1:8786",
                                    "dask.workers=2"])


@pytest.mark.slow
def test_dask_workers_starts_and_stops_a_local_cluster(regression, tmp_path):
    """dask.workers: 1 runs the passes in a worker process, closed afterwards."""
    import threading

    folder, X, y = regression
    before = threading.active_count()
    result = streamgd.train(_job([folder / "parquet"], tmp_path, dask__workers=1,
                                 dask__cache="never"))
    expected_weights, expected_intercept, _ = least_squares(X, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(result), expected) < 1e-6
    assert threading.active_count() <= before + 1


@pytest.mark.parametrize("cache", ["never", "always"])
def test_cluster_cache_modes_agree(regression, tmp_path, local_cluster, cache):
    """On a cluster, cached and re-read partitions give the threaded model."""
    folder, _, _ = regression
    fixed = {"fullbatch__solver": "gd", "fullbatch__max_iter": 5,
             "fullbatch__learning_rate": 0.3}
    with pytest.warns(ConvergenceWarning):
        threaded = streamgd.train(_job([folder / "parquet"], tmp_path / "threads",
                                       **fixed))
        clustered = streamgd.train(_job([folder / "parquet"], tmp_path / cache,
                                        dask__scheduler=local_cluster,
                                        dask__cache=cache, **fixed))
    assert clustered.model.training["cached"] == (cache == "always")
    np.testing.assert_array_equal(clustered.model.params.weights,
                                  threaded.model.params.weights)


def test_impute_fills_the_mean_before_the_passes(tmp_path):
    """data.missing: impute fills each gap with the column mean of the statistics
    pass; the fit is least squares on the filled data."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(200, 2))
    y = X @ [1.5, -0.5] + 2.0 + rng.normal(0, 0.1, 200)
    gaps = X.copy()
    gaps[::7, 0] = np.nan
    column = pa.array(gaps[:, 0], mask=np.isnan(gaps[:, 0]))
    pq.write_table(pa.table({"x1": column, "x2": X[:, 1], "y": y}),
                   tmp_path / "d.parquet", row_group_size=30)
    result = streamgd.train(_job([tmp_path / "d.parquet"], tmp_path / "out",
                                 features=["x1", "x2"], data__missing="impute"))
    filled = gaps.copy()
    filled[::7, 0] = np.nanmean(gaps[:, 0])
    expected_weights, expected_intercept, _ = least_squares(filled, y)
    expected = np.append(expected_weights, expected_intercept)
    assert _relative_error(_coefficients(result), expected) < 1e-6


def test_cli_trains_the_default_job_in_batch(tmp_path, capsys):
    """`streamgd train --set optimizer.method=batch` trains the embedded job."""
    from streamgd.cli import main

    code = main(["train", "--quiet", "--set", "optimizer.method=batch",
                 "--set", f"output.dir={tmp_path}"])
    printed = capsys.readouterr().out
    assert code == 0
    model = json.loads((tmp_path / "model.json").read_text())
    assert model["training"]["method"] == "batch"
    assert model["training"]["rows"] == 327_346
    assert f"stop: {model['training']['stop_reason']}" in printed


def test_unreachable_scheduler_is_a_config_error(regression, tmp_path):
    """A dask.scheduler address where nothing listens names the key, no traceback.
    The port is one the test just bound and released on 127.0.0.1."""
    import socket

    import dask

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder, _, _ = regression
    job = _job([folder / "parquet"], tmp_path,
               dask__scheduler=f"tcp://127.0.0.1:{port}")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConfigError, match="dask.scheduler"):
            streamgd.train(job)
