"""The averaged cost log: every update's cost, averaged over sliding windows.

Each update's cost is the batch cost computed before the update (progressive: the
model has not yet seen those rows). Averages are weighted by the batch's total sample
weight, so a short last batch counts for its rows only. Every `log_every` updates,
and at each epoch's end, one JSON record is written:

    {"kind": "update" | "epoch", "epoch": 1, "update": 1200, "rows_seen": 38400,
     "cost_10": ..., "cost_100": ..., "cost_1000": ..., "cost_epoch": ...,
     "learning_rate": ..., "elapsed": 3.21}

`cost_epoch` is the running average over the epoch so far (over the whole epoch in
an "epoch" record). Epochs are numbered from 1 in the file, as in the training
summary and the progress display; the engines pass their 0-based epoch index. A log
begun by an earlier version (numbered from 0) keeps that numbering when a run
resumes it, so it is never mixed. Windows shorter than their length at the start of
a run average what there is. The sums behind the averages are taken a block at
a time, by one compiled pass when numba is installed (`train.costsums`: the
same bits as numpy's).

The file grows under a hidden partial name and is renamed into place when the run
completes (`atomic.AppendFile`), so the previous run's log stays whole until then.
`state()` gives what a checkpoint needs to continue the log exactly: the counters,
the windows' tails, the epoch sums and the byte length written so far; a resumed
log cuts the file back to that length, so no record is lost or written twice.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from streamgd.atomic import AppendFile
from streamgd.train.costsums import WINDOWS, block_sums

# the averages of a record, in the order `costsums.BlockSums.averages` has them
_AVERAGE_KEYS = (*(f"cost_{window}" for window in WINDOWS), "cost_epoch")


class Progress(Protocol):
    """Receives every record of the cost log; the CLI prints some of them."""

    def record(self, record: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class CostLogState:
    """Where a cost log stands; what a checkpoint stores to continue it.

    Attributes:
        update_count: updates logged; rows_seen: rows in them.
        tail_cost, tail_weight: float64 arrays of shape (<= 999,), the last
            updates' costs and total weights (what the windows still need).
        epoch_sums: float64 array of shape (2,), the epoch's weighted cost sum
            and weight sum so far.
        elapsed: seconds of training so far, over every resumed part.
        n_records: records written; n_bytes: length of the file holding them.
    """

    update_count: int
    rows_seen: int
    tail_cost: np.ndarray
    tail_weight: np.ndarray
    epoch_sums: np.ndarray
    elapsed: float
    n_records: int
    n_bytes: int


class CostLog:
    """Averages update costs and writes the records.

    Args:
        path: the JSON-lines file, or None to keep records in memory only.
        log_every: updates between "update" records.
        progress: told of every record (the library itself prints nothing).
        resume: a checkpoint's `state()` to continue from; the records already
            written are read back from the file into `records`.
    """

    def __init__(
        self,
        path: str | Path | None,
        log_every: int,
        progress: Progress | None = None,
        resume: CostLogState | None = None,
    ) -> None:
        self.path = None if path is None else Path(path)
        self.log_every = log_every
        self.progress = progress
        self.records: list[dict[str, Any]] = []
        self.update_count = 0
        self.rows_seen = 0
        self._started = time.perf_counter()
        self._tail_cost = np.empty(0)
        self._tail_weight = np.empty(0)
        self._epoch_sums = np.zeros(2)
        # written epoch = engine's 0-based index + this
        self._epoch_base = 1
        self._file: AppendFile | None = None
        if resume is not None:
            self._continue(path, resume)
        elif path is not None:
            self._file = AppendFile(path)

    def _continue(self, path: str | Path | None, state: CostLogState) -> None:
        self.update_count, self.rows_seen = state.update_count, state.rows_seen
        self._tail_cost, self._tail_weight = state.tail_cost, state.tail_weight
        self._epoch_sums = state.epoch_sums
        self._started = time.perf_counter() - state.elapsed
        if path is None:
            return
        self._file = AppendFile(path, resume_at=state.n_bytes)
        with open(self._file.partial, encoding="utf-8") as stream:
            self.records = [_read_record(line) for line in stream]
        if len(self.records) != state.n_records:
            raise ValueError(
                f"{self._file.partial} holds {len(self.records)} records where its"
                f" checkpoint counted {state.n_records}"
            )
        if any(record.get("epoch") == 0 and record["kind"] in ("update", "epoch")
               for record in self.records):
            self._epoch_base = 0  # a log numbered from 0 goes on that way

    def state(self) -> CostLogState:
        """The log's state, the file synced to disk first."""
        n_bytes = 0 if self._file is None else self._file.sync()
        return CostLogState(
            self.update_count, self.rows_seen, self._tail_cost, self._tail_weight,
            self._epoch_sums, time.perf_counter() - self._started,
            len(self.records), n_bytes,
        )

    def extend(
        self,
        epoch: int,
        costs: np.ndarray,
        weights: np.ndarray,
        rows: np.ndarray,
        learning_rates: np.ndarray,
    ) -> None:
        """Add the updates of one block (float64 arrays, one entry per update)
        made in epoch `epoch` (0-based)."""
        if len(costs) == 0:
            return
        sums = block_sums(
            self._tail_cost, self._tail_weight, costs, weights, rows,
            self._epoch_sums, self.rows_seen, self.update_count, self.log_every,
        )

        # a record at every multiple of log_every among this block's updates
        first, written = self.update_count + 1, epoch + self._epoch_base
        for position, averages, rows_seen in zip(
            sums.positions.tolist(), sums.averages.tolist(), sums.rows_seen.tolist()
        ):
            record = {"kind": "update", "epoch": written,
                      "update": first + position, "rows_seen": int(rows_seen)}
            record.update(zip(_AVERAGE_KEYS, averages))
            record["learning_rate"] = float(learning_rates[position])
            self._write(record)

        # keep what the next block's windows need
        self._tail_cost, self._tail_weight = sums.tail_cost, sums.tail_weight
        self._epoch_sums = sums.epoch_sums
        self.update_count += len(costs)
        self.rows_seen = sums.rows_seen_after

    def end_epoch(self, epoch: int, learning_rate: float) -> dict[str, Any]:
        """Write the record of epoch `epoch` (0-based) and start the next epoch's
        average; return the record."""
        record = {"kind": "epoch", "epoch": epoch + self._epoch_base,
                  "update": self.update_count,
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

    def add_record(self, record: dict[str, Any]) -> None:
        """Write a record of another kind (a holdout evaluation) in sequence,
        stamped with the update count and rows seen so far; its `epoch`, if
        any, is written as given (1-based)."""
        self._write({"update": self.update_count, "rows_seen": self.rows_seen,
                     **record})

    def recent_cost(self, window: int = 10) -> float:
        """Weighted mean cost of the last `window` updates (nan before any)."""
        cost, weight = self._tail_cost[-window:], self._tail_weight[-window:]
        return _ratio(float(cost @ weight), float(weight.sum()))

    def _write(self, record: dict[str, Any]) -> None:
        record["elapsed"] = round(time.perf_counter() - self._started, 6)
        self.records.append(record)
        if self._file is not None:
            # strict JSON: no NaN token; an empty window is null
            line = {key: None if value != value else value
                    for key, value in record.items()}
            self._file.write(json.dumps(line) + "\n")
        if self.progress is not None:
            self.progress.record(record)

    def commit(self) -> None:
        """The run is over: the file is renamed into place, whole."""
        if self._file is not None:
            self._file.commit()

    def discard(self) -> None:
        """Close and delete the partial file (a run that cannot be resumed)."""
        if self._file is not None:
            self._file.discard()

    def close(self) -> None:
        """Close, leaving the partial file for a resumed run to continue."""
        if self._file is not None:
            self._file.close()


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def _read_record(line: str) -> dict[str, Any]:
    # null stands for NaN in the file (strict JSON); in memory it is NaN again
    record = json.loads(line)
    return {
        key: math.nan if value is None and key.startswith("cost_") else value
        for key, value in record.items()
    }
