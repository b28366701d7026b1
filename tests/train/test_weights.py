"""Sample weights end to end: with their rows, in the cost, out of the schedule."""

import numpy as np
import pytest

import streamgd
from streamgd.errors import DataError
from streamgd.train.updates import Updater
from tests.helpers import job, write_parquet


def _weighted_data(tmp_path, n=1200):
    """Rows whose weight is a function of their row id (id + 1; every 7th 0)."""
    rng = np.random.default_rng(41)
    row_id = np.arange(n, dtype=float)
    x = rng.normal(size=n)
    weight = np.where(np.arange(n) % 7 == 3, 0.0, row_id + 1.0)
    write_parquet(tmp_path / "w.parquet",
                  {"x1": x, "row_id": row_id, "y": row_id, "w": weight},
                  row_group_size=100)
    return x, row_id, weight


def test_weights_travel_with_their_rows_through_the_shuffle(tmp_path, monkeypatch):
    """Every row reaching an update carries its own weight and features, across
    the chunk permutation, a small shuffle buffer and re-batching."""
    x, row_id, weight = _weighted_data(tmp_path)
    blocks = []
    original = Updater.run

    def spy(self, visit, *args):
        blocks.append(visit.gathered())
        return original(self, visit, *args)

    monkeypatch.setattr(Updater, "run", spy)
    result = streamgd.train(job([tmp_path / "w.parquet"], ["x1"], tmp_path / "out",
                                target="row_id", data__weight="w",
                                shuffle__buffer_rows=150, optimizer__batch_size=7,
                                optimizer__max_epochs=2, optimizer__tol=0.0,
                                optimizer__learning_rate=1e-6))
    ids = np.concatenate([block.y for block in blocks]).astype(int)
    scaled_x = np.concatenate([block.X[:, 0] for block in blocks])
    assert np.array_equal(np.sort(ids), np.sort(np.r_[row_id, row_id]).astype(int))
    assert not np.array_equal(ids[:1200], np.arange(1200))  # shuffled indeed
    np.testing.assert_array_equal(np.concatenate([b.weight for b in blocks]),
                                  weight[ids])
    np.testing.assert_array_equal(
        scaled_x, result.model.scaler.transform(x[ids][:, None])[:, 0])


def test_zero_weight_rows_do_not_advance_the_schedule(tmp_path):
    """At batch size 1 a zero-weight row makes no update: the update count and
    the invscaling rate move with the weighted rows only."""
    _, _, weight = _weighted_data(tmp_path)
    result = streamgd.train(job([tmp_path / "w.parquet"], ["x1"], tmp_path / "out",
                                data__weight="w", optimizer__batch_size=1,
                                optimizer__max_epochs=2, optimizer__tol=0.0,
                                optimizer__learning_rate=1e-6, output__log_every=1))
    weighted = int((weight > 0).sum())
    epochs = [r for r in result.records if r["kind"] == "epoch"]
    updates = [r for r in result.records if r["kind"] == "update"]
    assert [r["update"] for r in epochs] == [weighted, 2 * weighted]
    assert [r["update"] for r in updates] == list(range(1, 2 * weighted + 1))
    for record in updates[:50]:
        assert record["learning_rate"] == pytest.approx(
            1e-6 / record["update"] ** 0.25, rel=1e-15)
    assert result.model.training["updates"] == 2 * weighted


def test_weights_count_in_the_averaged_cost(tmp_path):
    """With a model that barely moves (rate 1e-12, weights start at 0), the epoch
    cost is the weighted mean of y^2 / 2: each row counts by its weight."""
    _, row_id, weight = _weighted_data(tmp_path)
    result = streamgd.train(job([tmp_path / "w.parquet"], ["x1"], tmp_path / "out",
                                target="row_id", data__weight="w",
                                optimizer__schedule="constant",
                                optimizer__learning_rate=1e-12,
                                optimizer__max_epochs=1))
    expected = float(weight @ (0.5 * row_id**2) / weight.sum())
    unweighted = float(np.mean(0.5 * row_id**2))
    assert result.records[-1]["cost_epoch"] == pytest.approx(expected, rel=1e-9)
    assert expected != pytest.approx(unweighted, rel=0.1)


def test_weights_all_zero_are_refused_naming_the_column(tmp_path):
    """Regression: all weights 0 made an epoch of no update, whose 0 / 0 cost
    was reported as divergence; it is now a data error before training.

    Found by the checkpoint resume property.
    """
    write_parquet(tmp_path / "w.parquet",
                  {"x1": np.arange(5.0), "y": np.arange(5.0), "w": np.zeros(5)})
    with pytest.raises(DataError, match=r"sample weight is 0.*data\.weight") as caught:
        streamgd.train(job([tmp_path / "w.parquet"], ["x1"], tmp_path / "out",
                           data__weight="w"))
    assert caught.value.column == "w"
    assert not (tmp_path / "out/model.json").exists()
