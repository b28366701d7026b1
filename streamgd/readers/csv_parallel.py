"""One CSV file parsed by byte ranges side by side, handed on in file order.

pyarrow's streaming CSV reader parses on one core (it reads blocks in order),
so a CSV job's statistics pass could not go faster than one core parses. An
uncompressed file is cut into byte ranges instead (`readers.csv_ranges`: each
row belongs to the range it begins in, the header to the first); a few
threads parse a range each, with the GIL released, and the ranges' blocks are
handed on in file order. The blocks, their rows and their order depend only on
the file, `data.csv.block_size` and the range size, never on which thread ends
first, so the statistics and the model are the same whatever the timing.

The blocks are not the serial reader's: a range's last block ends at the range
(a block_size block split in two wherever a cut falls), so a file gives a few
more, shorter chunks. Their rows, in order, are the serial reader's rows.

Memory: at most `RANGES_AHEAD` ranges are parsed or waiting besides the one
being handed on, each its text while it is parsed (`RANGE_BYTES`) and its
typed blocks (about 3.5 MB for 8 MiB of rows of 20 numbers): flat in the
file's size.

Each range counts the newlines of its text (`LineCount`), merged in file
order, so chunks get line numbers exactly when the streaming reader would
give them.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from queue import SimpleQueue
from typing import Iterator

import pyarrow as pa

from streamgd.readers.chunks import ColumnPlan
from streamgd.readers.csv import SWITCH_INTERVAL, CsvOptions, LineCount
from streamgd.readers.csv_ranges import (
    RANGE_BYTES, column_names, range_text, split_ranges, text_blocks,
)

# threads parsing ranges at once. On this 2-core machine (200,000 rows of 20
# numbers, 79 MB, load about 1): one streaming reader 0.18 s, ranges of 8 MiB
# in 2 threads 0.11-0.12 s, in 3 threads 0.11 s; the statistics pass needs
# the rest of the second core, so 2
PARSE_THREADS = 2
# ranges parsed, being parsed or waiting, ahead of the one being handed on:
# the threads' and one more, so that a thread finds work when it finishes
RANGES_AHEAD = PARSE_THREADS + 1


def parallel_ranges(
    path: str, plan: ColumnPlan, options: CsvOptions
) -> list[tuple[int, int]] | None:
    """The ranges to parse `path` by, or None where only the streaming reader
    applies: compressed, newlines_in_values, one range's worth or less, no
    header and no column names (see `split_ranges`), or extra columns.

    Extra columns (a holdout key) have no declared type: pyarrow would infer
    each range's on its own, and one range's integers could meet another's
    text.
    """
    if plan.extra:
        return None
    return split_ranges(path, options, range_bytes(options))


def range_bytes(options: CsvOptions) -> int:
    """Bytes per range: `RANGE_BYTES`, or one block where blocks are larger
    (so that a range's blocks are no shorter than the job asked)."""
    return max(RANGE_BYTES, options.block_size)


@dataclass(frozen=True)
class _End:
    """The last item a range's parse hands on: its newlines, and the error
    that ended it, if one did."""

    lines: LineCount
    error: BaseException | None = None


class ParallelParse:
    """The blocks of one file's ranges, parsed in threads, in file order."""

    def __init__(
        self, path: str, plan: ColumnPlan, options: CsvOptions,
        ranges: list[tuple[int, int]], threads: int = PARSE_THREADS,
        ahead: int = RANGES_AHEAD,
    ) -> None:
        self.path, self.plan, self.options = path, plan, options
        self.ranges, self.threads, self.ahead = ranges, threads, ahead
        self.lines = LineCount()

    @property
    def n_lines(self) -> int:
        """Lines of the ranges handed on so far (see `LineCount.n_lines`)."""
        return self.lines.n_lines

    def blocks(self) -> Iterator[pa.RecordBatch]:
        """The file's blocks in order, each handed on as soon as it is parsed;
        a range's error is raised after the blocks parsed before it, where
        the streaming reader would raise it."""
        names = column_names(self.path, self.options)
        upcoming = iter(self.ranges)
        stop = threading.Event()
        with (
            SWITCH_INTERVAL.lowered(),
            ThreadPoolExecutor(self.threads,
                               thread_name_prefix="streamgd-parse") as pool,
        ):
            def start(byte_range: tuple[int, int]) -> tuple[Future, SimpleQueue]:
                handed: SimpleQueue = SimpleQueue()
                return pool.submit(_parse_range, self.path, self.plan, self.options,
                                   byte_range, names, handed, stop), handed

            waiting = deque(start(byte_range)
                            for byte_range in islice(upcoming, self.ahead))
            try:
                while waiting:
                    _, handed = waiting.popleft()
                    waiting.extend(start(byte_range)
                                   for byte_range in islice(upcoming, 1))
                    while not isinstance(item := handed.get(), _End):
                        yield item
                    self.lines = self.lines.merge(item.lines)
                    if item.error is not None:
                        raise item.error
            finally:
                # a consumer that stops early parses no more ranges; those
                # running stop at their next block, before the pool ends
                stop.set()
                for future, _ in waiting:
                    future.cancel()


def _parse_range(
    path: str, plan: ColumnPlan, options: CsvOptions, byte_range: tuple[int, int],
    names: tuple[str, ...], handed: SimpleQueue, stop: threading.Event,
) -> None:
    """Read and parse one range (in a parsing thread), handing on its blocks
    and then its `_End`; an error goes with the `_End`, to be raised in
    order. Stops early once `stop` is set."""
    try:
        text = range_text(path, byte_range)
        for block in text_blocks(path, plan, options, byte_range, names, text):
            if stop.is_set():
                return
            handed.put(block)
        handed.put(_End(LineCount.of(text[1])))
    except BaseException as error:  # the consumer waits for an _End
        handed.put(_End(LineCount(), error))
