"""Inputs that are not what they seem: each refused with what it is and a way out."""

import os

import numpy as np
import pytest

import streamgd
from streamgd.cli import main
from streamgd.config import load_config, make_config
from streamgd.errors import ConfigError, DataError
from tests.helpers import write_csv, write_parquet


def _job(paths, tmp_path, **csv):
    return {"data": {"paths": [str(path) for path in paths], "features": ["x1"],
                     "target": "y", "csv": csv},
            "optimizer": {"max_epochs": 1},
            "output": {"dir": str(tmp_path / "out")}}


def _columns():
    x1 = np.arange(40.0)
    return {"x1": x1, "y": 2 * x1}


def test_set_a_section_says_it_is_a_section():
    """`--set optimizer=3` names the section and a key of it, no self-suggestion."""
    with pytest.raises(ConfigError) as caught:
        load_config(None, ["optimizer=3"])
    message = str(caught.value)
    assert message.startswith("'optimizer' is a section, not a key: set one of")
    assert "optimizer.method=VALUE" in message
    assert "did you mean" not in message


@pytest.mark.parametrize("name", ["good.csv", "good.csv.gz", "good.parquet",
                                  "parquet-without-suffix"])
def test_data_file_given_as_the_job(tmp_path, name, capsys):
    """A data file in the job's place is named as such; its text is not echoed."""
    path = tmp_path / name
    if "parquet" in name:
        write_parquet(path, _columns())
    else:
        write_csv(path, _columns())
    assert main(["train", str(path)]) == 1
    error = capsys.readouterr().err
    assert error == (f"streamgd: error: job file {path} looks like a data file,"
                     " not a job YAML; name it in a job's data.paths, or:"
                     f" streamgd train JOB.yaml --set data.paths={path}\n")


def test_a_job_that_is_no_mapping_is_shown_short(tmp_path):
    """A YAML that is one long text is quoted in part, not whole."""
    path = tmp_path / "job.yaml"
    path.write_text("x" * 5000)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("size", [1, 5, 63])
def test_block_size_below_the_minimum_is_refused(size):
    """Tiny CSV blocks cannot hold a header line (at 1 byte pyarrow aborted)."""
    with pytest.raises(ConfigError, match=f"data.csv.block_size must be at least"
                       f" 64 bytes: each block must hold the header line and a"
                       f" whole row, got {size}"):
        load_config(None, [f"data.csv.block_size={size}"])


def test_header_longer_than_a_block_names_block_size(tmp_path):
    """A header line longer than the block names the key to raise."""
    name = "x" * 400
    path = tmp_path / "wide.csv"
    path.write_text(f"{name},y\n1,2\n3,4\n")
    job = _job([path], tmp_path, block_size=300)
    job["data"]["features"] = [name]
    with pytest.raises(DataError, match="data.csv.block_size \\(300 bytes\\) is"
                       " smaller than the header line or a row: raise it"):
        streamgd.train(job)


def test_tsv_mixed_with_csv_is_refused(tmp_path):
    """A folder of .csv and .tsv files would read one kind with the wrong
    delimiter; it is refused, naming one file of each kind."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_csv(folder / "a.csv", _columns())
    (folder / "b.tsv").write_text("x1\ty\n1\t2\n")
    with pytest.raises(ConfigError, match="mixes tab-separated .tsv files "
                       f"\\({folder / 'b.tsv'}\\) with comma-separated ones "
                       f"\\({folder / 'a.csv'}\\)"):
        streamgd.train(_job([folder], tmp_path))


def test_tsv_mixed_with_csv_reads_with_an_explicit_delimiter(tmp_path):
    """An explicit delimiter other than the default lets the mix through."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a.csv").write_text("x1;y\n" + "".join(f"{i};{2 * i}\n"
                                                     for i in range(30)))
    (folder / "b.tsv").write_text("x1;y\n1;2\n")
    result = streamgd.train(_job([folder], tmp_path, delimiter=";"))
    assert result.model.training["rows"] == 31


def _special(tmp_path, kind):
    path = tmp_path / f"{kind}.csv"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "loop":
        os.symlink(tmp_path / "loop2.csv", path)
        os.symlink(path, tmp_path / "loop2.csv")
    elif kind == "dangling":
        os.symlink(tmp_path / "nowhere.csv", path)
    elif kind == "device":
        path = "/dev/null"
    return path


@pytest.mark.parametrize("kind, problem", [
    ("device", "is a device, not a data file"),
    ("fifo", "is a named pipe \\(FIFO\\), not a file"),
    ("loop", "is a symbolic link loop"),
    ("dangling", "is a symbolic link to .*nowhere.csv, which does not exist"),
    ("missing", "no such file or directory"),
])
def test_paths_that_are_not_files_say_what_they_are(tmp_path, kind, problem):
    """/dev/null, a FIFO or a symlink loop is not called a missing file."""
    path = _special(tmp_path, kind)
    config = make_config(_job([path], tmp_path))
    with pytest.raises(DataError, match=f"^{path}: {problem}"):
        streamgd.train(config)
