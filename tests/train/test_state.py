"""The engine's frozen training state: snapshots at chunk boundaries restore exactly."""

import numpy as np
import pytest

from streamgd.config import make_config
from streamgd.readers import column_plan, open_source
from streamgd.train.costlog import CostLog
from streamgd.train.loop import Engine
from streamgd.train.prepare import prepare
from tests.helpers import write_parquet


def _setup(tmp_path, **optimizer):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 2))
    y = X @ [1.5, -0.5] + 2.0 + rng.normal(0, 0.1, 600)
    write_parquet(tmp_path / "data.parquet",
                  {"x1": X[:, 0], "x2": X[:, 1], "y": y}, row_group_size=50)
    config = make_config({
        "data": {"paths": str(tmp_path / "data.parquet"), "features": ["x1", "x2"],
                 "target": "y"},
        "optimizer": {"max_epochs": 3, "tol": 0.0, "batch_size": 7, **optimizer},
        "shuffle": {"buffer_rows": 120}, "seed": 5,
        "output": {"dir": str(tmp_path / "out")},
    })
    plan = column_plan(config)
    source = open_source(config, plan)
    return config, source, prepare(config, source, plan)


@pytest.mark.parametrize("at", [0, 4, 13, 20, 29])
def test_engine_restore_from_any_boundary_gives_the_same_model(tmp_path, at):
    """A fresh engine restored from the snapshot at any chunk boundary (mid-epoch,
    with rows in the shuffle buffer and re-batcher) ends bitwise where the
    uninterrupted engine ends."""
    config, source, prepared = _setup(tmp_path)
    snapshots = []
    whole = Engine(config, prepared,
                   on_boundary=lambda engine, end: snapshots.append(engine.snapshot()))
    whole.fit(source, CostLog(None, 10))

    resumed = Engine(config, prepared)
    resumed.restore(snapshots[at])
    resumed.fit(source, CostLog(None, 10))

    assert len(snapshots) == 3 * 12 + 3
    assert resumed.params.weights.tobytes() == whole.params.weights.tobytes()
    assert resumed.params.intercept == whole.params.intercept
    assert resumed.opt_state == whole.opt_state
    # the epoch costs need the cost log's state too: see the checkpoint tests
    assert resumed.monitor.stop_reason == whole.monitor.stop_reason


def test_engine_snapshot_mid_epoch_holds_buffered_rows(tmp_path):
    """A mid-epoch snapshot records the chunk order, the chunks done and the rows
    waiting in the shuffle buffer, in blocks (of one row: the chunks of 50 rows
    are too small to be cut into 64 blocks of more)."""
    config, source, prepared = _setup(tmp_path)
    snapshots = []
    engine = Engine(config, prepared,
                    on_boundary=lambda engine, end: snapshots.append(engine.snapshot()))
    engine.fit(source, CostLog(None, 10))

    position = snapshots[5].position
    assert position.epoch == 0 and position.n_chunks_done == 6
    assert sorted(position.order) == list(range(12))
    assert position.held.n_rows == 120
    assert position.held_lengths.tolist() == [1] * 120
    assert snapshots[12].position.order is None  # epoch end: next order not drawn
