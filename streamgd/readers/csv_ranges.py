"""Byte ranges of one CSV file, parsed independently (the full-batch partitions,
and the parsing threads of `readers.csv_parallel`).

A large CSV file read as one dask partition runs every pass on one worker. An
uncompressed file can instead be cut into byte ranges that workers parse side
by side. Cuts land anywhere; rows are assigned by where they begin:

    a row begins at byte 0, or just after a newline byte
    the range [start, end) owns every row that begins in it

so a task seeks to its start, skips to the first row beginning at or after it
(the end of the row that straddles the cut belongs to the range before), and
stops at the first row beginning at or after its end. Every row belongs to
exactly one range; a range with no row beginning in it is empty. The header
line is read by the range that starts at byte 0 and by the client, which hands
the column names to the other ranges.

A quoted value holding a line break would be cut at that break, so a file is
never split when `data.csv.newlines_in_values` is true. When it is false and
such a value exists anyway, the lines after a cut inside it may well parse as
rows, so every range is checked (`QuoteCheck`): a cut inside a quoted value
leaves a line with an odd number of quote characters on both sides of it, and
no line of a standard CSV file has one otherwise (a quote inside a value is
written twice, and an unquoted value holds none). A range that holds no quote
character at all costs one `find`. The range of such a line is refused
(`quoted_line_break`, which names the line), or, in the statistics pass,
the rest of the file is read by the streaming reader (`readers.csv_parallel`).
Compressed files cannot be entered in the middle and are read whole.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import replace
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from streamgd.config import MIN_BLOCK_SIZE
from streamgd.errors import DataError
from streamgd.readers.chunks import ColumnPlan
from streamgd.readers.csv import (
    CsvOptions, ForwardReader, LineCount, _batches, _open, _read_options,
)
from streamgd.readers.files import COMPRESSIONS

log = logging.getLogger(__name__)

# bytes per range: 8 MiB is about 20,000 rows of 20 numbers (30-60 ms of
# parsing here); a 79 MB file makes 10 ranges, which 2 workers share evenly
# (with 32 MiB ranges it made 3, and one worker parsed two of them)
RANGE_BYTES = 8 << 20
# how far a task reads at a time while looking for the next row's beginning
_SCAN_BYTES = 1 << 16


def split_ranges(
    path: str, options: CsvOptions, range_bytes: int = RANGE_BYTES
) -> list[tuple[int, int]] | None:
    """[start, end) byte ranges covering the file, or None to read it whole.

    None for a compressed file, a file that fits in one range, a file whose
    quoted values may hold line breaks, a file without a header and without
    `data.csv.column_names` (its column names are not known here), and a file
    whose first block (`_head`) holds no whole header line or a line ending
    in a lone CR: rows are cut after LF only, so a file of CR line endings
    would be one range, read whole into memory.
    """
    size = os.path.getsize(path)
    if (
        path.lower().endswith(COMPRESSIONS)
        or options.newlines_in_values
        or size <= range_bytes
        or not (options.header or options.column_names)
    ):
        return None
    head = _head(path, options)
    head = head[: head.rfind(b"\n") + 1]  # a CR at the end may precede a LF
    header = _header_line(head)
    if head.count(b"\r") != head.count(b"\r\n") or header is None:
        return None
    n_ranges = -(-size // range_bytes)
    # the header line (and the blank lines before it) begins in the first range
    header_end = header[1] if options.header else 0
    bounds = sorted({0, *(max(size * k // n_ranges, header_end)
                          for k in range(1, n_ranges + 1))})
    return list(zip(bounds[:-1], bounds[1:])) if len(bounds) > 2 else None


def column_names(path: str, options: CsvOptions) -> tuple[str, ...]:
    """Every column name of the file, in order: data.csv.column_names, or the
    header line as pyarrow parses it (after any blank lines, which pyarrow
    skips, and within the first block, where pyarrow looks for it)."""
    if options.column_names:
        return options.column_names
    head = _head(path, options)
    header = _header_line(head)
    if header is None:
        raise DataError(
            f"no header line ends within the first data.csv.block_size"
            f" ({options.block_size}) bytes: raise it", file=path,
        )
    parse = pa_csv.ParseOptions(delimiter=options.delimiter)
    line = head[slice(*header)]
    # the whole line in one block: at pyarrow's default of 1 MiB a longer
    # header could not be parsed at all, whatever data.csv.block_size said
    read = pa_csv.ReadOptions(block_size=max(len(line), MIN_BLOCK_SIZE))
    try:
        table = pa_csv.read_csv(io.BytesIO(line), read_options=read,
                                parse_options=parse)
    except pa.ArrowInvalid as error:
        raise DataError(f"cannot parse the CSV header ({error})", file=path) from None
    return tuple(table.column_names)


def _head(path: str, options: CsvOptions) -> bytes:
    """The file's first block (pyarrow needs the header line in it)."""
    with open(path, "rb") as handle:
        return handle.read(options.block_size)


def _header_line(head: bytes) -> tuple[int, int] | None:
    """[start, end) of the first line of `head` that is not blank, its LF
    included, if one ends in it."""
    position = 0
    while (end := head.find(b"\n", position)) >= 0:
        if head[position:end].rstrip(b"\r"):
            return position, end + 1
        position = end + 1
    return None


def range_blocks(
    path: str, plan: ColumnPlan, options: CsvOptions, byte_range: tuple[int, int],
    names: tuple[str, ...],
) -> Iterator[pa.RecordBatch]:
    """The parsed blocks of the rows beginning in `byte_range`, in order.

    Args:
        names: every column name of the file (`column_names`), for the ranges
            that do not start at the header.

    Raises:
        DataError: a value that is not a number (named by its row in the whole
            file), a row that does not parse (located in the whole file), or a
            line of the range with an odd number of quote characters (see the
            module docstring).
    """
    with open(path, "rb") as handle:
        first = row_start(handle, byte_range[0])
        last = row_start(handle, byte_range[1])
    if last <= first:
        return
    with _ByteRange(path, first, last, QuoteCheck(first)) as stream:
        try:
            yield from _parse(stream, first, path, plan, options, names)
        except DataError:
            # a line cut short at the odd line may have failed first
            if stream.check.odd_line is None:
                raise
        if stream.check.odd_line is not None:
            raise quoted_line_break(path, stream.check.odd_line) from None


def range_text(
    path: str, byte_range: tuple[int, int], most: int | None = None,
) -> tuple[int, bytes | None]:
    """The offset and the bytes of the rows beginning in `byte_range`, or
    None for the bytes when they are more than `most` (lines that end in a
    lone CR far into a file: rows are cut after LF only, see `split_ranges`).

    Read whole, for a parser that then needs no GIL (`text_blocks`): parsed
    from a `_ByteRange`, whose reads are Python calls, the statistics pass of
    500,000 rows took 0.45 s instead of 0.42 s (0.82 s of CPU instead of
    0.77 s; the two alternated in one process, 8 rounds, load 1.8-2.1),
    although reading 197 MB in 8 MiB pieces costs 0.066 s of CPU against
    0.027 s in 1 MiB pieces (the fresh pages fault in).
    """
    with open(path, "rb") as handle:
        first = row_start(handle, byte_range[0])
        last = row_start(handle, byte_range[1])
        if most is not None and last - first > most:
            return first, None
        handle.seek(first)
        return first, handle.read(max(last - first, 0))


def text_blocks(
    path: str, plan: ColumnPlan, options: CsvOptions, names: tuple[str, ...],
    text: tuple[int, bytes],
) -> Iterator[pa.RecordBatch]:
    """The parsed blocks of `text` (`range_text` of a byte range), in order,
    parsed in the calling thread (errors as in `range_blocks`)."""
    first, data = text
    if not data:
        return
    yield from _parse(pa.BufferReader(data), first, path, plan, options, names)


def _parse(
    stream: Any, first: int, path: str, plan: ColumnPlan, options: CsvOptions,
    names: tuple[str, ...],
) -> Iterator[pa.RecordBatch]:
    """The blocks of `stream`, the rows of the file from byte `first` on."""
    # the header is behind a later range: name the columns, parse lines as data
    here = replace(options, column_names=names, header=False) if first else options
    # errors are located in the whole file, read with the job's options, and
    # raised as the whole file's reader raises them
    with _open(stream, path, plan, here, whole=options) as reader:
        yield from _batches(reader, path, plan, options)


def row_start(handle: io.BufferedReader, offset: int) -> int:
    """The first byte at or after `offset` where a row begins (or the size)."""
    if offset == 0:
        return 0
    handle.seek(offset - 1)
    position = offset - 1
    while True:
        data = handle.read(_SCAN_BYTES)
        if not data:
            return position
        newline = data.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        position += len(data)


def rows_before(
    path: str, options: CsvOptions, byte_range: tuple[int, int]
) -> int:
    """Data rows of the file before the range (the error path: a second read).

    Counted as the ranges before it parse them: the bytes up to the range's
    first row, header handled as in the whole file.
    """
    with open(path, "rb") as handle:
        first = row_start(handle, byte_range[0])
    if first == 0:
        return 0
    read_options = _read_options(options)
    read_options.use_threads = False
    convert = pa_csv.ConvertOptions(column_types={}, include_columns=[])
    parse = pa_csv.ParseOptions(delimiter=options.delimiter)
    n_rows = 0
    with _ByteRange(path, 0, first) as stream, pa_csv.open_csv(
        stream, read_options=read_options, parse_options=parse,
        convert_options=convert,
    ) as reader:
        for batch in reader:
            n_rows += batch.num_rows
    return n_rows


def quoted_line_break(path: str, offset: int) -> DataError:
    """The error of a range whose line at byte `offset` has an odd number of
    quote characters (the line is counted: a second read, the error path)."""
    with open(path, "rb") as handle:
        line = 1 + sum(piece.count(b"\n") for piece in _pieces(handle, offset))
    return DataError(
        "this line has an odd number of quote characters: a quoted value seems"
        " to hold a line break, and the file, read in byte ranges side by side,"
        " may be cut inside it; set data.csv.newlines_in_values: true, which"
        " reads the file as one piece", file=path, line=line,
    )


def _pieces(handle: io.BufferedReader, size: int) -> Iterator[bytes]:
    """The first `size` bytes of `handle`, a megabyte at a time."""
    while size > 0:
        piece = handle.read(min(size, 1 << 20))
        if not piece:
            return
        size -= len(piece)
        yield piece


class QuoteCheck:
    """Finds the first line with an odd number of quote characters in the
    consecutive pieces of a range (see the module docstring).

    Attributes:
        odd_line: file offset of that line's first byte, once found.
    """

    def __init__(self, first: int) -> None:
        self.odd_line: int | None = None
        self._offset = first      # of the next piece
        self._line = first        # start of the line in progress
        self._odd = False         # its quotes so far are odd

    def feed(self, data: bytes) -> bool:
        """Check the next piece; False once an odd line is found."""
        if self.odd_line is None:
            self._check(data)
            self._offset += len(data)
        return self.odd_line is None

    def finish(self) -> bool:
        """Check the last line (the pieces are all fed); False if odd."""
        if self.odd_line is None and self._odd:
            self.odd_line = self._line
        return self.odd_line is None

    def _check(self, data: bytes) -> None:
        first = data.find(b'"')
        last_newline = data.rfind(b"\n")
        if first < 0:
            # no quote: only the line in progress can be odd
            if self._odd and last_newline >= 0:
                self.odd_line = self._line
            elif last_newline >= 0:
                self._line = self._offset + last_newline + 1
            return

        # from the line of the first quote to the end of the last quote's line
        start = 0 if self._odd else data.rfind(b"\n", 0, first) + 1
        end = data.find(b"\n", data.rfind(b'"'))
        end = len(data) if end < 0 else end + 1
        span = np.frombuffer(data, np.uint8, end - start, start)
        quotes = np.flatnonzero(span == 34)
        newlines = np.flatnonzero(span == 10)
        # every line before being even, the quotes since the line in progress
        # began are odd at a newline exactly when its line is the first odd one
        before = np.searchsorted(quotes, newlines) + self._odd
        odd = np.flatnonzero(before & 1)
        if odd.size:
            k = int(odd[0])
            if k:
                self.odd_line = self._offset + start + int(newlines[k - 1]) + 1
            else:
                self.odd_line = self._line if start == 0 else self._offset + start
            return
        self._odd = bool((quotes.size + self._odd) & 1)
        if last_newline >= 0:
            self._line = self._offset + last_newline + 1


class _ByteRange(ForwardReader):
    """A file object reading bytes [first, last) of a file, for pyarrow.

    With a `check`, each piece read is fed to it; the range then ends early
    at the piece where an odd line is found.
    """

    def __init__(
        self, path: str, first: int, last: int, check: QuoteCheck | None = None,
    ) -> None:
        self._stream = open(path, "rb")
        self._stream.seek(first)
        self._left = last - first
        self.check = check

    def read(self, size: int = -1) -> bytes:
        size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._stream.read(size)
        self._left -= len(data)
        if self.check is not None and not self._checked(data):
            self._left = 0
            return b""
        return data

    def _checked(self, data: bytes) -> bool:
        """Whether the lines of the range up to `data` are all even."""
        if not self.check.feed(data):
            return False
        at_end = self._left == 0 or not data
        return not at_end or self.check.finish()


class CountedRange(_ByteRange):
    """A byte range of a file that counts the lines read from it."""

    def __init__(self, path: str, first: int, last: int) -> None:
        super().__init__(path, first, last)
        self.lines = LineCount()

    def read(self, size: int = -1) -> bytes:
        data = super().read(size)
        self.lines = self.lines.merge(LineCount.of(data))
        return data
