"""One run per output folder: the lock file, its holder, stale locks."""

import logging
import os
import socket
import subprocess
import sys
import threading

import numpy as np
import pytest

import streamgd
from streamgd.atomic import create_exclusive
from streamgd.cli import main
from streamgd.errors import OutputLockedError
from streamgd.lock import LOCK_NAME, Holder, output_lock
from tests.helpers import job as make_job
from tests.helpers import write_csv


@pytest.fixture
def job(tmp_path):
    """A small CSV regression job writing into tmp_path/out."""
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=300)
    path = write_csv(tmp_path / "small.csv", {"x1": x1, "y": 2 * x1 - 1})
    return make_job([path], ["x1"], tmp_path / "out", optimizer__max_epochs=2)


def _ended_pid() -> int:
    """The pid of a process of this host that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_create_exclusive_refuses_an_existing_file(tmp_path):
    """The second creation of one name fails and leaves the first text whole."""
    path = tmp_path / "lock"
    assert create_exclusive(path, "first")
    assert not create_exclusive(path, "second")
    assert path.read_text() == "first"
    assert [p.name for p in tmp_path.iterdir()] == ["lock"]


def test_lock_is_taken_and_released(tmp_path):
    """Inside the block the lock names this process; after it, it is gone."""
    with output_lock(tmp_path / "out") as path:
        holder = Holder.from_json(path.read_text())
        assert holder.pid == os.getpid()
        assert holder.host == socket.gethostname()
    assert not path.exists()


def test_lock_released_after_an_error(tmp_path):
    """A run that fails releases the lock too."""
    with pytest.raises(RuntimeError):
        with output_lock(tmp_path):
            raise RuntimeError("boom")
    assert not (tmp_path / LOCK_NAME).exists()


def test_second_run_into_a_locked_folder_names_the_holder(job, tmp_path):
    """Training into a folder another run holds fails, naming its pid and host;
    the holder's files are untouched."""
    out = tmp_path / "out"
    with output_lock(out):
        with pytest.raises(OutputLockedError) as error:
            streamgd.train(job)
        message = str(error.value)
        assert f"pid {os.getpid()}" in message
        assert f"host {socket.gethostname()}" in message
        assert str(out) in message
        assert not (out / "model.json").exists()
        assert not (out / ".costs.jsonl.partial").exists()
    streamgd.train(job)
    assert (out / "model.json").exists()
    assert not (out / LOCK_NAME).exists()


def test_concurrent_runs_one_wins(tmp_path):
    """Two runs taking one folder's lock together: exactly one holds it, the
    other is refused."""
    outcomes = []
    start, refused = threading.Barrier(2), threading.Event()

    def run():
        start.wait()
        try:
            with output_lock(tmp_path / "shared"):
                outcomes.append("held")
                refused.wait(timeout=30)  # hold it until the other has tried
        except OutputLockedError:
            outcomes.append("refused")
            refused.set()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held", "refused"]


def test_stale_lock_of_an_ended_process_is_cleared(job, tmp_path, caplog):
    """A lock left by an ended process of this host is removed with a warning
    naming its pid, and the run goes on."""
    out = tmp_path / "out"
    out.mkdir()
    pid = _ended_pid()
    stale = Holder(pid, socket.gethostname(), None, "earlier")
    (out / LOCK_NAME).write_text(stale.to_json())
    with caplog.at_level(logging.WARNING, logger="streamgd.lock"):
        streamgd.train(job)
    assert "stale lock" in caplog.text and f"pid {pid}" in caplog.text
    assert (out / "model.json").exists()
    assert not (out / LOCK_NAME).exists()


def test_lock_of_a_reused_pid_is_stale(tmp_path):
    """A lock naming a running pid but another start time (the pid was reused)
    is stale."""
    me = Holder.me()
    if me.start_ticks is None:
        pytest.skip("no /proc on this system")
    reused = Holder(me.pid, me.host, me.start_ticks + 1, "earlier")
    assert reused.is_stale()
    assert not me.is_stale()


def test_lock_of_another_host_is_kept(job, tmp_path):
    """A lock of another host cannot be checked: the run is refused, naming it."""
    out = tmp_path / "out"
    out.mkdir()
    other = Holder(_ended_pid(), "elsewhere.example", None, "earlier")
    (out / LOCK_NAME).write_text(other.to_json())
    with pytest.raises(OutputLockedError, match="on host elsewhere.example"):
        streamgd.train(job)
    assert Holder.from_json((out / LOCK_NAME).read_text()) == other


def test_unreadable_lock_is_refused(tmp_path):
    """A lock file that names no run is left for the user to judge."""
    (tmp_path / LOCK_NAME).write_text("not json")
    with pytest.raises(OutputLockedError, match="names no run"):
        with output_lock(tmp_path):
            pass


def test_cli_locked_folder_is_one_line_error(job, tmp_path, capsys):
    """The CLI prints the holder in one line and exits 1."""
    import yaml

    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    with output_lock(tmp_path / "out"):
        code = main(["train", "-q", str(path)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("streamgd: error: output.dir") and "in use" in err
    assert "Traceback" not in err


def test_lock_released_between_create_and_read_is_taken(tmp_path, monkeypatch):
    """A holder that releases between our failed create and our read of the
    lock file leaves the folder free: the next try takes it, no error."""
    import streamgd.lock as lock_module

    (tmp_path / LOCK_NAME).write_text(Holder.me().to_json())
    calls = []

    def create_then_release(path, text):
        calls.append(path)
        if len(calls) == 1:
            assert not create_exclusive(path, text)  # the other run holds it
            os.unlink(path)  # ... and releases it right after
            return False
        return create_exclusive(path, text)

    monkeypatch.setattr(lock_module, "create_exclusive", create_then_release)
    with output_lock(tmp_path) as path:
        holder = Holder.from_json(path.read_text())
        assert (holder.pid, holder.host) == (os.getpid(), socket.gethostname())
    assert len(calls) == 2
    assert not (tmp_path / LOCK_NAME).exists()


def test_lock_vanishing_on_every_try_is_refused(tmp_path, monkeypatch):
    """Retries after a vanished lock are bounded: a folder whose lock keeps
    reappearing and vanishing ends in OutputLockedError, not a loop."""
    import streamgd.lock as lock_module

    monkeypatch.setattr(lock_module, "create_exclusive", lambda path, text: False)
    with pytest.raises(OutputLockedError, match="in use"):
        with output_lock(tmp_path):
            pass
