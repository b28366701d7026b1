"""CSV files (plain or compressed), parsed once into a typed Arrow cache.

pyarrow's streaming reader parses a CSV file block by block. Every feature column is
given the type float64 up front, so a column whose first block looks like integers
cannot break a later block that holds `2.5` (pyarrow otherwise infers int64 from the
first block and fails further on, without a row number).

A CSV file has no index: its blocks can only be read in order. To let the epoch
shuffle permute chunks, the first pass writes the parsed blocks to an Arrow IPC file
in a temporary folder (Vowpal Wabbit's cache file plays the same part); each later
epoch reads blocks from it in any order, several times faster than parsing again.
The cache costs 8 bytes per value on disk and is removed when the source closes.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from streamgd.errors import DataError, SchemaError
from streamgd.readers.chunks import ChunkRef, ColumnPlan
from streamgd.readers.files import DataFile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CsvOptions:
    """The job's `data.csv` section, and what to do with 0-byte files."""

    delimiter: str = ","
    null_values: tuple[str, ...] = ("NA", "")
    header: bool = True
    column_names: tuple[str, ...] | None = None
    newlines_in_values: bool = False
    block_size: int = 1 << 20
    empty_files: str = "error"


class CsvSource:
    """CSV blocks of one or more files, readable in any order after one parse."""

    def __init__(
        self,
        files: list[DataFile],
        plan: ColumnPlan,
        options: CsvOptions,
        cache_dir: str | None = None,
    ) -> None:
        self.plan = plan
        self.options = options
        self.chunks: list[ChunkRef] = []
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        self._folder = tempfile.mkdtemp(prefix="streamgd-csv-", dir=cache_dir)
        self._cache_paths: dict[str, str] = {}
        try:
            for number, file in enumerate(files):
                self._cache(file.path, Path(self._folder) / f"{number}.arrow")
        except BaseException:
            self.close()
            raise

    def _cache(self, path: str, cache_path: Path) -> None:
        reader = _open(path, self.plan, self.options)
        if reader is None:
            return
        self._cache_paths[path] = str(cache_path)
        first_row, index = 0, 0
        with pa.ipc.new_file(str(cache_path), reader.schema) as writer:
            for batch in _batches(reader, path, self.plan, self.options, first_row):
                if batch.num_rows == 0:
                    continue
                writer.write_batch(batch)
                line = self._first_line(first_row)
                self.chunks.append(ChunkRef(path, index, first_row, batch.num_rows, line))
                first_row += batch.num_rows
                index += 1

    def _first_line(self, first_row: int) -> int | None:
        if self.options.newlines_in_values:
            return None
        return first_row + (2 if self.options.header else 1)

    def read(self, ref: ChunkRef) -> pa.Table:
        # plain reads, not a memory map: mapped pages that were touched count in
        # the process's RSS, which would grow with the data size over an epoch
        with pa.OSFile(self._cache_paths[ref.file]) as handle:
            batch = pa.ipc.open_file(handle).get_batch(ref.index)
            return pa.Table.from_batches([batch])

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)


def open_csv(
    path: str, plan: ColumnPlan, options: CsvOptions
) -> pa_csv.CSVStreamingReader | None:
    """A streaming reader of the plan's columns, or None for a skipped empty file."""
    return _open(path, plan, options)


def _open(
    path: str, plan: ColumnPlan, options: CsvOptions, as_text: bool = False
) -> pa_csv.CSVStreamingReader | None:
    if Path(path).stat().st_size == 0:
        if options.empty_files == "skip":
            log.warning("skipping empty file %s", path)
            return None
        raise DataError(
            "file is empty (0 bytes); remove it or set data.empty_files: skip",
            file=path,
        )
    try:
        return pa_csv.open_csv(
            path,
            read_options=_read_options(options),
            parse_options=pa_csv.ParseOptions(
                delimiter=options.delimiter,
                newlines_in_values=options.newlines_in_values,
            ),
            convert_options=_convert_options(plan, options, as_text),
        )
    except (pa.ArrowKeyError, KeyError) as error:
        raise _missing_column(path, plan, error) from None
    except pa.ArrowInvalid as error:
        raise _parse_error(path, str(error), options) from None


def _read_options(options: CsvOptions) -> pa_csv.ReadOptions:
    return pa_csv.ReadOptions(
        block_size=options.block_size,
        column_names=list(options.column_names) if options.column_names else None,
        use_threads=True,
    )


def _convert_options(
    plan: ColumnPlan, options: CsvOptions, as_text: bool
) -> pa_csv.ConvertOptions:
    number = pa.string() if as_text else pa.float64()
    types = {name: number for name in plan.numeric}
    if plan.target is not None:
        types[plan.target] = number if plan.target_numeric else pa.string()
    return pa_csv.ConvertOptions(
        include_columns=plan.names,
        column_types=types,
        null_values=list(options.null_values),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )


def _batches(reader, path, plan, options, first_row):
    """The reader's record batches, with conversion errors located by row."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as error:
            raise _locate_bad_value(path, plan, options, str(error)) from None
        yield batch


def _missing_column(path: str, plan: ColumnPlan, error: Exception) -> SchemaError:
    text = str(error)
    missing = next((name for name in plan.names if f"'{name}'" in text), None)
    return SchemaError("column not found in the CSV header", file=path, column=missing)


def _parse_error(path: str, message: str, options: CsvOptions) -> DataError:
    hint = ""
    if "Expected" in message and not options.newlines_in_values:
        hint = (
            "; if quoted values contain newlines, set"
            " data.csv.newlines_in_values: true"
        )
    return DataError(f"cannot parse CSV: {message}{hint}", file=path)


def _locate_bad_value(
    path: str, plan: ColumnPlan, options: CsvOptions, message: str
) -> DataError:
    """Read the file again as text to name the row of a value that is not a number.

    pyarrow's conversion error names neither the row nor, always, the column; the
    error path can afford a second, slower pass.
    """
    if "conversion error" not in message:
        return _parse_error(path, message, options)
    reader = _open(path, plan, options, as_text=True)
    first_row = 0
    numeric = list(plan.numeric)
    if plan.target is not None and plan.target_numeric:
        numeric.append(plan.target)
    for batch in reader:
        for name in numeric:
            found = _first_non_number(batch.column(name))
            if found is not None:
                offset, value = found
                row = first_row + offset
                line = None
                if not options.newlines_in_values:
                    line = row + (2 if options.header else 1)
                return SchemaError(
                    f"expected a number, found {value!r}", file=path, column=name,
                    row=row, line=line,
                )
        first_row += batch.num_rows
    return _parse_error(path, message, options)


def _first_non_number(column: pa.Array) -> tuple[int, str] | None:
    """Index and text of the first value that does not parse as float64."""
    try:
        pc.cast(column, pa.float64())
        return None
    except pa.ArrowInvalid:
        pass
    # bisect: each cast is vectorised, so this costs about log2(n) casts
    low, high = 0, len(column)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(column.slice(low, middle - low), pa.float64())
            low = middle
        except pa.ArrowInvalid:
            high = middle
    return low, column[low].as_py()
