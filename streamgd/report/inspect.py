"""What is in a dataset: schema, row counts per file and chunk, column statistics.

    streamgd inspect flights.parquet            a table
    streamgd inspect data/ --json               the same, as one JSON document

One streaming pass, memory bounded by one chunk (a Parquet row group, a CSV
block). Every column is read. Numeric columns get the running statistics of
`normalize.moments` over their finite values; `missing` counts nulls (and the
CSV null markers), `nonfinite` counts NaN and infinite values, which training
would refuse. A CSV column is numeric when every value present parses as a
number, and is then typed `double` (float64, as training reads it); the first
text value makes it a `string` column, with counts only; a CSV column with no
value at all is typed `null`. Parquet columns keep their stored type.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from streamgd.config import Config
from streamgd.errors import DataError
from streamgd.normalize import RunningStats
from streamgd.readers import CsvOptions, resolve_files
from streamgd.readers.chunks import is_numeric_type
from streamgd.readers.files import DataFile


@dataclass(frozen=True)
class FileRows:
    """Rows of one file, in total and per chunk (row group or CSV block)."""

    path: str
    format: str
    rows: int
    chunk_rows: list[int]


@dataclass(frozen=True)
class ColumnSummary:
    """One column over all files; the statistics are None for a text column."""

    name: str
    type: str
    count: int
    missing: int
    nonfinite: int
    mean: float | None
    std: float | None
    minimum: float | None
    maximum: float | None
    constant: bool | None


@dataclass(frozen=True)
class Inspection:
    """The result of `inspect_data`."""

    files: list[FileRows]
    columns: list[ColumnSummary]

    @property
    def rows(self) -> int:
        return sum(file.rows for file in self.files)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (no NaN: a missing statistic is None)."""
        return {"rows": self.rows, "files": [asdict(f) for f in self.files],
                "columns": [asdict(c) for c in self.columns]}


@dataclass
class _Column:
    """A column's running state during the pass."""

    name: str
    type: str
    numeric: bool
    # CSV: the type follows from the values (double, string, or null if none)
    inferred: bool = False
    stats: RunningStats = field(default_factory=lambda: RunningStats.empty(1))
    missing: int = 0
    nonfinite: int = 0
    text_count: int = 0

    def add(self, values: pa.ChunkedArray | pa.Array) -> None:
        nulls = values.null_count
        self.missing += nulls
        if self.numeric:
            numbers = _as_numbers(values)
            if numbers is not None:
                self._add_numbers(numbers, nulls)
                return
            # the first text value: a text column from here on
            self.numeric, self.type = False, "string"
            self.text_count += int(self.stats.count[0]) + self.nonfinite
            self.stats, self.nonfinite = RunningStats.empty(1), 0
        self.text_count += len(values) - nulls

    def _add_numbers(self, numbers: np.ndarray, nulls: int) -> None:
        finite = np.isfinite(numbers)
        self.nonfinite += int((~finite).sum()) - nulls
        self.stats = self.stats.update(np.where(finite, numbers, np.nan)[:, None])

    def _final_type(self) -> str:
        if not self.inferred or not self.numeric:
            return self.type
        has_values = self.stats.count[0] > 0 or self.nonfinite > 0
        return "double" if has_values else "null"

    def summary(self) -> ColumnSummary:
        if not self.numeric:
            return ColumnSummary(self.name, self.type, self.text_count, self.missing,
                                 0, None, None, None, None, None)
        stats, seen = self.stats, bool(self.stats.count[0] > 0)

        def value(array: np.ndarray) -> float | None:
            return float(array[0]) if seen else None

        return ColumnSummary(
            self.name, self._final_type(), int(stats.count[0]), self.missing,
            self.nonfinite,
            value(stats.mean), value(stats.std), value(stats.minimum),
            value(stats.maximum), bool(stats.constant[0]) if seen else None,
        )


def inspect_data(paths: list[str], fmt: str = "auto",
                 csv: CsvOptions | None = None) -> Inspection:
    """Schema, rows and column statistics of the data files under `paths`.

    Raises:
        DataError: a path that matches nothing, or a file that cannot be read.
    """
    csv = csv or CsvOptions()
    files: list[FileRows] = []
    columns: dict[str, _Column] = {}
    for file in resolve_files(paths, fmt):
        chunk_rows = []
        for table in _tables(file, csv):
            chunk_rows.append(table.num_rows)
            _add_table(columns, table, inferred=file.format == "csv")
        files.append(FileRows(file.path, file.format, sum(chunk_rows), chunk_rows))
    return Inspection(files, [column.summary() for column in columns.values()])


def _add_table(columns: dict[str, _Column], table: pa.Table, inferred: bool) -> None:
    """Add a chunk's columns; `inferred`: a CSV chunk read as text, whose column
    types follow from the values."""
    for name, values in zip(table.column_names, table.columns):
        if name not in columns:
            numeric = is_numeric_type(values.type) or pa.types.is_string(values.type)
            columns[name] = _Column(name, str(values.type), numeric, inferred)
        columns[name].add(values)


def _as_numbers(values: pa.ChunkedArray) -> np.ndarray | None:
    """float64 values, NaN where null; None when some value is not a number."""
    try:
        numbers = pc.cast(values, pa.float64(), safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _tables(file: DataFile, csv: CsvOptions) -> Iterator[pa.Table]:
    """The file's chunks as tables of every column, one at a time."""
    try:
        if file.format == "parquet":
            yield from _parquet_tables(file.path)
        else:
            yield from _csv_tables(file.path, csv)
    except (pa.ArrowInvalid, OSError) as error:
        raise DataError(f"cannot read as {file.format} ({error})",
                        file=file.path) from None


def _parquet_tables(path: str) -> Iterator[pa.Table]:
    with pq.ParquetFile(path) as parquet:
        for index in range(parquet.num_row_groups):
            yield parquet.read_row_group(index)


def _csv_tables(path: str, csv: CsvOptions) -> Iterator[pa.Table]:
    # every column as text: whether a column is numeric is decided by its values
    names = _open_csv(path, csv, None).schema.names
    reader = _open_csv(path, csv, {name: pa.string() for name in names})
    for batch in reader:
        yield pa.Table.from_batches([batch])


def _open_csv(path: str, csv: CsvOptions, types: dict[str, pa.DataType] | None):
    names = list(csv.column_names) if csv.column_names else None
    return pa_csv.open_csv(
        pa.input_stream(path, compression="detect"),
        read_options=pa_csv.ReadOptions(
            block_size=csv.block_size, column_names=names,
            skip_rows=1 if names and csv.header else 0,
        ),
        parse_options=pa_csv.ParseOptions(
            delimiter=csv.delimiter, newlines_in_values=csv.newlines_in_values),
        convert_options=pa_csv.ConvertOptions(
            column_types=types or {}, null_values=list(csv.null_values),
            strings_can_be_null=True, quoted_strings_can_be_null=True,
        ),
    )


def rows_from_metadata(config: Config) -> int | None:
    """Rows in the job's data from Parquet footers alone; None for CSV data.

    No data page is read. Rows later dropped for missing values are counted.
    """
    try:
        files = resolve_files(config["data.paths"], config["data.format"])
    except DataError:
        return None  # the training run reports it, with its own message
    if any(file.format != "parquet" for file in files):
        return None
    total = 0
    for file in files:
        try:
            total += pq.read_metadata(file.path).num_rows
        except (pa.ArrowInvalid, OSError):
            return None
    return total


def format_table(inspection: Inspection) -> str:
    """The inspection as aligned text: files and chunks, then one line a column."""
    lines = [f"{inspection.rows:,} rows in {len(inspection.files)} file(s)"]
    for file in inspection.files:
        chunks = file.chunk_rows
        kind = "row groups" if file.format == "parquet" else "blocks"
        shown = ", ".join(f"{rows:,}" for rows in chunks[:8])
        more = f", ... ({len(chunks)} in all)" if len(chunks) > 8 else ""
        lines.append(f"  {file.path}: {file.rows:,} rows; {kind}: {shown}{more}")
    header = ("column", "type", "count", "missing", "nonfinite", "mean", "std",
              "min", "max", "constant")
    rows = [header] + [_column_cells(column) for column in inspection.columns]
    widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
    lines.append("")
    for row in rows:
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(row[2:], widths[2:])]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _column_cells(column: ColumnSummary) -> tuple[str, ...]:
    def number(value: float | None) -> str:
        return "" if value is None else f"{value:.6g}"

    constant = "" if column.constant is None else ("yes" if column.constant else "no")
    return (column.name, column.type, f"{column.count:,}", f"{column.missing:,}",
            f"{column.nonfinite:,}", number(column.mean), number(column.std),
            number(column.minimum), number(column.maximum), constant)
