"""A full disk ends a run with one error naming the file, and leaves no temp file.

The disk is made full by an fsync that fails with ENOSPC for the files whose
name holds a given text (the kernel's answer on a full file system), or, for
the CSV cache that pyarrow writes and the decoded rows beside it, by pointing
the file at /dev/full.
"""

import builtins
import errno
import os

import numpy as np
import pyarrow as pa
import pytest

import streamgd
from streamgd import atomic
from streamgd.cli import main
from streamgd.errors import OutputWriteError
from streamgd.readers import decoded
from tests.helpers import write_csv


def _fail_fsync_for(monkeypatch, text):
    """fsync raises ENOSPC for open files whose name contains `text`."""
    real = os.fsync

    def fsync(fd):
        if text in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(atomic.os, "fsync", fsync)


@pytest.fixture
def job(tmp_path):
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=300)
    path = write_csv(tmp_path / "small.csv", {"x1": x1, "y": 2 * x1 - 1})
    return {"data": {"paths": [str(path)], "features": ["x1"], "target": "y"},
            "optimizer": {"max_epochs": 2},
            "output": {"dir": str(tmp_path / "out")}}


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("name", ["checkpoint.npz", "model.json", "costs.jsonl"])
def test_train_disk_full_names_the_file(job, tmp_path, monkeypatch, name):
    """Checkpoint, model and cost log: an OutputWriteError naming the file."""
    _fail_fsync_for(monkeypatch, name)
    with pytest.raises(OutputWriteError) as caught:
        streamgd.train(job)
    message = str(caught.value)
    assert f"cannot write {tmp_path / 'out' / name}: no space left on device" \
        in message
    assert _leftovers(tmp_path / "out") == []
    assert not (tmp_path / "out" / "model.json").exists()


def test_cli_predict_disk_full_is_one_line(job, tmp_path, monkeypatch, capsys):
    """predict on a full disk: exit 1, the output named, no temporary file."""
    result = streamgd.train(job)
    out = tmp_path / "predictions.parquet"
    _fail_fsync_for(monkeypatch, "predictions.parquet")
    code = main(["predict", str(result.model_path), job["data"]["paths"][0],
                 "--out", str(out)])
    error = capsys.readouterr().err
    assert code == 1
    assert error == (f"streamgd: error: cannot write {out}: no space left on"
                     " device; free some space there or write elsewhere."
                     " Nothing was half-written.\n")
    assert not out.exists() and _leftovers(tmp_path) == []


def test_cli_train_disk_full_in_csv_cache(job, tmp_path, monkeypatch, capsys):
    """The typed CSV cache on a full disk: named, with data.cache_dir as the way out."""
    real = pa.ipc.new_file
    monkeypatch.setattr(pa.ipc, "new_file",
                        lambda sink, schema: real("/dev/full", schema))
    job["data"]["cache_dir"] = str(tmp_path / "cache")
    # imputed means are learned by the statistics pass, so the job caches the
    # typed table, not the decoded rows
    job["data"]["missing"] = "impute"
    import yaml

    (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
    code = main(["train", "-q", str(tmp_path / "job.yaml")])
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("streamgd: error: cannot write ")
    assert "0.arrow: no space left on device" in error
    assert "set data.cache_dir to a folder with room" in error
    assert list((tmp_path / "cache").iterdir()) == []


def test_a_read_error_inside_a_writer_is_not_called_a_write_error(tmp_path):
    """Only errors a write alone gives are turned into OutputWriteError."""
    with pytest.raises(FileNotFoundError):
        with atomic.atomic_open(tmp_path / "x.txt") as stream:
            stream.write("a")
            open(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_train_disk_full_in_the_decoded_rows_names_them(job, tmp_path, monkeypatch):
    """The decoded rows a CSV job keeps beside its cache, on a full disk: named,
    with data.cache_dir as the way out, and the cache folder removed."""
    real = builtins.open

    def full(path, mode="r", **kwargs):
        return real("/dev/full" if "w" in mode else path, mode, **kwargs)

    monkeypatch.setattr(decoded, "open", full, raising=False)
    job["data"]["cache_dir"] = str(tmp_path / "cache")
    with pytest.raises(OutputWriteError) as caught:
        streamgd.train(job)
    message = str(caught.value)
    assert "decoded.bin: no space left on device" in message
    assert "set data.cache_dir to a folder with room" in message
    assert list((tmp_path / "cache").iterdir()) == []
