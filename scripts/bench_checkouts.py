"""One SGD epoch of two or more checkouts of streamgd, side by side.

    python scripts/bench_checkouts.py /path/to/old/checkout . --rounds 2

On a shared machine a ratio measured an hour ago says little about one measured
now, so this runs the checkouts in turn, `--rounds` times, each in its own
process, on the same file, and prints for each: the median wall-clock seconds
of an epoch at batch sizes 1 and 256, its CPU seconds (all threads of the
process) and its rows/s as a fraction of the raw Parquet scan timed just before
each epoch (`bench.parquet_scan`). The file is the one `bench.py --quick` uses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROWS = 500_000
BATCH_SIZES = (1, 256)


def measure(root: Path, repeats: int) -> dict[str, list[float]]:
    """In this process, with `root` first on the path: the epoch figures."""
    sys.path[:0] = [str(root), str(root / "scripts")]
    import bench
    import make_bench_data as data

    features = data.feature_names(20)
    path = data.ensure(data.Spec("regression", ROWS, 20, 1 << 16),
                       data.DEFAULT_OUT, "parquet")
    results = {}
    for batch_size in BATCH_SIZES:
        mapping = bench.job(path, "regression", features,
                            Path("/tmp/streamgd-bench-checkouts"),
                            batch_size=batch_size)
        run = bench.streamgd_epoch(mapping)
        run()  # warm-up: page cache, compiled kernels
        walls, cpus, ratios = [], [], []
        for _ in range(repeats):
            started = time.perf_counter()
            bench.parquet_scan(path, features)
            scan = time.perf_counter() - started
            started, cpu = time.perf_counter(), time.process_time()
            run()
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
            ratios.append(scan / walls[-1])
        results[f"b{batch_size}"] = [statistics.median(walls),
                                     statistics.median(cpus),
                                     statistics.median(ratios)]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.checkouts[0].resolve(), args.repeats)))
        return 0
    print(f"{'checkout':<32}{'batch':>6}{'wall s':>9}{'cpu s':>8}{'x scan':>8}")
    for _ in range(args.rounds):
        for root in args.checkouts:
            output = subprocess.run(
                [sys.executable, __file__, str(root), "--child",
                 "--repeats", str(args.repeats)],
                check=True, capture_output=True, text=True,
            ).stdout
            for name, (wall, cpu, ratio) in json.loads(output).items():
                print(f"{str(root)[-32:]:<32}{name:>6}{wall:>9.3f}{cpu:>8.3f}"
                      f"{ratio:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
