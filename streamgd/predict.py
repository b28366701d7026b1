"""Streaming prediction and evaluation with a trained model.

Both read the data in file order, chunk by chunk, with the model's features and
missing-value policy: memory stays bounded by one chunk. Predictions are written
under a temporary name and renamed when complete.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from streamgd.atomic import atomic_open
from streamgd.config import make_config
from streamgd.errors import ConfigError, DataError, NonFiniteValueError
from streamgd.model.saved import TrainedModel
from streamgd.outputs import check_file_target, check_not_input
from streamgd.readers import ColumnPlan, open_source
from streamgd.readers.files import resolve_files
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk, Decoder


def _job_for(model: TrainedModel, paths: list[str], with_target: bool):
    """The model's data options pointed at other files (and maybe no target)."""
    data = dict(model.config["data"])
    data.update(paths=paths, cache_dir=data.get("cache_dir"))
    config = make_config({"data": data, "model": {"type": model.kind}})
    plan = ColumnPlan(
        tuple(model.features), model.target if with_target else None,
        model.kind == "linear" or model.labels.threshold_value is not None,
    )
    return config, plan


def _chunks(model: TrainedModel, paths: list[str], with_target: bool,
            missing: str) -> Iterator[tuple[Chunk, int, ChunkRef]]:
    config, plan = _job_for(model, paths, with_target)
    decoder = Decoder(list(model.features), plan, None, missing, model.labels,
                      model.impute_values)
    source = open_source(config, plan)
    try:
        for ref in source.chunks:
            table = source.read(ref)
            chunk = decoder.decode(table, ref, with_target=with_target)
            yield chunk, table.num_rows, ref
    finally:
        source.close()


PREDICTION_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv",
                       ".txt": "csv"}


def predict_file(model: TrainedModel, paths: list[str], out: str | Path,
                 model_path: str | Path | None = None) -> int:
    """Write one prediction per input row to Parquet or CSV (by `out`'s suffix).

    Rows with a missing feature get a null prediction unless the model imputes.
    Returns the number of rows written.

    Raises:
        ConfigError: `out` is a folder, cannot be written, is an input file
            (the model file `model_path` included), has another suffix than
            .parquet/.pq/.csv/.txt, or is an existing file that is not an
            earlier prediction file.
    """
    out = check_file_target(out, "--out")
    inputs = resolve_files(paths, model.config["data"].get("format", "auto"))
    check_not_input(out, [*paths, *(file.path for file in inputs)], "--out")
    if model_path is not None:
        check_not_input(out, [str(model_path)], "--out")
    fmt = _prediction_format(out)
    _check_replaceable(out, fmt)
    missing = "impute" if model.missing == "impute" else "drop"
    schema = _prediction_schema(model)
    written = 0
    # the writer closes before its stream, on an error too: left open, the
    # Parquet writer's finalizer later wrote its footer to the closed stream
    # (pyarrow printed "Exception ignored ... write to closed file"); on an
    # error atomic_open then deletes the partial predictions
    with atomic_open(out, "wb") as stream, _writer(fmt, stream, schema) as writer:
        for chunk, n_rows, _ in _chunks(model, paths, False, missing):
            writer.write_table(_prediction_table(model, chunk, n_rows, schema))
            written += n_rows
    return written


def _prediction_format(out: Path) -> str:
    """parquet or csv, from `out`'s suffix.

    Raises:
        ConfigError: another suffix (a model.json, costs.jsonl or job YAML
            named by mistake would be replaced by Parquet bytes).
    """
    fmt = PREDICTION_SUFFIXES.get(out.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"--out {out}: predictions are written as Parquet or CSV; give a"
            f" name ending in {', '.join(PREDICTION_SUFFIXES)}"
        )
    return fmt


def _check_replaceable(out: Path, fmt: str) -> None:
    """Refuse to replace an existing file that is not an earlier prediction file.

    Raises:
        ConfigError: `out` exists and is not a prediction file (its columns
            are not the predictions' own).
    """
    if not out.exists():
        return
    names = {("prediction",), ("probability", "prediction")}
    try:
        if fmt == "parquet":
            columns = tuple(pq.read_schema(out).names)
        else:
            with open(out, encoding="utf-8") as stream:
                header = stream.readline().strip()
            columns = tuple(name.strip('"') for name in header.split(","))
    except (OSError, UnicodeDecodeError, pa.ArrowException):
        columns = ()
    if columns not in names:
        raise ConfigError(
            f"--out {out} exists and is not a prediction file; predict replaces"
            " only its own earlier output: remove the file or choose another name"
        )


def _writer(fmt: str, stream: Any, schema: pa.Schema):
    """A Parquet or CSV writer on `stream`; a context manager that closes it."""
    if fmt == "csv":
        return pa_csv.CSVWriter(stream, schema)
    return pq.ParquetWriter(stream, schema)


def _prediction_schema(model: TrainedModel) -> pa.Schema:
    if model.kind == "linear":
        return pa.schema([("prediction", pa.float64())])
    return pa.schema([("probability", pa.float64()), ("prediction", pa.float64())])


def _prediction_table(model, chunk: Chunk, n_rows: int, schema: pa.Schema) -> pa.Table:
    values = np.full(n_rows, np.nan)
    rows = np.arange(n_rows) if chunk.kept is None else chunk.kept
    values[rows] = model.predict(chunk.X)
    mask = np.ones(n_rows, dtype=bool)
    mask[rows] = False
    columns = [pa.array(values, mask=mask)]
    if model.kind == "logistic":
        columns.append(pa.array((values > 0.5).astype(np.float64), mask=mask))
    return pa.Table.from_arrays(columns, schema=schema)


@dataclass(frozen=True)
class Evaluation:
    """Metrics of a model on labelled data (rows with missing values dropped)."""

    metrics: dict[str, float]
    n_rows: int
    n_dropped: int


def evaluate(model: TrainedModel, paths: list[str]) -> Evaluation:
    """RMSE, MAE and R^2 (linear) or log loss and accuracy (logistic), streamed."""
    if model.kind == "logistic" and model.labels is None:
        raise ConfigError("the model has no label mapping")
    missing = "impute" if model.missing == "impute" else "drop"
    sums: dict[str, float] = {"n": 0.0, "loss": 0.0, "abs": 0.0, "hits": 0.0}
    y_sum = y_square_dev = 0.0
    dropped = 0
    for chunk, _, ref in _chunks(model, paths, True, missing):
        dropped += chunk.n_dropped
        if chunk.n_rows == 0:
            continue
        # overflow is checked row by row just below, with the row named
        with np.errstate(over="ignore", invalid="ignore"):
            z = model.decision_function(chunk.X)
            losses, _ = model.loss.value_and_slope(z, chunk.y)
        _check_finite(model, chunk, ref, z, losses)
        # running mean and squared deviation of y (Chan's merge) for R^2
        n_old, n_new = sums["n"], float(chunk.n_rows)
        mean_new = float(chunk.y.mean())
        delta = mean_new - (y_sum / n_old if n_old else 0.0)
        y_square_dev += float(((chunk.y - mean_new) ** 2).sum())
        if n_old:
            y_square_dev += delta * delta * n_old * n_new / (n_old + n_new)
        y_sum += float(chunk.y.sum())
        sums["n"] += n_new
        sums["loss"] += float(losses.sum())
        sums["abs"] += float(np.abs(z - chunk.y).sum())
        sums["hits"] += float(((z > 0) == (chunk.y > 0.5)).sum())
    n = sums["n"]
    if n == 0:
        raise DataError(
            f"no rows to evaluate ({dropped} dropped for missing values)",
            file=", ".join(paths),
        )
    if model.kind == "linear":
        mse = 2.0 * sums["loss"] / n
        metrics = {"rmse": math.sqrt(mse), "mae": sums["abs"] / n,
                   "r2": 1.0 - mse * n / y_square_dev if y_square_dev else float("nan")}
    else:
        metrics = {"log_loss": sums["loss"] / n, "accuracy": sums["hits"] / n}
    overflowed = [name for name, value in metrics.items() if np.isinf(value)]
    if overflowed:
        raise DataError(
            f"the {', '.join(overflowed)} overflows float64: the errors are too"
            " large to sum; rescale the target and features",
            file=", ".join(paths),
        )
    return Evaluation(metrics, int(n), dropped)


def _check_finite(model: TrainedModel, chunk: Chunk, ref: ChunkRef,
                  z: np.ndarray, losses: np.ndarray) -> None:
    """Refuse a row whose prediction or loss overflows float64, naming it.

    Raises:
        NonFiniteValueError: the file, the column to blame, the row and line.
    """
    bad = ~(np.isfinite(z) & np.isfinite(losses))
    if not bad.any():
        return
    index = int(np.argmax(bad))
    row = ref.first_row + (index if chunk.kept is None else int(chunk.kept[index]))
    line = None if ref.first_line is None else ref.first_line + row - ref.first_row
    # blame the larger side of the residual: the prediction's largest input,
    # or the target
    if not np.isfinite(z[index]) or abs(z[index]) > abs(chunk.y[index]):
        column = model.features[int(np.argmax(np.abs(chunk.X[index])))]
        problem = "so large that the prediction or its loss overflows float64"
    else:
        column = model.target
        problem = "so far from the prediction that its loss overflows float64"
    raise NonFiniteValueError(
        f"value {problem}; rescale or remove it",
        file=ref.file, column=column, row=row, line=line,
    )


def summary(evaluation: Evaluation) -> dict[str, Any]:
    return {"rows": evaluation.n_rows, "rows_dropped": evaluation.n_dropped,
            **evaluation.metrics}
