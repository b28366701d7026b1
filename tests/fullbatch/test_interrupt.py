"""A full-batch run stopped by a signal: exit status, message, nothing stale."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers import write_parquet

ROOT = Path(__file__).resolve().parents[2]


def _endless_job(folder: Path) -> Path:
    """A gd job that would run 10**6 iterations: only a signal ends it."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 2))
    write_parquet(folder / "data.parquet",
                  {"x1": X[:, 0], "x2": X[:, 1], "y": X @ [1.0, 2.0] + 0.5})
    job = {"data": {"paths": ["data.parquet"], "features": ["x1", "x2"],
                    "target": "y"},
           "optimizer": {"method": "batch"},
           "fullbatch": {"solver": "gd", "tol": 0.0, "max_iter": 1000000,
                         "learning_rate": 1e-6},
           "output": {"dir": "out"}}
    path = folder / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    return path


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_a_fullbatch_run_cleanly(tmp_path, number):
    """SIGINT exits 130 and SIGTERM 143, saying what was kept; no partial cost
    log, no lock and no model are left behind."""
    job = _endless_job(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "streamgd", "train", str(job), "-q"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    partial = tmp_path / "out/.costs.jsonl.partial"
    while process.poll() is None:
        if partial.exists() and partial.read_bytes().count(b"\n") >= 6:
            break
        time.sleep(0.005)
    process.send_signal(number)
    _, errors = process.communicate(timeout=120)

    assert process.returncode == 128 + number, errors
    name = signal.Signals(number).name
    assert f"stopped by {name}" in errors and "nothing of this run was kept" in errors
    assert "Traceback" not in errors
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == []


def test_cli_prints_a_python_warning_as_one_line(tmp_path):
    """A solver's ConvergenceWarning reaches the terminal as one streamgd line,
    without the warning module's file name and quoted source line."""
    job = _endless_job(tmp_path)
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
