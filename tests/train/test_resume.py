"""Checkpoints and exact resume: killed, stopped and refused runs."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import pyarrow as pa
import pyarrow.parquet as pq

import streamgd
from streamgd.errors import CheckpointError
from streamgd.optim.registry import UPDATES
from tests.helpers import write_parquet

ROOT = Path(__file__).resolve().parents[2]


def _job(folder: Path, **overrides) -> Path:
    """A small job: 2,400 rows in 24 row groups, a checkpoint at every chunk."""
    rng = np.random.default_rng(17)
    X = rng.normal(size=(2400, 3)) * [1.0, 5.0, 0.2] + [0.0, 10.0, -1.0]
    y = X @ [1.0, -0.5, 2.0] + 0.3 + rng.normal(0, 0.2, 2400)
    data = folder / "data"
    data.mkdir()
    for k, rows in enumerate(np.array_split(np.arange(2400), 2)):
        write_parquet(data / f"part{k}.parquet",
                      {"x1": X[rows, 0], "x2": X[rows, 1], "x3": X[rows, 2],
                       "y": y[rows]}, row_group_size=100)
    job = {
        "data": {"paths": "data", "features": ["x1", "x2", "x3"], "target": "y"},
        "optimizer": {"max_epochs": 6, "tol": 0.0, "batch_size": 4},
        "shuffle": {"buffer_rows": 250}, "seed": 3,
        "checkpoint": {"every_updates": 1},
        "output": {"dir": "out", "log_every": 5},
    }
    for key, value in overrides.items():
        section, _, leaf = key.partition("__")
        job.setdefault(section, {})[leaf] = value
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def _outcome(out: Path):
    """The model without its timing, and the cost log without its clock."""
    model = json.loads((out / "model.json").read_text())
    del model["training"]["seconds"], model["config"]["output"]["dir"]
    del model["config"]["checkpoint"]
    lines = (out / "costs.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        del record["elapsed"]
    return model, records


def _cli(job: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamgd", "train", str(job), "-q", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _wait_for_records(process: subprocess.Popen, log: Path, n_lines: int) -> None:
    """Poll until the growing cost log holds `n_lines` lines (or the run ends)."""
    while process.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= n_lines:
            return
        time.sleep(0.002)


def _killed_then_resumed(tmp_path: Path, seed: int) -> None:
    job = _job(tmp_path)
    streamgd.train(job, ["output.dir=whole", "checkpoint.enabled=false"])
    expected = _outcome(tmp_path / "whole")

    # kill -9 somewhere in the run: after a random number of cost-log records
    threshold = int(np.random.default_rng(seed).integers(5, len(expected[1]) - 5))
    process = _cli(job)
    _wait_for_records(process, tmp_path / "out/.costs.jsonl.partial", threshold)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not (tmp_path / "out/model.json").exists()

    resumed = _cli(job, "--resume")
    _, errors = resumed.communicate()
    assert resumed.returncode == 0, errors
    assert _outcome(tmp_path / "out") == expected
    assert not (tmp_path / "out/checkpoint.npz").exists()


def test_resume_after_sigkill_gives_the_uninterrupted_model(tmp_path):
    """A run killed with SIGKILL and resumed ends with the model (bit for bit)
    and the cost log (no gap, no duplicate) of the uninterrupted run."""
    _killed_then_resumed(tmp_path, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_resume_after_sigkill_at_random_points(tmp_path, seed):
    """The same, killed at other random points of the run."""
    _killed_then_resumed(tmp_path, seed)


def test_sigterm_checkpoints_and_exits_with_how_to_resume(tmp_path):
    """SIGTERM mid-run writes a checkpoint, exits 143 with a message naming
    --resume, and resuming gives the uninterrupted model."""
    job = _job(tmp_path)
    streamgd.train(job, ["output.dir=whole", "checkpoint.enabled=false"])
    process = _cli(job)
    _wait_for_records(process, tmp_path / "out/.costs.jsonl.partial", 20)
    process.send_signal(signal.SIGTERM)
    _, errors = process.communicate()

    assert process.returncode == 128 + signal.SIGTERM, errors
    assert "SIGTERM" in errors and "--resume" in errors
    assert (tmp_path / "out/checkpoint.npz").exists()
    streamgd.train(job, resume=True)
    assert _outcome(tmp_path / "out") == _outcome(tmp_path / "whole")


def test_resume_refuses_a_changed_config(tmp_path):
    """Resuming under another learning rate is refused, naming the key and both
    values."""
    job = _job(tmp_path, optimizer__max_epochs=1)
    _stop_after_epoch(tmp_path, job)
    with pytest.raises(CheckpointError, match=r"optimizer.learning_rate: None in "
                                              r"the checkpoint, 0.1 now"):
        streamgd.train(job, ["optimizer.learning_rate=0.1"], resume=True)


def test_resume_with_other_read_ahead_gives_the_uninterrupted_model(tmp_path):
    """data.read_ahead changes no bit of a run, so it may change on resume
    (fewer chunks ahead to save memory): stopped mid-epoch with 2 ahead,
    resumed with none, the model and cost log are the uninterrupted run's."""
    job = _job(tmp_path)
    streamgd.train(job, ["output.dir=whole", "checkpoint.enabled=false",
                         "data.read_ahead=2"])
    _crash_at(job, lambda n_calls, at_epoch_end: n_calls == 30,
              ["data.read_ahead=2"])
    streamgd.train(job, ["data.read_ahead=0"], resume=True)
    (model, log), (whole_model, whole_log) = (
        _outcome(tmp_path / "out"), _outcome(tmp_path / "whole"))
    assert model["config"]["data"].pop("read_ahead") == 0
    assert whole_model["config"]["data"].pop("read_ahead") == 2
    assert (model, log) == (whole_model, whole_log)


def test_resume_refuses_changed_input_files(tmp_path):
    """Resuming after an input file was rewritten is refused, naming the file."""
    job = _job(tmp_path, optimizer__max_epochs=1)
    _stop_after_epoch(tmp_path, job)
    part = tmp_path / "data/part1.parquet"
    write_parquet(part, {"x1": [1.0], "x2": [1.0], "x3": [1.0], "y": [1.0]})
    with pytest.raises(CheckpointError, match=r"input file .*part1.parquet: size"):
        streamgd.train(job, resume=True)


def test_resume_refuses_a_changed_validation_file(tmp_path):
    """The validation file is an input too: rewriting it refuses the resume."""
    rng = np.random.default_rng(5)
    valid = tmp_path / "valid.parquet"
    write_parquet(valid, {"x1": rng.normal(size=50), "x2": rng.normal(size=50),
                          "x3": rng.normal(size=50), "y": rng.normal(size=50)})
    job = _job(tmp_path, optimizer__max_epochs=2,
               validation__paths=str(valid))
    _stop_after_epoch(tmp_path, job)
    write_parquet(valid, {"x1": [1.0], "x2": [1.0], "x3": [1.0], "y": [1.0]})
    with pytest.raises(CheckpointError, match=r"input file .*valid.parquet: size"):
        streamgd.train(job, resume=True)


def test_resume_refuses_a_csv_file_cut_otherwise(tmp_path, monkeypatch):
    """Same files, same job, but the CSV file cut into other chunks (as
    another streamgd version may cut it): the checkpoint's place in the epoch
    would name other rows, so the resume is refused; cut as before, it goes
    on to the uninterrupted model."""
    from streamgd.readers import csv_parallel

    job = _job(tmp_path, optimizer__max_epochs=2)
    for part in sorted((tmp_path / "data").glob("*.parquet")):
        pq.read_table(part).to_pandas().to_csv(part.with_suffix(".csv"),
                                               index=False)
        part.unlink()
    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 4096)
    streamgd.train(job, ["output.dir=whole", "checkpoint.enabled=false"])
    _crash_at(job, lambda n_calls, at_epoch_end: n_calls == 5)

    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 8192)
    with pytest.raises(CheckpointError, match="cut into other chunks"):
        streamgd.train(job, resume=True)
    monkeypatch.setattr(csv_parallel, "range_bytes", lambda options: 4096)
    streamgd.train(job, resume=True)
    assert _outcome(tmp_path / "out") == _outcome(tmp_path / "whole")


def test_resume_without_checkpoint_trains_from_the_start(tmp_path, caplog):
    """--resume with no checkpoint warns and trains the same model as a fresh run."""
    job = _job(tmp_path, optimizer__max_epochs=2)
    resumed = streamgd.train(job, resume=True)
    fresh = streamgd.train(job, ["output.dir=fresh"])
    assert "no checkpoint" in caplog.text
    assert (resumed.model.params.weights.tobytes()
            == fresh.model.params.weights.tobytes())


def _stop_after_epoch(tmp_path: Path, job: Path) -> None:
    """A checkpoint at the end of the first epoch, as a crash would leave it."""
    _crash_at(job, lambda n_calls, at_epoch_end: at_epoch_end)
    assert (tmp_path / "out/checkpoint.npz").exists()


def _crash_at(job: Path, when, overrides=()) -> None:
    """Train until `when(n_calls, at_epoch_end)` after a boundary, then crash."""
    from streamgd.train import checkpoints

    class Crash(Exception):
        pass

    original = checkpoints.Checkpointer.__call__
    n_calls = []

    def crash(self, engine, at_epoch_end):
        original(self, engine, at_epoch_end)
        n_calls.append(1)
        if when(len(n_calls), at_epoch_end):
            raise Crash

    checkpoints.Checkpointer.__call__ = crash
    try:
        with pytest.raises(Crash):
            streamgd.train(job, list(overrides))
    finally:
        checkpoints.Checkpointer.__call__ = original


# three rules in the default run (plain, moments, an average); the rest with -m slow
FAST_UPDATES = ("sgd", "adam", "asgd")


@pytest.mark.parametrize("update", [
    update if update in FAST_UPDATES else pytest.param(update, marks=pytest.mark.slow)
    for update in UPDATES
])
def test_resume_is_exact_for_every_update_rule(tmp_path, update):
    """Each optimizer's state (moments, averages, counts) survives a checkpoint:
    a weighted run crashed mid-epoch and resumed ends bitwise as the whole run."""
    job = _job(tmp_path, optimizer__max_epochs=2, data__weight="w",
               checkpoint__every_updates=40)
    for part in (tmp_path / "data").iterdir():
        table = pq.read_table(part)
        weights = np.random.default_rng(len(str(part))).uniform(0, 3, table.num_rows)
        weights[::5] = 0.0
        pq.write_table(table.append_column("w", pa.array(weights)), part,
                       row_group_size=100)
    settings = [f"optimizer.update={update}"]
    whole = streamgd.train(job, [*settings, "output.dir=whole",
                                   "checkpoint.enabled=false"])
    _crash_at(job, lambda n_calls, at_epoch_end: n_calls == 31, settings)

    resumed = streamgd.train(job, settings, resume=True)
    assert (resumed.model.params.weights.tobytes()
            == whole.model.params.weights.tobytes())
    assert resumed.model.params.intercept == whole.model.params.intercept
    assert _outcome(tmp_path / "out") == _outcome(tmp_path / "whole")


def test_resume_refuses_when_the_partial_cost_log_is_gone(tmp_path):
    """A checkpoint whose growing cost log was deleted is refused, with the way
    to start over."""
    job = _job(tmp_path, optimizer__max_epochs=2)
    _stop_after_epoch(tmp_path, job)
    (tmp_path / "out/.costs.jsonl.partial").unlink()
    with pytest.raises(CheckpointError, match=r"cost log .*without --resume"):
        streamgd.train(job, resume=True)
