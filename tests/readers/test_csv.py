"""CSV files: typed blocks cached once, read in any order, errors located."""

from __future__ import annotations

import gzip
import logging
import re
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamgd.errors import DataError, SchemaError
from streamgd.readers.chunks import ColumnPlan
from streamgd.readers.csv import CsvOptions, CsvSource
from streamgd.readers.files import DataFile
from tests import strategies

PLAN = ColumnPlan(("id", "a"), "y", True)
# every test twice: parsed by the streaming reader, and by ranges in threads
pytestmark = pytest.mark.usefixtures("csv_parse")


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _numbered(n_rows: int, replace: dict[int, str] | None = None) -> list[str]:
    """Header `id,a,y` and rows `i,i,2i`, with some `a` values replaced."""
    replace = replace or {}
    return ["id,a,y"] + [
        f"{i},{replace.get(i, i)},{2 * i}" for i in range(n_rows)
    ]


def _source(paths: list[Path], cache: Path, plan: ColumnPlan = PLAN,
            **options) -> CsvSource:
    files = [DataFile(str(path), "csv") for path in paths]
    return CsvSource(files, plan, CsvOptions(**options), str(cache))


def _read_all(source: CsvSource) -> pa.Table:
    """The rows of every chunk, in file order, in one table."""
    return pa.concat_tables([source.read(ref) for ref in source.chunks])


def test_csv_integer_column_with_late_float_reads_as_float64(tmp_path):
    """A column of integers with 2.5 many blocks down reads whole, as float64."""
    path = _write(tmp_path / "data.csv", _numbered(3000, {2500: "2.5"}))
    source = _source([path], tmp_path / "cache", block_size=1024)

    assert len(source.chunks) > 20
    assert sum(ref.n_rows for ref in source.chunks) == 3000
    table = _read_all(source)
    assert table.schema.field("a").type == pa.float64()
    expected = np.arange(3000, dtype=np.float64)
    expected[2500] = 2.5
    np.testing.assert_array_equal(table.column("a").to_numpy(), expected)
    source.close()


def test_csv_text_far_down_names_file_column_row_and_line(tmp_path):
    """Text in a numeric column many blocks down names the file, the column, the
    0-based data row and the physical line (row + 2)."""
    path = _write(tmp_path / "data.csv", _numbered(3000, {2500: "A"}))
    message = rf"column 'a' of .*data\.csv, row 2500 \(line 2502\): expected a num"
    with pytest.raises(SchemaError, match=message) as caught:
        _source([path], tmp_path / "cache", block_size=1024)

    error = caught.value
    assert (error.file, error.column) == (str(path), "a")
    assert (error.row, error.line) == (2500, 2502)
    assert "'A'" in str(error)


def test_csv_text_in_first_row_names_row_and_line(tmp_path):
    """Text in the first data row (pyarrow's first block) is located too."""
    path = _write(tmp_path / "data.csv", _numbered(10, {0: "n/a"}))
    with pytest.raises(SchemaError, match=r"column 'a' of .*row 0 \(line 2\)"):
        _source([path], tmp_path / "cache")


def test_csv_text_in_target_names_the_target(tmp_path):
    """A numeric target holding text is named like a feature."""
    lines = _numbered(50)
    lines[31] = "30,30,thirty"
    path = _write(tmp_path / "data.csv", lines)
    with pytest.raises(SchemaError, match=r"column 'y' of .*row 30 \(line 32\)"):
        _source([path], tmp_path / "cache")


def test_csv_earliest_bad_row_is_named_across_columns(tmp_path):
    """With text in two columns of one block, the earlier row is named."""
    lines = _numbered(50, {40: "late"})
    lines[11] = "10,10,early"
    path = _write(tmp_path / "data.csv", lines)
    with pytest.raises(SchemaError, match=r"column 'y' .*row 10 .*'early'"):
        _source([path], tmp_path / "cache")


@pytest.mark.parametrize("plan", [ColumnPlan(("id", "zz"), "y", True),
                                  ColumnPlan(("id", "a"), "zz", True)])
def test_csv_missing_column_is_named(tmp_path, plan):
    """A feature or target absent from the header raises SchemaError naming it
    (in a file cut into ranges too: no hint about quoted line breaks)."""
    path = _write(tmp_path / "data.csv", _numbered(50))
    with pytest.raises(SchemaError, match=r"column 'zz' of .*data\.csv: column not"
                       r" found in the CSV header$"):
        _source([path], tmp_path / "cache", plan)


def test_csv_row_longer_than_a_block_names_the_block_size(tmp_path):
    """A row longer than data.csv.block_size: the error says to raise it, and
    nothing about quoted line breaks, whether or not the file is cut."""
    lines = _numbered(200)
    lines[150] = "149,149," + "9" * 600
    path = _write(tmp_path / "data.csv", lines)
    with pytest.raises(DataError, match=r"data\.csv: .*block_size \(256 bytes\)"
                       r" is smaller than the header line or a row") as caught:
        _source([path], tmp_path / "cache", block_size=256)
    assert "newlines_in_values" not in str(caught.value)


def test_csv_empty_file_is_an_error_by_default(tmp_path):
    """A 0-byte file raises DataError naming it and the setting that skips it."""
    path = tmp_path / "empty.csv"
    path.touch()
    with pytest.raises(DataError, match=r"empty\.csv: file is empty .*"
                       r"data\.empty_files: skip"):
        _source([path], tmp_path / "cache")


def test_csv_empty_file_is_skipped_when_asked(tmp_path, caplog):
    """With empty_files="skip" a 0-byte file adds no chunk and logs a warning."""
    empty = tmp_path / "a-empty.csv"
    empty.touch()
    full = _write(tmp_path / "b.csv", _numbered(4))
    with caplog.at_level(logging.WARNING, logger="streamgd.readers.files"):
        source = _source([empty, full], tmp_path / "cache", empty_files="skip")

    assert [ref.file for ref in source.chunks] == [str(full)]
    assert "skipping empty file" in caplog.text and "a-empty.csv" in caplog.text
    source.close()


def test_csv_header_only_file_gives_no_chunks(tmp_path):
    """A file with a header and no rows is valid and has no chunks."""
    path = _write(tmp_path / "data.csv", ["id,a,y"])
    source = _source([path], tmp_path / "cache")
    assert source.chunks == []
    source.close()


def test_csv_gzip_reads_the_same_as_plain(tmp_path):
    """A gzip-compressed CSV gives the same chunks' rows as the plain file."""
    plain = _write(tmp_path / "data.csv", _numbered(2000))
    packed = tmp_path / "data.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))

    plain_source = _source([plain], tmp_path / "c1", block_size=1024)
    packed_source = _source([packed], tmp_path / "c2", block_size=1024)
    assert _read_all(packed_source).equals(_read_all(plain_source))
    plain_source.close()
    packed_source.close()


@pytest.mark.parametrize("damage, detail", [
    (lambda packed: packed[: len(packed) // 2], "Truncated compressed stream"),
    (lambda packed: b"not gz", "zlib inflate failed"),
    (lambda packed: packed[:20] + bytes(64) + packed[84:], "zlib inflate failed"),
])
def test_csv_corrupt_or_truncated_gzip_names_the_file(tmp_path, damage, detail):
    """A damaged .csv.gz is a DataError naming the file, not pyarrow's OSError."""
    text = "".join(line + "\n" for line in _numbered(20000)).encode()
    packed = tmp_path / "data.csv.gz"
    packed.write_bytes(damage(gzip.compress(text)))
    with pytest.raises(DataError) as caught:
        _source([packed], tmp_path / "cache", block_size=4096)
    message = str(caught.value)
    assert message.startswith(f"{packed}: cannot be read to its end: the"
                              " compressed file is corrupt or truncated (")
    assert detail in message
    assert caught.value.file == str(packed)
    assert list((tmp_path / "cache").iterdir()) == []


def test_csv_null_markers_and_empty_strings_are_nulls(tmp_path):
    """`NA` and empty fields (quoted or not) are nulls, not NaN nor errors."""
    path = _write(tmp_path / "data.csv",
                  ["id,a,y", "0,NA,1", '1,"",2', "2,,3", "3,4,NA", "4,5,6"])
    source = _source([path], tmp_path / "cache")
    table = _read_all(source)

    assert table.column("a").is_null().to_pylist() == [True] * 3 + [False] * 2
    assert table.column("y").null_count == 1
    source.close()


def test_csv_custom_null_markers_and_delimiter(tmp_path):
    """The job's null markers and delimiter replace the defaults."""
    path = _write(tmp_path / "data.csv", ["id;a;y", "0;-;1", "1;2;3"])
    source = _source([path], tmp_path / "cache", delimiter=";",
                     null_values=("-",))
    assert _read_all(source).column("a").to_pylist() == [None, 2.0]
    source.close()


def test_csv_default_null_marker_is_text_once_replaced(tmp_path):
    """With null markers given, `NA` is no longer missing but text."""
    path = _write(tmp_path / "data.csv", ["id,a,y", "0,-,1", "1,NA,2"])
    with pytest.raises(SchemaError, match=r"column 'a' .*row 1 \(line 3\).*'NA'"):
        _source([path], tmp_path / "cache", null_values=("-",))


def _quoted_lines(n_rows: int) -> list[str]:
    """Header `id,note,a,y`; every 7th note holds a newline inside quotes."""
    lines = ["id,note,a,y"]
    for i in range(n_rows):
        note = '"two\nlines"' if i % 7 == 3 else '"one line"'
        lines.append(f"{i},{note},{i},{i}")
    return lines


def test_csv_quoted_newlines_read_exactly_when_declared(tmp_path):
    """With newlines_in_values, quoted newlines give the exact row count and no
    line numbers (lines and rows no longer correspond)."""
    path = _write(tmp_path / "data.csv", _quoted_lines(1000))
    source = _source([path], tmp_path / "cache", block_size=1024,
                     newlines_in_values=True)

    table = _read_all(source)
    np.testing.assert_array_equal(table.column("id").to_numpy(), np.arange(1000))
    assert all(ref.first_line is None for ref in source.chunks)
    source.close()


@pytest.mark.parametrize("n_rows", [5, 1000])
def test_csv_quoted_newlines_undeclared_never_miscount(tmp_path, n_rows):
    """Without newlines_in_values, quoted newlines give either the exact rows or
    an error naming the setting; never a silently wrong count."""
    path = _write(tmp_path / "data.csv", _quoted_lines(n_rows))
    try:
        source = _source([path], tmp_path / "cache", block_size=1024)
    except DataError as error:
        assert "newlines_in_values" in str(error)
        return
    table = _read_all(source)
    np.testing.assert_array_equal(table.column("id").to_numpy(), np.arange(n_rows))
    source.close()


def _assert_lines_right_or_absent(source: CsvSource, physical: list[int]) -> None:
    """Each chunk has no first_line, or one from which every row's line follows."""
    for ref in source.chunks:
        if ref.first_line is not None:
            rows = range(ref.first_row, ref.first_row + ref.n_rows)
            assert [physical[row] for row in rows] == [
                ref.first_line + row - ref.first_row for row in rows
            ]


def test_csv_quoted_newlines_undeclared_give_no_wrong_lines(tmp_path):
    """When quoted newlines parse without the setting (one block, or the
    ranges' fallback to the streaming reader), no row is given a wrong line
    number."""
    lines = _quoted_lines(20)
    path = _write(tmp_path / "data.csv", lines)
    source = _source([path], tmp_path / "cache")

    assert sum(ref.n_rows for ref in source.chunks) == 20
    _assert_lines_right_or_absent(source, _physical_lines(lines))
    source.close()


@pytest.mark.parametrize("row", [0, 1, 60, 119])
def test_csv_quoted_lines_that_look_like_rows_are_never_read_as_rows(
    tmp_path, caplog, csv_parse, row
):
    """A quoted value holding lines that would parse as rows, undeclared: the
    rows are those of the file read with newlines_in_values, wherever the
    value lies (cut into ranges: in the first range, a middle one, the
    last), and the line is named in a warning when the ranges stop there."""
    lines = [line + ",x" for line in _numbered(120)]
    inner = "\n".join(["3,3,1000,z"] * 20)
    lines[row + 1] = f'{row},{row},{2 * row},"text\n{inner}"'
    path = _write(tmp_path / "data.csv", lines)
    with caplog.at_level(logging.WARNING):
        source = _source([path], tmp_path / "cache")

    whole = pa_csv.read_csv(
        path, parse_options=pa_csv.ParseOptions(newlines_in_values=True))
    table = _read_all(source)
    assert table.column("id").to_pylist() == whole.column("id").to_pylist()
    assert table.column("y").to_pylist() == whole.column("y").to_pylist()
    assert table.num_rows == 120
    assert all(ref.first_line is None for ref in source.chunks)
    if csv_parse == "ranges":
        assert f"line {row + 2} has an odd number of quote" in caplog.text
    source.close()


def test_csv_a_quote_inside_an_unquoted_value_is_text(tmp_path):
    """A lone quote inside an unquoted value (not standard CSV, but pyarrow
    reads it as text) gives the same rows and lines, cut or not."""
    lines = ["id,a,y,note"] + [f"{i},{i},{2 * i},x" for i in range(100)]
    lines[50] = '49,49,98,12" pipe'
    path = _write(tmp_path / "data.csv", lines)
    source = _source([path], tmp_path / "cache")
    table = _read_all(source)
    assert table.column("id").to_pylist() == [float(i) for i in range(100)]
    assert [ref.first_line for ref in source.chunks] == [
        ref.first_row + 2 for ref in source.chunks]
    source.close()


def _physical_lines(lines: list[str]) -> list[int]:
    """The 1-based line on which each data row starts (lines[0] is the header)."""
    starts, line = [], 1 + lines[0].count("\n") + 1
    for text in lines[1:]:
        starts.append(line)
        line += text.count("\n") + 1
    return starts


def test_csv_blank_lines_give_no_wrong_lines(tmp_path):
    """Blank lines are skipped; line numbers are then right or left out."""
    lines = ["id,a,y", "0,0,0", "", "1,1,1", "2,2,2", "", "", "3,3,3"]
    path = _write(tmp_path / "data.csv", lines)
    source = _source([path], tmp_path / "cache", block_size=16)

    assert sum(ref.n_rows for ref in source.chunks) == 4
    _assert_lines_right_or_absent(source, [2, 4, 5, 8])
    source.close()


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_csv_blank_lines_before_the_header_are_skipped(tmp_path, newline):
    """Blank lines before the header are skipped, as pyarrow skips them, in a
    file cut into ranges too (its header is found after them)."""
    path = tmp_path / "data.csv"
    path.write_bytes((newline * 2 + newline.join(_numbered(300)) + newline).encode())
    source = _source([path], tmp_path / "cache", block_size=256)
    table = _read_all(source)
    assert table.column("id").to_pylist() == [float(i) for i in range(300)]
    assert table.column("y").to_pylist() == [2.0 * i for i in range(300)]
    source.close()


def test_csv_trailing_blank_lines_keep_line_numbers(tmp_path):
    """Blank lines after the last row shift no row: line numbers stay."""
    path = _write(tmp_path / "data.csv", _numbered(300) + ["", ""])
    source = _source([path], tmp_path / "cache", block_size=256)
    assert [ref.first_line for ref in source.chunks] == [
        ref.first_row + 2 for ref in source.chunks
    ]
    source.close()


def test_csv_text_after_a_blank_line_names_the_row_only(tmp_path):
    """Where rows and lines differ, a bad value is named by row, not by a wrong
    line."""
    lines = _numbered(300, {250: "A"})
    lines.insert(100, "")
    path = _write(tmp_path / "data.csv", lines)
    message = r"column 'a' of .*data\.csv, row 250: expected a number"
    with pytest.raises(SchemaError, match=message) as caught:
        _source([path], tmp_path / "cache", block_size=256)
    assert caught.value.line is None


def test_csv_lines_are_counted_with_declared_newlines_too(tmp_path):
    """With newlines_in_values set but no value spanning lines, lines are named."""
    path = _write(tmp_path / "data.csv", _numbered(300))
    source = _source([path], tmp_path / "cache", block_size=256,
                     newlines_in_values=True)
    assert [ref.first_line for ref in source.chunks] == [
        ref.first_row + 2 for ref in source.chunks
    ]
    source.close()


@given(columns=strategies.numeric_columns(), block_size=strategies.csv_block_sizes(),
       data=st.data())
def test_csv_chunks_locate_rows_and_read_in_any_order(tmp_path_factory, columns,
                                                      block_size, data):
    """Each chunk's first_row and first_line locate its first row, and reading
    the chunks in any order gives back the file's rows exactly."""
    folder = tmp_path_factory.mktemp("csv")
    path = folder / "data.csv"
    pa_csv.write_csv(pa.table(columns), path)
    source = _source([path], folder / "cache", ColumnPlan(("a", "b"), "id", True),
                     block_size=block_size)

    for ref in source.chunks:
        first_id = source.read(ref).column("id")[0].as_py()
        assert ref.first_row == first_id and ref.first_line == first_id + 2
    order = data.draw(st.permutations(source.chunks))
    tables = {ref: source.read(ref) for ref in order}
    if columns["id"].size:
        table = pa.concat_tables([tables[ref] for ref in source.chunks])
        for name, values in columns.items():
            np.testing.assert_array_equal(table.column(name).to_numpy(), values)
    else:
        assert source.chunks == []
    source.close()


def test_csv_files_number_rows_from_zero_each(tmp_path):
    """Chunks of several files carry their own file, index and first_row."""
    first = _write(tmp_path / "a.csv", _numbered(300))
    second = _write(tmp_path / "b.csv", _numbered(200))
    source = _source([first, second], tmp_path / "cache", block_size=512)

    for path, n_rows in ((first, 300), (second, 200)):
        refs = [ref for ref in source.chunks if ref.file == str(path)]
        assert [ref.index for ref in refs] == list(range(len(refs)))
        assert refs[0].first_row == 0
        assert sum(ref.n_rows for ref in refs) == n_rows
    source.close()


def test_csv_without_header_counts_lines_from_the_first_row(tmp_path):
    """With header false and column names given, row r is on line r + 1."""
    path = _write(tmp_path / "data.csv", _numbered(400)[1:])
    source = _source([path], tmp_path / "cache", header=False,
                     column_names=("id", "a", "y"), block_size=512)

    assert sum(ref.n_rows for ref in source.chunks) == 400
    for ref in source.chunks:
        assert ref.first_line == ref.first_row + 1
        assert source.read(ref).column("id")[0].as_py() == ref.first_row
    source.close()


def test_csv_column_names_with_header_rename_the_columns(tmp_path):
    """Column names given for a file with a header replace the header's names;
    the header line is not read as data."""
    path = _write(tmp_path / "data.csv", ["ID,A,Y", "0,1,2", "1,2,3"])
    source = _source([path], tmp_path / "cache", column_names=("id", "a", "y"))

    table = _read_all(source)
    assert table.column("id").to_pylist() == [0.0, 1.0]
    assert source.chunks[0].first_line == 2
    source.close()


def test_csv_text_target_of_a_classifier_stays_text(tmp_path):
    """A class-label target is read as text when the plan does not need numbers."""
    path = _write(tmp_path / "data.csv", ["id,a,y", "0,1,yes", "1,2,no"])
    source = _source([path], tmp_path / "cache", ColumnPlan(("id", "a"), "y", False))
    assert _read_all(source).column("y").to_pylist() == ["yes", "no"]
    source.close()


def test_csv_read_gives_only_the_plan_columns(tmp_path):
    """Columns outside the plan are not read."""
    path = _write(tmp_path / "data.csv", ["id,a,b,y", "0,1,2,3"])
    source = _source([path], tmp_path / "cache")
    assert _read_all(source).column_names == ["id", "a", "y"]
    source.close()


def test_csv_cache_folder_is_removed_on_close(tmp_path):
    """The typed cache lives under cache_dir until close() removes it."""
    path = _write(tmp_path / "data.csv", _numbered(100))
    cache = tmp_path / "cache"
    source = _source([path], cache)
    assert len(list(cache.iterdir())) == 1

    source.close()
    assert list(cache.iterdir()) == []


def test_csv_cache_folder_is_removed_when_reading_fails(tmp_path):
    """A file that fails to parse leaves no cache behind."""
    good = _write(tmp_path / "a.csv", _numbered(100))
    bad = _write(tmp_path / "b.csv", _numbered(100, {50: "oops"}))
    cache = tmp_path / "cache"
    with pytest.raises(SchemaError, match=re.escape("row 50 (line 52)")):
        _source([good, bad], cache)
    assert list(cache.iterdir()) == []


def test_csv_ragged_row_names_its_line(tmp_path):
    """A row with an extra field is located by line, with no newline hint."""
    from streamgd.errors import DataError
    from streamgd.readers.csv import csv_blocks
    from streamgd.readers.chunks import ColumnPlan
    from streamgd.readers.csv import CsvOptions

    path = tmp_path / "ragged.csv"
    path.write_text("x1,y\n1,2\n3,4\n5,6,7\n8,9\n")
    plan = ColumnPlan(("x1",), "y", True)
    with pytest.raises(DataError, match=r"line 4\): a row has 3 fields where"
                       r" the header has 2: '5,6,7'; fix") as caught:
        list(csv_blocks(str(path), plan, CsvOptions()))
    assert caught.value.line == 4
    assert "newlines_in_values" not in str(caught.value)


def test_csv_caches_of_ended_runs_are_removed_when_a_source_opens(tmp_path):
    """A run killed outright leaves its cache; the next source on this host
    removes it, and keeps the caches of live processes and of other hosts."""
    import subprocess
    import sys

    from streamgd.readers.csv import _cache_prefix

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    cache = tmp_path / "cache"
    stale = cache / (_cache_prefix(pid=int(ended.stdout)) + "abc")
    live = cache / (_cache_prefix() + "def")
    elsewhere = cache / (_cache_prefix(host="another-host", pid=1) + "ghi")
    for folder in (stale, live, elsewhere):
        folder.mkdir(parents=True)
        (folder / "0.arrow").write_bytes(b"typed copy")

    source = _source([_write(tmp_path / "data.csv", _numbered(10))], cache)
    source.close()
    assert not stale.exists()
    assert live.exists() and elsewhere.exists()


@pytest.mark.parametrize("method", ["sgd", "batch"])
@pytest.mark.parametrize("keep", [20, 2 / 3])
def test_truncated_gzip_is_a_data_error_naming_the_file(tmp_path, method, keep):
    """A .csv.gz cut short (a copy that did not finish), at its start or part way
    through: a DataError naming the file and suggesting a check, not the
    decompressor's OSError traceback."""
    import streamgd
    from tests.helpers import job

    rows = ["x1,y"] + [f"{k % 7},{k}" for k in range(50_000)]
    data = gzip.compress(("\n".join(rows) + "\n").encode())
    cut = keep if isinstance(keep, int) else int(len(data) * keep)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[:cut])
    with pytest.raises(DataError, match="cannot be read to its end") as error:
        streamgd.train(job([path], ["x1"], tmp_path / "out",
                           optimizer__method=method))
    assert error.value.file == str(path)
    assert "is the file complete" in str(error.value)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("blank_at", [None, 150])
def test_csv_lines_are_the_same_plain_or_compressed(tmp_path, compress, blank_at):
    """Plain files are counted alongside the parse, compressed ones as it reads:
    both name every row's line, or none after a blank line."""
    lines = _numbered(600)
    if blank_at is not None:
        lines.insert(blank_at, "")
    path = _write(tmp_path / "data.csv", lines)
    if compress:
        packed = tmp_path / "data.csv.gz"
        packed.write_bytes(gzip.compress(path.read_bytes()))
        path = packed
    source = _source([path], tmp_path / "cache", block_size=512)

    assert len(source.chunks) > 3
    assert sum(ref.n_rows for ref in source.chunks) == 600
    expected = [ref.first_row + 2 for ref in source.chunks]
    if blank_at is not None:
        expected = [None] * len(source.chunks)
    assert [ref.first_line for ref in source.chunks] == expected
    source.close()


def test_csv_blocks_are_observed_in_file_order(tmp_path):
    """Parsed ahead in a thread, the blocks still reach `observe` one by one in
    file order, and match the cached chunks."""
    path = _write(tmp_path / "data.csv", _numbered(2000))
    seen = []

    def observe(ref, table):
        seen.append((ref, table.column("id").to_numpy()))

    source = CsvSource([DataFile(str(path), "csv")], PLAN,
                       CsvOptions(block_size=1024), str(tmp_path / "cache"), observe)
    assert [ref for ref, _ in seen] == source.chunks
    np.testing.assert_array_equal(np.concatenate([ids for _, ids in seen]),
                                  np.arange(2000))
    for ref, ids in seen:
        np.testing.assert_array_equal(source.read(ref).column("id").to_numpy(), ids)
    source.close()


def test_csv_observer_error_stops_the_parse_and_removes_the_cache(tmp_path):
    """An error raised by `observe` mid-file ends the parsing thread before the
    file is closed, and leaves no cache."""
    path = _write(tmp_path / "data.csv", _numbered(5000))
    cache = tmp_path / "cache"
    calls = []

    def observe(ref, table):
        calls.append(ref.index)
        if ref.index == 3:
            raise DataError("refused", file=ref.file, row=ref.first_row)

    with pytest.raises(DataError, match="refused"):
        CsvSource([DataFile(str(path), "csv")], PLAN, CsvOptions(block_size=1024),
                  str(cache), observe)
    assert calls == [0, 1, 2, 3]
    assert list(cache.iterdir()) == []
    assert not [thread for thread in threading.enumerate()
                if thread.name.startswith("streamgd-parse")]


def test_csv_switch_interval_is_lowered_while_parsing_and_restored(tmp_path):
    """The GIL is handed on more often during a parse, and the process's own
    setting comes back after it, an error included."""
    import sys

    path = _write(tmp_path / "data.csv", _numbered(2000))
    before = sys.getswitchinterval()
    seen = []

    def observe(ref, table):
        seen.append(sys.getswitchinterval())
        if ref.index == 2:
            raise DataError("refused", file=ref.file)

    source = CsvSource([DataFile(str(path), "csv")], PLAN, CsvOptions(block_size=1024),
                       str(tmp_path / "c1"), lambda ref, table: seen.append(
                           sys.getswitchinterval()))
    source.close()
    assert seen and set(seen) == {min(before, 0.0005)}
    assert sys.getswitchinterval() == before
    with pytest.raises(DataError, match="refused"):
        CsvSource([DataFile(str(path), "csv")], PLAN, CsvOptions(block_size=1024),
                  str(tmp_path / "c2"), observe)
    assert sys.getswitchinterval() == before


def test_csv_overlapping_parses_restore_the_switch_interval_once():
    """Two parses at once (threads of a tune run): the first to end keeps the
    lowered interval for the other; the last restores the process's."""
    import sys

    from streamgd.readers.csv import _SwitchInterval

    before = sys.getswitchinterval()
    interval = _SwitchInterval(before / 10)
    first, second = interval.lowered(), interval.lowered()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert sys.getswitchinterval() == before / 10
    second.__exit__(None, None, None)
    assert sys.getswitchinterval() == before
