"""The Vowpal Wabbit text writer of the benchmark (needs no vowpalwabbit)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

import bench  # noqa: E402
import bench_vw  # noqa: E402
import make_bench_data as data  # noqa: E402


def parse_line(line: str) -> tuple[float, dict[str, float]]:
    """Label and features of one line of VW's text format (one namespace)."""
    label, features = line.split(" |f")
    pairs = (piece.split(":") for piece in features.split())
    return float(label), {name: float(value) for name, value in pairs}


def test_vw_lines_hold_label_and_every_value_exactly():
    """Each line is `label |f name:value ...` and the values read back exactly."""
    batch = pa.table({"x0": [1.5, -2.25e-7], "x1": [1e300, 3.0],
                      "y": [0.1, -7.0]})
    lines = bench_vw.vw_lines(batch, ["x0", "x1"], "regression")
    assert [parse_line(line) for line in lines] == [
        (0.1, {"x0": 1.5, "x1": 1e300}), (-7.0, {"x0": -2.25e-7, "x1": 3.0})]


def test_vw_lines_classification_labels_are_minus_one_and_one():
    """0/1 classes become -1/+1, the labels of VW's logistic loss."""
    batch = pa.table({"x0": [0.0, 1.0, 2.0], "y": pa.array([0, 1, 0], pa.int64())})
    lines = bench_vw.vw_lines(batch, ["x0"], "classification")
    assert [line.split(" |")[0] for line in lines] == ["-1", "1", "-1"]


def test_vw_lines_leave_missing_values_out():
    """A null feature value is absent from its line; the others stay."""
    batch = pa.table({"x0": [None, 2.0], "x1": [4.0, None], "y": [1.0, 2.0]})
    lines = bench_vw.vw_lines(batch, ["x0", "x1"], "regression")
    assert [parse_line(line)[1] for line in lines] == [{"x1": 4.0}, {"x0": 2.0}]


def test_vw_lines_refuse_names_vw_cannot_read():
    """A feature name with ':' is refused, naming the column and the fix."""
    batch = pa.table({"a:b": [1.0], "y": [1.0]})
    with pytest.raises(ValueError, match=r"column 'a:b'.*rename the column"):
        bench_vw.vw_lines(batch, ["a:b"], "regression")


def test_vw_lines_refuse_missing_targets():
    """A missing target is refused, naming the target column."""
    batch = pa.table({"x0": [1.0, 2.0], "y": [1.0, None]})
    with pytest.raises(ValueError, match=r"column 'y': 1 missing target"):
        bench_vw.vw_lines(batch, ["x0"], "regression")


def test_write_vw_text_holds_every_row_of_the_parquet_file(tmp_path):
    """The text file has one line per row, in order, over several row groups."""
    spec = data.Spec("regression", 700, 20, row_group_rows=256)
    parquet = data.ensure(spec, tmp_path, "parquet")
    features = data.feature_names(20)
    text = bench_vw.write_vw_text(parquet, features, "regression")
    table = pq.read_table(parquet)
    rows = [parse_line(line) for line in text.read_text().splitlines()]
    assert [label for label, _ in rows] == table.column("y").to_pylist()
    assert [values["x7"] for _, values in rows] == table.column("x7").to_pylist()
    assert {len(values) for _, values in rows} == {20}


def test_write_vw_text_reuses_an_existing_file(tmp_path):
    """A text file already beside the data is kept, not written again."""
    parquet = data.ensure(data.Spec("regression", 50, 20), tmp_path, "parquet")
    parquet.with_suffix(".vw").write_text("kept\n")
    text = bench_vw.write_vw_text(parquet, data.feature_names(20), "regression")
    assert text.read_text() == "kept\n"


def test_peer_ratios_divide_rows_per_second_of_the_pairs_that_ran():
    """Ratios are rows/s over rows/s; a pair with a peer that did not run is
    left out."""
    results = [{"name": "streamgd_b1", "rows_per_second": 3.0e6},
               {"name": "vw_cache", "rows_per_second": 1.0e6}]
    assert bench.peer_ratios(results) == {"streamgd_b1 / vw_cache": 3.0}
