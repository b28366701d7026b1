"""Parquet files: one chunk per row group, each file checked on its own schema."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamgd.errors import DataError, SchemaError
from streamgd.readers.chunks import ColumnPlan
from streamgd.readers.decode import Decoder
from streamgd.readers.files import DataFile
from streamgd.readers.parquet import ParquetSource

PLAN = ColumnPlan(("a", "b"), "y", True)


def _write(path: Path, columns: dict, row_group_size: int | None = None) -> Path:
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def _numbered(n_rows: int, a_type: pa.DataType = pa.float64()) -> dict:
    """Columns a = i, b = 2i and y = 3i for i in 0 .. n_rows - 1."""
    ids = np.arange(n_rows)
    return {"a": pa.array(ids).cast(a_type), "b": 2.0 * ids, "y": 3.0 * ids}


def _source(paths: list[Path], plan: ColumnPlan = PLAN, **options) -> ParquetSource:
    return ParquetSource([DataFile(str(path), "parquet") for path in paths], plan,
                         **options)


def test_parquet_one_chunk_per_row_group(tmp_path):
    """Each row group is a chunk whose first_row counts the rows before it."""
    path = _write(tmp_path / "data.parquet", _numbered(35), row_group_size=10)
    source = _source([path])

    assert [ref.n_rows for ref in source.chunks] == [10, 10, 10, 5]
    assert [ref.first_row for ref in source.chunks] == [0, 10, 20, 30]
    assert [ref.index for ref in source.chunks] == [0, 1, 2, 3]
    assert all(ref.first_line is None for ref in source.chunks)
    for ref in source.chunks:
        a = source.read(ref).column("a").to_numpy()
        np.testing.assert_array_equal(a, np.arange(ref.first_row,
                                                   ref.first_row + ref.n_rows))
    source.close()


def test_parquet_chunks_read_in_any_order_give_the_same_rows(tmp_path):
    """Reading the row groups backwards gives the same rows per chunk."""
    path = _write(tmp_path / "data.parquet", _numbered(50), row_group_size=7)
    source = _source([path])
    forward = [source.read(ref) for ref in source.chunks]
    backward = [source.read(ref) for ref in reversed(source.chunks)][::-1]
    assert all(one.equals(other) for one, other in zip(forward, backward))
    source.close()


def test_parquet_read_gives_only_the_plan_columns(tmp_path):
    """Columns outside the plan are not read, and the plan's order is kept."""
    columns = {"z": np.zeros(3), **_numbered(3)}
    path = _write(tmp_path / "data.parquet", columns)
    source = _source([path])
    assert source.read(source.chunks[0]).column_names == ["a", "b", "y"]
    source.close()


@pytest.mark.parametrize("types", [
    (pa.int16(), pa.int64(), pa.float32(), pa.float64()),
    (pa.float64(), pa.uint8(), pa.bool_(), pa.decimal128(24, 2)),
])
def test_parquet_numeric_types_differ_across_files(tmp_path, types):
    """One column stored as different numeric types in different files reads
    from every file and decodes to the same float64 values."""
    paths = [
        _write(tmp_path / f"part-{number}.parquet", _numbered(2, arrow_type))
        for number, arrow_type in enumerate(types)
    ]
    source = _source(paths)
    decoder = Decoder(["a", "b"], PLAN, None, "error")

    for ref in source.chunks:
        chunk = decoder.decode(source.read(ref), ref)
        assert chunk.X.dtype == np.float64
        np.testing.assert_array_equal(chunk.X[:, 0], [0.0, 1.0])
    source.close()


def test_parquet_file_missing_a_column_is_named(tmp_path):
    """A file without a planned column raises SchemaError naming both, and the
    columns it does have."""
    good = _write(tmp_path / "a.parquet", _numbered(3))
    columns = _numbered(3)
    del columns["b"]
    bad = _write(tmp_path / "b.parquet", columns)
    message = r"column 'b' of .*b\.parquet: column not found; the file has a, y"
    with pytest.raises(SchemaError, match=message):
        _source([good, bad])


def test_parquet_text_feature_is_refused(tmp_path):
    """A feature stored as strings raises SchemaError naming file and column."""
    columns = {**_numbered(2), "b": ["1.5", "2.5"]}
    path = _write(tmp_path / "data.parquet", columns)
    with pytest.raises(SchemaError,
                       match=r"column 'b' of .*data\.parquet: expected numbers"):
        _source([path])


def test_parquet_text_labels_after_numeric_labels_are_refused(tmp_path):
    """Class labels stored as numbers in one file and text in another are named."""
    plan = ColumnPlan(("a",), "y", False)
    first = _write(tmp_path / "a.parquet", {"a": [1.0], "y": [1]})
    second = _write(tmp_path / "b.parquet", {"a": [1.0], "y": ["yes"]})
    with pytest.raises(SchemaError, match=r"column 'y' of .*b\.parquet: labels are"
                       r" text values here but number values"):
        _source([first, second], plan)


def test_parquet_empty_row_groups_and_files_give_empty_chunks(tmp_path):
    """0-row row groups and a file without rows read as chunks of 0 rows."""
    schema = pa.table(_numbered(0)).schema
    gappy = tmp_path / "a.parquet"
    with pq.ParquetWriter(gappy, schema) as writer:
        writer.write_table(pa.table(_numbered(2)))
        writer.write_table(pa.table(_numbered(0)))
        writer.write_table(pa.table(_numbered(1)))
    empty = _write(tmp_path / "b.parquet", _numbered(0))
    source = _source([gappy, empty])

    assert [ref.n_rows for ref in source.chunks if ref.file == str(gappy)] == [2, 0, 1]
    assert [ref.first_row for ref in source.chunks][:3] == [0, 2, 2]
    assert sum(ref.n_rows for ref in source.chunks if ref.file == str(empty)) == 0
    decoder = Decoder(["a", "b"], PLAN, None, "error")
    for ref in source.chunks:
        table = source.read(ref)
        assert table.num_rows == ref.n_rows
        assert decoder.decode(table, ref).n_rows == ref.n_rows
    source.close()


def test_parquet_zero_byte_file_is_an_error_by_default(tmp_path):
    """A 0-byte file raises DataError naming it and data.empty_files."""
    path = tmp_path / "empty.parquet"
    path.touch()
    with pytest.raises(DataError, match=r"empty\.parquet: file is empty .*"
                       r"data\.empty_files: skip"):
        _source([path])


def test_parquet_zero_byte_file_is_skipped_when_asked(tmp_path, caplog):
    """With empty_files="skip" a 0-byte file adds no chunk and logs a warning."""
    empty = tmp_path / "a.parquet"
    empty.touch()
    full = _write(tmp_path / "b.parquet", _numbered(3))
    with caplog.at_level(logging.WARNING, logger="streamgd.readers.files"):
        source = _source([empty, full], empty_files="skip")
    assert [ref.file for ref in source.chunks] == [str(full)]
    assert "skipping empty file" in caplog.text


def test_parquet_unreadable_file_is_named(tmp_path):
    """A file that is not Parquet raises DataError naming it."""
    path = tmp_path / "data.parquet"
    path.write_text("a,b,y\n1,2,3\n")
    with pytest.raises(DataError, match=r"data\.parquet: cannot read as Parquet"):
        _source([path])
