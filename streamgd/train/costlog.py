"""The averaged cost log: every update's cost, averaged over sliding windows.

Each update's cost is the batch cost computed before the update (progressive: the
model has not yet seen those rows). Averages are weighted by the batch's total sample
weight, so a short last batch counts for its rows only. Every `log_every` updates,
and at each epoch's end, one JSON record is written:

    {"kind": "update" | "epoch", "epoch": 0, "update": 1200, "rows_seen": 38400,
     "cost_10": ..., "cost_100": ..., "cost_1000": ..., "cost_epoch": ...,
     "learning_rate": ..., "elapsed": 3.21}

`cost_epoch` is the running average over the epoch so far (over the whole epoch in
an "epoch" record). Windows shorter than their length at the start of a run average
what there is. The file is written under a temporary name and renamed on close.
"""

from __future__ import annotations

import json
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from streamgd.atomic import atomic_open

WINDOWS = (10, 100, 1000)


class Progress(Protocol):
    """Receives every record of the cost log; the CLI prints some of them."""

    def record(self, record: dict[str, Any]) -> None: ...


class CostLog:
    """Averages update costs and writes the records.

    Args:
        path: the JSON-lines file, or None to keep records in memory only.
        log_every: updates between "update" records.
        progress: told of every record (the library itself prints nothing).
    """

    def __init__(
        self, path: str | Path | None, log_every: int, progress: Progress | None = None
    ) -> None:
        self.log_every = log_every
        self.progress = progress
        self.records: list[dict[str, Any]] = []
        self.update_count = 0
        self.rows_seen = 0
        self._started = time.perf_counter()
        self._tail_cost = np.empty(0)
        self._tail_weight = np.empty(0)
        self._epoch_sums = np.zeros(2)
        self._file: AbstractContextManager | None = None
        self._stream = None
        if path is not None:
            self._file = atomic_open(path)
            self._stream = self._file.__enter__()

    def extend(
        self,
        epoch: int,
        costs: np.ndarray,
        weights: np.ndarray,
        rows: np.ndarray,
        learning_rates: np.ndarray,
    ) -> None:
        """Add the updates of one block (float64 arrays, one entry per update)."""
        if len(costs) == 0:
            return
        full_cost = np.concatenate([self._tail_cost, costs])
        full_weight = np.concatenate([self._tail_weight, weights])
        cost_sums = np.concatenate([[0.0], np.cumsum(full_cost * full_weight)])
        weight_sums = np.concatenate([[0.0], np.cumsum(full_weight)])
        epoch_costs = self._epoch_sums[0] + np.cumsum(costs * weights)
        epoch_weights = self._epoch_sums[1] + np.cumsum(weights)
        rows_seen = self.rows_seen + np.cumsum(rows)

        # a record at every multiple of log_every among this block's updates
        first = self.update_count + 1
        updates = np.arange(first, first + len(costs))
        for k in np.flatnonzero(updates % self.log_every == 0):
            end = len(self._tail_cost) + k + 1
            record = {"kind": "update", "epoch": epoch, "update": int(updates[k]),
                      "rows_seen": int(rows_seen[k])}
            for window in WINDOWS:
                start = max(0, end - window)
                record[f"cost_{window}"] = _ratio(
                    cost_sums[end] - cost_sums[start],
                    weight_sums[end] - weight_sums[start],
                )
            record["cost_epoch"] = _ratio(epoch_costs[k], epoch_weights[k])
            record["learning_rate"] = float(learning_rates[k])
            self._write(record)

        # keep what the next block's windows need
        keep = WINDOWS[-1] - 1
        self._tail_cost, self._tail_weight = full_cost[-keep:], full_weight[-keep:]
        self._epoch_sums = np.array([epoch_costs[-1], epoch_weights[-1]])
        self.update_count += len(costs)
        self.rows_seen = int(rows_seen[-1])

    def end_epoch(self, epoch: int, learning_rate: float) -> dict[str, Any]:
        """Write the epoch record and start the next epoch's average; return it."""
        record = {"kind": "epoch", "epoch": epoch, "update": self.update_count,
                  "rows_seen": self.rows_seen}
        end = len(self._tail_cost)
        for window in WINDOWS:
            cost = self._tail_cost[max(0, end - window):]
            weight = self._tail_weight[max(0, end - window):]
            record[f"cost_{window}"] = _ratio(float(cost @ weight), float(weight.sum()))
        record["cost_epoch"] = _ratio(*self._epoch_sums)
        record["learning_rate"] = learning_rate
        self._write(record)
        self._epoch_sums = np.zeros(2)
        return record

    def recent_cost(self, window: int = 10) -> float:
        """Weighted mean cost of the last `window` updates (nan before any)."""
        cost, weight = self._tail_cost[-window:], self._tail_weight[-window:]
        return _ratio(float(cost @ weight), float(weight.sum()))

    def _write(self, record: dict[str, Any]) -> None:
        record["elapsed"] = round(time.perf_counter() - self._started, 6)
        self.records.append(record)
        if self._stream is not None:
            # strict JSON: no NaN token; an empty window is null
            line = {key: None if value != value else value
                    for key, value in record.items()}
            self._stream.write(json.dumps(line) + "\n")
        if self.progress is not None:
            self.progress.record(record)

    def close(self, keep: bool = True) -> None:
        """Finish the file: renamed into place, or discarded with `keep=False`."""
        if self._file is None:
            return
        file, self._file = self._file, None
        if keep:
            file.__exit__(None, None, None)
        else:
            file.__exit__(RuntimeError, RuntimeError("discarded"), None)


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")
