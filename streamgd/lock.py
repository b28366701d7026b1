"""One run per output folder: an exclusive lock file taken before anything is written.

Two runs writing into one `output.dir` would interleave their cost logs and
replace each other's model and checkpoint. A run therefore creates
`output.dir/.streamgd.lock` (atomically, failing if it exists) before it writes
anything, holding the owner's pid, host and process start time, and removes it
when it ends, whether it succeeded or failed.

A lock left by a process that was killed outright (SIGKILL, power cut) is stale:
when its host is this host and that process no longer runs (or its pid now
belongs to a process that started later), the lock is removed with a warning and
taken. A lock of another host cannot be checked from here; the error names it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streamgd.atomic import create_exclusive
from streamgd.errors import OutputLockedError
from streamgd.outputs import check_folder

log = logging.getLogger(__name__)

LOCK_NAME = ".streamgd.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: pid, host, process start time (clock ticks since boot,
    None where /proc is missing) and the wall-clock time the lock was taken."""

    pid: int
    host: str
    start_ticks: int | None
    since: str

    @classmethod
    def me(cls) -> Holder:
        pid = os.getpid()
        since = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime())
        return cls(pid, socket.gethostname(), _start_ticks(pid), since)

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host,
                           "start_ticks": self.start_ticks, "since": self.since})

    @classmethod
    def from_json(cls, text: str) -> Holder | None:
        """The holder a lock file names, or None if it is not one of ours."""
        try:
            fields = json.loads(text)
            return cls(int(fields["pid"]), str(fields["host"]),
                       fields.get("start_ticks"), str(fields.get("since", "?")))
        except (ValueError, TypeError, KeyError):
            return None

    def is_stale(self) -> bool:
        """True when this host's process that took the lock has ended."""
        if self.host != socket.gethostname():
            return False
        if not _pid_runs(self.pid):
            return True
        # the pid was reused by a later process: the holder is gone
        ticks = _start_ticks(self.pid)
        return None not in (ticks, self.start_ticks) and ticks != self.start_ticks


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, under another user
    return True


def _start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time after boot), or None."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            # the command name (field 2) may hold spaces: split after its ')'
            return int(stream.read().rsplit(")", 1)[1].split()[19])
    return None


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[Path]:
    """Hold the lock of output folder `folder` (created if needed) meanwhile.

    Raises:
        ConfigError: the folder cannot be created or written.
        OutputLockedError: another live run holds it (its pid and host named).
    """
    folder = check_folder(folder, "output.dir")
    path = folder / LOCK_NAME
    me = Holder.me()
    _acquire(path, me)
    try:
        yield path
    finally:
        _release(path, me)


# tries to take a lock: one may follow the removal of a stale lock, others a
# release by the holder between our failed create and our read of its file
ACQUIRE_TRIES = 5


def _acquire(path: Path, me: Holder) -> None:
    holder = None
    for _ in range(ACQUIRE_TRIES):
        if create_exclusive(path, me.to_json()):
            return
        try:
            holder = _read_holder(path)
        except FileNotFoundError:
            continue  # released meanwhile: the next try takes it
        if holder is None or not holder.is_stale():
            raise OutputLockedError(_locked_message(path, holder))
        log.warning("removing the stale lock %s of pid %d on %s (taken %s): that"
                    " process has ended", path, holder.pid, holder.host,
                    holder.since)
        _remove_if_same(path, holder)
    raise OutputLockedError(_locked_message(path, holder))


def _read_holder(path: Path) -> Holder | None:
    """The holder `path` names, None if unreadable or not a lock of ours.

    Raises:
        FileNotFoundError: there is no lock file (released meanwhile).
    """
    try:
        return Holder.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except OSError:
        return None


def _read_holder_if_any(path: Path) -> Holder | None:
    with contextlib.suppress(FileNotFoundError):
        return _read_holder(path)
    return None


def _locked_message(path: Path, holder: Holder | None) -> str:
    folder = path.parent
    if holder is None:
        who = f"the lock file {path} exists but names no run"
    else:
        who = (f"streamgd pid {holder.pid} on host {holder.host} holds it"
               f" since {holder.since} (lock file {path})")
    return (f"output.dir {folder} is in use: {who}; wait for that run to end,"
            " choose another output.dir, or delete the lock file if no run"
            " uses the folder")


def _remove_if_same(path: Path, holder: Holder) -> None:
    """Remove the lock if it still names `holder` (another run may have just
    cleared it and taken a fresh one, which must stay)."""
    aside = path.with_name(f"{LOCK_NAME}.stale-{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read_holder_if_any(aside) != holder:
        # not the stale lock we judged: put it back unless a new one is there
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink()


def _release(path: Path, me: Holder) -> None:
    if _read_holder_if_any(path) == me:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    else:
        log.warning("the lock %s no longer names this run (pid %d); left as it"
                    " is", path, me.pid)
