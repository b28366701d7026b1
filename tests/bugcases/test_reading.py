"""Bad-input cases of the reading layer (b01, b03, b05, b06, b08, b11).

Each test builds a small version of a case of `../shared/bugcases` (the inputs that
broke comparable tools) and checks the behaviour its `expected.json` asks for.
The classes: a type that changes after the first block, quoted newlines across
blocks, empty files and row groups, a column typed differently across files or
missing from one, and non-finite or overflowing values.
"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import streamgd
from streamgd.errors import DataError, NonFiniteValueError, SchemaError
from tests.helpers import job, least_squares, nothing_written

BLOCK = 1 << 12  # 4 KiB CSV blocks: a few thousand rows span many of them


def _late_value_csv(path, n, odd):
    """b01: integers in x1, one `odd` value at row n - 2 (far past the first block)."""
    x = np.arange(n) % 100
    y = 2 * x + 1
    lines = [f"{x[i]},{y[i]}" for i in range(n)]
    lines[n - 2] = f"{odd},6.0"
    path.write_text("x1,y\n" + "\n".join(lines) + "\n")
    values = x.astype(float)
    values[n - 2] = 2.5
    target = y.astype(float)
    target[n - 2] = 6.0
    return values, target


def test_b01_late_float_in_an_integer_column_is_read_as_float(tmp_path):
    """b01: a 2.5 after thousands of integer rows is read; every row is used and the
    fit is the least-squares one."""
    x, y = _late_value_csv(tmp_path / "late_float.csv", 3000, "2.5")
    result = streamgd.train(job(
        [tmp_path / "late_float.csv"], ["x1"], tmp_path / "out",
        data__csv__block_size=BLOCK, optimizer__max_epochs=30, optimizer__tol=0.0,
        optimizer__learning_rate=0.1))
    weights, intercept, _ = least_squares(x[:, None], y)
    fitted, fitted_intercept = result.model.original_coefficients()
    assert result.model.training["rows"] == 3000
    assert fitted[0] == pytest.approx(weights[0], abs=1e-3)
    assert fitted_intercept == pytest.approx(intercept, abs=1e-2)


def test_b01_late_text_in_a_number_column_names_file_column_row_line(tmp_path):
    """b01: text after thousands of integer rows stops the job with the file, the
    column, the row, the line and the value; nothing is written."""
    _late_value_csv(tmp_path / "late_text.csv", 3000, "A")
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"'x1' of .*late_text.csv, row 2998 "
                                        r"\(line 3000\).*'A'") as caught:
        streamgd.train(job([tmp_path / "late_text.csv"], ["x1"], out,
                           data__csv__block_size=BLOCK))
    assert (caught.value.column, caught.value.row, caught.value.line) == ("x1", 2998,
                                                                          3000)
    assert nothing_written(out)


def _quoted_newlines_csv(path, n, every=100):
    """b03: every 100th row has a quoted note holding a newline and a comma."""
    x = np.arange(n) % 10
    rows = [f'{x[i]},"ab\ncd, ""quoted""",{2 * x[i] + 1}' if i % every == 0
            else f"{x[i]},ok,{2 * x[i] + 1}" for i in range(n)]
    path.write_text("x1,note,y\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize("newlines_in_values", [False, True])
def test_b03_quoted_newlines_across_blocks_keep_the_row_count(tmp_path,
                                                               newlines_in_values):
    """b03: quoted values with newlines, over many blocks, give the exact row count
    (never a silently different one), with or without the option set."""
    _quoted_newlines_csv(tmp_path / "quoted.csv", 4000)
    result = streamgd.train(job(
        [tmp_path / "quoted.csv"], ["x1"], tmp_path / "out",
        data__csv__block_size=BLOCK, optimizer__max_epochs=2,
        data__csv__newlines_in_values=newlines_in_values))
    assert result.model.training["rows"] == 4000


def test_b03_block_ending_inside_quotes_is_an_error_naming_the_option(tmp_path):
    """b03: when a block ends inside a quoted value the job stops, naming the file
    and the option that reads it; with the option set, every row is counted."""
    path = tmp_path / "dense.csv"
    _quoted_newlines_csv(path, 4000, every=2)
    settings = dict(data__csv__block_size=777, optimizer__max_epochs=1)
    with pytest.raises(DataError, match=r"dense.csv: cannot parse CSV.*"
                                        r"data.csv.newlines_in_values: true"):
        streamgd.train(job([path], ["x1"], tmp_path / "out", **settings))
    result = streamgd.train(job([path], ["x1"], tmp_path / "out", **settings,
                                data__csv__newlines_in_values=True))
    assert result.model.training["rows"] == 4000


def test_b03_small_file_counts_rows_not_lines(tmp_path):
    """b03: 10 rows on 12 physical lines are 10 rows."""
    path = tmp_path / "small.csv"
    _quoted_newlines_csv(path, 10)
    result = streamgd.train(job([path], ["x1"], tmp_path / "out",
                                optimizer__max_epochs=1))
    assert path.read_text().count("\n") == 12
    assert result.model.training["rows"] == 10


def _empty_files_folder(folder):
    """b05: one good CSV, a 0-byte one, a header-only one, header and blank line."""
    rng = np.random.default_rng(5)
    x = rng.normal(size=1000)
    y = -1.5 * x + 0.25
    folder.mkdir()
    (folder / "part-0.csv").write_text(
        "x1,y\n" + "".join(f"{a},{b}\n" for a, b in zip(x, y)))
    (folder / "part-1.csv").write_text("")
    (folder / "part-2.csv").write_text("x1,y\n")
    (folder / "part-3.csv").write_text("x1,y\n\n")
    return x, y


def test_b05_zero_byte_file_is_an_error_naming_it(tmp_path):
    """b05: by default a 0-byte file stops the job, named, with the option to skip
    it; no model is written."""
    _empty_files_folder(tmp_path / "data")
    out = tmp_path / "out"
    with pytest.raises(DataError,
                       match=r"part-1.csv: file is empty.*empty_files: skip"):
        streamgd.train(job([tmp_path / "data"], ["x1"], out))
    assert nothing_written(out)


def test_b05_header_only_files_are_valid_and_empty_ones_skipped(tmp_path, caplog):
    """b05: with data.empty_files: skip the 0-byte file is skipped with a warning,
    the header-only files count 0 rows, and the fit uses the 1,000 good rows."""
    x, y = _empty_files_folder(tmp_path / "data")
    result = streamgd.train(job([tmp_path / "data"], ["x1"], tmp_path / "out",
                                data__empty_files="skip", optimizer__max_epochs=20,
                                optimizer__tol=0.0))
    fitted, intercept = result.model.original_coefficients()
    assert "skipping empty file" in caplog.text and "part-1.csv" in caplog.text
    assert result.model.training["rows"] == 1000
    assert fitted[0] == pytest.approx(-1.5, abs=1e-3)
    assert intercept == pytest.approx(0.25, abs=1e-3)


def test_b06_zero_row_row_groups_are_never_batches(tmp_path):
    """b06: row groups of 0 rows, and a file of one empty row group, add no row, no
    batch and no update; statistics and fit are those of the 2,000 rows."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=2000)
    table = pa.table({"x1": x, "y": -x + 4.0})
    with pq.ParquetWriter(tmp_path / "with_empties.parquet", table.schema) as writer:
        for part in (table.slice(0, 1000), table.slice(0, 0),
                     table.slice(1000, 1000), table.slice(0, 0)):
            writer.write_table(part)
    pq.write_table(table.slice(0, 0), tmp_path / "no_rows.parquet")
    sizes = pq.ParquetFile(tmp_path / "with_empties.parquet").metadata
    assert [sizes.row_group(i).num_rows for i in range(4)] == [1000, 0, 1000, 0]

    result = streamgd.train(job([tmp_path], ["x1"], tmp_path / "out",
                                optimizer__max_epochs=10, optimizer__tol=0.0))
    stats = result.model.stats
    epochs = [r for r in result.records if r["kind"] == "epoch"]
    assert result.model.training["rows"] == 2000
    assert stats.mean[0] == pytest.approx(x.mean(), rel=1e-12)
    assert stats.variance[0] == pytest.approx(x.var(), rel=1e-12)
    assert [r["update"] for r in epochs] == [63 * k for k in range(1, 11)]
    assert all(np.isfinite(r["cost_epoch"]) for r in epochs)
    fitted, intercept = result.model.original_coefficients()
    assert fitted[0] == pytest.approx(-1.0, abs=1e-3)
    assert intercept == pytest.approx(4.0, abs=1e-3)


def _typed_files(folder):
    """b08: x1 stored as int16, int64 (beyond int16), float32 and float64."""
    rng = np.random.default_rng(8)
    types = [pa.int16(), pa.int64(), pa.float32(), pa.float64()]
    draws = [lambda: rng.integers(-50, 50, 500).astype(float),
             lambda: rng.integers(-100_000, 100_000, 500).astype(float),
             lambda: rng.integers(-200, 200, 500) / 4.0,
             lambda: rng.normal(0, 10, 500)]
    X, Y = [], []
    for k, (arrow_type, draw) in enumerate(zip(types, draws)):
        x1, x2 = draw(), rng.integers(-8, 8, 500) / 4.0
        y = 3 * x1 + x2 - 1
        pq.write_table(pa.table({"x1": pa.array(x1).cast(arrow_type),
                                 "x2": pa.array(x2, pa.float32()), "y": y}),
                       folder / f"f{k + 1}.parquet")
        X.append(np.c_[x1, x2])
        Y.append(y)
    return np.vstack(X), np.concatenate(Y)


def test_b08_numeric_types_differing_across_files_are_promoted(tmp_path):
    """b08: int16, int64, float32 and float64 versions of a column train together,
    as float64, to the least-squares fit."""
    X, y = _typed_files(tmp_path)
    result = streamgd.train(job([tmp_path], ["x1", "x2"], tmp_path / "out",
                                optimizer__max_epochs=40, optimizer__tol=0.0,
                                optimizer__learning_rate=0.1))
    weights, intercept, _ = least_squares(X, y)
    fitted, fitted_intercept = result.model.original_coefficients()
    assert result.model.training["rows"] == 2000
    np.testing.assert_allclose(fitted, weights, rtol=1e-2)
    assert fitted_intercept == pytest.approx(intercept, abs=0.05)


def test_b08_a_file_missing_a_column_is_named(tmp_path):
    """b08: a file without x2 among the others stops the job naming the file and
    the column; nothing is written."""
    _typed_files(tmp_path)
    pq.write_table(pa.table({"x1": np.ones(10), "y": np.ones(10)}),
                   tmp_path / "f5_missing_x2.parquet")
    out = tmp_path / "out"
    with pytest.raises(SchemaError, match=r"'x2' of .*f5_missing_x2.parquet") as caught:
        streamgd.train(job([tmp_path], ["x1", "x2"], out))
    assert caught.value.file.endswith("f5_missing_x2.parquet")
    assert nothing_written(out)


B11_CASES = [  # (file, column index, row, text)
    ("max_double.csv", 1, 99, "1.7976931348623157e308"),
    ("pos_inf.csv", 0, 199, "inf"),
    ("nan_label.csv", 2, 299, "nan"),
    ("neg_inf.csv", 1, 399, "-inf"),
]


@pytest.mark.parametrize("name, column, row, text", B11_CASES)
def test_b11_non_finite_and_overflowing_values_are_located(tmp_path, name, column,
                                                          row, text):
    """b11: NaN, +-inf in a feature or the label, and the largest double (whose
    variance overflows), stop the job with the file, column, row and line."""
    rng = np.random.default_rng(11)
    columns = [[repr(float(v)) for v in rng.normal(size=1000)] for _ in range(3)]
    columns[column][row] = text
    path = tmp_path / name
    path.write_text("x1,x2,y\n" + "".join(",".join(r) + "\n" for r in zip(*columns)))
    out = tmp_path / "out"
    with pytest.raises(NonFiniteValueError) as caught:
        streamgd.train(job([path], ["x1", "x2"], out))
    error = caught.value
    assert error.file.endswith(name)
    assert (error.column, error.row, error.line) == (["x1", "x2", "y"][column], row,
                                                     row + 2)
    assert nothing_written(out)
