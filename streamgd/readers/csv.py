"""CSV files (plain or compressed), parsed once into a typed Arrow cache.

pyarrow's streaming reader parses a CSV file block by block. Every feature column is
given the type float64 up front, so a column whose first block looks like integers
cannot break a later block that holds `2.5` (pyarrow otherwise infers int64 from the
first block and fails further on, without a row number).

A CSV file has no index: its blocks can only be read in order. To let the epoch
shuffle permute chunks, the first pass writes the parsed blocks to an Arrow IPC file
in a temporary folder (Vowpal Wabbit's cache file plays the same part); each later
epoch reads blocks from it in any order, several times faster than parsing again.
The cache costs 8 bytes per value on disk and is removed when the source closes.
A training job whose statistics pass decodes the rows as the epochs will caches
those decoded rows instead (see `readers.decoded`).
The parse runs in a thread, a few blocks ahead of the statistics pass and the
cache write (the parser releases the GIL and keeps to one core: the second core
does the rest); the blocks reach them in file order all the same. A large
uncompressed file is parsed by byte ranges in several threads instead
(`readers.csv_parallel`), its blocks handed on in file order too.
A process killed outright (SIGKILL, power loss) cannot remove its cache; its folder
is named after the host and the process id, and the next source opened on the same
host removes the folders of processes that no longer run (a typed copy of a whole
CSV file per killed run would otherwise fill the disk of a scheduled job's host).

Errors name the 0-based data row and, when every row of the file is one physical
line, the line too. The parser does not report lines, so the newlines are counted
alongside the parse; a blank line or a newline inside a quoted value leaves the
file's chunks without line numbers rather than with wrong ones.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import tempfile
import threading
from collections import deque
from contextlib import ExitStack, closing, contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from streamgd.atomic import naming_write_failures
from streamgd.config import CSV_BLOCK_SIZE
from streamgd.errors import DataError, SchemaError
from streamgd.outputs import check_folder
from streamgd.readers.chunks import ChunkRef, ColumnPlan
from streamgd.readers.files import COMPRESSIONS, DataFile, skip_empty

if TYPE_CHECKING:  # readers.decode imports model.labels, which imports readers
    from streamgd.readers.decode import Chunk, Decoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CsvOptions:
    """The job's `data.csv` section, and what to do with 0-byte files."""

    delimiter: str = ","
    null_values: tuple[str, ...] = ("NA", "")
    header: bool = True
    column_names: tuple[str, ...] | None = None
    newlines_in_values: bool = False
    block_size: int = CSV_BLOCK_SIZE
    empty_files: str = "error"



def _cache_prefix(host: str | None = None, pid: int | None = None) -> str:
    """The name start of a cache folder: streamgd-csv-HOST-PID-."""
    host = socket.gethostname() if host is None else host
    pid = os.getpid() if pid is None else pid
    return f"streamgd-csv-{host.replace('-', '_')}-{pid}-"


def remove_stale_caches(cache_dir: str | None = None) -> list[str]:
    """Remove the cache folders left by processes of this host that have ended.

    Folders of other hosts (a shared cache_dir) and of live processes are kept;
    a process id reused by a live process keeps its folder too, the safe side.

    Returns:
        the folders removed.
    """
    parent = Path(tempfile.gettempdir() if cache_dir is None else cache_dir)
    host_prefix = _cache_prefix(pid=0)[: -len("0-")]
    removed = []
    for folder in parent.glob(f"{host_prefix}*-*"):
        pid_text = folder.name[len(host_prefix):].split("-", 1)[0]
        if folder.is_dir() and pid_text.isdigit() and not _running(int(pid_text)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(str(folder))
    if removed:
        log.info("removed %d CSV caches of ended runs: %s", len(removed), removed)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by another user
    return True


# blocks parsed ahead of the statistics pass and the cache write (see
# `_parsed_ahead`): each costs its memory, about block_size of typed values
PARSE_AHEAD = 2

CACHE_HINT = ("the typed CSV cache takes 8 bytes per value: set data.cache_dir"
              " to a folder with room for it")


class CsvSource:
    """CSV blocks of one or more files, readable in any order after one parse."""

    def __init__(
        self,
        files: list[DataFile],
        plan: ColumnPlan,
        options: CsvOptions,
        cache_dir: str | None = None,
        observe: Callable[[ChunkRef, pa.Table], Chunk | None] | None = None,
        decoded_by: Decoder | None = None,
    ) -> None:
        """Parse `files` into the cache.

        Args:
            observe: called with each block as it is parsed, in file order,
                before it is cached (the statistics pass, so that it needs no
                second read). Its errors end the parse; one that names a line
                keeps it only if every row of the file is one line.
            decoded_by: the decoder whose chunks `observe` returns; they are
                kept (see `readers.decoded`) and `decoded` gives them back,
                instead of the typed cache: `read` then fails. The caller
                vouches that the decoder decodes no differently later.
        """
        if decoded_by is not None and observe is None:
            raise ValueError("decoded_by needs an observe that decodes")
        self.plan = plan
        self.options = options
        self.chunks: list[ChunkRef] = []
        self._observe = observe
        if cache_dir is not None:
            check_folder(cache_dir, "data.cache_dir")
        remove_stale_caches(cache_dir)
        self._folder = tempfile.mkdtemp(prefix=_cache_prefix(), dir=cache_dir)
        self._cache_paths: dict[str, str] = {}
        self._readers: dict[str, pa.ipc.RecordBatchFileReader] = {}
        self._handles: list[pa.NativeFile] = []
        self._lock = threading.Lock()
        self._decoded = None
        if decoded_by is not None:
            from streamgd.readers.decoded import DecodedChunks

            self._decoded = DecodedChunks(Path(self._folder) / "decoded.bin",
                                          decoded_by, CACHE_HINT)
        try:
            for number, file in enumerate(files):
                self._cache(file.path, Path(self._folder) / f"{number}.arrow")
            if self._decoded is not None:
                self._decoded.finish()
        except BaseException:
            self.close()
            raise

    def _cache(self, path: str, cache_path: Path) -> None:
        if skip_empty(path, self.options.empty_files):
            return
        if self._decoded is None:
            self._cache_paths[path] = str(cache_path)
        with ExitStack() as stack:
            blocks, lines = _file_blocks(path, self.plan, self.options, stack)
            with naming_write_failures(cache_path, CACHE_HINT):
                refs = self._write_cache(blocks, path, cache_path)

        # line numbers hold only where every row is one line: a blank line or a
        # quoted newline shifts all lines after it, so then the file gets none
        n_rows = sum(ref.n_rows for ref in refs)
        if lines.n_lines != n_rows + _header_lines(self.options):
            log.info("%s: rows and lines differ; errors will name rows only", path)
            refs = [replace(ref, first_line=None) for ref in refs]
        self.chunks.extend(refs)

    def _write_cache(
        self, blocks: Iterator[pa.RecordBatch], path: str, cache_path: Path,
    ) -> list[ChunkRef]:
        """Observe and cache the file's blocks (typed, or decoded if kept so)."""
        refs: list[ChunkRef] = []
        first_row, first_line = 0, _header_lines(self.options) + 1
        with ExitStack() as stack:
            writer = None
            for batch in blocks:
                if batch.num_rows == 0:
                    continue
                ref = ChunkRef(path, len(refs), first_row, batch.num_rows,
                               first_line + first_row)
                if self._observe is not None:
                    chunk = self._observed(ref, pa.Table.from_batches([batch]))
                    if self._decoded is not None:
                        self._decoded.add(ref, chunk)
                if self._decoded is None:
                    if writer is None:  # opened at the first block, its schema
                        writer = stack.enter_context(
                            pa.ipc.new_file(str(cache_path), batch.schema))
                    writer.write_batch(batch)
                refs.append(ref)
                first_row += batch.num_rows
        return refs

    def _observed(self, ref: ChunkRef, table: pa.Table) -> Chunk | None:
        """Hand a block to `observe`; a line in its error is checked first.

        The lines of the rows are only known to be right once the whole file is
        counted (see the module docstring); an error on the way is rare, so it
        pays for that count.
        """
        try:
            return self._observe(ref, table)
        except DataError as error:
            if error.line is None or _lines_are_rows(ref.file, self.options):
                raise
            raise type(error)(error.reason, file=error.file, column=error.column,
                              row=error.row) from None

    def decoded(self, ref: ChunkRef, decoder: Decoder) -> Chunk | None:
        """The chunk as `decoder` decodes it, if kept (see `decoded_by`)."""
        if self._decoded is None:
            return None
        return self._decoded.read(ref, decoder)

    def read(self, ref: ChunkRef) -> pa.Table:
        if ref.file not in self._cache_paths:
            raise RuntimeError(
                f"{ref.file}: this source keeps its rows decoded, not as a typed"
                " table; read them with `decoded` (see `decoded_by`)"
            )
        # one reader per file, shared by the threads that read ahead
        with self._lock:
            batch = self._reader(ref.file).get_batch(ref.index)
        return pa.Table.from_batches([batch])

    def _reader(self, path: str) -> pa.ipc.RecordBatchFileReader:
        """The open cache of a CSV file, opened on first use.

        Plain reads, not a memory map: mapped pages that were touched count in
        the process's RSS, which would grow with the data size over an epoch.
        Kept open: opening it per chunk (the file, its footer) cost about 2 ms
        of waiting per chunk on this loaded 2-core machine, as long as the
        chunk's statistics.
        """
        reader = self._readers.get(path)
        if reader is None:
            handle = pa.OSFile(self._cache_paths[path])
            self._handles.append(handle)
            reader = self._readers[path] = pa.ipc.open_file(handle)
        return reader

    def close(self) -> None:
        if self._decoded is not None:
            self._decoded.close()
        for handle in self._handles:
            handle.close()
        self._handles.clear()
        self._readers.clear()
        shutil.rmtree(self._folder, ignore_errors=True)


def _file_blocks(
    path: str, plan: ColumnPlan, options: CsvOptions, stack: ExitStack
) -> tuple[Iterator[pa.RecordBatch], Any]:
    """The file's blocks in order, parsed in threads, and what counts its lines
    (its `n_lines` is the file's once the blocks are all read); `stack`
    closes the parse, an error included, so that its threads end first.

    A file that can be cut is parsed by byte ranges in several threads
    (`readers.csv_parallel`, which says where its blocks differ); any other by
    the streaming reader, in one thread ahead of the caller.
    """
    from streamgd.readers.csv_parallel import ParallelParse, parallel_ranges

    ranges = parallel_ranges(path, plan, options)
    if ranges is not None:
        parse = ParallelParse(path, plan, options, ranges)
        return stack.enter_context(closing(parse.blocks())), parse

    # a plain file is parsed from its path, so the parser thread never waits
    # for the GIL, and its lines are counted here, a block per block parsed
    # (16 ms for 79 MB); a compressed one is counted as the parser reads it,
    # since decompressing it a second time would cost more than the waits
    alongside = Path(path).suffix.lower() not in COMPRESSIONS
    counter = stack.enter_context(_LineCounter(path))
    reader = stack.enter_context(
        _open(path if alongside else counter, path, plan, options))
    blocks = stack.enter_context(closing(
        _parsed_ahead(reader, path, plan, options)))
    if alongside:
        blocks = _counted_alongside(blocks, counter, options.block_size)
    return blocks, counter


def _counted_alongside(
    blocks: Iterator[pa.RecordBatch], counter: _LineCounter, block_size: int
) -> Iterator[pa.RecordBatch]:
    """`blocks`, with `counter` reading a block's worth of the file per block
    and the rest of it after the last."""
    for batch in blocks:
        counter.read(block_size)
        yield batch
    counter.read_to_end()


class ForwardReader:
    """The file protocol pyarrow's CSV reader asks of a read-only, forward-only
    stream; subclasses set `_stream` and define `read`."""

    _stream: Any

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> ForwardReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class LineCount:
    """The newlines of consecutive pieces of a file, merged in file order.

    Attributes:
        newlines: newline bytes in the pieces.
        trailing: newlines after the last byte that is neither CR nor LF.
        has_text: whether any such byte was seen.
    """

    newlines: int = 0
    trailing: int = 0
    has_text: bool = False

    @classmethod
    def of(cls, data: bytes) -> LineCount:
        """The count of one piece."""
        # numpy counts a byte several times faster than bytes.count
        newlines = int(np.count_nonzero(np.frombuffer(data, np.uint8) == 10))
        body = _text_end(data)
        if body == 0:
            return cls(newlines, newlines, False)
        return cls(newlines, data.count(b"\n", body), True)

    def merge(self, later: LineCount) -> LineCount:
        """The count of this piece followed by `later`."""
        trailing = later.trailing if later.has_text else self.trailing + later.trailing
        return LineCount(self.newlines + later.newlines, trailing,
                         self.has_text or later.has_text)

    @property
    def n_lines(self) -> int:
        """Lines up to the last one holding text: blank lines at the end of the
        file are not counted (the parser skips them too)."""
        return self.newlines - self.trailing + 1 if self.has_text else 0


def _text_end(data: bytes) -> int:
    """1 + the index of the last byte that is neither CR nor LF (0 if none)."""
    end = len(data)
    # only the tail is stripped: rstrip on the whole piece would copy it
    while end > 0:
        start = max(0, end - 4096)
        tail = data[start:end].rstrip(b"\r\n")
        if tail:
            return start + len(tail)
        end = start
    return 0


class _LineCounter(ForwardReader):
    """A file (decompressed by its extension) that counts the lines read from it.

    pyarrow's CSV reader does not say on which line a row starts; counting the
    newlines as the parser reads costs no second pass over the file.
    """

    def __init__(self, path: str) -> None:
        self._stream = pa.input_stream(path, compression="detect")
        self.lines = LineCount()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.lines = self.lines.merge(LineCount.of(data))
        return data

    def read_to_end(self) -> None:
        while self.read(1 << 20):
            pass

    @property
    def n_lines(self) -> int:
        """Lines read so far, up to the last one holding text."""
        return self.lines.n_lines



def _lines_are_rows(path: str, options: CsvOptions) -> bool:
    """Whether every data row of the file is one line (a second read)."""
    read_options = _read_options(options)
    read_options.use_threads = False
    parse = pa_csv.ParseOptions(delimiter=options.delimiter,
                                newlines_in_values=options.newlines_in_values)
    n_rows = 0
    try:
        with (
            _LineCounter(path) as counter,
            pa_csv.open_csv(counter, read_options=read_options, parse_options=parse,
                            convert_options=pa_csv.ConvertOptions(
                                include_columns=[])) as reader,
        ):
            for batch in reader:
                n_rows += batch.num_rows
    except pa.ArrowInvalid:
        return False
    return counter.n_lines == n_rows + _header_lines(options)


def _header_lines(options: CsvOptions) -> int:
    return 1 if options.header else 0


def open_csv(
    path: str, plan: ColumnPlan, options: CsvOptions
) -> pa_csv.CSVStreamingReader | None:
    """A streaming reader of the plan's columns, or None for a skipped empty file."""
    if skip_empty(path, options.empty_files):
        return None
    return _open(path, path, plan, options)


def csv_blocks(
    path: str, plan: ColumnPlan, options: CsvOptions
) -> Iterator[pa.RecordBatch]:
    """The file's blocks in order, parsed with no cache (one block in memory).

    Used where a whole file is one unit of work (the full-batch engine's
    partitions); a skipped empty file yields nothing. Conversion errors name the
    row, as in `CsvSource`.
    """
    reader = open_csv(path, plan, options)
    if reader is None:
        return
    with reader:
        yield from _batches(reader, path, plan, options)


def _open(
    source: str | Any, path: str, plan: ColumnPlan, options: CsvOptions,
    as_text: bool = False, whole: CsvOptions | None = None,
) -> pa_csv.CSVStreamingReader:
    """A streaming reader of `source` (the file `path`, maybe being counted, or
    a byte range of it).

    pyarrow parses the first block here already, so a value that is not a number
    in that block fails here, not in the first `read_next_batch`. A bad value is
    then looked for in the whole file, read with `whole` (default `options`).
    """
    try:
        return pa_csv.open_csv(
            source,
            read_options=_read_options(options),
            parse_options=pa_csv.ParseOptions(
                delimiter=options.delimiter,
                newlines_in_values=options.newlines_in_values,
            ),
            convert_options=_convert_options(plan, options, as_text),
        )
    except (pa.ArrowKeyError, KeyError) as error:
        raise _missing_column(path, plan, error) from None
    except pa.ArrowInvalid as error:
        if as_text:
            raise _parse_error(path, str(error), plan, options) from None
        raise _locate_bad_value(path, plan, whole or options, str(error)) from None
    except OSError as error:
        raise _unreadable(path, error) from None


def _read_options(options: CsvOptions) -> pa_csv.ReadOptions:
    names = list(options.column_names) if options.column_names else None
    return pa_csv.ReadOptions(
        block_size=options.block_size,
        column_names=names,
        # given names replace a header line; pyarrow would read it as data
        skip_rows=1 if names and options.header else 0,
        use_threads=True,
    )


def _convert_options(
    plan: ColumnPlan, options: CsvOptions, as_text: bool
) -> pa_csv.ConvertOptions:
    number = pa.string() if as_text else pa.float64()
    types = {name: number for name in plan.numeric}
    if plan.target is not None:
        types[plan.target] = number if plan.target_numeric else pa.string()
    return pa_csv.ConvertOptions(
        include_columns=plan.names,
        column_types=types,
        null_values=list(options.null_values),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )


def _batches(
    reader: pa_csv.CSVStreamingReader, path: str, plan: ColumnPlan,
    options: CsvOptions,
) -> Iterator[pa.RecordBatch]:
    """The reader's record batches, with conversion errors located by row."""
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except pa.ArrowInvalid as error:
            raise _locate_bad_value(path, plan, options, str(error)) from None
        except OSError as error:
            raise _unreadable(path, error) from None
        yield batch


def _parsed_ahead(
    reader: pa_csv.CSVStreamingReader, path: str, plan: ColumnPlan,
    options: CsvOptions, depth: int = PARSE_AHEAD,
) -> Iterator[pa.RecordBatch]:
    """The blocks of `_batches`, parsed up to `depth` blocks ahead in a thread.

    pyarrow's streaming parser works on one core with the GIL released, so the
    caller's work on a block (the statistics pass, the cache write) runs on the
    second core while the next blocks are parsed. The blocks and their order
    are those of `_batches`; errors are raised at the block they concern.
    Memory grows by `depth` parsed blocks.
    """
    batches = _batches(reader, path, plan, options)
    with (
        SWITCH_INTERVAL.lowered(),
        ThreadPoolExecutor(1, thread_name_prefix="streamgd-parse") as pool,
    ):
        # one worker runs the calls in the order submitted, so each `next`
        # continues where the one before it stopped
        waiting = deque(pool.submit(next, batches, None) for _ in range(depth))
        try:
            while (batch := waiting.popleft().result()) is not None:
                waiting.append(pool.submit(next, batches, None))
                yield batch
        finally:
            # a consumer that stops early parses no more; the running call ends
            # before the pool does, and so before the caller closes the reader
            for future in waiting:
                future.cancel()


class _SwitchInterval:
    """Python's thread switch interval, lowered while any file is parsed.

    The parsing thread needs the GIL for a moment at every block (to hand the
    block over), while the statistics pass holds it most of the time; at the
    default interval (5 ms) the parser waited for it that long when the pass
    did not release it. With 0.5 ms the one-epoch CSV job took 0.218-0.221 s
    instead of 0.230-0.231 s at 200,000 rows, 0.534 s instead of 0.539 s at
    500,000 (medians of 9, timed in turn, load 1.6-1.8). The setting is the
    process's: it is restored when the last parse running ends.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._parses = 0
        self._saved = 0.0

    @contextmanager
    def lowered(self) -> Iterator[None]:
        with self._lock:
            if self._parses == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.seconds))
            self._parses += 1
        try:
            yield
        finally:
            with self._lock:
                self._parses -= 1
                if self._parses == 0:
                    sys.setswitchinterval(self._saved)


SWITCH_INTERVAL = _SwitchInterval(0.0005)


def _unreadable(path: str, error: OSError) -> DataError:
    """The error of a CSV file that cannot be read or decompressed.

    pyarrow's own ("zlib inflate failed", "Truncated compressed stream") names
    neither the file nor the likely cause.
    """
    detail = error.strerror or str(error)
    if Path(path).suffix.lower() in COMPRESSIONS:
        return DataError(
            f"cannot be read to its end: the compressed file is corrupt or"
            f" truncated ({detail}); is the file complete? copy it again"
            " (`gzip -t` tests a .gz file)", file=path,
        )
    return DataError(f"cannot be read to its end ({detail})", file=path)


def _missing_column(path: str, plan: ColumnPlan, error: Exception) -> SchemaError:
    text = str(error)
    missing = next((name for name in plan.names if f"'{name}'" in text), None)
    return SchemaError("column not found in the CSV header", file=path, column=missing)


def _parse_error(
    path: str, message: str, plan: ColumnPlan, options: CsvOptions
) -> DataError:
    """A CSV parse error; a row of the wrong field count is found and located."""
    if "Expected" in message and "columns" in message:
        ragged = _first_ragged_row(path, plan, options)
        if ragged is not None:
            return _ragged_error(path, ragged, options)
    hint = ""
    # a first block without a whole header line, or a row longer than a block
    if "Empty CSV file or block" in message or "straddling" in message:
        hint = (
            f"; data.csv.block_size ({options.block_size} bytes) is smaller"
            f" than the header line or a row: raise it (default {CSV_BLOCK_SIZE})"
        )
    # pyarrow says "out of sync with chunker" when a quoted newline splits a row
    if not options.newlines_in_values and "out of sync" in message:
        hint = (
            "; if quoted values contain newlines, set"
            " data.csv.newlines_in_values: true"
        )
    return DataError(f"cannot parse CSV: {message.rstrip('.')}{hint}", file=path)


def _first_ragged_row(
    path: str, plan: ColumnPlan, options: CsvOptions
) -> pa_csv.InvalidRow | None:
    """The first row with another number of fields than the header, or None.

    A second, single-threaded pass: only then does pyarrow know the row's line.
    """
    found: list[pa_csv.InvalidRow] = []

    def keep_first(row: pa_csv.InvalidRow) -> str:
        found.append(row)
        return "error"

    read_options = _read_options(options)
    read_options.use_threads = False
    parse_options = pa_csv.ParseOptions(
        delimiter=options.delimiter, newlines_in_values=options.newlines_in_values,
        invalid_row_handler=keep_first,
    )
    try:
        with pa_csv.open_csv(
            path, read_options=read_options, parse_options=parse_options,
            convert_options=_convert_options(plan, options, as_text=True),
        ) as reader:
            for _ in reader:
                pass
    except (pa.ArrowInvalid, OSError):
        pass
    return found[0] if found else None


def _ragged_error(path: str, row: pa_csv.InvalidRow, options: CsvOptions) -> DataError:
    hint = "; fix or remove that line"
    # an odd number of quotes: a quoted value went on to the next line
    if not options.newlines_in_values and row.text.count('"') % 2 == 1:
        hint = (
            "; a quoted value seems to hold a line break: set"
            " data.csv.newlines_in_values: true"
        )
    return DataError(
        f"a row has {row.actual_columns} fields where the header has"
        f" {row.expected_columns}: {row.text[:80]!r}{hint}",
        file=path, line=row.number,
    )


def _locate_bad_value(
    path: str, plan: ColumnPlan, options: CsvOptions, message: str
) -> DataError:
    """Read the file again as text to name the row of a value that is not a number.

    pyarrow's conversion error names neither the row nor, always, the column; the
    error path can afford a second, slower pass. It reads to the end of the file,
    to tell whether rows and lines correspond and the line can be named.
    """
    if "conversion error" not in message:
        return _parse_error(path, message, plan, options)
    numeric = list(plan.numeric)
    if plan.target is not None and plan.target_numeric:
        numeric.append(plan.target)
    with (
        _LineCounter(path) as counter,
        _open(counter, path, plan, options, as_text=True) as reader,
    ):
        found, n_rows = _scan_for_non_number(reader, numeric)
    if found is None:
        return _parse_error(path, message, plan, options)

    row, name, value = found
    line = None
    if n_rows is not None and counter.n_lines == n_rows + _header_lines(options):
        line = row + _header_lines(options) + 1
    return SchemaError(
        f"expected a number, found {value!r}", file=path, column=name, row=row,
        line=line,
    )


def _scan_for_non_number(
    reader: pa_csv.CSVStreamingReader, names: list[str]
) -> tuple[tuple[int, str, str] | None, int | None]:
    """The first (row, column, text) that is not a number, and the rows in the
    file (None when the rest of it does not parse)."""
    found, n_rows = None, 0
    try:
        for batch in reader:
            if found is None:
                found = _first_in_batch(batch, names, n_rows)
            n_rows += batch.num_rows
    except pa.ArrowInvalid:
        return found, None
    return found, n_rows


def _first_in_batch(
    batch: pa.RecordBatch, names: list[str], first_row: int
) -> tuple[int, str, str] | None:
    """The earliest (row, column, text) of the batch that is not a number."""
    hits = []
    for name in names:
        hit = _first_non_number(batch.column(name))
        if hit is not None:
            hits.append((first_row + hit[0], name, hit[1]))
    return min(hits, default=None)


def _first_non_number(column: pa.Array) -> tuple[int, str] | None:
    """Index and text of the first value that does not parse as float64."""
    try:
        pc.cast(column, pa.float64())
        return None
    except pa.ArrowInvalid:
        pass
    # bisect: each cast is vectorised, so this costs about log2(n) casts
    low, high = 0, len(column)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(column.slice(low, middle - low), pa.float64())
            low = middle
        except pa.ArrowInvalid:
            high = middle
    return low, column[low].as_py()
