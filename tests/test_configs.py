"""The shipped example jobs: they load, stay inside the clone, and the one on
the embedded data trains from any working directory."""

from pathlib import Path

import pytest

import streamgd
from streamgd.config import load_config
from streamgd.errors import DataError
from tests.helpers import FLIGHTS

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_there_are_example_jobs():
    assert {path.name for path in CONFIGS} >= {"flights_embedded.yaml",
                                               "flights_csv.yaml"}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.name)
def test_example_jobs_load_and_write_inside_the_clone(path, tmp_path,
                                                      monkeypatch):
    """Paths resolve against the job's folder, whatever the working directory."""
    monkeypatch.chdir(tmp_path)
    config = load_config(path)
    assert Path(config["output.dir"]).is_relative_to(REPO)


def test_embedded_example_trains_from_anywhere(tmp_path, monkeypatch):
    """The README's Python example, run from another folder."""
    monkeypatch.chdir(tmp_path)
    job = REPO / "configs" / "flights_embedded.yaml"
    result = streamgd.train(job, ["optimizer.max_epochs=1",
                                  f"output.dir={tmp_path / 'out'}"])
    data = result.model.config["data"]["paths"]
    assert data == [str(FLIGHTS)]
    metrics = streamgd.evaluate(result.model_path, data).metrics
    assert 0.8 < metrics["r2"] < 0.9


def test_missing_data_folder_is_named(tmp_path):
    """A job whose data folder is absent names the folder and how paths resolve."""
    job = tmp_path / "configs" / "job.yaml"
    job.parent.mkdir()
    job.write_text("data: {paths: ../../shared/data/f.csv, features: [a],"
                   " target: y}\n")
    with pytest.raises(DataError) as caught:
        streamgd.train(job, [f"output.dir={tmp_path / 'out'}"])
    assert str(caught.value) == (
        f"{tmp_path.parent / 'shared/data/f.csv'}: no such file or directory"
        f" (the folder {tmp_path.parent / 'shared'} does not exist; relative"
        " paths in a job file are resolved against the job file's folder)")
