"""Vowpal Wabbit's cached pass, the per-row peer of streamgd at batch 1 (issue 8).

bench.py imports this; it needs the `bench` extra (vowpalwabbit) only for the
cache and the timed pass, not for the text writer. Run alone, it times VW's
passes and the raw Parquet scan with their CPU seconds too (VW reads the cache
on a parse thread of its own, beside the learner):

    python scripts/bench_vw.py --rows 500000 --repeats 5

Three steps, the first two untimed and done once per data file (the files stay
beside it, named after it and, for the cache, VW's version):

1. `write_vw_text`: the Parquet file in VW's text format, one line per row,
   `label |f x0:value x1:value ...` (classification labels 0/1 become -1/+1,
   as VW's logistic loss wants); a missing value leaves its feature out.
2. `build_vw_cache`: one VW run over the text that writes VW's binary cache
   (labels and already hashed feature indices with their float values).
3. `vw_cache_pass`: the timed run. One VW training pass reading the cache only:
   `--cache_file` with no `-d`, so there is no text to parse (VW's log says
   "ignoring text input in favor of cache input" even when both are given).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamgd.atomic import atomic_open  # noqa: E402

NAMESPACE = "f"
# VW's loss per task: squared for regression, logistic (labels -1/+1) otherwise
LOSS = {"regression": "squared", "classification": "logistic"}
# characters that end a feature name in VW's text format
RESERVED = (" ", ":", "|", "\t", "\n")


def vw_lines(batch: pa.RecordBatch | pa.Table, features: list[str], task: str,
             target: str = "y") -> list[str]:
    """The rows of `batch` as lines of VW's text format, without newlines.

    Floats are written by Arrow's float-to-string cast, which round-trips
    float64 (VW reads them as float32). A null feature value is left out of
    its line, as VW reads an absent feature as zero.

    Raises:
        ValueError: a feature name VW cannot read, or a missing target value.
    """
    for name in features:
        if any(character in name for character in RESERVED):
            raise ValueError(f"column {name!r}: VW feature names cannot hold "
                             "spaces, ':' or '|'; rename the column")

    # the label, with 0/1 classes as -1/+1
    label = batch.column(target)
    if label.null_count:
        raise ValueError(f"column {target!r}: {label.null_count} missing target"
                         " values; drop those rows first")
    if task == "classification":
        label = pc.subtract(pc.multiply(pc.cast(label, pa.int64()), 2), 1)

    # ` name:value` per feature, empty where the value is missing
    pieces = [pc.fill_null(pc.binary_join_element_wise(
        f" {name}:", pc.cast(batch.column(name), pa.string()), ""), "")
        for name in features]
    lines = pc.binary_join_element_wise(
        pc.cast(label, pa.string()), f" |{NAMESPACE}", *pieces, "")
    return lines.to_pylist()


def write_vw_text(parquet: Path, features: list[str], task: str) -> Path:
    """`parquet` in VW's text format beside it (written once, then reused)."""
    path = parquet.with_suffix(".vw")
    if path.exists():
        return path
    file = pq.ParquetFile(parquet, pre_buffer=False)
    with atomic_open(path) as stream:
        for index in range(file.num_row_groups):
            batch = file.read_row_group(index, columns=[*features, "y"])
            stream.write("\n".join(vw_lines(batch, features, task)) + "\n")
    return path


def cache_path(text: Path) -> Path:
    """Where VW's cache of `text` goes: its format changes with VW's version."""
    import vowpalwabbit

    return text.with_name(f"{text.stem}.vw{vowpalwabbit.__version__}.cache")


def build_vw_cache(text: Path, task: str) -> Path:
    """VW's binary cache of `text` beside it (built once, then reused).

    VW writes it while it trains one pass over the text (that pass is not a
    measurement); it writes to a temporary name that is renamed when VW is done,
    so an interrupted build leaves no cache behind.
    """
    import vowpalwabbit

    path = cache_path(text)
    if path.exists():
        return path
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    workspace = vowpalwabbit.Workspace(arg_list=[
        "-d", str(text), "--cache_file", str(temporary), "-k",
        *vw_options(task)])
    workspace.finish()
    temporary.replace(path)
    return path


def vw_options(task: str, sgd: bool = False) -> list[str]:
    """One pass, no holdout, quiet, the task's loss; `--sgd` for plain SGD."""
    options = ["--passes", "1", "--holdout_off", "--no_stdin", "--quiet",
               "--loss_function", LOSS[task]]
    return [*options, "--sgd"] if sgd else options


def vw_cache_pass(cache: Path, task: str, n_rows: int,
                  sgd: bool = False) -> Callable[[], float]:
    """The timed run: one VW training pass from `cache`; returns its mean loss.

    What is timed: VW's own command-line driver (the function `python -m
    vowpalwabbit ARGS` calls: the package ships no `vw` binary), run in this
    process so that interpreter start-up is not counted, with `--cache_file
    CACHE --passes 1 --holdout_off --no_stdin --quiet --loss_function LOSS`:
    setting up the weight table (2^18 weights), the parse thread reading the
    cache and the learner updating on every row, then `finish`.

    Per row VW reads the label and the 20 hashed feature indices and values
    from the cache, adds its constant feature (the intercept), predicts
    w . x (squared loss: clipped to the range of labels seen so far) and
    updates every weight of the row once: batch size 1, the raw feature values
    (VW does not standardize). By default the update is VW's normalized,
    adaptive, importance-invariant one: per weight it also keeps a sum of
    squared gradients (adaptive, AdaGrad-like) and the largest |x| seen
    (normalized), so it does more per row than plain SGD. With `sgd` the
    update is plain SGD (`--sgd`: VW's decaying rate, -l 10 and --power_t 0.5
    by VW's defaults for it); on these unscaled features it converges badly,
    which does not matter for speed.

    Raises:
        RuntimeError: VW saw fewer rows than the data has (a missing or
            truncated cache: VW then trains on nothing without complaint).
    """
    import vowpalwabbit

    arguments = ["--cache_file", str(cache), *vw_options(task, sgd)]

    def run() -> float:
        workspace = vowpalwabbit.Workspace(arg_list=arguments)
        n_seen = workspace.get_weighted_examples()
        loss = workspace.get_sum_loss() / max(n_seen, 1.0)
        workspace.finish()
        if n_seen != n_rows:
            raise RuntimeError(f"VW read {n_seen:.0f} of {n_rows} rows from "
                               f"{cache}; delete it so that it is rebuilt")
        return loss

    return run


# --- run alone: wall-clock and CPU seconds -----------------------------------


def wall_and_cpu(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall-clock and process CPU seconds (all threads) of `repeats`
    runs after one warm-up run."""
    run()
    walls, cpus = [], []
    for _ in range(repeats):
        started, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench
    import make_bench_data as data

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--task", choices=tuple(LOSS), default="regression")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--data", type=Path, default=data.DEFAULT_OUT)
    args = parser.parse_args(argv)

    # the files, untimed: Parquet, VW text, VW cache
    features = data.feature_names(20)
    parquet = data.ensure(data.Spec(args.task, args.rows, 20), args.data,
                          "parquet")
    cache = build_vw_cache(write_vw_text(parquet, features, args.task), args.task)

    # the scan, then VW's default and plain-SGD passes
    runs = {"parquet_scan": lambda: bench.parquet_scan(parquet, features)}
    for name, sgd in (("vw_cache", False), ("vw_cache_sgd", True)):
        runs[name] = vw_cache_pass(cache, args.task, args.rows, sgd)
    seconds = {name: wall_and_cpu(run, args.repeats) for name, run in runs.items()}

    # rows/s, and as a fraction of the scan's
    scan = seconds["parquet_scan"][0]
    print(f"{'benchmark':<16}{'wall s':>8}{'CPU s':>8}{'rows/s':>13}{'x scan':>8}")
    for name, (wall, cpu) in seconds.items():
        print(f"{name:<16}{wall:>8.3f}{cpu:>8.3f}{args.rows / wall:>13,.0f}"
              f"{scan / wall:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
