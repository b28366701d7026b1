"""Partitions: the units of work of a full-batch pass, read inside dask tasks.

    Parquet   one partition per row group (its length is known from the footer)
    CSV       one partition per byte range of about `RANGE_BYTES` (8 MiB) of a file
              (`readers.csv_ranges`: each row read by exactly one range), or per
              file when it is small, compressed or may hold line breaks inside
              quoted values; parsed block by block inside the task (its length
              is unknown until it has been read)

The client reads only Parquet footers (to list row groups and check schemas) and
file sizes; the rows themselves are read by the task that owns the partition,
with the job's columns only. A task holds one row group or one CSV block at a
time, so memory per worker is bounded by the partition's block size, whatever the
data size. A `Partition` and a `PartitionReader` are small frozen values, cheap to
send to a worker.

Rows of a byte range are counted from the range's first row; an error found
while decoding them is named by its row in the whole file, counted again then.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from streamgd.config import Config
from streamgd.errors import DataError
from streamgd.readers import (
    ChunkRef, ColumnPlan, CsvOptions, csv_options, resolve_files,
)
from streamgd.readers.csv import csv_blocks
from streamgd.readers.csv_ranges import (
    RANGE_BYTES, column_names, range_blocks, rows_before, split_ranges,
)
from streamgd.readers.files import skip_empty
from streamgd.readers.parquet import ParquetSource


@dataclass(frozen=True)
class Partition:
    """Where one partition lives.

    Attributes:
        file: path of the data file.
        format: `parquet` or `csv`.
        row_group: the Parquet row group; None for CSV.
        first_row: index in the file of the partition's first row (0 for CSV:
            rows of a byte range are counted from the range's start).
        n_rows: rows in the partition, or None when unknown before reading.
        byte_range: [start, end) bytes of a CSV file read apart; None for a
            whole file.
        column_names: every column of that CSV file, for the ranges that do
            not start at its header.
    """

    file: str
    format: str
    row_group: int | None = None
    first_row: int = 0
    n_rows: int | None = None
    byte_range: tuple[int, int] | None = None
    column_names: tuple[str, ...] = ()


class OpenParquet:
    """The Parquet file a task reads, kept open across its run of partitions.

    Opening reads and parses the footer, the metadata of every row group:
    1.2 ms per row group read from a file of 31 row groups of 65,536 x 21 values
    (measured), a sixth of the time to read and sum one. A task's partitions
    are consecutive, so one file at a time is kept; the last one closes with
    the task (`with`).
    """

    def __init__(self) -> None:
        self._path: str | None = None
        self._file: pq.ParquetFile | None = None

    def file(self, path: str) -> pq.ParquetFile:
        """The open file at `path`; the one open before is closed."""
        if path != self._path or self._file is None:
            self.close()
            # no pre-buffering: it holds every range read in memory (see
            # readers.parquet)
            self._file = pq.ParquetFile(path, pre_buffer=False)
            self._path = path
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        self._path = self._file = None

    def __enter__(self) -> OpenParquet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class PartitionReader:
    """Reads the job's columns of a partition, one Arrow table at a time."""

    plan: ColumnPlan
    csv: CsvOptions

    def tables(
        self, partition: Partition, parquet: OpenParquet | None = None
    ) -> Iterator[tuple[ChunkRef, pa.Table]]:
        """(reference, table) of each block of the partition, in row order.

        The references carry the file and first row, so a decoding error names
        the row inside the file; CSV references carry no line numbers (the task
        does not count lines), so such errors name rows only.

        Args:
            parquet: the task's open Parquet file, to read several partitions
                of one file without opening it again; None to open it here.
        """
        if partition.format == "parquet":
            if parquet is not None:
                yield self._row_group(partition, parquet)
                return
            with OpenParquet() as parquet:
                yield self._row_group(partition, parquet)
            return
        first_row = 0
        if partition.byte_range is None:
            blocks = csv_blocks(partition.file, self.plan, self.csv)
        else:
            blocks = range_blocks(partition.file, self.plan, self.csv,
                                  partition.byte_range, partition.column_names)
        for index, batch in enumerate(blocks):
            ref = ChunkRef(partition.file, index, first_row, batch.num_rows)
            first_row += batch.num_rows
            yield ref, pa.Table.from_batches([batch])

    @contextmanager
    def rows_in_file(self, partition: Partition) -> Iterator[None]:
        """Name a data error raised inside by its row in the whole file.

        For the code that decodes the tables of `tables`, whose references
        count the rows of a byte range from its start.
        """
        try:
            yield
        except DataError as error:
            start = (partition.byte_range or (0, 0))[0]
            if start == 0 or error.row is None:
                raise
            before = rows_before(partition.file, self.csv, partition.byte_range)
            raise type(error)(error.reason, file=error.file, column=error.column,
                              row=before + error.row) from None

    def _row_group(
        self, partition: Partition, parquet: OpenParquet
    ) -> tuple[ChunkRef, pa.Table]:
        ref = ChunkRef(partition.file, partition.row_group or 0, partition.first_row,
                       partition.n_rows or 0)
        # no pyarrow threads: dask already runs one task per worker thread, and
        # nested threads only queue up behind each other
        try:
            table = parquet.file(partition.file).read_row_group(
                ref.index, columns=self.plan.names, use_threads=False)
        except (pa.ArrowInvalid, OSError) as error:
            raise DataError(
                f"cannot read row group {ref.index} ({error}); was the file"
                " changed or removed while training?", file=partition.file,
            ) from None
        return ref, table


def list_partitions(
    config: Config, plan: ColumnPlan, range_bytes: int | None = None
) -> list[Partition]:
    """The job's partitions, in file order; see the module docstring.

    Args:
        range_bytes: the size of a CSV byte range; `RANGE_BYTES` by default.

    Raises:
        DataError: a path that matches nothing, a file that is not Parquet, a
            0-byte file under `data.empty_files: error`.
        SchemaError: a Parquet file without a planned column, or with text where
            numbers are expected (CSV files are checked by their tasks).
    """
    files = resolve_files(config["data.paths"], config["data.format"])
    if files[0].format == "parquet":
        source = ParquetSource(files, plan, config["data.empty_files"])
        source.close()
        return [
            Partition(ref.file, "parquet", ref.index, ref.first_row, ref.n_rows)
            for ref in source.chunks
        ]
    options = csv_options(config, files)
    range_bytes = RANGE_BYTES if range_bytes is None else range_bytes
    partitions = []
    for file in files:
        if skip_empty(file.path, config["data.empty_files"]):
            continue
        ranges = split_ranges(file.path, options, range_bytes)
        if ranges is None:
            partitions.append(Partition(file.path, "csv"))
            continue
        names = column_names(file.path, options)
        partitions.extend(Partition(file.path, "csv", byte_range=byte_range,
                                    column_names=names)
                          for byte_range in ranges)
    return partitions


def partition_reader(config: Config, plan: ColumnPlan) -> PartitionReader:
    """The reader of the job's partitions.

    The files are resolved again so that the CSV options see their names: the
    streaming engine reads `.tsv` files with a tab by default, and so must this.
    """
    files = resolve_files(config["data.paths"], config["data.format"])
    return PartitionReader(plan, csv_options(config, files))
