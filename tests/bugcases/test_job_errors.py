"""Job mistakes that must stop a scheduled run at once, with a way to fix them:
a YAML typo, a data path that does not exist, a folder with no data file, an
output folder that cannot be written, a target also listed as a feature."""

import os

import numpy as np
import pytest

import streamgd
from streamgd.cli import main
from streamgd.errors import ConfigError, DataError
from tests.helpers import job, write_parquet


@pytest.fixture
def data(tmp_path):
    x = np.linspace(0, 1, 50)
    return write_parquet(tmp_path / "data.parquet", {"x1": x, "y": 2 * x})


def test_yaml_typo_in_a_key_suggests_the_right_one(tmp_path, data):
    """A misspelt section is refused naming it and the key it resembles."""
    path = tmp_path / "job.yaml"
    path.write_text(f"data: {{paths: {data}, features: [x1], target: y}}\n"
                    "optimiser: {learning_rate: 0.1}\n")
    with pytest.raises(ConfigError, match=r"unknown key 'optimiser'; did you mean "
                                          r"'optimizer'"):
        streamgd.train(path)


def test_yaml_syntax_error_names_the_file_and_line(tmp_path, data):
    """Broken YAML is refused in one line naming the file, line and column."""
    path = tmp_path / "job.yaml"
    path.write_text(f"data:\n  paths: {data}\n  features: [x1\n  target: y\n")
    with pytest.raises(ConfigError, match=r"job.yaml, line 4, column 9: not valid "
                                          r"YAML \(while parsing a flow sequence: "
                                          r"expected ',' or '\]'") as caught:
        streamgd.train(path)
    assert "\n" not in str(caught.value)


def test_data_path_that_does_not_exist_is_named(tmp_path):
    """A missing data path is named; nothing is written."""
    out = tmp_path / "out"
    with pytest.raises(DataError, match=r"absent.parquet: no such file or directory"):
        streamgd.train(job([tmp_path / "absent.parquet"], ["x1"], out))
    assert not (out / "model.json").exists()


def test_folder_without_data_files_is_named(tmp_path):
    """A folder holding no Parquet or CSV file is named."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.md").write_text("no data here")
    with pytest.raises(DataError, match=r"empty: directory holds no Parquet or CSV"):
        streamgd.train(job([tmp_path / "empty"], ["x1"], tmp_path / "out"))


def test_output_folder_that_cannot_be_created_is_a_config_error(tmp_path, data):
    """An output.dir below a regular file is refused before any data is read."""
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"output.dir .*file/out is not writable"):
        streamgd.train(job([data], ["x1"], tmp_path / "file" / "out"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_output_folder_without_write_permission_is_a_config_error(tmp_path, data):
    """A read-only output.dir is refused, with how to fix it."""
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match=r"not writable.*fix its permissions"):
            streamgd.train(job([data], ["x1"], out))
    finally:
        out.chmod(0o700)


def test_target_listed_as_a_feature_is_refused(tmp_path, data):
    """A column that is both the target and a feature is refused by name."""
    with pytest.raises(ConfigError, match=r"data.target 'y' is also listed in "
                                          r"data.features"):
        streamgd.train(job([data], ["x1", "y"], tmp_path / "out"))


def test_cli_reports_a_job_error_in_one_line(tmp_path, data, capsys):
    """The CLI prints one line naming the problem and exits 1, no traceback."""
    path = tmp_path / "job.yaml"
    path.write_text(f"data: {{paths: {tmp_path / 'absent.csv'}, features: [x1],"
                    " target: y}\n")
    assert main(["train", str(path), "-q"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "absent.csv: no such file" in error
