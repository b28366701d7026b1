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

A range with a line of an odd number of quote characters may have been cut
inside a quoted value that holds a line break (`csv_ranges.QuoteCheck`); the
first such range in file order ends the ranges, and the streaming reader
reads the rest of the file from that range's first row, with quoted line
breaks allowed (the ranges before it hold whole rows: their lines are all
even; a range whose rows span far more than its bytes, between lines that
end in a lone CR, ends them the same way, so that no range is read whole
into memory). The rows are then those of the file read whole with
`data.csv.newlines_in_values: true`, which is what such a file needs; the
streaming reader without it parses the value only while no block boundary
falls inside it, and fails otherwise ("out of sync with chunker").
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, replace
from itertools import islice
from queue import SimpleQueue
from typing import Iterator

import pyarrow as pa

from streamgd.readers.chunks import ColumnPlan
from streamgd.readers.csv import (
    SWITCH_INTERVAL, CsvOptions, LineCount, _open, _parsed_ahead,
)
from streamgd.readers.csv_ranges import (
    RANGE_BYTES, CountedRange, QuoteCheck, column_names, range_text,
    split_ranges, text_blocks,
)

log = logging.getLogger(__name__)

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
    that ended it, if one did.

    Attributes:
        odd_line: for a range not parsed, its first row's offset and the line
            with an odd number of quotes, counted from that row (0-based), or
            None when the range's rows are far longer than its bytes (lines
            ending in a lone CR).
    """

    lines: LineCount
    error: BaseException | None = None
    odd_line: tuple[int, int | None] | None = None


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
        odd = yield from self._ranges(names)
        if odd is not None:
            yield from self._streamed(odd, names)

    def _ranges(self, names: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        """The blocks of the ranges; returns the `_End` of the first range
        with an odd line, where the ranges stop (None if there is none)."""
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
                    if item.odd_line is not None:
                        return item
                    self.lines = self.lines.merge(item.lines)
                    if item.error is not None:
                        raise item.error
            finally:
                # a consumer that stops early parses no more ranges; those
                # running stop at their next block, before the pool ends
                stop.set()
                for future, _ in waiting:
                    future.cancel()
        return None

    def _streamed(self, odd: _End, names: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
        """The blocks of the rest of the file, from the first row of the range
        of `odd` on, read by the streaming reader with quoted line breaks
        allowed (see the module docstring)."""
        first, lines_before = odd.odd_line
        if lines_before is None:
            # where the first lone CR is would need a scan of the range: the
            # warning names the line the streaming reader takes over at
            first_line = self.lines.newlines + 1
            log.warning(
                "%s: some lines from line %d on end in a lone CR, it seems (no LF"
                " far beyond a range's end); the file is read by the streaming"
                " reader from line %d on", self.path, first_line, first_line,
            )
        else:
            log.warning(
                "%s: line %d has an odd number of quote characters: a quoted"
                " value seems to hold a line break; the file is read by the"
                " streaming reader from there on (set"
                " data.csv.newlines_in_values: true if quoted values hold line"
                " breaks)", self.path, self.lines.newlines + lines_before + 1,
            )
        options = replace(self.options, newlines_in_values=True)
        here = replace(options, column_names=names, header=False) if first else options
        with ExitStack() as stack:
            counter = stack.enter_context(
                CountedRange(self.path, first, os.path.getsize(self.path)))
            reader = stack.enter_context(
                _open(counter, self.path, self.plan, here, whole=options))
            yield from _parsed_ahead(reader, self.path, self.plan, options)
        self.lines = self.lines.merge(counter.lines)


def _parse_range(
    path: str, plan: ColumnPlan, options: CsvOptions, byte_range: tuple[int, int],
    names: tuple[str, ...], handed: SimpleQueue, stop: threading.Event,
) -> None:
    """Read and parse one range (in a parsing thread), handing on its blocks
    and then its `_End`; an error goes with the `_End`, to be raised in
    order. Stops early once `stop` is set."""
    try:
        # a range's rows span its bytes and at most a row more (shorter than
        # a block); much more only between lines ending in a lone CR
        most = 2 * (byte_range[1] - byte_range[0]) + options.block_size
        text = range_text(path, byte_range, most)
        if text[1] is None:
            handed.put(_End(LineCount(), odd_line=(text[0], None)))
            return
        check = QuoteCheck(text[0])
        if not (check.feed(text[1]) and check.finish()):
            lines_before = text[1].count(b"\n", 0, check.odd_line - text[0])
            handed.put(_End(LineCount(), odd_line=(text[0], lines_before)))
            return
        for block in text_blocks(path, plan, options, names, text):
            if stop.is_set():
                return
            handed.put(block)
        handed.put(_End(LineCount.of(text[1])))
    except BaseException as error:  # the consumer waits for an _End
        handed.put(_End(LineCount(), error))
