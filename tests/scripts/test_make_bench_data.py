"""The benchmark data generator: sizes, row groups, encodings and both formats."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import make_bench_data as data  # noqa: E402


def test_parquet_has_requested_rows_and_row_groups(tmp_path):
    """Row groups hold row_group_rows rows each, the last one the remainder."""
    spec = data.Spec("regression", 1000, 20, row_group_rows=300)
    path = data.ensure(spec, tmp_path, "parquet")
    metadata = pq.ParquetFile(path).metadata
    sizes = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
    assert sizes == [300, 300, 300, 100]


def test_parquet_float_columns_are_not_dictionary_encoded(tmp_path):
    """Float columns are written plain: dictionary pages made files larger."""
    path = data.ensure(data.Spec("regression", 500, 20, 256), tmp_path, "parquet")
    column = pq.ParquetFile(path).metadata.row_group(0).column(0)
    assert "PLAIN_DICTIONARY" not in column.encodings
    assert "RLE_DICTIONARY" not in column.encodings


def test_csv_and_parquet_hold_the_same_rows(tmp_path):
    """The CSV file holds the same values as the Parquet file of the same spec."""
    spec = data.Spec("classification", 700, 100, 128, seed=3)
    parquet = pq.read_table(data.ensure(spec, tmp_path, "parquet"))
    csv = pa_csv.read_csv(data.ensure(spec, tmp_path, "csv"))
    assert parquet.column_names == [*data.feature_names(100), "y"]
    for name in parquet.column_names:
        np.testing.assert_array_equal(csv[name].to_numpy(), parquet[name].to_numpy())
    assert set(np.unique(parquet["y"].to_numpy())) == {0, 1}


def test_blocks_depend_only_on_the_seed(tmp_path):
    """The same spec gives the same data; another seed gives other data."""
    first = data.ensure(data.Spec("regression", 400, 20, 100), tmp_path / "a",
                        "parquet")
    again = data.ensure(data.Spec("regression", 400, 20, 100), tmp_path / "b",
                        "parquet")
    other = data.ensure(data.Spec("regression", 400, 20, 100, seed=1), tmp_path,
                        "parquet")
    assert pq.read_table(first).equals(pq.read_table(again))
    assert not pq.read_table(first).equals(pq.read_table(other))


def test_regression_target_is_the_linear_function_plus_noise(tmp_path):
    """Least squares on the generated data recovers the true weights closely."""
    spec = data.Spec("regression", 20_000, 20, 4096)
    table = pq.read_table(data.ensure(spec, tmp_path, "parquet"))
    X = np.column_stack([table[name].to_numpy() for name in data.feature_names(20)])
    offsets, _, weights, intercept = data._truth(spec)
    A = np.c_[X - offsets, np.ones(len(X))]
    solution, *_ = np.linalg.lstsq(A, table["y"].to_numpy(), rcond=None)
    np.testing.assert_allclose(solution[:-1], weights, atol=0.01)
    assert abs(solution[-1] - intercept) < 0.02
