"""Laws of checkpoints: saving then loading changes no bit of any piece of the
state, and a run resumed from any chunk boundary ends bit for bit where the
uninterrupted run ends.

Checkpoints are taken at chunk boundaries only; with row groups of one row and
batches of one row there is a boundary after every update, so "any boundary"
covers "any update count" in those draws.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamgd.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from streamgd.checkpoint.fingerprint import fingerprint
from streamgd.config import make_config
from streamgd.optim.registry import UPDATES
from streamgd.readers import column_plan, open_source
from streamgd.train.costlog import CostLog
from streamgd.train.loop import Engine
from streamgd.train.prepare import PreparedSummary, prepare
from tests import strategies
from tests.helpers import END_TO_END, scratch_folder


@st.composite
def runs(draw):
    """Rows and a job: any update rule, batch, buffer, seed, weights, penalty."""
    n_rows, n_features = draw(st.integers(1, 30)), draw(st.integers(1, 3))
    # values on a grid of 0.1: a target of 1e-123 is a scale no learning rate
    # of the job suits (an adaptive rule's first step of 0.01 is a divergence)
    grid = st.integers(-30, 30).map(lambda k: k / 10)
    X = draw(hnp.arrays(np.float64, (n_rows, n_features), elements=grid))
    columns = {f"x{j}": X[:, j] for j in range(n_features)}
    columns["y"] = X @ np.linspace(1, -1, n_features) + draw(grid)
    weighted = draw(st.booleans())
    if weighted:
        columns["w"] = draw(hnp.arrays(np.float64, n_rows,
                                       elements=st.sampled_from([0.0, 0.5, 2.0])))
        columns["w"][0] = 2.0  # all weights 0 is refused (test_weights.py)
    job = {
        "data": {"features": list(columns)[:n_features], "target": "y",
                 "weight": "w" if weighted else None},
        "model": {"penalty": draw(st.sampled_from(["none", "l2", "l1",
                                                   "elasticnet"])),
                  "init": draw(st.sampled_from(["zero", "random"]))},
        "optimizer": {"update": draw(st.sampled_from(UPDATES)),
                      "batch_size": draw(strategies.batch_sizes()),
                      "max_epochs": draw(st.integers(1, 3)), "tol": 0.0,
                      "learning_rate": 0.01, "schedule": draw(st.sampled_from(
                          ["constant", "invscaling", "epoch_decay"]))},
        "shuffle": {"enabled": draw(st.booleans()),
                    "buffer_rows": draw(strategies.capacities())},
        "seed": draw(strategies.seeds()),
    }
    row_group_size = draw(st.integers(1, 8))
    return pa.table(columns), row_group_size, job, draw(st.integers(0, 10**6))


def _engine_run(table, row_group_size, job, folder):
    """(config, source, prepared, snapshots): every boundary's engine and cost-log
    state of one uninterrupted run, and the final parameters."""
    pq.write_table(table, folder / "data.parquet", row_group_size=row_group_size)
    job = {**job, "data": {**job["data"], "paths": str(folder / "data.parquet")},
           "output": {"dir": str(folder / "out")}}
    config = make_config(job)
    plan = column_plan(config)
    source = open_source(config, plan)
    prepared = prepare(config, source, plan)
    cost_log = CostLog(None, config["output.log_every"])
    snapshots = []

    def keep(engine, at_epoch_end):
        snapshots.append((engine.snapshot(), cost_log.state()))

    engine = Engine(config, prepared, on_boundary=keep)
    engine.fit(source, cost_log)
    return config, source, prepared, snapshots, engine.params


def assert_same_tree(first, second, where="state") -> None:
    """Equal bit for bit, field by field: arrays by bytes and dtype."""
    if dataclasses.is_dataclass(first):
        assert type(first) is type(second), where
        for field in dataclasses.fields(first):
            assert_same_tree(getattr(first, field.name), getattr(second, field.name),
                             f"{where}.{field.name}")
    elif isinstance(first, np.ndarray):
        assert isinstance(second, np.ndarray), where
        assert first.dtype == second.dtype and first.shape == second.shape, where
        assert first.tobytes() == second.tobytes(), where
    elif isinstance(first, dict):
        assert first.keys() == second.keys(), where
        for key in first:
            assert_same_tree(first[key], second[key], f"{where}[{key!r}]")
    elif isinstance(first, (list, tuple)):
        assert type(first) is type(second) and len(first) == len(second), where
        for index, (one, other) in enumerate(zip(first, second)):
            assert_same_tree(one, other, f"{where}[{index}]")
    elif isinstance(first, float):
        assert isinstance(second, float), where
        assert np.float64(first).tobytes() == np.float64(second).tobytes(), where
    else:
        assert first == second and type(first) is type(second), where


@settings(END_TO_END)
@given(runs())
def test_checkpoint_save_then_load_is_the_identity(run):
    """Every piece of a checkpoint (engine state at any boundary, cost log,
    statistics summary, fingerprint) reads back bit for bit."""
    table, row_group_size, job, choice = run
    with scratch_folder() as folder:
        config, source, prepared, snapshots, _ = _engine_run(
            table, row_group_size, job, folder)
        source.close()
        state, cost_log = snapshots[choice % len(snapshots)]
        checkpoint = Checkpoint(state, cost_log, PreparedSummary.of(prepared),
                                fingerprint(config))
        save_checkpoint(folder / "checkpoint.npz", checkpoint)
        loaded = load_checkpoint(folder / "checkpoint.npz")
    assert_same_tree(loaded, checkpoint, "checkpoint")


@settings(END_TO_END)
@given(runs())
def test_resume_from_any_boundary_gives_the_same_final_weights(run):
    """A fresh engine restored from a saved checkpoint at any boundary, mid-epoch
    with rows in the shuffle buffer included, ends on the same bits."""
    table, row_group_size, job, choice = run
    with scratch_folder() as folder:
        config, source, prepared, snapshots, final = _engine_run(
            table, row_group_size, job, folder)
        try:
            state, cost_log_state = snapshots[choice % len(snapshots)]
            save_checkpoint(folder / "checkpoint.npz", Checkpoint(
                state, cost_log_state, PreparedSummary.of(prepared),
                fingerprint(config)))
            stored = load_checkpoint(folder / "checkpoint.npz")

            plan = column_plan(config)
            resumed = Engine(config, stored.prepared.restore(config, plan))
            resumed.restore(stored.state)
            resumed.fit(source, CostLog(None, config["output.log_every"],
                                        resume=stored.cost_log))
        finally:
            source.close()
    assert_same_tree(resumed.params, final, "params")
