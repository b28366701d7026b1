"""Seconds per full-batch gradient pass, as ratios to a raw pyarrow scan.

    python scripts/bench_fullbatch.py                      # 1,000,000 rows
    python scripts/bench_fullbatch.py --rows 4000000 --passes 5

Writes a Parquet dataset of generated rows (float64 features and target) to a
temporary folder, then measures side by side, in one run:

    scan        pyarrow alone: every row group of the job's columns read once
    threads     one gradient pass on dask's threaded scheduler (this process)
    1 worker    one pass on a LocalCluster of 1 worker process (127.0.0.1)
    2 workers   one pass on a LocalCluster of 2 worker processes

each from the files (dask.cache: never) and from partitions kept in worker
memory (dask.cache: always). Each is reported as a ratio of rows per second to
the scan's (above 1: faster than reading the file once), the median over pairs
of a scan and a pass timed back to back, so that both see the same load. The
resident memory of each worker process after the file passes is printed next to
the size of the decoded data, to show that a worker holds one
partition at a time when nothing is cached (and after the cached passes, when it
holds its share of the data). Numbers depend on the machine and its load: compare the
ratios of one run, not seconds across runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from streamgd.config import make_config
from streamgd.fullbatch.cluster import Cluster, open_cluster
from streamgd.fullbatch.engine import Passes, statistics_pass
from streamgd.fullbatch.partitions import list_partitions, partition_reader
from streamgd.fullbatch.passes import ScaledData
from streamgd.model.linear import LinearParams
from streamgd.model.losses import LOSSES
from streamgd.readers import column_plan


def write_data(folder: Path, n_rows: int, n_features: int, group_rows: int,
               n_files: int) -> list[str]:
    """Generated regression rows as `n_files` Parquet files; their paths."""
    rng = np.random.default_rng(0)
    coefficients = rng.normal(size=n_features)
    paths = []
    for number, rows in enumerate(np.array_split(np.arange(n_rows), n_files)):
        X = rng.normal(size=(len(rows), n_features))
        columns = {f"x{j}": X[:, j] for j in range(n_features)}
        columns["y"] = X @ coefficients + rng.normal(size=len(rows))
        path = folder / f"part{number}.parquet"
        pq.write_table(pa.table(columns), path, row_group_size=group_rows)
        paths.append(str(path))
    return paths


def scan_seconds(paths: list[str], columns: list[str]) -> float:
    """One read of every row group's columns with pyarrow alone."""
    started = time.perf_counter()
    n_rows = 0
    for path in paths:
        with pq.ParquetFile(path, pre_buffer=False) as parquet:
            for group in range(parquet.metadata.num_row_groups):
                n_rows += parquet.read_row_group(group, columns=columns).num_rows
    return time.perf_counter() - started


def median_seconds(run: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def worker_rss(cluster: Cluster) -> list[int]:
    """Resident bytes of each worker process now.

    Not the peak (getrusage's ru_maxrss): a worker process is forked from this
    one before it executes a fresh interpreter, and the peak keeps the size of
    this process at the fork, which grows with the generated data.
    """
    if cluster.client is None:
        return []

    def resident() -> int:
        return int(psutil.Process().memory_info().rss)

    return sorted(cluster.client.run(resident).values())


def paired(scan: Callable[[], Any], run: Callable[[], Any],
           repeats: int) -> tuple[float, float]:
    """Median seconds of `run`, and the median of scan seconds / run seconds
    over `repeats` pairs timed back to back.

    On a shared machine the load changes from one second to the next; a scan
    timed right before each pass sees the same load as the pass.
    """
    run()
    seconds, ratios = [], []
    for _ in range(repeats):
        scan_seconds = median_seconds(scan, 1)
        run_seconds = median_seconds(run, 1)
        seconds.append(run_seconds)
        ratios.append(scan_seconds / run_seconds)
    return statistics.median(seconds), statistics.median(ratios)


def measure(job: dict[str, Any], workers: int | None, passes: int,
            scan: Callable[[], Any]) -> dict[str, Any]:
    """Seconds per pass from files and from cache on one scheduler, and each
    as a ratio of rows per second to the scan's (paired, see `paired`)."""
    config = make_config({**job, "dask": {"workers": workers}})
    plan = column_plan(config)
    loss = LOSSES["linear"]
    params = LinearParams(np.full(len(config["data.features"]), 0.1), 0.5)
    with open_cluster(config) as cluster:
        prepared = statistics_pass(config, cluster, plan)
        data = ScaledData(partition_reader(config, plan), prepared.decoder,
                          prepared.scaler)
        partitions = list_partitions(config, plan)
        from_files = Passes(cluster, data, partitions, loss, cache=False)
        files_seconds, files_ratio = paired(scan, lambda: from_files(params),
                                            passes)
        files_rss = worker_rss(cluster)
        # the first cached pass (in `paired`'s warm-up) waits for the loads
        cached = Passes(cluster, data, partitions, loss, cache=True)
        cached_seconds, cached_ratio = paired(scan, lambda: cached(params), passes)
        cached_rss = worker_rss(cluster)
        cached.release()
    return {"files": files_seconds, "cached": cached_seconds,
            "files_ratio": files_ratio, "cached_ratio": cached_ratio,
            "files_rss": files_rss, "cached_rss": cached_rss}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--group-rows", type=int, default=65_536,
                        help="rows per Parquet row group (one partition each)")
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--passes", type=int, default=3,
                        help="passes timed per setting (the median is shown)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="streamgd-bench-") as folder:
        paths = write_data(Path(folder), args.rows, args.features, args.group_rows,
                           args.files)
        features = [f"x{j}" for j in range(args.features)]
        job = {"data": {"paths": paths, "features": features, "target": "y"},
               "optimizer": {"method": "batch"}, "output": {"dir": folder}}
        def scan() -> float:
            return scan_seconds(paths, [*features, "y"])

        results = {name: measure(job, workers, args.passes, scan)
                   for name, workers in [("threads", None), ("1 worker", 1),
                                         ("2 workers", 2)]}
        scan_median = median_seconds(scan, args.passes)
    report(args, scan_median, results)


def report(args: argparse.Namespace, scan: float, results: dict[str, Any]) -> None:
    decoded = 8 * args.rows * (args.features + 1)
    n_groups = args.files * -(-args.rows // (args.files * args.group_rows))
    print(f"{args.rows:,} rows x {args.features} features, about {n_groups}"
          f" row groups of {args.group_rows:,} rows; decoded size"
          f" {decoded / 2**20:.0f} MiB")
    print(f"pyarrow scan: {scan:.3f} s; 'x scan' is rows/s over the scan's, the"
          " median of pairs timed back to back")
    print(f"{'scheduler':<10} {'from files':>18} {'cached in memory':>22}"
          "   worker RSS after: file passes | cached passes")
    for name, result in results.items():
        files, cached = result["files"], result["cached"]
        print(f"{name:<10} {files:8.3f} s x{result['files_ratio']:6.2f}"
              f"   {cached:8.3f} s x{result['cached_ratio']:6.2f}   "
              f"{_mib(result['files_rss'])} | {_mib(result['cached_rss'])}")


def _mib(values: list[int]) -> str:
    if not values:
        return "(this process)"
    return ", ".join(f"{value / 2**20:.0f}" for value in values) + " MiB"


if __name__ == "__main__":
    main()
