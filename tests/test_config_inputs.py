"""Job files and output names that used to pass or crash with a traceback."""

import pytest

from streamgd.config import load_config, make_config
from streamgd.errors import ConfigError

BASE = {"data": {"paths": ["d.csv"], "features": ["x"], "target": "y"}}


def test_load_config_non_utf8_names_file_and_line(tmp_path):
    """A job file that is not UTF-8 is a ConfigError naming the file and line."""
    path = tmp_path / "job.yaml"
    path.write_bytes(b"seed: 1\ndata: {target: \"\xff\"}\n")
    with pytest.raises(ConfigError, match=r"job.yaml, line 2: byte 0xff is not UTF-8"):
        load_config(path)


def test_load_config_folder_says_folder(tmp_path):
    """A folder given as the job says it is a folder, not that it is missing."""
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(tmp_path)


@pytest.mark.parametrize("name", ["../../x.json", "sub/model.json", "..", ""])
def test_output_names_must_be_plain(name):
    """output.model with a separator or a parent reference is refused."""
    with pytest.raises(ConfigError, match="output.model must be a plain file name"):
        make_config(BASE, [f"output.model={name!r}"])


def test_output_names_must_differ():
    """The cost log named like the model is refused (the model would replace it)."""
    with pytest.raises(ConfigError, match="both 'model.json'"):
        make_config(BASE, ["output.cost_log=model.json"])


@pytest.mark.parametrize("delimiter", ["ab", "''", '"\\n"'])
def test_csv_delimiter_is_one_character(delimiter):
    """A delimiter of several characters, none, or a newline is a ConfigError."""
    with pytest.raises(ConfigError, match="delimiter must be one character"):
        make_config(BASE, [f"data.csv.delimiter={delimiter}"])


def test_exponent_floats_read_as_numbers(tmp_path):
    """1e-2 in a job file and 1e-3 in --set are floats (YAML 1.2), not strings."""
    path = tmp_path / "job.yaml"
    path.write_text("data: {paths: d.csv, features: [x], target: y}\n"
                    "optimizer: {learning_rate: 1e-2, tol: 5E-5}\n")
    config = load_config(path)
    assert config["optimizer.learning_rate"] == 0.01
    assert config["optimizer.tol"] == 5e-5
    config = load_config(path, ["optimizer.learning_rate=1e-3"])
    assert config["optimizer.learning_rate"] == 0.001


def test_quoted_exponent_stays_text():
    """A quoted "1e-3" is still a string: quoting means text."""
    with pytest.raises(ConfigError, match="must be int or float, got str"):
        make_config(BASE, ["optimizer.learning_rate='1e-3'"])


def test_duplicate_section_names_key_and_line(tmp_path):
    """A second `data:` section is an error naming the key and its line."""
    path = tmp_path / "job.yaml"
    path.write_text("data: {paths: a.csv, features: [x], target: y}\n"
                    "seed: 1\n"
                    "data: {paths: b.csv, features: [x], target: y}\n")
    message = r"line 3.*key 'data' is given twice"
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert "indentation" not in str(caught.value)


def test_duplicate_leaf_key_is_refused(tmp_path):
    """A key repeated inside a section is refused too."""
    path = tmp_path / "job.yaml"
    path.write_text("data:\n  paths: a.csv\n  features: [x]\n  target: y\n"
                    "  target: z\n")
    with pytest.raises(ConfigError, match=r"line 5.*key 'target' is given twice"):
        load_config(path)
