"""The statistics pass of a CSV job runs while the file is parsed, exactly."""

import importlib

import numpy as np
import pytest

import streamgd
from streamgd.config import make_config
from streamgd.errors import NonFiniteValueError
from streamgd.readers import column_plan, csv_parallel, open_source
from streamgd.readers.csv import CsvSource
from streamgd.train.prepare import decoder_for, open_and_prepare, prepare
from tests.helpers import job, write_csv, write_parquet

# the module, not the function streamgd.train re-exports under its package name
prepare_module = importlib.import_module("streamgd.train.prepare")
# every test twice: parsed by the streaming reader, and by ranges in threads
pytestmark = pytest.mark.usefixtures("csv_parse")


def _config(path, tmp_path, **data):
    return make_config({
        "data": {"paths": [str(path)], "features": ["x1", "x2"], "target": "y",
                 "csv": {"block_size": 1024}, **data},
        "output": {"dir": str(tmp_path / "out")},
    })


def _columns(n=400):
    rng = np.random.default_rng(2)
    x1, x2 = rng.normal(size=n) * 1e3 + 1e6, rng.normal(size=n)
    return {"x1": x1, "x2": x2, "y": x1 - x2, "w": rng.random(n)}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_open_and_prepare_equals_a_pass_over_the_source(tmp_path, fmt, monkeypatch):
    """Statistics, counts, mean weight and baseline equal `prepare`'s, and a CSV
    source is not read again for them."""
    write = write_csv if fmt == "csv" else write_parquet
    path = write(tmp_path / f"d.{fmt}", _columns())
    config = _config(path, tmp_path, weight="w")
    plan = column_plan(config)
    source = open_source(config, plan)
    expected = prepare(config, source, plan)
    source.close()

    if fmt == "csv":
        monkeypatch.setattr(CsvSource, "read", _no_second_read)
    source, prepared = open_and_prepare(config, plan)
    source.close()
    if fmt == "csv":
        assert len(source.chunks) > 5
    np.testing.assert_array_equal(prepared.stats.mean, expected.stats.mean)
    np.testing.assert_array_equal(prepared.stats.variance, expected.stats.variance)
    assert (prepared.n_rows, prepared.mean_weight, prepared.baseline_cost) == (
        expected.n_rows, expected.mean_weight, expected.baseline_cost)


def _no_second_read(source, ref):
    raise AssertionError("the statistics pass read the cache")


def test_a_bad_value_found_while_parsing_names_its_line(tmp_path):
    """Rows are lines: the error names row and line, and no cache is left."""
    columns = _columns()
    columns["x2"][300] = np.inf
    path = write_csv(tmp_path / "d.csv", columns)
    (tmp_path / "cache").mkdir()
    config = _config(path, tmp_path, cache_dir=str(tmp_path / "cache"))
    with pytest.raises(NonFiniteValueError) as caught:
        open_and_prepare(config, column_plan(config))
    assert (caught.value.column, caught.value.row, caught.value.line) == (
        "x2", 300, 302)
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("blank_line_at", [100, 350])
def test_a_line_is_not_named_when_rows_and_lines_differ(tmp_path, blank_line_at):
    """A blank line before or after the bad row: rows only, never a wrong line."""
    columns = _columns()
    columns["x1"][300] = np.nan
    path = write_csv(tmp_path / "d.csv", columns)
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(blank_line_at, "\n")
    path.write_text("".join(lines))
    config = _config(path, tmp_path)
    with pytest.raises(NonFiniteValueError, match=r"row 300: ") as caught:
        open_and_prepare(config, column_plan(config))
    assert caught.value.line is None


def _write_with_gaps(path, n=400):
    """A CSV file with empty x2 values in 4 rows (dropped) and a weight."""
    columns = _columns(n)
    columns["x2"][[7, 150, 151, n - 1]] = np.nan
    write_csv(path, columns)
    path.write_text(path.read_text().replace("nan", ""))
    return path


@pytest.mark.parametrize("weight", [None, "w"])
def test_kept_chunks_are_those_the_epochs_would_decode(tmp_path, weight):
    """The decoded chunks a CSV source keeps (in place of its typed cache)
    equal decoding the typed cache, rows dropped for missing values and sample
    weights included."""
    path = _write_with_gaps(tmp_path / "d.csv")
    config = _config(path, tmp_path, weight=weight, missing="drop")
    source, prepared = open_and_prepare(config, column_plan(config))
    typed = open_source(config, column_plan(config))
    assert typed.chunks == source.chunks
    decoder = prepared.decoder
    assert len(source.chunks) > 5
    dropped = 0
    for ref in source.chunks:
        kept = source.decoded(ref, decoder)
        fresh = decoder.decode(typed.read(ref), ref)
        for name in ("X", "y", "weight", "kept"):
            expected = getattr(fresh, name)
            if expected is None:
                assert getattr(kept, name) is None
            else:
                np.testing.assert_array_equal(getattr(kept, name), expected)
                assert getattr(kept, name).dtype == expected.dtype
        assert kept.n_dropped == fresh.n_dropped
        dropped += kept.n_dropped
    assert dropped == 4
    assert source.decoded(source.chunks[0], decoder_for(config, column_plan(config))) \
        is None
    with pytest.raises(RuntimeError, match="keeps its rows decoded"):
        source.read(source.chunks[0])
    source.close()
    typed.close()


@pytest.mark.parametrize("setting", [
    {"model": {"type": "logistic"}},  # the classes are learned by the pass
    {"data": {"missing": "impute"}},  # so are the means filled in
    {"validation": {"holdout": 0.2}},  # the epochs draw rows from the table
])
def test_chunks_are_not_kept_when_the_pass_changes_the_decoding(tmp_path, setting):
    columns = _columns()
    columns["y"] = np.where(columns["x2"] > 0, "up", "down")
    path = write_csv(tmp_path / "d.csv", columns)
    mapping = {
        "data": {"paths": [str(path)], "features": ["x1", "x2"], "target": "y",
                 "csv": {"block_size": 1024}},
        "model": {"type": "logistic"}, "output": {"dir": str(tmp_path / "out")},
    }
    for section, values in setting.items():
        mapping.setdefault(section, {}).update(values)
    config = make_config(mapping)
    source, prepared = open_and_prepare(config, column_plan(config))
    assert all(source.decoded(ref, prepared.decoder) is None
               for ref in source.chunks)
    source.close()


@pytest.mark.parametrize("model", [
    {},  # linear
    {"model__type": "logistic", "data__positive_above": 1e6,
     "validation__final_pass": True},  # labels fixed before the pass
])
def test_training_from_kept_chunks_is_bit_for_bit_the_same(tmp_path, monkeypatch,
                                                           model, csv_parse):
    """A job trained from the kept chunks writes the model and cost log that
    decoding the cache again gives."""
    path = _write_with_gaps(tmp_path / "d.csv", 3000)
    if csv_parse == "ranges":  # ranges of 4 blocks: 64 bytes made 1,500 chunks
        monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 8192)
    results = []
    for keep in (True, False):
        monkeypatch.setattr(prepare_module, "keeps_decoded",
                            lambda config, statistics, keep=keep: keep)
        out = tmp_path / f"out-{keep}"
        result = streamgd.train(job(
            [path], ["x1", "x2"], out, data__weight="w", data__missing="drop",
            data__csv__block_size=2048, optimizer__max_epochs=3,
            optimizer__batch_size=16, shuffle__buffer_rows=500, **model))
        records = [{k: v for k, v in record.items() if k != "elapsed"}
                   for record in result.records]
        training = {k: v for k, v in result.model.training.items()
                    if k != "seconds"}
        results.append((result.model.params, records, training))
    (kept_params, kept_log, kept), (fresh_params, fresh_log, fresh) = results
    np.testing.assert_array_equal(kept_params.weights, fresh_params.weights)
    assert kept_params.intercept == fresh_params.intercept
    assert kept_log == fresh_log
    assert kept == fresh
