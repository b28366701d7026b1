"""Files to chunks: resolve the job's paths and open them as a chunked source."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pyarrow as pa

from streamgd.config import Config
from streamgd.errors import ConfigError
from streamgd.readers.chunks import ChunkRef, ColumnPlan, Source
from streamgd.readers.csv import CsvOptions, CsvSource
from streamgd.readers.files import DataFile, is_tab_separated, resolve_files
from streamgd.readers.parquet import ParquetSource

if TYPE_CHECKING:  # readers.decode imports model.labels, which imports readers
    from streamgd.readers.decode import Chunk, Decoder

__all__ = [
    "ChunkRef", "ColumnPlan", "CsvOptions", "DataFile", "Source",
    "column_plan", "csv_options", "open_source", "resolve_files",
]


def column_plan(config: Config) -> ColumnPlan:
    """The columns a job reads, and whether its target must be numeric."""
    numeric = list(config["data.features"])
    if config["data.weight"] is not None:
        numeric.append(config["data.weight"])
    target_numeric = (
        config["model.type"] == "linear" or config["data.positive_above"] is not None
    )
    key = config["validation.key"]
    extra = () if key is None else (key,)
    return ColumnPlan(tuple(numeric), config["data.target"], target_numeric, extra)


def csv_options(config: Config, files: list[DataFile] | None = None) -> CsvOptions:
    """The job's CSV parsing options for `files`.

    The default delimiter ',' becomes a tab when every file is named .tsv.

    Raises:
        ConfigError: .tsv files mixed with others under the default ','
            (one delimiter serves every file: one kind would be misread).
    """
    names = config["data.csv.column_names"]
    delimiter = config["data.csv.delimiter"]
    tabbed = [f.path for f in files or [] if is_tab_separated(f.path)]
    if delimiter == "," and tabbed and len(tabbed) == len(files):
        delimiter = "\t"
    elif delimiter == "," and tabbed:
        other = next(f.path for f in files if not is_tab_separated(f.path))
        raise ConfigError(
            f"data.paths mixes tab-separated .tsv files ({tabbed[0]}) with"
            f" comma-separated ones ({other}); one delimiter reads them all:"
            " give each kind its own job, or set data.csv.delimiter if they"
            " really share one"
        )
    return CsvOptions(
        delimiter=delimiter,
        null_values=tuple(config["data.csv.null_values"]),
        header=config["data.csv.header"],
        column_names=tuple(names) if names else None,
        newlines_in_values=config["data.csv.newlines_in_values"],
        block_size=config["data.csv.block_size"],
        empty_files=config["data.empty_files"],
    )


def open_source(
    config: Config, plan: ColumnPlan | None = None,
    observe: Callable[[ChunkRef, pa.Table], Chunk | None] | None = None,
    decoded_by: Decoder | None = None,
) -> Source:
    """The job's data as chunks readable in any order.

    CSV files are parsed once here into a typed cache (see `readers.csv`); call
    `close()` on the result to remove it. `observe`, if given, is shown each
    CSV block as it is parsed, and the chunks it returns are kept when
    `decoded_by` is given (see `CsvSource`); a Parquet source ignores both.
    """
    plan = plan or column_plan(config)
    files = resolve_files(config["data.paths"], config["data.format"])
    if files[0].format == "parquet":
        return ParquetSource(files, plan, config["data.empty_files"])
    return CsvSource(files, plan, csv_options(config, files), config["data.cache_dir"],
                     observe, decoded_by)
