"""Decoding chunk tables: float64 arrays, missing-value policy, located errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from streamgd.errors import DataError, MissingValueError, NonFiniteValueError
from streamgd.readers.chunks import ChunkRef, ColumnPlan
from streamgd.readers.decode import Chunk, ColumnChunk, Decoder

pytestmark = pytest.mark.usefixtures("strict_numerics")

PLAN = ColumnPlan(("a", "b", "w"), "y", True)
CSV_REF = ChunkRef("flights.csv", index=3, first_row=100, n_rows=4, first_line=102)
PARQUET_REF = ChunkRef("flights.parquet", index=3, first_row=100, n_rows=4)


def _table(a=(1.0, 2.0, 3.0, 4.0), b=(5.0, 6.0, 7.0, 8.0), w=(1.0, 1.0, 2.0, 2.0),
           y=(0.5, 1.5, 2.5, 3.5)) -> pa.Table:
    return pa.table({"a": pa.array(a, pa.float64()), "b": pa.array(b, pa.float64()),
                     "w": pa.array(w, pa.float64()), "y": pa.array(y, pa.float64())})


def _decoder(missing: str = "error", impute_values=None) -> Decoder:
    return Decoder(["a", "b"], PLAN, "w", missing, impute_values=impute_values)


def test_decode_complete_table_gives_float64_arrays():
    """A table without gaps gives X, y and weight as they are, nothing dropped."""
    chunk = _decoder().decode(_table(), CSV_REF)

    np.testing.assert_array_equal(chunk.X, [[1, 5], [2, 6], [3, 7], [4, 8]])
    np.testing.assert_array_equal(chunk.y, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(chunk.weight, [1, 1, 2, 2])
    assert chunk.X.flags.c_contiguous and chunk.X.dtype == np.float64
    assert (chunk.n_dropped, chunk.kept) == (0, None)


def test_decode_integer_columns_become_float64():
    """Integer, unsigned and boolean columns decode to float64."""
    table = pa.table({"a": pa.array([1, 2], pa.int16()),
                      "b": pa.array([3, 4], pa.uint32()),
                      "w": pa.array([True, False]), "y": pa.array([5, 6], pa.int64())})
    chunk = _decoder().decode(table, PARQUET_REF)
    np.testing.assert_array_equal(chunk.X, [[1.0, 3.0], [2.0, 4.0]])
    np.testing.assert_array_equal(chunk.weight, [1.0, 0.0])
    assert chunk.y.dtype == np.float64


def test_decode_integers_beyond_2_53_round_to_nearest_float():
    """An int64 too large for an exact float64 is rounded, not an error."""
    big = 2**53 + 1
    table = _table().set_column(0, "a", pa.array([big, 1, 2, 3], pa.int64()))
    chunk = _decoder().decode(table, PARQUET_REF)
    assert chunk.X[0, 0] == float(big)


@pytest.mark.parametrize(("ref", "where"), [
    (CSV_REF, r"column 'b' of flights\.csv, row 102 \(line 104\)"),
    (PARQUET_REF, r"column 'b' of flights\.parquet, row 102: "),
])
def test_decode_missing_value_under_error_is_located(ref, where):
    """Under `error` a null names column, row in the file and (for CSV) line."""
    table = _table(b=(5.0, 6.0, None, 8.0))
    with pytest.raises(MissingValueError,
                       match=where + r".*set data\.missing: drop or impute") as caught:
        _decoder().decode(table, ref)
    assert (caught.value.column, caught.value.row) == ("b", 102)
    assert caught.value.line == (104 if ref is CSV_REF else None)


@pytest.mark.parametrize("column", ["y", "w"])
def test_decode_missing_target_or_weight_under_error_is_named(column):
    """A missing target or weight is named like a missing feature."""
    table = _table(**{column: (1.0, None, 2.0, 3.0)})
    with pytest.raises(MissingValueError, match=rf"column '{column}' .*row 101 "):
        _decoder().decode(table, CSV_REF)


def test_decode_drop_removes_incomplete_rows_and_counts_them():
    """Under `drop` rows with any null leave; n_dropped and kept say which."""
    table = _table(a=(None, 2.0, 3.0, 4.0), y=(0.5, 1.5, 2.5, None))
    chunk = _decoder("drop").decode(table, CSV_REF)

    np.testing.assert_array_equal(chunk.kept, [1, 2])
    assert chunk.n_dropped == 2
    np.testing.assert_array_equal(chunk.X, [[2, 6], [3, 7]])
    np.testing.assert_array_equal(chunk.y, [1.5, 2.5])
    np.testing.assert_array_equal(chunk.weight, [1, 2])


def test_decode_impute_fills_features_and_drops_missing_targets():
    """Under `impute` null features take impute_values; a null target drops."""
    table = _table(a=(None, 2.0, 3.0, 4.0), b=(5.0, None, None, 8.0),
                   y=(0.5, 1.5, 2.5, None))
    chunk = _decoder("impute", np.array([10.0, 20.0])).decode(table, CSV_REF)

    np.testing.assert_array_equal(chunk.X, [[10, 5], [2, 20], [3, 20]])
    np.testing.assert_array_equal(chunk.kept, [0, 1, 2])
    assert chunk.n_dropped == 1


def test_decode_impute_before_the_means_are_known_leaves_nan():
    """Under `impute` without impute_values (statistics pass) gaps stay NaN."""
    table = _table(a=(None, 2.0, 3.0, 4.0))
    chunk = _decoder("impute").decode(table, CSV_REF)
    assert np.isnan(chunk.X[0, 0]) and chunk.n_dropped == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_decode_non_finite_value_is_located(value):
    """NaN or an infinity read from the file names column, row and line."""
    table = _table(a=(1.0, 2.0, value, 4.0))
    with pytest.raises(NonFiniteValueError,
                       match=r"column 'a' of flights\.csv, row 102 \(line 104\): "
                             rf"value {value!r} is not finite") as caught:
        _decoder("drop").decode(table, CSV_REF)
    assert caught.value.row == 102


def test_decode_non_finite_target_is_located():
    """An infinite target is refused like an infinite feature."""
    table = _table(y=(1.0, float("inf"), 2.0, 3.0))
    with pytest.raises(NonFiniteValueError, match=r"column 'y' .*row 101 "):
        _decoder().decode(table, CSV_REF)


def test_decode_negative_weight_is_located():
    """A negative sample weight names the weight column and the row."""
    table = _table(w=(1.0, 1.0, 1.0, -0.5))
    with pytest.raises(DataError,
                       match=r"column 'w' of flights\.csv, row 103 \(line 105\): "
                             r"sample weight -0\.5 is negative"):
        _decoder().decode(table, CSV_REF)


def test_decode_without_target_still_drops_missing_targets():
    """With with_target=False y is zeros, yet rows missing the target drop."""
    table = _table(y=(None, 1.0, 2.0, 3.0))
    chunk = _decoder("drop").decode(table, CSV_REF, with_target=False)
    np.testing.assert_array_equal(chunk.y, [0.0, 0.0, 0.0])
    assert chunk.n_dropped == 1


def test_decode_empty_table_gives_empty_arrays():
    """A 0-row chunk decodes to arrays of 0 rows."""
    chunk = _decoder().decode(_table((), (), (), ()), CSV_REF)
    assert chunk.X.shape == (0, 2) and chunk.y.shape == (0,) and chunk.n_rows == 0


def test_decode_dense_path_equals_the_column_path():
    """Float64 columns without nulls take the one-matrix path: the same X as the
    column-by-column path, in a fresh writable array (scaled in place later)."""
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=50), rng.normal(size=50) * 1e300
    dense = pa.table({"a": a, "b": b, "w": np.ones(50), "y": np.zeros(50)})
    as_int = pa.table({"a": a, "b": pa.array(b), "w": pa.array(np.ones(50, int)),
                       "y": np.zeros(50)})
    chunked = pa.concat_tables([dense.slice(0, 20), dense.slice(20)])

    expected = np.column_stack([a, b])
    for table in (dense, as_int, chunked):
        chunk = _decoder().decode(table, PARQUET_REF)
        np.testing.assert_array_equal(chunk.X, expected)
        assert chunk.X.flags.c_contiguous and chunk.X.flags.writeable


def test_decode_dense_path_sends_an_overflowing_sum_to_the_exact_check():
    """Finite values whose sum overflows are accepted, not taken for infinities."""
    table = _table(a=(1e308, 1e308, 1e308, 1e308))
    chunk = _decoder().decode(table, PARQUET_REF)
    np.testing.assert_array_equal(chunk.X[:, 0], [1e308] * 4)


def test_decode_columns_keeps_a_complete_float64_table_in_its_columns():
    """Nothing to decode: the features stay Arrow's buffers, read-only, and
    the matrix they make is decode's."""
    table = _table()
    chunk = _decoder().decode_columns(table, CSV_REF)
    assert isinstance(chunk, ColumnChunk)
    assert all(not column.flags.writeable for column in chunk.columns)
    np.testing.assert_array_equal(chunk.X, _decoder().decode(table, CSV_REF).X)
    np.testing.assert_array_equal(chunk.y, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(chunk.weight, [1, 1, 2, 2])


@pytest.mark.parametrize("table", [
    _table().set_column(0, "a", pa.array([1, 2, 3, 4], pa.int64())),
    _table(b=(5.0, None, 7.0, 8.0)),
    _table(y=(0.5, None, 2.5, 3.5)),
])
def test_decode_columns_decodes_what_needs_decoding(table):
    """Integers, a missing feature or a missing target: decode's own chunk."""
    chunk = _decoder("drop").decode_columns(table, CSV_REF)
    assert isinstance(chunk, Chunk)
    np.testing.assert_array_equal(chunk.X, _decoder("drop").decode(table, CSV_REF).X)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_decode_columns_locates_a_non_finite_value_as_decode_does(value):
    """A bad value found by the columns' sums is reported by decode."""
    table = _table(b=(5.0, 6.0, 7.0, value))
    with pytest.raises(NonFiniteValueError, match=r"column 'b' .* row 103 "):
        _decoder().decode_columns(table, CSV_REF)
