"""Byte ranges of a CSV file: every row read once, the header never, errors named."""

import gzip

import numpy as np
import pyarrow.csv as pa_csv
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from streamgd.errors import DataError, NonFiniteValueError, SchemaError
from streamgd.readers import ColumnPlan, CsvOptions
from streamgd.readers.csv_ranges import (
    QuoteCheck, column_names, range_blocks, rows_before, split_ranges,
)

PLAN = ColumnPlan(("a", "b"), "y", True)


def _rows(path, options, range_bytes):
    """(a, b, y) of every row, read range by range."""
    ranges = split_ranges(str(path), options, range_bytes)
    assert ranges is not None
    names = column_names(str(path), options)
    rows = []
    for byte_range in ranges:
        for batch in range_blocks(str(path), PLAN, options, byte_range, names):
            rows.extend(zip(*(batch.column(name).to_pylist()
                              for name in ("a", "b", "y"))))
    return rows, ranges


@given(values=st.lists(st.tuples(st.integers(-999, 999), st.integers(0, 99)),
                       min_size=0, max_size=40),
       range_bytes=st.integers(1, 120), crlf=st.booleans(),
       blank_every=st.sampled_from([0, 3, 7]), final_newline=st.booleans())
def test_ranges_read_every_row_exactly_once_and_never_the_header(
    tmp_path_factory, values, range_bytes, crlf, blank_every, final_newline
):
    """For any cut size, CRLF or LF, blank lines and a missing last newline, the
    rows of all ranges are the rows of the whole file, in order."""
    newline = "\r\n" if crlf else "\n"
    lines = ["y,a,notes,b"]
    for k, (a, b) in enumerate(values):
        if blank_every and k % blank_every == 0:
            lines.append("")
        lines.append(f"{k},{a}.5,\"note {k}, quoted\",{b}")
    text = newline.join(lines) + (newline if final_newline else "")
    # a header alone is one range (the header's), not cut: read whole
    assume(values and len(text) > range_bytes)
    path = tmp_path_factory.mktemp("ranges") / "d.csv"
    path.write_text(text, newline="")

    rows, ranges = _rows(path, CsvOptions(), range_bytes)
    expected = [(float(f"{a}.5"), float(b), float(k))
                for k, (a, b) in enumerate(values)]
    assert rows == expected
    assert ranges[0][0] == 0 and ranges[-1][1] == len(text.encode())
    assert all(end == start for (_, end), (start, _) in zip(ranges, ranges[1:]))


def test_given_column_names_replace_the_header_in_every_range(tmp_path):
    """data.csv.column_names with a header line: the header is skipped once."""
    path = tmp_path / "d.csv"
    path.write_text("p,q,r\n" + "".join(f"{k},{k * 2},{k * 3}\n" for k in range(50)))
    options = CsvOptions(column_names=("a", "b", "y"))
    rows, ranges = _rows(path, options, 40)
    assert len(ranges) > 5
    assert rows == [(float(k), float(2 * k), float(3 * k)) for k in range(50)]


def test_files_that_cannot_be_cut_are_read_whole(tmp_path):
    """Compressed files, small ones, and quoted line breaks allowed: no ranges."""
    text = "a,b,y\n" + "1,2,3\n" * 100
    plain, packed = tmp_path / "d.csv", tmp_path / "d.csv.gz"
    plain.write_text(text)
    packed.write_bytes(gzip.compress(text.encode()))
    assert split_ranges(str(plain), CsvOptions(), 64) is not None
    assert split_ranges(str(plain), CsvOptions(), len(text)) is None
    assert split_ranges(str(packed), CsvOptions(), 64) is None
    assert split_ranges(str(plain), CsvOptions(newlines_in_values=True), 64) is None
    assert split_ranges(str(plain), CsvOptions(header=False), 64) is None


def test_a_quoted_line_break_across_a_cut_is_refused_naming_its_line(tmp_path):
    """Lines inside a quoted value that look like rows are not read as rows
    when a cut falls inside it: the range is refused, the error names the
    value's first line and the setting."""
    path = tmp_path / "d.csv"
    lines = [f"{k},n,{k}" for k in range(40)]
    lines[30] = '30,"text\n' + "\n".join(["3,z,1000"] * 20) + '",30'
    path.write_text("a,notes,y\n" + "\n".join(lines) + "\n")
    plan = ColumnPlan(("a",), "y", True)
    whole = pa_csv.read_csv(
        path, parse_options=pa_csv.ParseOptions(newlines_in_values=True))
    assert whole.num_rows == 40
    options = CsvOptions()
    names = column_names(str(path), options)
    with pytest.raises(DataError, match=r"d.csv \(line 32\): this line has an odd"
                       r" number of quote characters.*newlines_in_values: true"):
        for byte_range in split_ranges(str(path), options, 100):
            list(range_blocks(str(path), plan, options, byte_range, names))


def _odd_line(data: bytes, first: int) -> int | None:
    """The offset of the first line of `data` with an odd number of quotes."""
    offset = first
    for line in data.split(b"\n"):
        if line.count(b'"') % 2:
            return offset
        offset += len(line) + 1
    return None


@given(data=st.binary(max_size=60).map(
           lambda raw: bytes(b'ab"\n\r'[byte % 5] for byte in raw)),
       cuts=st.lists(st.integers(0, 60), max_size=4), first=st.integers(0, 9))
def test_the_quote_check_finds_the_first_odd_line_in_any_pieces(data, cuts, first):
    """Fed in pieces cut anywhere, the check finds the first line with an odd
    number of quote characters, at its offset in the file, or none."""
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut < len(data))})
    check = QuoteCheck(first)
    for start, end in zip(bounds, bounds[1:]):
        if not check.feed(data[start:end]):
            break
    check.finish()
    assert check.odd_line == _odd_line(data, first)


def test_a_bad_value_in_a_later_range_is_named_by_its_row_in_the_file(tmp_path):
    """A conversion error far into the file names the file's row and line."""
    path = tmp_path / "d.csv"
    lines = [f"{k},1,2" for k in range(100)]
    lines[73] = "7x,1,2"
    path.write_text("a,b,y\n" + "\n".join(lines) + "\n")
    options = CsvOptions()
    names = column_names(str(path), options)
    with pytest.raises(SchemaError, match=r"'a' of .*d.csv, row 73 \(line 75\)"):
        for byte_range in split_ranges(str(path), options, 50):
            list(range_blocks(str(path), PLAN, options, byte_range, names))


def test_rows_before_counts_the_rows_of_the_earlier_ranges(tmp_path):
    """The error path's count equals the rows the earlier ranges read."""
    path = tmp_path / "d.csv"
    path.write_text("a,b,y\n" + "".join(f"{k},1,2\n\n" for k in range(60)))
    options = CsvOptions()
    names = column_names(str(path), options)
    seen = 0
    for byte_range in split_ranges(str(path), options, 33):
        assert rows_before(str(path), options, byte_range) == seen
        seen += sum(batch.num_rows for batch in
                    range_blocks(str(path), PLAN, options, byte_range, names))
    assert seen == 60


def test_a_nan_decoded_from_a_later_range_names_the_row_in_the_file(tmp_path):
    """Through the full-batch reader: a NaN's row counts the earlier ranges."""
    from streamgd.fullbatch.partitions import PartitionReader
    from streamgd.readers.decode import Decoder

    path = tmp_path / "d.csv"
    lines = [f"{k},1,2" for k in range(100)]
    lines[88] = "nan,1,2"
    path.write_text("a,b,y\n" + "\n".join(lines) + "\n")
    options = CsvOptions()
    reader = PartitionReader(PLAN, options)
    decoder = Decoder(["a", "b"], PLAN, None, "error")
    from streamgd.fullbatch.partitions import Partition

    names = column_names(str(path), options)
    partitions = [Partition(str(path), "csv", byte_range=byte_range,
                            column_names=names)
                  for byte_range in split_ranges(str(path), options, 60)]
    with pytest.raises(NonFiniteValueError, match=r"'a' of .*d.csv, row 88: "):
        for partition in partitions:
            for ref, table in reader.tables(partition):
                with reader.rows_in_file(partition):
                    decoder.decode(table, ref)
    assert np.isnan(float("nan"))  # the file holds the text nan, read as NaN


def test_column_names_follow_blank_lines_within_the_first_block(tmp_path):
    """The header is the first line that is not blank, as pyarrow reads it;
    one that does not end within the first block is an error naming the
    setting, not a read of the whole file."""
    path = tmp_path / "d.csv"
    path.write_bytes(b"\r\n\n" + b'"a","b",y\n1,2,3\n')
    assert column_names(str(path), CsvOptions()) == ("a", "b", "y")
    path.write_bytes(b"\n" * 10 + b"a" * 100 + b",b\n1,2\n")
    with pytest.raises(DataError, match=r"d.csv: no header line ends within the"
                       r" first data.csv.block_size \(64\) bytes"):
        column_names(str(path), CsvOptions(block_size=64))


def test_a_header_longer_than_pyarrows_default_block_is_read(tmp_path):
    """A header line of 1.5 MB within the job's 2 MiB block: its names, and
    the rows of every range (pyarrow's own default block, 1 MiB, could not
    hold the line, and every file over 8 MiB was refused)."""
    path = tmp_path / "d.csv"
    wide = "w" * 1_500_000
    path.write_text(f"a,b,{wide},y\n"
                    + "".join(f"{k},1,0,{2 * k}\n" for k in range(300)))
    options = CsvOptions()
    assert column_names(str(path), options) == ("a", "b", wide, "y")
    rows, ranges = _rows(path, options, range_bytes=1_500_100)
    assert len(ranges) > 1
    assert rows == [(k, 1, 2 * k) for k in range(300)]
