"""The checkpoint file: written atomically, refused clearly when damaged."""

import pytest

import streamgd
from streamgd.checkpoint import load_checkpoint
from streamgd.errors import CheckpointError
from tests.train.test_resume import _job, _stop_after_epoch


def test_store_refuses_a_truncated_checkpoint(tmp_path):
    """A checkpoint cut short is refused with a message saying what to do."""
    job = _job(tmp_path, optimizer__max_epochs=2)
    _stop_after_epoch(tmp_path, job)
    path = tmp_path / "out/checkpoint.npz"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="not a readable checkpoint.*delete it"):
        streamgd.train(job, resume=True)


def test_store_round_trip_keeps_the_fingerprint_and_the_buffer(tmp_path):
    """A stored checkpoint reads back with its input files and the job."""
    job = _job(tmp_path, optimizer__max_epochs=2)
    _stop_after_epoch(tmp_path, job)
    checkpoint = load_checkpoint(tmp_path / "out/checkpoint.npz")
    assert checkpoint.state.position.epoch == 1
    assert [f["path"].rsplit("/", 1)[1] for f in checkpoint.fingerprint["files"]] == [
        "part0.parquet", "part1.parquet"]
    assert checkpoint.fingerprint["config"]["optimizer"]["max_epochs"] == 2
    assert checkpoint.prepared.n_rows == 2400
    assert checkpoint.cost_log.update_count == checkpoint.state.optimizer.update_count


@pytest.mark.parametrize("content", [b"garbage\n", b'{"format": "model"}'])
def test_store_refuses_a_file_that_is_no_archive_without_pickle_advice(
        tmp_path, content):
    """A checkpoint path holding another kind of file is refused as damaged;
    numpy's advice to load it as a pickle is not passed on."""
    path = tmp_path / "checkpoint.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="not an .npz archive") as error:
        load_checkpoint(path)
    assert "pickle" not in str(error.value)
