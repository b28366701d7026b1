"""Build the embedded default dataset from the nycflights13 flights CSV.

    python scripts/make_default_data.py [FLIGHTS_CSV_GZ] [OUT_PARQUET]

Keeps every one of the 336,776 flights and the numeric columns the default job
and the tests use, missing values (`NA`) and the constant `year` column included.
Row groups of 32,768 rows give the chunk shuffle eleven chunks to permute.
"""

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared/data/nycflights13/flights.csv.gz"
DEFAULT_TARGET = ROOT / "streamgd/data/flights.parquet"
COLUMNS = [
    "year", "month", "day", "hour", "minute", "dep_delay", "arr_delay",
    "air_time", "distance", "carrier", "origin", "dest",
]
ROW_GROUP_ROWS = 32_768


def main(source: Path, target: Path) -> None:
    table = pa_csv.read_csv(
        source,
        convert_options=pa_csv.ConvertOptions(
            include_columns=COLUMNS, null_values=["NA", ""]
        ),
    )
    # integer-valued columns with missing values come in as int64 with nulls;
    # float64 keeps them exact and is what the trainer reads anyway
    numeric = {"dep_delay", "arr_delay", "air_time", "distance"}
    columns = {
        name: table[name].cast(pa.float64()) if name in numeric else table[name]
        for name in COLUMNS
    }
    table = pa.table(columns)
    pq.write_table(
        table, target, row_group_size=ROW_GROUP_ROWS, compression="zstd",
        compression_level=19, use_dictionary=["carrier", "origin", "dest"],
    )
    print(f"wrote {target}: {table.num_rows} rows, {target.stat().st_size} bytes")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(
        Path(args[0]) if args else DEFAULT_SOURCE,
        Path(args[1]) if len(args) > 1 else DEFAULT_TARGET,
    )
