"""The step cap of SGD: 1 / (curvature x Hessian trace) of each batch."""

import numpy as np
import pytest

import streamgd
from streamgd.readers.decode import Chunk
from streamgd.train.loop import Engine
from tests.helpers import job, write_parquet


class _Stub:
    """Just what `Engine._safe_rates` reads."""

    def __init__(self, kind="linear", fit_intercept=True):
        self.config = {"model.fit_intercept": fit_intercept}
        self.loss = streamgd.model.losses.LOSSES[kind]


def test_safe_rates_are_the_inverse_weighted_trace_per_batch():
    """Each batch's cap is 1 / (curvature (sum w ||x||^2 / sum w + 1)), and finite
    for a batch of weight 0 too (which makes no step)."""
    X = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 0.0], [10.0, 0.0], [1.0, 1.0]])
    weight = np.array([1.0, 3.0, 0.0, 0.0, 2.0])
    block = Chunk(X, np.zeros(5), weight)
    caps = Engine._safe_rates(_Stub(), block, 2)
    expected_first = 1.0 / ((1 * 5 + 3 * 9) / 4 + 1)
    assert caps[0] == pytest.approx(expected_first)
    assert caps[2] == pytest.approx(1.0 / (2 + 1))
    assert caps.shape == (3,) and np.isfinite(caps[1])
    logistic = Engine._safe_rates(_Stub("logistic", False), Chunk(X, X[:, 0], None), 5)
    assert logistic.tolist() == [pytest.approx(4.0 / np.mean((X**2).sum(axis=1)))]


def test_safe_rates_leave_ordinary_scaled_runs_unchanged(tmp_path, monkeypatch):
    """On standardized data at the usual rates no cap acts: the model is bit for
    bit the one of steps without caps."""
    rng = np.random.default_rng(9)
    X = rng.normal(size=(2000, 3)) * [1.0, 50.0, 0.01]
    write_parquet(tmp_path / "d.parquet",
                  {"x1": X[:, 0], "x2": X[:, 1], "x3": X[:, 2],
                   "y": X @ [1.0, 0.1, 30.0] + 2}, row_group_size=250)
    settings = job([tmp_path / "d.parquet"], ["x1", "x2", "x3"], tmp_path / "out",
                   optimizer__learning_rate=0.1, optimizer__max_epochs=3)
    capped = streamgd.train(settings).model.params
    monkeypatch.setattr(Engine, "_safe_rates", lambda self, block, size: None)
    plain = streamgd.train(settings).model.params
    assert capped.weights.tobytes() == plain.weights.tobytes()
    assert capped.intercept == plain.intercept
