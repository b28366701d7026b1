"""Write synthetic benchmark data: regression or classification, Parquet or CSV.

    python scripts/make_bench_data.py --rows 2000000 --features 20 --format both
    python scripts/make_bench_data.py --size-mb 500 --task classification

Columns are `x0` ... `x{d-1}` (float64) and the target `y` (float64 for
regression, 0/1 int64 for classification). Features are independent normals with
per-column offsets and spreads, so that scaling matters; the target is a seeded
linear function of them plus noise (classification: a Bernoulli draw of its
sigmoid). Rows are generated and written one block at a time, so a file of any
size needs only one block in memory.

Float columns are written without dictionary encoding: with pyarrow's default
(dictionary on) the files were 26% larger and slower to scan (issue 8). Files go
to `--out` (default /tmp/streamgd-bench); never commit them.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

DEFAULT_OUT = Path("/tmp/streamgd-bench")
BLOCK_ROWS = 1 << 18
# bytes per value, measured on this generator's output: Parquet stores float64
# plain (8 B); CSV writes about 20 characters per value with its separator
BYTES_PER_VALUE = {"parquet": 8.0, "csv": 20.0}


@dataclass(frozen=True)
class Spec:
    """What to generate.

    Attributes:
        task: `regression` or `classification`.
        n_rows: rows in the file.
        n_features: feature columns.
        row_group_rows: rows per Parquet row group (the trainer's chunk).
        seed: seed of the generator.
    """

    task: str
    n_rows: int
    n_features: int
    row_group_rows: int = 1 << 16
    seed: int = 0

    @property
    def stem(self) -> str:
        return f"{self.task}_d{self.n_features}_n{self.n_rows}"


def feature_names(n_features: int) -> list[str]:
    return [f"x{j}" for j in range(n_features)]


def _truth(spec: Spec) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per-feature offsets and spreads, true weights and intercept, all seeded."""
    rng = np.random.default_rng([spec.seed, spec.n_features])
    offsets = rng.uniform(-100.0, 100.0, spec.n_features)
    spreads = rng.uniform(0.1, 50.0, spec.n_features)
    weights = rng.normal(0.0, 1.0, spec.n_features) / spreads
    return offsets, spreads, weights, float(rng.normal())


def blocks(spec: Spec):
    """Yield the data as Arrow record batches of at most BLOCK_ROWS rows."""
    offsets, spreads, weights, intercept = _truth(spec)
    rng = np.random.default_rng([spec.seed, spec.n_rows])
    names = feature_names(spec.n_features)
    for start in range(0, spec.n_rows, BLOCK_ROWS):
        n_rows = min(BLOCK_ROWS, spec.n_rows - start)

        # features, then the target from their centred values
        X = offsets + spreads * rng.standard_normal((n_rows, spec.n_features))
        margin = (X - offsets) @ weights + intercept
        if spec.task == "regression":
            y = margin + 0.5 * rng.standard_normal(n_rows)
        else:
            probability = 1.0 / (1.0 + np.exp(-margin))
            y = (rng.random(n_rows) < probability).astype(np.int64)

        columns = [pa.array(X[:, j]) for j in range(spec.n_features)]
        yield pa.record_batch([*columns, pa.array(y)], names=[*names, "y"])


def write_parquet(spec: Spec, path: Path) -> Path:
    """Write the data as Parquet with `spec.row_group_rows` rows per row group."""
    schema = next(blocks(Spec(spec.task, 1, spec.n_features))).schema
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two writers never collide
    with pq.ParquetWriter(tmp, schema, use_dictionary=False,
                          compression="snappy") as writer:
        pending: list[pa.RecordBatch] = []
        n_pending = 0
        for batch in blocks(spec):
            pending.append(batch)
            n_pending += batch.num_rows
            # whole row groups of the requested size, the rest waits
            while n_pending >= spec.row_group_rows:
                table = pa.Table.from_batches(pending)
                writer.write_table(table.slice(0, spec.row_group_rows),
                                   row_group_size=spec.row_group_rows)
                rest = table.slice(spec.row_group_rows).combine_chunks()
                pending, n_pending = rest.to_batches(), rest.num_rows
        if n_pending:
            writer.write_table(pa.Table.from_batches(pending),
                               row_group_size=spec.row_group_rows)
    tmp.replace(path)
    return path


def write_csv(spec: Spec, path: Path) -> Path:
    """Write the data as CSV with a header line."""
    schema = next(blocks(Spec(spec.task, 1, spec.n_features))).schema
    tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two writers never collide
    with pa_csv.CSVWriter(tmp, schema) as writer:
        for batch in blocks(spec):
            writer.write_batch(batch)
    tmp.replace(path)
    return path


def ensure(spec: Spec, out: Path, file_format: str) -> Path:
    """The file for `spec` in `out`, written first unless it is there already."""
    out.mkdir(parents=True, exist_ok=True)
    suffix = "parquet" if file_format == "parquet" else "csv"
    rg = f"_rg{spec.row_group_rows}" if file_format == "parquet" else ""
    path = out / f"{spec.stem}{rg}_s{spec.seed}.{suffix}"
    if path.exists():
        return path
    writer = write_parquet if file_format == "parquet" else write_csv
    return writer(spec, path)


def rows_for_size(size_mb: float, n_features: int, file_format: str) -> int:
    """Rows that make a file of about `size_mb` megabytes."""
    per_row = BYTES_PER_VALUE[file_format] * (n_features + 1)
    return max(1, int(size_mb * 1e6 / per_row))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--task", choices=("regression", "classification"),
                        default="regression")
    parser.add_argument("--features", type=int, default=20, choices=(20, 100))
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--rows", type=int, default=1_000_000)
    size.add_argument("--size-mb", type=float)
    parser.add_argument("--row-group-rows", type=int, default=1 << 16)
    parser.add_argument("--format", choices=("parquet", "csv", "both"),
                        default="parquet")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    formats = ("parquet", "csv") if args.format == "both" else (args.format,)
    for file_format in formats:
        n_rows = args.rows
        if args.size_mb is not None:
            n_rows = rows_for_size(args.size_mb, args.features, file_format)
        spec = Spec(args.task, n_rows, args.features, args.row_group_rows, args.seed)
        path = ensure(spec, args.out, file_format)
        print(f"{path}  {n_rows} rows  {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
