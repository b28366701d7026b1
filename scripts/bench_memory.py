"""Peak memory of training runs on files of growing size: it must not grow.

    python scripts/bench_memory.py                       # the issue's sizes
    python scripts/bench_memory.py --parquet-rows 1000000 10000000 \\
        --csv-rows 200000 2000000 --json memory.json
    python scripts/bench_memory.py --capped-rows 16000000  # under prlimit too

Each training run is a separate process running `streamgd train JOB`, which
reports its own peak resident set size (VmHWM of /proc/self/status) as it
exits: every page it ever had resident, heap and mapped files alike. (The
child's ru_maxrss would not do: Linux carries the parent's size at the fork
over the exec, so a parent that grew while generating a large file would
inflate every later child's figure.)
Beside each figure the script prints the sizes the job configures: the shuffle
buffer, one chunk, and their sum as float64 rows. The largest file of each
format is then compared with the smallest: streamgd promises memory bounded by
one chunk plus the shuffle buffer, so the ratio should stay within 1.10.

With `--capped-rows N` a file of N rows is also trained under
`prlimit --data=1073741824` (1 GiB of data segment, less than the file), inside
`timeout`: a too-tight cap can make an allocation spin rather than fail.

The generated files go to `--data` (default /tmp/streamgd-bench); check free
space first (`df -h /tmp`: 16 M rows of 20 float64 features take 2.7 GB as
Parquet) and pass `--delete` to remove each file after its runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_bench_data as data  # noqa: E402

from streamgd.atomic import write_atomic  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CAP_BYTES = 1 << 30


def write_job(path: Path, data_file: Path, n_features: int, out: Path, args) -> Path:
    """A one-epoch linear regression job on `data_file`, as YAML."""
    job = {
        "data": {"paths": str(data_file), "features": data.feature_names(n_features),
                 "target": "y", "csv": {"block_size": args.csv_block_size}},
        "preprocess": {"scaler": "standard"},
        "optimizer": {"batch_size": args.batch_size, "max_epochs": args.epochs,
                      "learning_rate": 0.01},
        "shuffle": {"buffer_rows": args.buffer_rows},
        "output": {"dir": str(out), "log_every": 10_000},
    }
    path.write_text(yaml.safe_dump(job))
    return path


# the child: run the CLI, then print the process's own peak RSS as it exits
_CHILD = """
import atexit, sys
from streamgd.cli import main

def report():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            print('peak_rss_kb', line.split()[1], file=sys.stderr, flush=True)

atexit.register(report)
sys.exit(main(sys.argv[1:]))
"""


def run_training(job: Path, cap: bool, timeout: int) -> dict:
    """Train in a child process; its exit status, seconds and peak RSS in MB."""
    command = [sys.executable, "-c", _CHILD, "train", "--quiet", str(job)]
    if cap:
        command = ["timeout", str(timeout), "prlimit", f"--data={CAP_BYTES}",
                   *command]
    started = time.perf_counter()
    child = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, check=False)
    lines = child.stderr.decode(errors="replace").strip().splitlines()
    peak = [line.split()[1] for line in lines if line.startswith("peak_rss_kb")]
    errors = [line for line in lines if not line.startswith("peak_rss_kb")]
    return {
        "exit_code": child.returncode,
        "seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(int(peak[-1]) / 1024, 1) if peak else float("nan"),
        "error": errors[-1] if child.returncode and errors else "",
    }


def configured_mb(n_features: int, chunk_rows: int, args) -> dict:
    """The memory the job's settings imply, in MB of float64 rows."""
    row_bytes = (n_features + 2) * 8
    return {
        "buffer_rows": args.buffer_rows,
        "buffer_mb": round(args.buffer_rows * row_bytes / 1e6, 1),
        "chunk_rows": chunk_rows,
        "chunk_mb": round(chunk_rows * row_bytes / 1e6, 1),
    }


def measure(file_format: str, n_rows: int, args, out: Path) -> dict:
    """Generate the file (unless there), train on it, and report."""
    spec = data.Spec("regression", n_rows, args.features, args.row_group_rows)
    path = data.ensure(spec, args.data, file_format)
    chunk_rows = (args.row_group_rows if file_format == "parquet"
                  else args.csv_block_size // int(data.BYTES_PER_VALUE["csv"]
                                                  * (args.features + 1)))
    result = {"format": file_format, "rows": n_rows,
              "file_mb": round(path.stat().st_size / 1e6, 1),
              **configured_mb(args.features, chunk_rows, args)}
    job = write_job(out / f"{path.stem}.yaml", path, args.features,
                    out / path.stem, args)
    result.update(run_training(job, cap=False, timeout=args.timeout))
    if n_rows in args.capped_rows and file_format == "parquet":
        capped = run_training(job, cap=True, timeout=args.timeout)
        result["capped"] = capped
    if args.delete:
        path.unlink()
    print(_line(result), flush=True)
    return result


def _line(result: dict) -> str:
    text = (f"{result['format']:<8}{result['rows']:>10} rows {result['file_mb']:>8} MB"
            f"  peak RSS {result['peak_rss_mb']:>7} MB  {result['seconds']:>6} s"
            f"  exit {result['exit_code']}  (buffer {result['buffer_rows']} rows ="
            f" {result['buffer_mb']} MB, chunk ~{result['chunk_rows']} rows ="
            f" {result['chunk_mb']} MB)")
    if "capped" in result:
        capped = result["capped"]
        text += (f"\n{'':<8}under prlimit --data={CAP_BYTES}: exit"
                 f" {capped['exit_code']}, peak RSS {capped['peak_rss_mb']} MB,"
                 f" {capped['seconds']} s {capped['error']}")
    return text


def growth(results: list[dict]) -> list[dict]:
    """Peak RSS of each format's largest file over its smallest's."""
    ratios = []
    for file_format in ("parquet", "csv"):
        runs = sorted((r for r in results if r["format"] == file_format),
                      key=lambda r: r["rows"])
        if len(runs) >= 2:
            small, large = runs[0], runs[-1]
            ratios.append({
                "format": file_format, "rows": [small["rows"], large["rows"]],
                "ratio": round(large["peak_rss_mb"] / small["peak_rss_mb"], 3),
            })
    return ratios


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parquet-rows", type=int, nargs="*",
                        default=[2_000_000, 16_000_000])
    parser.add_argument("--csv-rows", type=int, nargs="*", default=[200_000, 2_000_000])
    parser.add_argument("--capped-rows", type=int, nargs="*", default=[])
    parser.add_argument("--features", type=int, default=20, choices=(20, 100))
    parser.add_argument("--row-group-rows", type=int, default=1 << 16)
    parser.add_argument("--csv-block-size", type=int, default=2 << 20)
    parser.add_argument("--buffer-rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds before a capped run is stopped")
    parser.add_argument("--data", type=Path, default=data.DEFAULT_OUT)
    parser.add_argument("--delete", action="store_true",
                        help="remove each generated file after its runs")
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    print(f"free space in {args.data.parent}:"
          f" {shutil.disk_usage(args.data.parent).free / 1e9:.1f} GB", flush=True)
    out = Path(tempfile.mkdtemp(prefix="streamgd-memory-"))
    try:
        results = [measure("parquet", n, args, out) for n in args.parquet_rows]
        results += [measure("csv", n, args, out) for n in args.csv_rows]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    ratios = growth(results)
    for ratio in ratios:
        print(f"{ratio['format']}: peak RSS at {ratio['rows'][1]} rows ="
              f" {ratio['ratio']} x that at {ratio['rows'][0]} rows")
    if args.json:
        report = {"runs": results, "growth": ratios}
        write_atomic(args.json, json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
