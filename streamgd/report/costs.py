"""Reading a cost log back: one JSON record per line, checked as it is read.

The records are those `train.costlog.CostLog` writes (`kind` "update" or "epoch").
A record of kind "holdout" (or one with `"holdout": true`) is a cost measured on
held-out rows, with its value in `cost` (or `cost_epoch`), at the `update` and
`elapsed` of the moment it was taken.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamgd.errors import DataError

WINDOWS = (10, 100, 1000)


@dataclass(frozen=True)
class CostSeries:
    """One curve: x values at updates and at seconds, and the costs there.

    Attributes:
        label: the legend's text.
        update: float64 (n,), the update count of each point.
        elapsed: float64 (n,), seconds since the start of training.
        cost: float64 (n,); NaN where the record had no value.
    """

    label: str
    update: np.ndarray
    elapsed: np.ndarray
    cost: np.ndarray

    def __len__(self) -> int:
        return len(self.cost)


def read_cost_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a cost log, in order.

    Raises:
        DataError: the file is missing, empty, or a line is not a JSON record
            with `kind`, `update` and `elapsed` (naming the line).
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise DataError("cost log not found", file=str(path)) from None
    records = [_record(line, number, path) for number, line in
               enumerate(lines, start=1) if line.strip()]
    if not records:
        raise DataError("cost log holds no record; was the run stopped before"
                        " its first log_every updates?", file=str(path))
    return records


def _record(line: str, number: int, path: Path) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise DataError(f"not a JSON record ({error.msg})", file=str(path),
                        line=number) from None
    missing = [key for key in ("kind", "update", "elapsed")
               if not isinstance(record, dict) or key not in record]
    if missing:
        raise DataError(f"record lacks {', '.join(missing)}; is this a streamgd"
                        " cost log?", file=str(path), line=number)
    return record


def is_holdout(record: dict[str, Any]) -> bool:
    return record["kind"] == "holdout" or record.get("holdout") is True


def cost_series(records: list[dict[str, Any]]) -> list[CostSeries]:
    """The curves of a plot: each moving average, the epochs, the holdout."""
    updates = [r for r in records if r["kind"] == "update"]
    # a full-batch log's start (iteration 0) is the first point of its epochs
    epochs = [r for r in records
              if r["kind"] in ("epoch", "start") and not is_holdout(r)]
    holdout = [r for r in records if is_holdout(r)]
    curves = [_series(f"last {window} updates", updates, f"cost_{window}")
              for window in WINDOWS]
    curves.append(_series("epoch average", epochs, "cost_epoch", "cost"))
    curves.append(_series("holdout", holdout, "cost", "cost_epoch"))
    return [curve for curve in curves if np.isfinite(curve.cost).any()]


def _series(label: str, records: list[dict[str, Any]], *keys: str) -> CostSeries:
    def value(record: dict[str, Any]) -> float:
        found = next((record[key] for key in keys if record.get(key) is not None),
                     None)
        return np.nan if found is None else float(found)

    return CostSeries(
        label,
        np.array([float(r["update"]) for r in records]),
        np.array([float(r["elapsed"]) for r in records]),
        np.array([value(r) for r in records]),
    )
