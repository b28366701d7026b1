"""Partitions: which units of work a job has, and what a task reads from one."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamgd.config import make_config
from streamgd.errors import DataError, SchemaError
from streamgd.fullbatch.partitions import (
    OpenParquet, Partition, list_partitions, partition_reader,
)
from streamgd.readers import column_plan
from tests.helpers import write_csv


def _config(paths, **data):
    return make_config({"data": {"paths": [str(p) for p in paths],
                                 "features": ["a", "b"], "target": "y", **data},
                        "optimizer": {"method": "batch"}})


def test_parquet_partitions_are_row_groups_read_with_the_job_columns(tmp_path):
    """One partition per row group, its length known; only planned columns read."""
    n_rows = 25
    table = pa.table({"a": np.arange(n_rows, dtype=float), "b": np.ones(n_rows),
                      "y": np.zeros(n_rows), "notes": ["x" * 100] * n_rows})
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=10)
    config = _config([tmp_path / "d.parquet"])
    plan = column_plan(config)
    partitions = list_partitions(config, plan)
    assert [(p.row_group, p.first_row, p.n_rows) for p in partitions] == [
        (0, 0, 10), (1, 10, 10), (2, 20, 5)]

    blocks = list(partition_reader(config, plan).tables(partitions[1]))
    assert len(blocks) == 1
    ref, read = blocks[0]
    assert read.column_names == ["a", "b", "y"]
    assert read.column("a").to_pylist() == list(np.arange(10, 20, dtype=float))
    assert (ref.first_row, ref.n_rows) == (10, 10)


def test_csv_partitions_are_files_of_unknown_length_read_by_blocks(tmp_path):
    """A CSV file is one partition of unknown length, streamed in blocks whose
    references count rows across the file."""
    n_rows = 300
    write_csv(tmp_path / "d.csv", {"a": np.arange(n_rows, dtype=float),
                                   "b": np.ones(n_rows), "y": np.zeros(n_rows),
                                   "notes": np.array(["text"] * n_rows)})
    config = _config([tmp_path / "d.csv"], csv={"block_size": 512})
    plan = column_plan(config)
    (partition,) = list_partitions(config, plan)
    assert partition == Partition(str(tmp_path / "d.csv"), "csv")

    blocks = list(partition_reader(config, plan).tables(partition))
    assert len(blocks) > 3
    assert [ref.first_row for ref, _ in blocks] == list(
        np.cumsum([0] + [table.num_rows for _, table in blocks[:-1]]))
    assert sum(table.num_rows for _, table in blocks) == n_rows
    assert all(table.column_names == ["a", "b", "y"] for _, table in blocks)


def test_csv_bad_value_in_a_later_block_names_its_row(tmp_path):
    """A value that is not a number, far into a file, is named by its row."""
    values = np.arange(300, dtype=float).astype(str).astype(object)
    values[257] = "n/a?"
    write_csv(tmp_path / "d.csv", {"a": values, "b": np.ones(300),
                                   "y": np.zeros(300)})
    config = _config([tmp_path / "d.csv"], csv={"block_size": 512})
    plan = column_plan(config)
    (partition,) = list_partitions(config, plan)
    with pytest.raises(SchemaError, match=r"'a' of .*d.csv, row 257.*'n/a\?'"):
        list(partition_reader(config, plan).tables(partition))


def test_empty_csv_files_are_skipped_when_asked(tmp_path, caplog):
    """A 0-byte CSV file under data.empty_files: skip is no partition at all."""
    (tmp_path / "empty.csv").write_bytes(b"")
    write_csv(tmp_path / "full.csv", {"a": np.ones(3), "b": np.ones(3),
                                      "y": np.ones(3)})
    config = _config([tmp_path], empty_files="skip")
    partitions = list_partitions(config, column_plan(config))
    assert [p.file for p in partitions] == [str(tmp_path / "full.csv")]
    assert "skipping empty file" in caplog.text


def test_tsv_partitions_are_read_with_a_tab_like_the_streaming_engine(tmp_path):
    """`.tsv` files default to a tab delimiter on the full-batch path too."""
    path = tmp_path / "d.tsv"
    path.write_text("a\tb\ty\n1.5\t2\t3\n4\t5.5\t6\n")
    config = _config([path])
    plan = column_plan(config)
    (partition,) = list_partitions(config, plan)

    ((_, read),) = list(partition_reader(config, plan).tables(partition))
    assert read.column("a").to_pylist() == [1.5, 4.0]
    assert read.column("y").to_pylist() == [3.0, 6.0]


def _row_group_file(path, first, n_rows, group_rows):
    values = np.arange(first, first + n_rows, dtype=float)
    pq.write_table(pa.table({"a": values, "b": -values, "y": 2 * values}), path,
                   row_group_size=group_rows)


def test_one_open_file_serves_a_run_of_partitions_across_files(tmp_path):
    """Partitions of two files read through one `OpenParquet` give the tables
    read one by one; a file stays open while its partitions follow each other
    and is closed when the run moves on to the next file."""
    _row_group_file(tmp_path / "a.parquet", 0, 25, 10)
    _row_group_file(tmp_path / "b.parquet", 100, 7, 3)
    config = _config([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    plan = column_plan(config)
    reader = partition_reader(config, plan)
    partitions = list_partitions(config, plan)

    with OpenParquet() as parquet:
        together = [block for p in partitions for block in reader.tables(p, parquet)]
        first = parquet.file(partitions[0].file)
        assert parquet.file(partitions[0].file) is first
        parquet.file(partitions[-1].file)
        assert first.closed
    alone = [block for p in partitions for block in reader.tables(p)]
    assert [ref for ref, _ in together] == [ref for ref, _ in alone]
    assert all(a.equals(b) for (_, a), (_, b) in zip(together, alone))
    assert sum(table.num_rows for _, table in together) == 32


def test_a_row_group_gone_from_its_file_is_an_error_naming_the_file(tmp_path):
    """A file rewritten shorter after the partitions were listed: reading a row
    group it no longer has names the file and suggests the cause."""
    path = tmp_path / "d.parquet"
    _row_group_file(path, 0, 30, 10)
    config = _config([path])
    plan = column_plan(config)
    partitions = list_partitions(config, plan)
    _row_group_file(path, 0, 10, 10)
    reader = partition_reader(config, plan)
    with OpenParquet() as parquet:
        list(reader.tables(partitions[0], parquet))
        with pytest.raises(DataError, match=r"d\.parquet: cannot read row group"
                                            r" 2 .*changed or removed"):
            list(reader.tables(partitions[2], parquet))


def _read_every_partition(config, range_bytes: int) -> list[pa.Table]:
    """The tables of every partition of the job, cut into ranges of
    `range_bytes` (more than one: the file is cut)."""
    plan = column_plan(config)
    partitions = list_partitions(config, plan, range_bytes)
    assert len(partitions) > 1
    reader = partition_reader(config, plan)
    return [table for p in partitions for _, table in reader.tables(p)]


def test_a_column_missing_from_a_cut_file_is_named(tmp_path):
    """A file cut into ranges without a planned column: the error names the
    column, with no hint about quoted line breaks."""
    write_csv(tmp_path / "d.csv", {"a": np.arange(200.0), "y": np.zeros(200)})
    config = _config([tmp_path / "d.csv"])
    with pytest.raises(SchemaError, match=r"column 'b' of .*d\.csv: column not"
                       r" found in the CSV header$"):
        _read_every_partition(config, 256)


def test_a_row_longer_than_a_block_in_a_cut_file_names_the_block_size(tmp_path):
    """A row longer than data.csv.block_size in a range: the error says to
    raise the block size, and nothing about quoted line breaks."""
    notes = np.array(["x"] * 300, dtype=object)
    notes[250] = "x" * 600
    write_csv(tmp_path / "d.csv", {"a": np.arange(300.0), "b": np.ones(300),
                                   "y": np.zeros(300), "notes": notes})
    config = _config([tmp_path / "d.csv"], csv={"block_size": 256})
    with pytest.raises(DataError, match=r"block_size \(256 bytes\) is smaller"
                       r" than the header line or a row") as caught:
        _read_every_partition(config, 1024)
    assert "newlines_in_values" not in str(caught.value)


def test_a_quoted_line_break_across_a_cut_is_refused_naming_its_line(tmp_path):
    """A quoted value whose lines look like rows, cut inside by the ranges:
    the job's partitions are refused with the value's first line and the
    setting that reads the file whole, never read with extra rows."""
    lines = [f"{k},1,{k},x" for k in range(200)]
    inner = "\n".join(["3,3,1000,z"] * 30)
    lines[120] = f'120,1,120,"text\n{inner}"'
    (tmp_path / "d.csv").write_text("a,b,y,note\n" + "\n".join(lines) + "\n")
    config = _config([tmp_path / "d.csv"])
    with pytest.raises(DataError, match=r"d\.csv \(line 122\): this line has an"
                       r" odd number of quote characters.*newlines_in_values:"
                       r" true") as caught:
        _read_every_partition(config, 100)
    assert caught.value.line == 122

    whole = _config([tmp_path / "d.csv"], csv={"newlines_in_values": True})
    plan = column_plan(whole)
    (partition,) = list_partitions(whole, plan, 100)
    tables = [table for _, table in partition_reader(whole, plan).tables(partition)]
    assert sum(table.num_rows for table in tables) == 200


def test_blank_lines_before_the_header_of_a_cut_file_are_skipped(tmp_path):
    """A file cut into ranges whose header follows blank lines: its rows are
    read (the header is found after the blank lines, as pyarrow finds it)."""
    write_csv(tmp_path / "d.csv", {"a": np.arange(200.0), "b": np.ones(200),
                                   "y": np.zeros(200)})
    text = (tmp_path / "d.csv").read_bytes()
    (tmp_path / "d.csv").write_bytes(b"\n\r\n" + text)
    tables = _read_every_partition(_config([tmp_path / "d.csv"]), 256)
    assert [value for table in tables for value in
            table.column("a").to_pylist()] == list(np.arange(200.0))


def test_a_file_of_cr_line_endings_is_one_partition(tmp_path):
    """Rows are cut after LF only: a file of CR line endings is read whole,
    as one partition, never as one range holding the whole file."""
    lines = ["a,b,y"] + [f"{k},1,{2 * k}" for k in range(200)]
    (tmp_path / "d.csv").write_bytes(("\r".join(lines) + "\r").encode())
    config = _config([tmp_path / "d.csv"])
    plan = column_plan(config)
    (partition,) = list_partitions(config, plan, 256)
    assert partition.byte_range is None
    tables = [table for _, table in partition_reader(config, plan).tables(partition)]
    assert sum(table.num_rows for table in tables) == 200
