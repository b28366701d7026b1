"""Streaming prediction: what is left behind when the input turns out bad."""

import gc
import sys

import numpy as np
import pytest

import streamgd
from streamgd.errors import DataError
from tests.helpers import job, write_csv


@pytest.fixture
def model_path(tmp_path):
    """A small linear model of y on x1, x2."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    path = write_csv(tmp_path / "train.csv",
                     {"x1": X[:, 0], "x2": X[:, 1], "y": X @ [1.0, -1.0]})
    return streamgd.train(job([path], ["x1", "x2"], tmp_path / "out")).model_path


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_predict_error_closes_the_writer_and_leaves_no_file(
        model_path, tmp_path, monkeypatch, suffix):
    """A bad value part way through: a DataError, no predictions file (whole or
    partial, under any name), and no writer left to fail when it is collected
    (pyarrow's "Exception ignored ... write to closed file")."""
    lines = ["x1,x2"] + [f"{k % 5},{k % 3}" for k in range(3000)]
    lines[2500] = "abc,1"
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    unraisable = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    out = tmp_path / "preds" / f"predictions{suffix}"
    out.parent.mkdir()

    with pytest.raises(DataError, match="abc"):
        streamgd.predict(model_path, bad, out)
    gc.collect()
    assert unraisable == []
    assert list(out.parent.iterdir()) == []
