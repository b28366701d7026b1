"""A CSV file parsed by byte ranges in threads: the streaming reader's rows, in
order, whatever the threads' timing, with a bounded number of ranges ahead."""

from __future__ import annotations

import gzip
import re
import threading
import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import streamgd
from streamgd.errors import SchemaError
from streamgd.readers import csv_parallel, csv_ranges
from streamgd.readers.chunks import ColumnPlan
from streamgd.readers.csv import CsvOptions, CsvSource, LineCount
from streamgd.readers.files import DataFile
from tests.helpers import job, write_csv

PLAN = ColumnPlan(("a", "b"), "y", True)


def _source(path, cache, plan=PLAN, observe=None, **options) -> CsvSource:
    return CsvSource([DataFile(str(path), "csv")], plan, CsvOptions(**options),
                     str(cache), observe)


def _rows(source: CsvSource) -> list[tuple]:
    """(a, b, y) of every row of the source's chunks, in order."""
    table = pa.concat_tables([source.read(ref) for ref in source.chunks])
    return list(zip(*(table.column(name).to_pylist() for name in ("a", "b", "y"))))


def _cut_every(monkeypatch, n_bytes: int) -> list[tuple[int, int]]:
    """Cut files into ranges of `n_bytes`; the list fills with the ranges
    parsed, in the order their parses start."""
    started: list[tuple[int, int]] = []
    parse_range = csv_parallel._parse_range

    def recording(path, plan, options, byte_range, *rest):
        started.append(byte_range)
        parse_range(path, plan, options, byte_range, *rest)

    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: n_bytes)
    monkeypatch.setattr(csv_parallel, "_parse_range", recording)
    return started


def _numbers_file(path, n_rows: int, blank_every: int = 0) -> str:
    lines = ["y,a,notes,b"]
    for k in range(n_rows):
        if blank_every and k % blank_every == 0:
            lines.append("")
        lines.append(f"{k},{k}.5,\"note {k}, quoted\",{k % 7}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@given(values=st.lists(st.tuples(st.integers(-999, 999), st.integers(0, 99)),
                       min_size=1, max_size=40),
       cut_percent=st.integers(2, 90), block_size=st.sampled_from([64, 100, 4096]),
       crlf=st.booleans(), blank_every=st.sampled_from([0, 3, 7]),
       final_newline=st.booleans(), trailing_blanks=st.integers(0, 2),
       leading_blanks=st.integers(0, 2), broken_every=st.sampled_from([0, 1, 4]),
       header=st.sampled_from(["header", "names", "header and names"]))
def test_ranges_give_the_streaming_readers_rows_in_order(
    tmp_path_factory, values, cut_percent, block_size, crlf, blank_every,
    final_newline, trailing_blanks, leading_blanks, broken_every, header,
):
    """For any cut size (a share of the file), block size, line ending, blank
    lines (before the header, inside or at the end), quoted line breaks left
    undeclared (the inner lines look like rows) and header setting, the
    chunks' rows, in order, are the streaming reader's (with the line breaks
    declared), numbered from row 0 without gaps, with line numbers exactly
    where the streaming reader gives them."""
    # pyarrow's skip_rows (a header replaced by names) counts blank lines
    assume(not leading_blanks or header != "header and names")
    newline = "\r\n" if crlf else "\n"
    lines = [""] * leading_blanks + ([] if header == "names" else ["y,a,notes,b"])
    for k, (a, b) in enumerate(values):
        if blank_every and k % blank_every == 0:
            lines.append("")
        note = f"note {k}, quoted"
        if broken_every and k % broken_every == 0:
            note = f"note {k},{newline}{k},{a}.5,x,{b}"
        lines.append(f"{k},{a}.5,\"{note}\",{b}")
    text = newline.join(lines) + (newline if final_newline else "")
    text += newline * trailing_blanks
    range_bytes = max(1, len(text.encode()) * cut_percent // 100)
    folder = tmp_path_factory.mktemp("parallel")
    path = folder / "d.csv"
    path.write_text(text, newline="")
    options = {"block_size": block_size}
    if header != "header":
        options["column_names"] = ("y", "a", "notes", "b")
        options["header"] = header == "header and names"

    with pytest.MonkeyPatch.context() as patched:
        started = _cut_every(patched, range_bytes)
        cut = _source(path, folder / "c1", **options)
    ranges = csv_ranges.split_ranges(str(path), CsvOptions(**options), range_bytes)
    if broken_every:
        options["newlines_in_values"] = True
    streamed = _source(path, folder / "c2", **options)
    # a file whose lines of text all lack a newline is not cut (split_ranges)
    assert ranges or not re.search("[^\r\n]\r?\n", text)
    if ranges and not broken_every:  # (a fallback cancels the ranges ahead)
        assert len(started) == len(ranges)
    assert _rows(cut) == _rows(streamed)
    assert [ref.first_row for ref in cut.chunks] == list(
        np.cumsum([0] + [ref.n_rows for ref in cut.chunks[:-1]]))
    assert [ref.index for ref in cut.chunks] == list(range(len(cut.chunks)))
    lines_known = {ref.first_line is not None for ref in streamed.chunks}
    assert {ref.first_line is not None for ref in cut.chunks} == lines_known
    if lines_known == {True}:
        first_line = (2 if header != "names" else 1) + leading_blanks
        assert all(ref.first_line == first_line + ref.first_row
                   for ref in cut.chunks)
    cut.close()
    streamed.close()


def _late_first(monkeypatch, seed: int) -> None:
    """Make the parsing threads end in a random order: each range's parse
    waits 0-20 ms before it starts."""
    delays = np.random.default_rng(seed)
    parse_range = csv_parallel._parse_range

    def delayed(*arguments):
        time.sleep(float(delays.uniform(0, 0.02)))
        parse_range(*arguments)

    monkeypatch.setattr(csv_parallel, "_parse_range", delayed)


def test_chunks_and_statistics_do_not_depend_on_which_thread_ends_first(
    tmp_path, monkeypatch
):
    """Parses that end in another order hand on the same chunks with the same
    rows: the blocks observed, and so the statistics, are the same."""
    path = _numbers_file(tmp_path / "d.csv", 600, blank_every=0)
    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 1024)
    results = []
    for seed in (None, 1, 2):
        seen = []
        with monkeypatch.context() as patched:
            if seed is not None:
                _late_first(patched, seed)
            source = _source(path, tmp_path / f"c{seed}", block_size=256,
                             observe=lambda ref, table, seen=seen: seen.append(
                                 (ref, table.column("a").to_pylist())))
        source.close()
        results.append((source.chunks, seen))
    assert len(results[0][0]) > 10
    assert results[1] == results[0] and results[2] == results[0]


def test_a_job_trains_the_same_model_whatever_the_parse_order(tmp_path, monkeypatch):
    """A job on a file cut into ranges writes the same model and cost log bit
    for bit when its parsing threads end in another order."""
    rng = np.random.default_rng(4)
    x1, x2 = rng.normal(size=3000) * 1e3 + 1e6, rng.normal(size=3000)
    path = write_csv(tmp_path / "d.csv", {"x1": x1, "x2": x2, "y": x1 - 3 * x2})
    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 8192)
    results = []
    for seed in (None, 5):
        with monkeypatch.context() as patched:
            if seed is not None:
                _late_first(patched, seed)
            result = streamgd.train(job(
                [path], ["x1", "x2"], tmp_path / f"out-{seed}",
                data__csv__block_size=2048, optimizer__max_epochs=2,
                optimizer__batch_size=16, shuffle__buffer_rows=500))
        records = [{k: v for k, v in record.items() if k != "elapsed"}
                   for record in result.records]
        results.append((result.model.params, records))
    (params, log), (late_params, late_log) = results
    np.testing.assert_array_equal(late_params.weights, params.weights)
    assert late_params.intercept == params.intercept
    assert late_log == log


def test_ranges_ahead_of_the_consumer_are_bounded(tmp_path, monkeypatch):
    """However slow the statistics pass, at most RANGES_AHEAD ranges are
    started beyond the one it is reading: memory stays flat in the file size."""
    path = _numbers_file(tmp_path / "d.csv", 2000)
    started = _cut_every(monkeypatch, 1024)
    byte_ranges = csv_parallel.parallel_ranges(path, PLAN, CsvOptions())
    first_rows = [_first_row_at(path, start) for start, _ in byte_ranges]
    ahead = []

    def slow_observe(ref, table):
        time.sleep(0.002)  # the threads could parse every range meanwhile
        reading = sum(1 for row in first_rows if row <= ref.first_row)
        ahead.append(len(started) - reading)

    source = _source(path, tmp_path / "c", observe=slow_observe, block_size=256)
    source.close()
    assert len(byte_ranges) > 20
    assert len(started) == len(byte_ranges)
    assert 0 <= min(ahead) and max(ahead) <= csv_parallel.RANGES_AHEAD


def _first_row_at(path: str, offset: int) -> int:
    """The data row beginning at or after byte `offset` (header excluded)."""
    with open(path, "rb") as handle:
        first = csv_ranges.row_start(handle, offset)
        handle.seek(0)
        return handle.read(first).count(b"\n") - 1 if first else 0


def test_a_bad_value_in_a_later_range_comes_after_the_rows_before_it(
    tmp_path, monkeypatch
):
    """Text far down the file is named by its row and line, and is raised
    after every block before it was observed, as the streaming reader does;
    the parsing threads are gone afterwards."""
    path = tmp_path / "d.csv"
    _numbers_file(path, 3000)
    path.write_text(path.read_text().replace("2500,2500.5,", "2500,oops,"))
    _cut_every(monkeypatch, 4096)
    observed = []

    with pytest.raises(SchemaError, match=r"column 'a'.*row 2500 \(line 2502\)"):
        _source(path, tmp_path / "c", block_size=1024,
                observe=lambda ref, table: observed.append(ref))
    end = observed[-1].first_row + observed[-1].n_rows
    assert [ref.first_row for ref in observed[1:]] == [
        ref.first_row + ref.n_rows for ref in observed[:-1]]
    assert 2000 < end <= 2500
    assert not [thread for thread in threading.enumerate()
                if thread.name.startswith("streamgd-parse")]


@pytest.mark.parametrize("case", ["gzip", "newlines_in_values", "one range",
                                  "no header, no names", "extra column",
                                  "CR line endings"])
def test_files_ranges_cannot_serve_are_parsed_by_the_streaming_reader(
    tmp_path, monkeypatch, case
):
    """Compressed files, declared quoted newlines, files of one range, files
    without column names, plans with untyped extra columns and files of CR
    line endings (rows are cut after LF only: one range would be the whole
    file) are read by the streaming reader, and read whole."""
    started = _cut_every(monkeypatch, 256)
    path = _numbers_file(tmp_path / "d.csv", 300)
    plan, options = PLAN, {}
    if case == "gzip":
        path = str(tmp_path / "d.csv.gz")
        with open(tmp_path / "d.csv", "rb") as plain, gzip.open(path, "wb") as packed:
            packed.write(plain.read())
    elif case == "newlines_in_values":
        options["newlines_in_values"] = True
    elif case == "one range":
        monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 1 << 20)
    elif case == "no header, no names":  # (the job's checks refuse it)
        options["header"] = False
    elif case == "CR line endings":
        with open(path, "rb") as plain:
            text = plain.read()
        with open(path, "wb") as rewritten:
            rewritten.write(text.replace(b"\n", b"\r"))
    else:
        plan = ColumnPlan(("a", "b"), "y", True, extra=("notes",))
    source = _source(path, tmp_path / "c", plan=plan, **options)
    assert csv_parallel.parallel_ranges(path, plan, CsvOptions(**options)) is None
    assert sum(ref.n_rows for ref in source.chunks) == 300
    assert started == []
    source.close()


def test_a_range_never_holds_less_than_a_block(tmp_path):
    """Ranges are RANGE_BYTES long, or one block where blocks are larger, so
    a job's chunks are not cut shorter than its block size by the ranges."""
    assert csv_parallel.range_bytes(CsvOptions()) == csv_parallel.RANGE_BYTES
    big = CsvOptions(block_size=4 * csv_parallel.RANGE_BYTES)
    assert csv_parallel.range_bytes(big) == 4 * csv_parallel.RANGE_BYTES


@given(text=st.text(alphabet="a,\r\n", max_size=60),
       cuts=st.lists(st.integers(0, 60), max_size=5))
def test_line_counts_of_pieces_merge_to_the_whole_files(text, cuts):
    """However the bytes are cut, the pieces' counts merged in order equal the
    count of the whole: ranges count their own newlines."""
    data = text.encode()
    bounds = sorted({0, len(data), *(min(cut, len(data)) for cut in cuts)})
    merged = LineCount()
    for start, end in zip(bounds[:-1], bounds[1:]):
        merged = merged.merge(LineCount.of(data[start:end]))
    assert merged == LineCount.of(data)
    body = data.rstrip(b"\r\n")
    assert merged.n_lines == (body.count(b"\n") + 1 if body else 0)


def test_lines_ending_in_a_lone_cr_far_into_a_file_are_not_read_whole(
    tmp_path, monkeypatch, caplog
):
    """A file of LF lines, then of lines ending in a lone CR (rows are cut
    after LF only): no range reads much more than its bytes, the rest of the
    file goes to the streaming reader (warned), and the rows are the
    streaming reader's."""
    lines = [f"{k},{k}.5,\"note {k}\",{k % 7}" for k in range(2000)]
    text = "y,a,notes,b\n" + "\n".join(lines[:300]) + "\n" + "\r".join(lines[300:])
    path = tmp_path / "d.csv"
    path.write_bytes((text + "\r").encode())
    _cut_every(monkeypatch, 1024)
    read = []
    range_text = csv_parallel.range_text

    def recording(*arguments):
        first, data = range_text(*arguments)
        read.append(0 if data is None else len(data))
        return first, data

    monkeypatch.setattr(csv_parallel, "range_text", recording)
    with caplog.at_level("WARNING"):
        cut = _source(path, tmp_path / "c1", block_size=512)
    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 1 << 30)
    streamed = _source(path, tmp_path / "c2", block_size=512)
    assert _rows(cut) == _rows(streamed)
    assert len(_rows(cut)) == 2000
    assert 0 < max(read) <= 2 * 1024 + 512
    # the first lone CR ends line 302; the warning names the line where the
    # streaming reader takes over, at or before it, not as a lone-CR line
    warned = re.search(r"some lines from line (\d+) on end in a lone CR.*"
                       r"reader from line (\d+) on", caplog.text)
    assert warned and warned[1] == warned[2] and int(warned[1]) <= 302
    cut.close()
    streamed.close()
