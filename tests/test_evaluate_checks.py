"""evaluate and train refuse data with no usable row or overflowing values."""

import numpy as np
import pytest

import streamgd
from streamgd.cli import main
from streamgd.errors import DataError, NonFiniteValueError
from tests.helpers import write_csv


@pytest.fixture
def model(tmp_path):
    """A linear model y ~ x1 trained on 200 rows."""
    rng = np.random.default_rng(2)
    x1 = rng.normal(size=200)
    path = write_csv(tmp_path / "train.csv", {"x1": x1, "y": 3 * x1 + 1})
    result = streamgd.train({
        "data": {"paths": [str(path)], "features": ["x1"], "target": "y"},
        "optimizer": {"max_epochs": 2}, "output": {"dir": str(tmp_path / "out")}})
    return result.model_path


def test_evaluate_header_only_is_an_error_naming_the_file(model, tmp_path, capsys):
    """No row to evaluate exits 1 naming the file instead of printing no metric."""
    path = tmp_path / "empty.csv"
    path.write_text("x1,y\n")
    with pytest.raises(DataError, match="empty.csv: no rows to evaluate"):
        streamgd.evaluate(model, path)
    assert main(["evaluate", str(model), str(path)]) == 1
    assert "no rows to evaluate" in capsys.readouterr().err


def test_evaluate_overflowing_row_is_located(model, tmp_path):
    """A feature so large the squared error overflows names column, row, line."""
    path = tmp_path / "huge.csv"
    path.write_text("x1,y\n1,4\n1e308,3\n2,7\n")
    with pytest.raises(NonFiniteValueError, match="overflows float64") as caught:
        streamgd.evaluate(model, path)
    error = caught.value
    assert (error.column, error.row, error.line) == ("x1", 1, 3)


def test_evaluate_far_target_blames_the_target(model, tmp_path):
    """A target whose error overflows names the target column."""
    path = tmp_path / "far.csv"
    path.write_text("x1,y\n1,4\n0.5,1e200\n")
    with pytest.raises(NonFiniteValueError, match="column 'y'.*row 1"):
        streamgd.evaluate(model, path)


def test_train_header_only_names_the_file(tmp_path):
    """'no rows to train on' for header-only files names them."""
    path = tmp_path / "header.csv"
    path.write_text("x1,y\n")
    with pytest.raises(DataError, match="header.csv: no rows to train on"):
        streamgd.train({
            "data": {"paths": [str(path)], "features": ["x1"], "target": "y"},
            "output": {"dir": str(tmp_path / "out")}})
