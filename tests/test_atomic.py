"""Atomic writes: a failed write leaves the previous file; appends resume cleanly."""

import pytest

from streamgd.atomic import AppendFile, atomic_open, remove_stale, write_atomic


def test_atomic_open_failure_keeps_the_previous_file(tmp_path):
    """An exception while writing leaves the old content and no temporary file."""
    path = tmp_path / "model.json"
    write_atomic(path, "old")
    with pytest.raises(RuntimeError), atomic_open(path) as stream:
        stream.write("half of the new")
        raise RuntimeError
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_remove_stale_deletes_only_temporaries_of_that_file(tmp_path):
    """Temporaries a killed writer left are removed; other files are kept."""
    for name in (".checkpoint.npz.abc123.tmp", ".checkpoint.npz.x.tmp",
                 ".model.json.abc.tmp", "checkpoint.npz"):
        (tmp_path / name).write_text("")
    assert remove_stale(tmp_path / "checkpoint.npz") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".model.json.abc.tmp", "checkpoint.npz"]


def test_append_file_resume_cuts_what_followed(tmp_path):
    """Resuming at a synced length drops later bytes, a half line included."""
    log = AppendFile(tmp_path / "costs.jsonl")
    log.write("one\n")
    length = log.sync()
    log.write("two\nthr")
    log.close()
    resumed = AppendFile(tmp_path / "costs.jsonl", resume_at=length)
    resumed.write("two\n")
    resumed.commit()
    assert (tmp_path / "costs.jsonl").read_text() == "one\ntwo\n"
    assert not (tmp_path / ".costs.jsonl.partial").exists()


def test_append_file_resume_refuses_a_short_file(tmp_path):
    """A partial file shorter than the checkpoint says is refused."""
    log = AppendFile(tmp_path / "costs.jsonl")
    log.write("one\n")
    log.close()
    with pytest.raises(ValueError, match="fewer than the 100"):
        AppendFile(tmp_path / "costs.jsonl", resume_at=100)


def test_atomic_new_file_follows_the_umask(tmp_path):
    """A new file gets 0666 less the umask, as open() would give, not 0600."""
    import os

    old = os.umask(0o027)
    try:
        write_atomic(tmp_path / "new.json", "{}")
    finally:
        os.umask(old)
    assert (tmp_path / "new.json").stat().st_mode & 0o777 == 0o640


def test_atomic_replaced_file_keeps_its_mode(tmp_path):
    """Replacing a file keeps the permission bits it had."""
    path = tmp_path / "model.json"
    path.write_text("old")
    path.chmod(0o604)
    write_atomic(path, "new")
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o604
