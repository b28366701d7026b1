"""Output locations are checked before any data is read, with the path named."""

import numpy as np
import pytest

import streamgd
from streamgd.cli import main
from streamgd.errors import ConfigError
from streamgd.outputs import check_file_target, check_folder, check_not_input
from tests.helpers import write_csv


@pytest.fixture
def job(tmp_path):
    """A small CSV regression job writing into tmp_path/out."""
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=200)
    path = write_csv(tmp_path / "small.csv", {"x1": x1, "y": 3 * x1 + 1})
    return {"data": {"paths": [str(path)], "features": ["x1"], "target": "y"},
            "optimizer": {"max_epochs": 1},
            "output": {"dir": str(tmp_path / "out")}}


def test_check_folder_refuses_a_file(tmp_path):
    """A regular file where the folder should be is named as a file."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match="output.dir .*afile is a file"):
        check_folder(tmp_path / "afile", "output.dir")
    with pytest.raises(ConfigError, match="afile/sub is not writable"):
        check_folder(tmp_path / "afile" / "sub", "output.dir")


def test_check_file_target_refuses_a_folder(tmp_path):
    """A folder where a file should be replaced is refused."""
    (tmp_path / "model.json").mkdir()
    with pytest.raises(ConfigError, match="model.json is a folder"):
        check_file_target(tmp_path / "model.json", "output.model")


def test_check_not_input_matches_resolved_paths(tmp_path, monkeypatch):
    """The same file reached by another spelling is still an input."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="also an input file"):
        check_not_input("./sub/../data.csv", [str(tmp_path / "data.csv")], "--out")
    check_not_input("other.csv", [str(tmp_path / "data.csv")], "--out")


def test_train_model_folder_fails_before_training(job, tmp_path):
    """model.json existing as a folder fails up front: no cost log is started."""
    (tmp_path / "out" / "model.json").mkdir(parents=True)
    with pytest.raises(ConfigError, match="output.model .*model.json is a folder"):
        streamgd.train(job)
    assert not (tmp_path / "out" / "costs.jsonl").exists()


def test_train_cache_dir_file_is_config_error(job, tmp_path):
    """data.cache_dir naming a regular file is a ConfigError naming it."""
    (tmp_path / "afile").write_text("x")
    job["data"]["cache_dir"] = str(tmp_path / "afile")
    with pytest.raises(ConfigError, match="data.cache_dir .*afile is a file"):
        streamgd.train(job)


@pytest.mark.parametrize("override, message", [
    ("output.dir={tmp}/afile", "output.dir .*afile is a file"),
    ("output.dir={tmp}/afile/sub", "afile/sub is not writable"),
    ("output.dir=/proc/streamgd-x", "/proc/streamgd-x is not writable"),
    ("data.csv.delimiter=ab", "delimiter must be one character"),
])
def test_cli_train_bad_output_is_one_line_error(override, message, job, tmp_path,
                                                capsys):
    """Bad output locations end with `streamgd: error:` and exit 1, no traceback."""
    import re
    import yaml

    (tmp_path / "afile").write_text("x")
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    code = main(["train", "-q", str(path), "--set",
                 override.format(tmp=tmp_path)])
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("streamgd: error: ")
    assert re.search(message, error)


@pytest.fixture
def trained(job, tmp_path):
    """A model trained on small.csv, and that file."""
    result = streamgd.train(job)
    return result.model_path, tmp_path / "small.csv"


def test_cli_predict_refuses_to_overwrite_its_input(trained, capsys):
    """--out naming the input file is refused and the input is untouched."""
    model, data = trained
    before = data.read_bytes()
    code = main(["predict", str(model), str(data), "--out", str(data)])
    assert code == 1
    assert "is also an input file" in capsys.readouterr().err
    assert data.read_bytes() == before


def test_cli_predict_refuses_input_inside_folder(trained, capsys):
    """--out naming a file of an input folder is refused too."""
    model, data = trained
    code = main(["predict", str(model), str(data.parent), "--out", str(data)])
    assert code == 1
    assert "is also an input file" in capsys.readouterr().err


def test_cli_predict_out_folder_or_unwritable(trained, tmp_path, capsys):
    """--out naming a folder, or a file in an unwritable place, is one line."""
    model, data = trained
    (tmp_path / "outdir").mkdir()
    assert main(["predict", str(model), str(data), "--out",
                 str(tmp_path / "outdir")]) == 1
    assert "outdir is a folder" in capsys.readouterr().err
    assert main(["predict", str(model), str(data), "--out", "/proc/x.csv"]) == 1
    assert "its folder /proc is not writable" in capsys.readouterr().err


def test_predict_twice_in_one_process(trained, tmp_path):
    """streamgd.predict stays the function after its submodule is imported."""
    model, data = trained
    for name in ("a.csv", "b.csv"):
        assert streamgd.predict(model, data, tmp_path / name) == 200


def test_fullbatch_model_folder_fails_before_the_cluster(job, tmp_path):
    """The dask engine checks its outputs up front too (no cluster is started)."""
    (tmp_path / "out" / "model.json").mkdir(parents=True)
    job["optimizer"]["method"] = "batch"
    with pytest.raises(ConfigError, match="output.model .*model.json is a folder"):
        streamgd.train(job)


def test_cli_predict_refuses_to_overwrite_the_model(trained, capsys):
    """--out naming the model file it reads is refused; the model is untouched."""
    model, data = trained
    before = model.read_bytes()
    assert main(["predict", str(model), str(data), "--out", str(model)]) == 1
    assert "is also an input file" in capsys.readouterr().err
    assert model.read_bytes() == before


@pytest.mark.parametrize("name", ["costs.jsonl", "job.yaml", "checkpoint.npz"])
def test_cli_predict_refuses_other_suffixes(trained, name, capsys):
    """A cost log, job or checkpoint named as --out is refused, not replaced."""
    model, data = trained
    target = model.parent / name
    target.write_text("kept\n")
    assert main(["predict", str(model), str(data), "--out", str(target)]) == 1
    error = capsys.readouterr().err
    assert "predictions are written as Parquet or CSV" in error
    assert target.read_text() == "kept\n"


def test_cli_predict_replaces_only_prediction_files(trained, tmp_path, capsys):
    """An earlier prediction file is replaced; another CSV or Parquet is not."""
    model, data = trained
    for name in ("p.csv", "p.parquet"):
        assert main(["predict", str(model), str(data), "--out",
                     str(tmp_path / name)]) == 0
        assert main(["predict", str(model), str(data), "--out",
                     str(tmp_path / name)]) == 0
    other = write_csv(tmp_path / "other.csv", {"a": np.arange(3.0)})
    before = other.read_bytes()
    assert main(["predict", str(model), str(data), "--out", str(other)]) == 1
    assert "exists and is not a prediction file" in capsys.readouterr().err
    assert other.read_bytes() == before


def test_default_checkpoint_folder_fails_before_training(job, tmp_path):
    """checkpoint.npz existing as a folder fails up front, like an explicit path."""
    (tmp_path / "out" / "checkpoint.npz").mkdir(parents=True)
    with pytest.raises(ConfigError, match="checkpoint.path .*checkpoint.npz is a"
                       " folder"):
        streamgd.train(job)
    assert not list((tmp_path / "out").glob(".*partial"))
    assert not (tmp_path / "out" / "costs.jsonl").exists()


def test_train_without_resume_says_it_replaces_a_checkpoint(job, tmp_path, caplog):
    """An earlier checkpoint is reported when a plain run starts fresh."""
    checkpoint = tmp_path / "out" / "checkpoint.npz"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"old")
    with caplog.at_level("WARNING", logger="streamgd"):
        streamgd.train(job)
    assert "starting fresh" in caplog.text
    assert "replace it" in caplog.text
    assert not checkpoint.exists()
