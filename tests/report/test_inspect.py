"""`inspect`: row counts from the files, column statistics equal to numpy's."""

import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamgd.config import make_config
from streamgd.errors import DataError
from streamgd.report.inspect import format_table, inspect_data, rows_from_metadata


@pytest.fixture
def parquet_files(tmp_path):
    """Two Parquet files: 700 rows in row groups of 300, nulls and a NaN."""
    rng = np.random.default_rng(4)
    values = rng.normal(50.0, 7.0, 700)
    nulls = np.zeros(700, bool)
    nulls[[3, 400, 699]] = True
    values[10] = np.nan
    for name, rows in (("a", slice(0, 400)), ("b", slice(400, 700))):
        table = pa.table({
            "x": pa.array(values[rows], mask=nulls[rows]),
            "k": pa.array(np.full(len(values[rows]), 7, dtype=np.int16)),
            "label": pa.array(["yes", None] * (len(values[rows]) // 2)),
        })
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=300)
    return tmp_path, values, nulls


def test_inspect_counts_rows_per_file_and_row_group(parquet_files):
    """Rows per file and per row group come out as written."""
    folder, _, _ = parquet_files
    inspection = inspect_data([str(folder)])
    assert inspection.rows == 700
    assert [(f.rows, f.chunk_rows) for f in inspection.files] == [
        (400, [300, 100]), (300, [300])]


def test_inspect_statistics_equal_numpy(parquet_files):
    """Count, missing, non-finite, mean, std, min and max equal numpy's."""
    folder, values, nulls = parquet_files
    columns = {c.name: c for c in inspect_data([str(folder)]).columns}
    x = columns["x"]
    finite = values[~nulls & np.isfinite(values)]
    assert (x.count, x.missing, x.nonfinite) == (696, 3, 1)
    assert x.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert x.std == pytest.approx(finite.std(), rel=1e-10)
    assert (x.minimum, x.maximum) == (finite.min(), finite.max())
    assert x.constant is False
    assert columns["k"].constant is True and columns["k"].type == "int16"
    label = columns["label"]
    assert (label.type, label.count, label.missing, label.mean) == (
        "string", 350, 350, None)


def test_inspect_csv_decides_numbers_by_every_value(tmp_path):
    """A CSV column is numeric until a text value appears, then text."""
    path = tmp_path / "data.csv.gz"
    rows = ["n,t,late"] + [f"{k},{k},{k % 3}" for k in range(50)] + ["NA,x,1"]
    with gzip.open(path, "wt") as stream:
        stream.write("\n".join(rows) + "\n")
    columns = {c.name: c for c in inspect_data([str(path)]).columns}
    assert (columns["n"].count, columns["n"].missing) == (50, 1)
    assert columns["n"].mean == pytest.approx(24.5)
    assert (columns["t"].type, columns["t"].count, columns["t"].mean) == (
        "string", 51, None)
    assert columns["late"].maximum == 2.0


def test_inspect_csv_types_columns_as_training_reads_them(tmp_path):
    """A CSV column of numbers is typed double (float64, as the reader reads it),
    one with text string, and one with no value at all null; in the JSON too."""
    path = tmp_path / "data.csv"
    path.write_text("count,price,name,empty,late\n1,2.5,a,,0\n2,,b,,1\n"
                    "3,4.0,c,,0\n4,1e3,d,,yes\n")
    inspection = inspect_data([str(path)])
    types = {c.name: c.type for c in inspection.columns}
    assert types == {"count": "double", "price": "double", "name": "string",
                     "empty": "null", "late": "string"}
    assert [c["type"] for c in inspection.to_dict()["columns"]] == [
        "double", "double", "string", "null", "string"]


def test_inspect_table_lists_every_column(parquet_files):
    """The text table has a header and one line per column."""
    folder, _, _ = parquet_files
    text = format_table(inspect_data([str(folder)]))
    assert text.startswith("700 rows in 2 file(s)")
    assert "row groups: 300, 100" in text
    lines = text.splitlines()
    header = next(k for k, line in enumerate(lines) if line.startswith("column"))
    assert [line.split()[0] for line in lines[header + 1:]] == ["x", "k", "label"]


def test_inspect_unreadable_file_names_it(tmp_path):
    """A file that is not Parquet fails naming the file."""
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    with pytest.raises(DataError, match="bad.parquet: cannot read as parquet"):
        inspect_data([str(bad)])


def test_rows_from_metadata_reads_footers_only(parquet_files, tmp_path):
    """Parquet jobs get their row count from the footers; CSV jobs get None."""
    folder, _, _ = parquet_files
    job = {"data": {"paths": str(folder), "features": ["x"], "target": "k"}}
    assert rows_from_metadata(make_config(job)) == 700
    (tmp_path / "c.csv").write_text("x,k\n1,2\n")
    job["data"]["paths"] = str(tmp_path / "c.csv")
    assert rows_from_metadata(make_config(job)) is None
