"""What the input fingerprint's content sample costs, per file.

    python scripts/fingerprint_cost.py [FILE ...] [--repeats N]

For each file (default: the embedded flights Parquet file and a generated CSV
of about 100 MB in a temporary folder) prints its size, the median time of
`os.stat` alone (what the fingerprint cost before) and of the content sample
(head, tail or Parquet footer, and the blocks between), and how many bytes the
sample reads. Times are from the page cache (a file just written or read);
a cold read costs one disk seek per sampled range, 18 at most.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from streamgd.checkpoint.fingerprint import sample_ranges, content_sample

FLIGHTS = Path(__file__).resolve().parents[1] / "streamgd" / "data" / "flights.parquet"


def _median_seconds(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _generated_csv(folder: str) -> str:
    """About 100 MB of CSV: 2.4M rows of 3 numbers."""
    path = os.path.join(folder, "generated.csv")
    rng = np.random.default_rng(0)
    with open(path, "w") as stream:
        stream.write("a,b,y\n")
        for _ in range(24):
            block = rng.normal(size=(100_000, 3))
            np.savetxt(stream, block, delimiter=",", fmt="%.10f")
    return path


def report(path: str, repeats: int) -> str:
    size = os.stat(path).st_size
    with open(path, "rb") as stream:
        ranges = sample_ranges(stream, size)
    sampled = sum(length for _, length in ranges)
    stat = _median_seconds(lambda: os.stat(path), repeats)
    sample = _median_seconds(lambda: content_sample(path, size), repeats)
    return (f"{os.path.basename(path)}: {size / 1e6:.1f} MB, stat {stat * 1e6:.0f} us,"
            f" sample {sample * 1e3:.2f} ms ({len(ranges)} reads,"
            f" {sampled / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*")
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        files = args.files or [str(FLIGHTS), _generated_csv(folder)]
        for path in files:
            print(report(path, args.repeats))


if __name__ == "__main__":
    main()
