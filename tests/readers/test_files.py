"""Resolving data.paths: files, folders and globs to an ordered list of files."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from streamgd.errors import ConfigError, DataError
from streamgd.readers.files import DataFile, resolve_files, skip_empty


def _touch(folder: Path, *names: str) -> list[Path]:
    """Create small files (and their folders) under `folder`."""
    paths = []
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("a,y\n1,2\n")
        paths.append(path)
    return paths


def test_files_single_file_keeps_its_path_and_format(tmp_path):
    """A file path resolves to itself, its format told from the extension."""
    (path,) = _touch(tmp_path, "flights.csv")
    assert resolve_files([str(path)]) == [DataFile(str(path), "csv")]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.parquet", "parquet"), ("a.pq", "parquet"), ("a.csv", "csv"),
     ("a.CSV.GZ", "csv"), ("a.tsv.bz2", "csv"), ("a.txt.zst", "csv")],
)
def test_files_format_is_told_from_the_extension(tmp_path, name, fmt):
    """Known extensions, upper case and compression suffixes included, give the
    format."""
    (path,) = _touch(tmp_path, name)
    assert resolve_files([str(path)])[0].format == fmt


def test_files_directory_is_searched_recursively_skipping_hidden(tmp_path):
    """A folder yields its data files at any depth, sorted, without hidden or
    `_`-prefixed files and folders, and without files of other kinds."""
    wanted = _touch(tmp_path, "b.parquet", "a/c.parquet", "a/d/e.parquet")
    _touch(tmp_path, ".hidden.parquet", "_tmp.parquet", ".cache/f.parquet",
           "_temporary/0/g.parquet", "a/_SUCCESS", "README.md")

    files = resolve_files([str(tmp_path)])
    assert [file.path for file in files] == sorted(str(path) for path in wanted)
    assert {file.format for file in files} == {"parquet"}


def test_files_glob_expands_to_sorted_matches(tmp_path):
    """A glob gives its matching files in sorted order, folders left out."""
    _touch(tmp_path, "part-2.csv", "part-10.csv", "part-1.csv", "other.csv")
    (tmp_path / "part-dir.csv").mkdir()

    files = resolve_files([str(tmp_path / "part-*.csv")])
    names = [file.name for file in files]
    assert names == ["part-1.csv", "part-10.csv", "part-2.csv"]


def test_files_recursive_glob_reaches_subfolders(tmp_path):
    """`**` in a glob matches any depth."""
    _touch(tmp_path, "x/a.csv", "x/y/b.csv")
    files = resolve_files([str(tmp_path / "**" / "*.csv")])
    assert [file.name for file in files] == ["a.csv", "b.csv"]


def test_files_same_file_twice_is_listed_once(tmp_path):
    """A file named by two entries (itself and a glob) is read once."""
    (path,) = _touch(tmp_path, "a.csv")
    files = resolve_files([str(path), str(tmp_path / "*.csv")])
    assert files == [DataFile(str(path), "csv")]


def test_files_nonexistent_path_is_named(tmp_path):
    """A path that is neither file nor folder raises DataError naming it."""
    missing = tmp_path / "nope.parquet"
    message = re.escape(f"{missing}: no such file or directory")
    with pytest.raises(DataError, match=message):
        resolve_files([str(missing)])


def test_files_glob_without_matches_is_named(tmp_path):
    """A glob that matches no file raises DataError naming the pattern."""
    pattern = str(tmp_path / "*.parquet")
    with pytest.raises(DataError, match=r"no file matches the pattern .*\*\.parquet"):
        resolve_files([pattern])


def test_files_directory_without_data_files_is_named(tmp_path):
    """A folder holding no data file (hidden ones do not count) is an error."""
    _touch(tmp_path, "README.md", ".hidden.csv", "_SUCCESS")
    with pytest.raises(DataError, match=r"directory holds no Parquet or CSV data"):
        resolve_files([str(tmp_path)])


def test_files_directory_with_other_format_only_is_named(tmp_path):
    """With data.format set, a folder of the other format holds no data file."""
    _touch(tmp_path, "a.parquet")
    with pytest.raises(DataError, match=r"directory holds no csv data file"):
        resolve_files([str(tmp_path)], "csv")


def test_files_mixed_formats_are_refused(tmp_path):
    """Parquet and CSV files in one job raise ConfigError."""
    _touch(tmp_path, "a.parquet", "b.csv")
    with pytest.raises(ConfigError, match=r"mixes Parquet and CSV files"):
        resolve_files([str(tmp_path)])


def test_files_unknown_extension_needs_a_format(tmp_path):
    """A file of unknown extension is refused under `auto` and read as told
    otherwise."""
    (path,) = _touch(tmp_path, "flights.data")
    with pytest.raises(ConfigError, match=r"set data\.format: parquet or csv"):
        resolve_files([str(path)])
    assert resolve_files([str(path)], "csv") == [DataFile(str(path), "csv")]


def test_files_skip_empty_passes_files_with_bytes(tmp_path):
    """A file holding anything is never skipped."""
    (path,) = _touch(tmp_path, "a.csv")
    assert skip_empty(str(path), "error") is False


def test_files_skip_empty_follows_the_policy(tmp_path, caplog):
    """A 0-byte file is an error naming the setting, or skipped with a warning."""
    path = tmp_path / "a.csv"
    path.touch()
    with pytest.raises(DataError, match=r"a\.csv: file is empty \(0 bytes\)"):
        skip_empty(str(path), "error")
    with caplog.at_level(logging.WARNING, logger="streamgd.readers.files"):
        assert skip_empty(str(path), "skip") is True
    assert "skipping empty file" in caplog.text


def test_files_folder_scan_skips_txt_but_a_named_txt_is_csv(tmp_path):
    """A README.txt beside the data is not read as CSV; a .txt named directly is."""
    data, notes = _touch(tmp_path, "a.csv", "readme.txt")
    assert resolve_files([str(tmp_path)]) == [DataFile(str(data), "csv")]
    assert resolve_files([str(notes)]) == [DataFile(str(notes), "csv")]


def test_files_mixed_formats_name_a_file_of_each(tmp_path):
    """The mixed-formats error names one Parquet and one CSV file."""
    parquet, csv = _touch(tmp_path, "a.parquet", "b.csv")
    with pytest.raises(ConfigError, match=f"mixes Parquet and CSV files"
                       f" \\({parquet} and {csv}, for example\\)"):
        resolve_files([str(tmp_path)])


def test_tsv_files_default_to_tab_delimiter(tmp_path):
    """All-.tsv data reads with a tab unless data.csv.delimiter is set."""
    from streamgd.config import make_config
    from streamgd.readers import csv_options

    tsv, gz = _touch(tmp_path, "a.tsv", "b.tsv.gz")
    job = {"data": {"paths": [str(tmp_path)], "features": ["x"], "target": "y"}}
    files = resolve_files([str(tmp_path)])
    assert csv_options(make_config(job), files).delimiter == "\t"
    assert csv_options(make_config(job, ["data.csv.delimiter=';'"]),
                       files).delimiter == ";"
    (tmp_path / "c.csv").touch()
    mixed = resolve_files([str(tmp_path)])
    # a mix under the default would read one kind with the wrong delimiter
    with pytest.raises(ConfigError, match="mixes tab-separated .tsv files"):
        csv_options(make_config(job), mixed)
