"""The statistics pass of a CSV job runs while the file is parsed, exactly."""

import numpy as np
import pytest

from streamgd.config import make_config
from streamgd.errors import NonFiniteValueError
from streamgd.readers import column_plan, open_source
from streamgd.readers.csv import CsvSource
from streamgd.train.prepare import open_and_prepare, prepare
from tests.helpers import write_csv, write_parquet


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
