"""A full-batch run stopped by a signal: exit status, message, checkpoint and
exact resume (gd, linesearch), nothing stale where no checkpoint is written."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import streamgd
from streamgd.errors import TrainingInterrupted
from streamgd.fullbatch import ConvergenceWarning
from streamgd.train.signals import StopRequest
from tests.helpers import write_parquet

ROOT = Path(__file__).resolve().parents[2]


def _job(folder: Path, **fullbatch) -> Path:
    """A descent job of 400 rows that runs `max_iter` iterations (tol 0)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 2))
    write_parquet(folder / "data.parquet",
                  {"x1": X[:, 0], "x2": X[:, 1], "y": X @ [1.0, 2.0] + 0.5})
    job = {"data": {"paths": ["data.parquet"], "features": ["x1", "x2"],
                    "target": "y"},
           "optimizer": {"method": "batch"},
           "fullbatch": {"solver": "gd", "tol": 0.0, "max_iter": 1000000,
                         "learning_rate": 1e-6, **fullbatch},
           "output": {"dir": "out"}}
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


def _start(job: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "streamgd", "train", str(job), "-q", *args],
        cwd=job.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def _signal_after_records(process, partial: Path, n_lines: int, number) -> str:
    """Send `number` once the growing cost log has `n_lines` lines; stderr."""
    while process.poll() is None:
        if partial.exists() and partial.read_bytes().count(b"\n") >= n_lines:
            break
        time.sleep(0.005)
    process.send_signal(number)
    return process.communicate(timeout=120)[1]


def _outcome(out: Path):
    """The model and cost log, less clocks, paths and the pass count (a resumed
    run evaluates its stored iterate once more)."""
    model = json.loads((out / "model.json").read_text())
    for key in ("seconds", "passes", "epochs"):
        del model["training"][key]
    del model["config"]["output"]["dir"]
    records = [json.loads(line)
               for line in (out / "costs.jsonl").read_text().splitlines()]
    for record in records:
        del record["elapsed"]
    return model, records


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_signal_checkpoints_a_gd_run_and_resume_is_exact(tmp_path, number):
    """SIGINT exits 130 and SIGTERM 143 after checkpointing the last iteration,
    naming --resume; the resumed run ends with the uninterrupted run's model
    and cost log, bit for bit."""
    job = _job(tmp_path, max_iter=150)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        streamgd.train(job, ["output.dir=whole"])
    process = _start(job)
    errors = _signal_after_records(process, tmp_path / "out/.costs.jsonl.partial",
                                   6, number)
    assert process.returncode == 128 + number, errors
    name = signal.Signals(number).name
    assert f"stopped by {name} after iteration" in errors and "--resume" in errors
    assert (tmp_path / "out/checkpoint.npz").exists()
    assert not (tmp_path / "out/model.json").exists()

    resumed = _start(job, "--resume")
    _, errors = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, errors
    assert _outcome(tmp_path / "out") == _outcome(tmp_path / "whole")
    assert not (tmp_path / "out/checkpoint.npz").exists()


def test_linesearch_resumes_exactly_from_any_iteration(tmp_path):
    """A linesearch run crashed after iteration 4 and resumed: the same model and
    log as the whole run (the next trial rate is in the checkpoint)."""
    from streamgd.fullbatch import resume

    job = _job(tmp_path, solver="linesearch", learning_rate=100.0, max_iter=12)
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        streamgd.train(job, ["output.dir=whole"])

    class Crash(Exception):
        pass

    original = resume.FullBatchCheckpointer.__call__

    def crash(self, state):
        original(self, state)
        if state.iteration == 4:
            raise Crash

    resume.FullBatchCheckpointer.__call__ = crash
    try:
        with pytest.raises(Crash):
            streamgd.train(job)
    finally:
        resume.FullBatchCheckpointer.__call__ = original
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        result = streamgd.train(job, resume=True)
    assert _outcome(tmp_path / "out") == _outcome(tmp_path / "whole")
    assert result.model.training["passes"] > 0


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_an_lbfgs_run_keeping_nothing(tmp_path, number):
    """L-BFGS writes no checkpoint: a stop request ends it after its first
    iteration with a message saying nothing was kept, and no partial cost log,
    lock or model is left."""
    job = _job(tmp_path, solver="lbfgs")
    stop = StopRequest()
    stop.signal_number = number  # as if the signal came during the first pass
    with pytest.raises(TrainingInterrupted, match="nothing of it was kept") as error:
        streamgd.train(job, stop=stop)
    assert error.value.signal_number == number
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == []


def test_signal_in_the_statistics_pass_keeps_nothing(tmp_path, monkeypatch):
    """A signal during the statistics pass (nothing to checkpoint yet) ends the
    run at once, with its number, saying nothing was kept; no file is left."""
    from streamgd.fullbatch import engine
    from streamgd.train.signals import SignalInterrupt

    def interrupted(*args):
        raise SignalInterrupt(signal.SIGTERM)

    monkeypatch.setattr(engine, "statistics_pass", interrupted)
    with pytest.raises(TrainingInterrupted, match="before any checkpoint") as error:
        streamgd.train(_job(tmp_path))
    assert error.value.signal_number == signal.SIGTERM
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == []


def test_cli_prints_a_python_warning_as_one_line(tmp_path):
    """A solver's ConvergenceWarning reaches the terminal as one streamgd line,
    without the warning module's file name and quoted source line."""
    job = _job(tmp_path)
    process = subprocess.run(
        [sys.executable, "-m", "streamgd", "train", str(job), "-q", "--set",
         "fullbatch.max_iter=2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert process.returncode == 0, process.stderr
    lines = [line for line in process.stderr.splitlines() if "max_iter" in line]
    assert lines == [
        "streamgd: WARNING: gd reached fullbatch.max_iter (2) before fullbatch.tol;"
        " raise max_iter, or try fullbatch.solver: lbfgs (ConvergenceWarning)"]
    assert ".py:" not in process.stderr
