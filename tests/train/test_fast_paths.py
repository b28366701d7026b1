"""The fast paths train the plain paths' models: the compiled kernel (to
rounding), the read-ahead thread (bit for bit); and the block shuffle still
visits every row once per epoch, in an order that is not the file's."""

from __future__ import annotations

import json

import numpy as np
import pytest

import streamgd
from tests.helpers import job, recorded_batches, write_parquet

pytest.importorskip("numba")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """6,000 weighted rows in two files of row groups of 1,000 (blocks of 15)."""
    folder = tmp_path_factory.mktemp("fast")
    rng = np.random.default_rng(8)
    X = rng.normal(size=(6000, 3)) * [1.0, 20.0, 0.1] + [0.0, 50.0, 1.0]
    y = X @ [1.0, -0.1, 4.0] + rng.normal(0, 0.3, 6000)
    weight = rng.uniform(0.0, 2.0, 6000)
    for part, rows in enumerate((slice(0, 2500), slice(2500, 6000))):
        write_parquet(folder / f"part{part}.parquet",
                      {"x1": X[rows, 0], "x2": X[rows, 1], "x3": X[rows, 2],
                       "row_id": np.arange(6000.0)[rows], "y": y[rows],
                       "w": weight[rows]}, row_group_size=1000)
    return folder


def _train(data, out, **sections):
    settings = {"optimizer__max_epochs": 3, "optimizer__tol": 0.0,
                "optimizer__learning_rate": 0.02, "optimizer__batch_size": 7,
                "data__weight": "w", "shuffle__buffer_rows": 1500,
                "validation__holdout": 0.1, "output__log_every": 5, "seed": 4}
    settings.update(sections)
    return streamgd.train(job([data], ["x1", "x2", "x3"], out, **settings))


def _log(result) -> list[dict]:
    lines = result.cost_log_path.read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "elapsed"}
            for line in lines]


@pytest.mark.parametrize("batch_size", [1, 7, 256])
def test_compiled_kernel_trains_the_numpy_model(data, tmp_path, batch_size):
    """Shuffled, weighted, with a holdout: the compiled kernel's model and
    epoch costs equal the numpy path's to 1e-9 (relative)."""
    compiled = _train(data, tmp_path / "numba", optimizer__kernel="numba",
                      optimizer__batch_size=batch_size)
    generic = _train(data, tmp_path / "numpy", optimizer__kernel="numpy",
                     optimizer__batch_size=batch_size)
    np.testing.assert_allclose(compiled.model.params.weights,
                               generic.model.params.weights, rtol=1e-9)
    assert compiled.model.params.intercept == pytest.approx(
        generic.model.params.intercept, rel=1e-9)
    np.testing.assert_allclose(compiled.model.training["epoch_costs"],
                               generic.model.training["epoch_costs"], rtol=1e-9)


@pytest.mark.parametrize("kernel", ["numba", "numpy"])
def test_read_ahead_changes_nothing(data, tmp_path, kernel):
    """Chunks read ahead in a thread (2 deep) or read when needed: the same
    model and cost log, bit for bit; and so twice the same run."""
    ahead = _train(data, tmp_path / "ahead", data__read_ahead=2,
                   optimizer__kernel=kernel)
    inline = _train(data, tmp_path / "inline", data__read_ahead=0,
                    optimizer__kernel=kernel)
    again = _train(data, tmp_path / "again", data__read_ahead=0,
                   optimizer__kernel=kernel)
    for other in (inline, again):
        assert (ahead.model.params.weights.tobytes()
                == other.model.params.weights.tobytes())
        assert ahead.model.params.intercept == other.model.params.intercept
        assert _log(ahead) == _log(other)


def test_block_shuffle_epoch_is_a_permutation_not_the_file_order(data, tmp_path):
    """Each epoch visits every row exactly once; the order is not the file
    order, differs between epochs, and the first 1,000 rows visited mix rows
    of at least 3 of the 6 chunks (row groups)."""
    with recorded_batches() as batches:
        streamgd.train(job([data], ["row_id"], tmp_path / "out", seed=4,
                           preprocess__scaler="none", optimizer__max_epochs=2,
                           optimizer__learning_rate=1e-12,
                           shuffle__buffer_rows=1500))
    ids = np.concatenate([X[:, 0] for X, _, _ in batches])
    assert len(ids) == 12000
    first, second = ids[:6000], ids[6000:]
    for epoch in (first, second):
        np.testing.assert_array_equal(np.sort(epoch), np.arange(6000.0))
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, np.arange(6000.0))
    chunk_starts = [0, 1000, 2000, 2500, 3500, 4500, 5500]
    chunks = np.searchsorted(chunk_starts, first[:1000], side="right")
    assert len(np.unique(chunks)) >= 3


@pytest.mark.parametrize("read_ahead", [1, 4])
def test_store_reserved_for_chunks_read_ahead_never_grows(
    data, tmp_path, monkeypatch, read_ahead
):
    """The store made at the start holds every row that can be in it at once:
    the buffer, the rows being trained on, and read_ahead + 1 chunks written
    by the reading threads before the trainer frees the rows it trained on
    (forced here: the trainer waits before taking each chunk). It never grows
    during the run; it used to double, adding memory as runs got longer."""
    import time

    from streamgd.stream.blocks import BlockShuffle
    from streamgd.stream.store import BlockStore

    growths = []
    grow, take = BlockStore._grow, BlockShuffle.take

    def counted(store, n_new):
        growths.append(n_new)
        grow(store, n_new)

    def late(shuffle, blocks):
        time.sleep(0.02)
        return take(shuffle, blocks)

    monkeypatch.setattr(BlockStore, "_grow", counted)
    monkeypatch.setattr(BlockShuffle, "take", late)
    _train(data, tmp_path / "out", data__read_ahead=read_ahead,
           optimizer__max_epochs=1, validation__holdout=0.0,
           optimizer__batch_size=256)
    assert len(growths) == 1  # the reservation
