"""The progress bar: what it draws on a terminal, and its silence elsewhere."""

import io
import logging

from streamgd.config import load_config
from streamgd.progress import ProgressBar
from streamgd.readers import column_plan, open_source
from streamgd.train.prepare import prepare


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """Seconds that advance only when the test says so."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


# records number epochs from 1, as the cost log does
def _update(epoch, rows_seen, elapsed, cost=4.5):
    return {"kind": "update", "epoch": epoch, "update": rows_seen // 10,
            "rows_seen": rows_seen, "cost_100": cost, "elapsed": elapsed}


def _epoch(epoch, rows_seen, elapsed, cost=4.0):
    return {"kind": "epoch", "epoch": epoch, "update": rows_seen // 10,
            "rows_seen": rows_seen, "cost_epoch": cost, "elapsed": elapsed}


def test_progress_bar_shows_rows_speed_cost_and_eta():
    """With the pass size known, the bar shows the share done, speed and ETA."""
    clock, terminal = Clock(), Terminal()
    bar = ProgressBar(terminal, rows_per_pass=1000, max_epochs=3, clock=clock)
    bar.record(_update(1, 250, elapsed=2.0, cost=3.25))
    line = terminal.getvalue()
    assert line.startswith("\repoch 1/3  [#####...............]  25%")
    assert "250/1,000 rows" in line
    assert "125 rows/s" in line
    assert "cost(100) 3.25" in line
    assert "ETA 0:00:06" in line  # 750 rows left at 125 rows/s


def test_progress_bar_learns_the_pass_size_from_the_first_epoch():
    """After an epoch the bar counts rows of the new pass against the last one."""
    clock, terminal = Clock(), Terminal()
    bar = ProgressBar(terminal, rows_per_pass=None, max_epochs=None, clock=clock)
    bar.record(_update(1, 500, elapsed=1.0))
    assert "500 rows  500 rows/s" in terminal.getvalue()
    assert "ETA" not in terminal.getvalue()
    clock.now = 1.0
    bar.record(_epoch(1, 800, elapsed=2.0))
    assert "epoch 1 done: 800 rows in 2.0s, epoch cost 4\x1b[K\n" in terminal.getvalue()
    clock.now = 2.0
    bar.record(_update(2, 1000, elapsed=3.0))
    last = terminal.getvalue().rsplit("\r", 1)[-1]
    assert "200/800 rows" in last and "ETA 0:00:03" in last


def test_progress_bar_redraws_at_most_every_interval():
    """Records closer together than the interval draw nothing new."""
    clock, terminal = Clock(), Terminal()
    bar = ProgressBar(terminal, rows_per_pass=100, interval=0.5, clock=clock)
    for step in range(10):
        clock.now = 0.1 * (step + 1)
        bar.record(_update(1, 10 * (step + 1), elapsed=clock.now))
    assert terminal.getvalue().count("\r") == 2  # at 0.1 s and at 0.6 s


def test_progress_bar_is_silent_off_a_terminal_and_logs_epochs(caplog):
    """A stream that is not a terminal gets nothing; epochs go to the log."""
    stream = io.StringIO()
    bar = ProgressBar(stream, rows_per_pass=100, clock=Clock())
    with caplog.at_level(logging.INFO, logger="streamgd.progress"):
        bar.record(_update(1, 50, elapsed=1.0))
        bar.record(_epoch(1, 100, elapsed=2.0))
    assert stream.getvalue() == ""
    assert "epoch 1 done: 100 rows" in caplog.text


def test_progress_bar_draws_the_statistics_pass_then_training():
    """The statistics pass gets its own bar, closed by the first training record."""
    clock, terminal = Clock(), Terminal()
    bar = ProgressBar(terminal, rows_per_pass=400, clock=clock)
    clock.now = 1.0
    bar.statistics_rows(100)
    clock.now = 2.0
    bar.statistics_rows(300)
    assert "statistics  [###############.....]  75%  300/400 rows" in (
        terminal.getvalue())
    assert "150 rows/s  ETA 0:00:01" in terminal.getvalue()
    clock.now = 3.0
    bar.record(_update(1, 40, elapsed=0.4))
    assert "statistics pass done: 300 rows in 3.0s\x1b[K\n" in terminal.getvalue()
    assert terminal.getvalue().endswith("ETA 0:00:04\x1b[K")  # 360 left at 100/s


def test_prepare_reports_the_statistics_pass_rows():
    """The statistics pass tells a progress object every row it reads."""
    class Rows:
        def __init__(self):
            self.read = []

        def statistics_rows(self, rows):
            self.read.append(rows)

        def record(self, record):
            pass

    rows = Rows()
    config = load_config(None)
    plan = column_plan(config)
    source = open_source(config, plan)
    try:
        prepare(config, source, plan, rows)
    finally:
        source.close()
    assert rows.read[-1] == 336_776 and len(rows.read) == 11
    assert rows.read == sorted(rows.read)


def test_progress_bar_counts_a_resumed_pass_from_its_first_record():
    """Resumed in epoch 3, the bar counts rows since then, with no made-up ETA."""
    terminal = Terminal()
    bar = ProgressBar(terminal, rows_per_pass=1000, max_epochs=5, interval=0.0,
                      clock=Clock())
    bar.record(_update(3, 2600, elapsed=30.0))
    bar.record(_update(3, 2800, elapsed=32.0))
    last = terminal.getvalue().rsplit("\r", 1)[-1]
    assert last.startswith("epoch 3/5  200 rows  100 rows/s")
    assert "ETA" not in last
    bar.record(_epoch(3, 3000, elapsed=34.0))
    bar.record(_update(4, 3500, elapsed=39.0))
    assert "500/1,000 rows" in terminal.getvalue().rsplit("\r", 1)[-1]
    bar.record(_epoch(4, 3900, elapsed=44.0))  # 900 rows: some were dropped
    bar.record(_update(5, 4125, elapsed=46.5))
    assert "225/900 rows" in terminal.getvalue().rsplit("\r", 1)[-1]


def test_progress_bar_reports_holdout_costs(caplog):
    """A holdout record gets its own line, marked when it is the best so far."""
    terminal = Terminal()
    bar = ProgressBar(terminal, max_epochs=2, clock=Clock())
    stamp = {"update": 10, "rows_seen": 320, "elapsed": 1.0}
    bar.record({"kind": "holdout", "epoch": 1, "cost": 1.25, "best": True, **stamp})
    assert "epoch 1/2 holdout cost 1.25 (best so far)\x1b[K\n" in terminal.getvalue()
    quiet = ProgressBar(io.StringIO(), clock=Clock())
    with caplog.at_level(logging.INFO, logger="streamgd.progress"):
        quiet.record({"kind": "holdout", "epoch": 2, "cost": 2.0, "best": False,
                      **stamp})
    assert "epoch 2 holdout cost 2\n" in caplog.text + "\n"
