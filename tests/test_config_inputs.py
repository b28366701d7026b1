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
