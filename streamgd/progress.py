"""A progress bar for each pass over the data, drawn from the cost-log records.

    epoch 2/5 [########............]  41%  134,144/327,346 rows  612k rows/s
        cost(100) 118.3  ETA 0:00:01

It is a `train.costlog.Progress`: the engine hands it every record, and it
redraws one terminal line at most every `interval` seconds. The statistics
pass before training, which reads the data once too, reports its rows through
`statistics_rows` and gets a bar of its own. The rows of a pass
are known from the Parquet metadata for the first epoch (an upper bound when
rows are dropped for missing values) and exactly from the first epoch's count
afterwards; without them the bar shows rows and speed but no ETA. When the
stream is not a terminal, nothing is drawn and each finished epoch is logged
instead (shown with `streamgd -v`).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import IO, Any, Callable

log = logging.getLogger(__name__)

BAR_WIDTH = 20


class ProgressBar:
    """Draws the bar of the pass in progress on `stream` (a terminal).

    Args:
        stream: where to draw; when it is not a terminal, epochs are logged.
        rows_per_pass: rows in one pass, if known beforehand (Parquet metadata).
        max_epochs: passes at most, for the "epoch 2/5" label.
        interval: seconds between redraws.
        clock: monotonic seconds, for the redraw interval (injectable for tests);
            speeds and ETAs use the records' `elapsed`.
    """

    def __init__(
        self,
        stream: IO[str] | None = None,
        rows_per_pass: int | None = None,
        max_epochs: int | None = None,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self.rows_per_pass = rows_per_pass
        self.max_epochs = max_epochs
        self.interval = interval
        self.clock = clock
        self._pass_started = 0.0  # the cost log's `elapsed` when the pass began
        self._pass_first_row = 0
        self._last_draw = -float("inf")
        # the statistics pass starts with the run: opening the source (parsing
        # CSV into its cache) is part of it
        self._created = clock()
        self._statistics: tuple[float, int] | None = None  # (started, rows read)
        self._first_record = True
        # a pass counted from a resume, and the rows per pass known before it
        self._resumed_pass = False
        self._rows_known_before: int | None = None

    def statistics_rows(self, rows_read: int) -> None:
        """Rows read so far by the statistics pass (dropped ones included)."""
        now = self.clock()
        started = self._created if self._statistics is None else self._statistics[0]
        self._statistics = (started, rows_read)
        if now - self._last_draw >= self.interval:
            self._last_draw = now
            self._draw(self._statistics_line(rows_read, now - started))

    def _statistics_line(self, rows: int, seconds: float) -> str:
        speed = rows / max(seconds, 1e-9)
        parts = ["statistics"]
        total = self.rows_per_pass
        if total:
            fraction = min(rows / total, 1.0)
            parts += [_bar(fraction), f"{rows:,}/{total:,} rows"]
        else:
            parts.append(f"{rows:,} rows")
        parts.append(f"{_si(speed)} rows/s")
        if total and speed > 0:
            parts.append(f"ETA {_clock_time(max(total - rows, 0) / speed)}")
        return "  ".join(parts)

    def _finish_statistics(self) -> None:
        started, rows = self._statistics
        self._statistics = None
        self._say(f"statistics pass done: {rows:,} rows in"
                  f" {self.clock() - started:.1f}s")
        self._last_draw = -float("inf")

    def record(self, record: dict[str, Any]) -> None:
        """Take one cost-log record: redraw, or finish the pass at an epoch's end."""
        if self._statistics is not None:
            self._finish_statistics()
        if self._first_record:
            self._first_record = False
            if record["epoch"] > 1:
                self._start_resumed_pass(record)
        if record["kind"] == "epoch":
            self._finish_pass(record)
        elif record["kind"] == "holdout":
            best = " (best so far)" if record.get("best") else ""
            self._say(f"{self._label(record['epoch'])} holdout cost"
                      f" {record['cost']:.6g}{best}")
        elif record["kind"] == "update":
            now = self.clock()
            if now - self._last_draw >= self.interval:
                self._last_draw = now
                self._draw(self.line(record))

    def _start_resumed_pass(self, record: dict[str, Any]) -> None:
        """A run resumed in a later epoch: where its pass began is unknown, so
        the pass counts from this record, without a bar or ETA."""
        self._pass_first_row = record["rows_seen"]
        self._pass_started = record["elapsed"]
        self._resumed_pass, self._rows_known_before = True, self.rows_per_pass
        self.rows_per_pass = None

    def line(self, record: dict[str, Any]) -> str:
        """The bar's text for an update record."""
        rows = record["rows_seen"] - self._pass_first_row
        # the log's own clock starts with training, after the statistics pass
        seconds = max(record["elapsed"] - self._pass_started, 1e-9)
        speed = rows / seconds
        parts = [self._label(record["epoch"])]
        if self.rows_per_pass:
            fraction = min(rows / self.rows_per_pass, 1.0)
            parts.append(_bar(fraction))
            parts.append(f"{rows:,}/{self.rows_per_pass:,} rows")
        else:
            parts.append(f"{rows:,} rows")
        parts.append(f"{_si(speed)} rows/s")
        parts.append(f"cost(100) {record['cost_100']:.4g}")
        if self.rows_per_pass and speed > 0:
            remaining = max(self.rows_per_pass - rows, 0) / speed
            parts.append(f"ETA {_clock_time(remaining)}")
        return "  ".join(parts)

    def _label(self, epoch: int) -> str:
        of = f"/{self.max_epochs}" if self.max_epochs else ""
        return f"epoch {epoch}{of}"

    def _finish_pass(self, record: dict[str, Any]) -> None:
        rows = record["rows_seen"] - self._pass_first_row
        seconds = record["elapsed"] - self._pass_started
        self._say(f"{self._label(record['epoch'])} done: {rows:,} rows in"
                  f" {seconds:.1f}s, epoch cost {record['cost_epoch']:.6g}")
        # from now on a pass has exactly this many rows (unless this one was
        # counted from a resume, part way through: then what was known before)
        self.rows_per_pass = self._rows_known_before if self._resumed_pass else rows
        self._resumed_pass = False
        self._pass_first_row = record["rows_seen"]
        self._pass_started = record["elapsed"]
        self._last_draw = -float("inf")

    def _say(self, text: str) -> None:
        """A line that stays: over the bar on a terminal, else to the log."""
        if self.is_terminal:
            self._draw(text, end="\n")
        else:
            log.info("%s", text)

    def _draw(self, text: str, end: str = "") -> None:
        if not self.is_terminal:
            return
        # \r and clear to the end of the line: a shorter line leaves no tail
        self.stream.write(f"\r{text}\x1b[K{end}")
        self.stream.flush()


def _bar(fraction: float) -> str:
    filled = int(round(fraction * BAR_WIDTH))
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%}"


def _si(value: float) -> str:
    """3 significant digits with k/M/G: 612345 -> '612k'."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g}{suffix}"
    return f"{value:.3g}"


def _clock_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
