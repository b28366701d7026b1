"""The statistics pass refuses targets, weights and columns training cannot use."""

import threading

import numpy as np
import pytest

import streamgd
from streamgd.errors import DataError, NonFiniteValueError
from tests.helpers import write_csv, write_parquet


def _job(path, tmp_path, **data):
    return {"data": {"paths": [str(path)], "features": ["x1", "x2"], "target": "y",
                     **data},
            "optimizer": {"max_epochs": 1},
            "output": {"dir": str(tmp_path / "out")}}


def _columns(n=50):
    rng = np.random.default_rng(1)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    return {"x1": x1, "x2": x2, "y": x1 - x2}


@pytest.mark.parametrize("value, match", [
    (np.nan, "value nan is not finite"),
    (np.inf, "value inf is not finite"),
    (1e300, "target 1e\\+300 is beyond 1e\\+150"),
])
def test_prepare_bad_target_located_before_training(tmp_path, value, match):
    """A NaN, infinite or overflowing target names file, column, row and line."""
    columns = _columns()
    columns["y"][17] = value
    path = write_csv(tmp_path / "d.csv", columns)
    with pytest.raises(NonFiniteValueError, match=match) as caught:
        streamgd.train(_job(path, tmp_path))
    error = caught.value
    assert (error.column, error.row, error.line) == ("y", 17, 19)
    assert "d.csv" in str(error)
    assert not (tmp_path / "out" / "costs.jsonl").exists()


def test_prepare_all_zero_weights_is_an_error(tmp_path):
    """Every sample weight 0 is a DataError naming the weight column."""
    columns = _columns()
    columns["w"] = np.zeros(50)
    path = write_parquet(tmp_path / "d.parquet", columns)
    with pytest.raises(DataError, match="column 'w' .*every sample weight is 0"):
        streamgd.train(_job(path, tmp_path, weight="w"))
    assert not (tmp_path / "out" / "model.json").exists()


def test_prepare_all_missing_column_under_impute(tmp_path):
    """A feature with no value in any row is an error naming it, not imputed 0."""
    columns = _columns()
    path = tmp_path / "d.csv"
    write_csv(path, {"x1": columns["x1"], "y": columns["y"]})
    text = path.read_text().splitlines()
    rows = [text[0] + ',"x2"'] + [line + "," for line in text[1:]]
    path.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match="column 'x2' .*no value at all"):
        streamgd.train(_job(path, tmp_path, missing="impute"))


def test_fullbatch_pass_checks_the_target_too(tmp_path):
    """The dask statistics pass refuses a target of 1e300 naming its row."""
    columns = _columns()
    columns["y"][17] = 1e300
    path = write_parquet(tmp_path / "d.parquet", columns)
    job = _job(path, tmp_path)
    job["optimizer"]["method"] = "batch"
    with pytest.raises(NonFiniteValueError, match="target 1e\\+300") as caught:
        streamgd.train(job)
    assert (caught.value.column, caught.value.row) == ("y", 17)


@pytest.mark.parametrize("method", ["sgd", "batch"])
@pytest.mark.parametrize("threshold, above", [(100.0, 0), (-100.0, 50)])
def test_positive_above_leaving_one_class_is_refused(tmp_path, method, threshold,
                                                     above):
    """A threshold outside the target's range names itself and both counts."""
    path = write_csv(tmp_path / "d.csv", _columns())
    job = _job(path, tmp_path, positive_above=threshold)
    job["model"] = {"type": "logistic"}
    job["optimizer"]["method"] = method
    with pytest.raises(DataError, match="leaves one class") as caught:
        streamgd.train(job)
    message = str(caught.value)
    assert f"data.positive_above {threshold:g}" in message
    assert f"{above} of 50 rows have a target above it, {50 - above} at" in message
    assert caught.value.column == "y" and "d.csv" in message
    assert not (tmp_path / "out" / "model.json").exists()


def test_positive_above_inside_the_range_trains(tmp_path):
    """A threshold with rows on both sides is accepted."""
    path = write_csv(tmp_path / "d.csv", _columns())
    job = _job(path, tmp_path, positive_above=0.0)
    job["model"] = {"type": "logistic"}
    assert streamgd.train(job).model.labels.threshold_value == 0.0


def test_holdout_taking_every_row_is_refused(tmp_path):
    """A holdout fraction that leaves no training row says so, with the counts."""
    path = write_csv(tmp_path / "d.csv", _columns(200))
    job = _job(path, tmp_path)
    job["validation"] = {"holdout": 0.9999}
    with pytest.raises(DataError, match="no training rows left after the holdout")\
            as caught:
        streamgd.train(job)
    assert "holds out all 200 rows kept" in str(caught.value)
    assert not (tmp_path / "out" / "costs.jsonl").exists()


@pytest.mark.parametrize("read_ahead", [1, 4])
def test_statistics_read_ahead_gives_the_same_bits(tmp_path, read_ahead):
    """The statistics pass over a Parquet file reads its next row groups in
    background threads: the same statistics, bit for bit, as reading each when
    needed; and a bad value deep in the file is still named at its row."""
    from streamgd.config import make_config
    from streamgd.readers import column_plan, open_source
    from streamgd.train.prepare import prepare

    rng = np.random.default_rng(3)
    columns = {"x1": rng.normal(size=3000) * 1e3 + 7.0,
               "x2": rng.exponential(size=3000), "y": rng.normal(size=3000)}
    path = write_parquet(tmp_path / "d.parquet", columns, row_group_size=128)

    readers = set()

    def statistics(ahead):
        config = make_config(_job(path, tmp_path, read_ahead=ahead))
        plan = column_plan(config)
        source = open_source(config, plan)
        read = source.read

        def recorded(ref):
            readers.add(threading.current_thread().name)
            return read(ref)

        source.read = recorded
        try:
            return prepare(config, source, plan).stats
        finally:
            source.close()

    plain = statistics(0)
    assert readers == {threading.main_thread().name}
    readers.clear()
    ahead = statistics(read_ahead)
    assert readers and all(name.startswith("streamgd-read") for name in readers)
    for name in ("count", "mean", "variance", "minimum", "maximum",
                 "mean_correction"):
        assert getattr(plain, name).tobytes() == getattr(ahead, name).tobytes()

    columns["x2"][2900] = np.nan
    write_parquet(path, columns, row_group_size=128)
    with pytest.raises(NonFiniteValueError) as caught:
        statistics(read_ahead)
    assert (caught.value.column, caught.value.row) == ("x2", 2900)
