"""`optimizer.restarts`: several seeded starts, the best kept."""

import json
import logging
import signal

import numpy as np
import pytest

import streamgd
from streamgd.errors import CheckpointError, TrainingInterrupted
from streamgd.train import restarts
from streamgd.train.signals import StopRequest
from tests.helpers import write_parquet


def test_restarts_keep_the_start_of_lowest_holdout_cost(tmp_path):
    """The written model is the start with the lowest holdout cost; all are listed."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(800, 2))
    y = x @ [1.0, 2.0] + rng.normal(0, 0.5, 800)
    write_parquet(tmp_path / "d.parquet", {"a": x[:, 0], "b": x[:, 1], "y": y})
    result = streamgd.train({
        "data": {"paths": [str(tmp_path / "d.parquet")], "features": ["a", "b"],
                 "target": "y"},
        "model": {"init_scale": 3.0},
        "optimizer": {"max_epochs": 1, "restarts": 3, "learning_rate": 0.01},
        "validation": {"holdout": 0.25},
        "output": {"dir": str(tmp_path / "out")}})
    starts = result.model.training["restarts"]
    assert [start["seed"] for start in starts] == [0, 1, 2]
    scores = [start["score"] for start in starts]
    assert len(set(scores)) == 3  # random starts differ
    best = int(np.argmin(scores))
    assert result.model.training["best_seed"] == best
    assert result.model.training["holdout_cost"] == pytest.approx(scores[best])
    written = json.loads((tmp_path / "out" / "model.json").read_text())
    kept = json.loads((tmp_path / "out" / f"restart-{best}" / "model.json").read_text())
    assert written["scaled"] == kept["scaled"]


class _StopInStart:
    """Progress that asks for a stop at the `at`-th record of start `start`,
    telling the starts apart by their output folders (`starts` is patched
    into `restarts.train`)."""

    def __init__(self, stop, start, at, monkeypatch):
        self.stop, self.start, self.at, self.seen, self.folders = stop, start, at, 0, []
        real = restarts.train

        def counting(config, *args, **kwargs):
            self.folders.append(config["output.dir"])
            return real(config, *args, **kwargs)

        monkeypatch.setattr(restarts, "train", counting)

    def record(self, record):
        if len(self.folders) == self.start + 1:
            self.seen += 1
            if self.seen == self.at:
                self.stop.signal_number = signal.SIGINT


def _restarts_job(tmp_path, out):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(3000, 2))
    y = x @ [1.0, 2.0] + rng.normal(0, 0.5, 3000)
    path = write_parquet(tmp_path / "d.parquet", {"a": x[:, 0], "b": x[:, 1], "y": y},
                         row_group_size=300)
    return {"data": {"paths": [str(path)], "features": ["a", "b"], "target": "y"},
            "model": {"init_scale": 3.0},
            "optimizer": {"max_epochs": 2, "restarts": 3, "learning_rate": 0.01},
            "validation": {"holdout": 0.2},
            "output": {"dir": str(out), "log_every": 10}}


def test_interrupted_restarts_resume_to_the_uninterrupted_model(
        tmp_path, monkeypatch, caplog):
    """Stopped inside the second start: the message names the start and the
    resume; --resume keeps the first start, continues the second from its
    checkpoint and gives bit for bit the model and cost log of a run never
    stopped."""
    whole = streamgd.train(_restarts_job(tmp_path, tmp_path / "whole"))
    job = _restarts_job(tmp_path, tmp_path / "cut")
    stop = StopRequest()
    with pytest.raises(TrainingInterrupted, match=r"restart 2 of 3 \(seed 1") as info:
        streamgd.train(job, progress=_StopInStart(stop, 1, 5, monkeypatch), stop=stop)
    assert "--resume" in str(info.value)
    assert (tmp_path / "cut" / "restart-1" / "checkpoint.npz").exists()
    assert not (tmp_path / "cut" / "restart-2").exists()
    first_model = (tmp_path / "cut" / "restart-0" / "model.json").read_bytes()

    with caplog.at_level(logging.INFO, logger="streamgd.train"):
        resumed = streamgd.train(job, resume=True, stop=StopRequest())
    said = [r.getMessage() for r in caplog.records]
    assert any("resuming from" in m and "restart-1" in m for m in said)
    assert (tmp_path / "cut" / "restart-0" / "model.json").read_bytes() == first_model
    assert (resumed.model.training["restarts"]
            == whole.model.training["restarts"])
    for name in ("scaled",):
        written = json.loads((tmp_path / "cut" / "model.json").read_text())[name]
        expected = json.loads((tmp_path / "whole" / "model.json").read_text())[name]
        assert written == expected
    assert (resumed.model.params.weights.tobytes()
            == whole.model.params.weights.tobytes())
    assert not (tmp_path / "cut" / "restarts.json").exists()


def test_restarts_resume_refuses_a_changed_job(tmp_path, monkeypatch):
    """A finished start recorded under other settings is not reused: the
    refusal names the change."""
    job = _restarts_job(tmp_path, tmp_path / "out")
    stop = StopRequest()
    with pytest.raises(TrainingInterrupted):
        streamgd.train(job, progress=_StopInStart(stop, 1, 2, monkeypatch), stop=stop)
    job["optimizer"]["learning_rate"] = 0.02
    with pytest.raises(CheckpointError, match="learning_rate"):
        streamgd.train(job, resume=True)
