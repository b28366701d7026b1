"""Writes that never leave a half-written file: temporary name, flush, fsync, rename.

`os.replace` is atomic on POSIX within one file system, so a reader (or a crash)
sees either the previous complete file or the new complete one.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from streamgd.errors import OutputWriteError, StreamgdError

# errors only a write gives: met inside a writer's body (which may read data
# too) they are the write's, whereas any other OSError there is left as it is
WRITE_ERRNOS = {errno.ENOSPC: "no space left on device",
                errno.EDQUOT: "disk quota exceeded",
                errno.EFBIG: "file too large for the file system"}


def write_error(path: str | Path, error: OSError, hint: str = "") -> OutputWriteError:
    """An OutputWriteError naming `path` and what the system said.

    Args:
        path: the file being written (its final name, not the temporary one).
        error: the OSError of the failed write.
        hint: what to do about it, when there is more to say than the default.
    """
    reason = WRITE_ERRNOS.get(error.errno) or error.strerror or str(error)
    hint = hint or ("free some space there or write elsewhere"
                    if error.errno in WRITE_ERRNOS else "check the folder")
    return OutputWriteError(f"cannot write {path}: {reason}; {hint}."
                            " Nothing was half-written.")


def is_write_failure(error: BaseException) -> bool:
    """True for an OSError that only a write raises (disk full, quota, size)."""
    return (isinstance(error, OSError) and not isinstance(error, StreamgdError)
            and error.errno in WRITE_ERRNOS)


@contextlib.contextmanager
def naming_write_failures(path: str | Path, hint: str = "") -> Iterator[None]:
    """Turn a disk-full, quota or file-size OSError inside into an
    OutputWriteError naming `path` (see `write_error`)."""
    try:
        yield
    except OSError as error:
        if not is_write_failure(error):
            raise
        raise write_error(path, error, hint) from error


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success it replaces `path`.

    On an exception the temporary file is removed and `path` is untouched.

    Raises:
        OutputWriteError: the temporary file could not be created, written,
            synced or renamed (disk full, say); it names `path`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
        )
    except OSError as error:
        raise write_error(path, error) from error
    try:
        # mkstemp creates 0600; the file gets the mode open() would give it
        os.fchmod(handle, _mode_for(path))
        with os.fdopen(handle, mode) as stream:
            with naming_write_failures(path):
                yield stream
            _finish(stream, path)
        _rename(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _finish(stream: IO, path: Path) -> None:
    """Flush and fsync `stream`, written for `path`."""
    try:
        stream.flush()
        os.fsync(stream.fileno())
    except OSError as error:
        raise write_error(path, error) from error


def _rename(temporary: str, path: Path) -> None:
    try:
        os.replace(temporary, path)
    except OSError as error:
        raise write_error(path, error) from error


def _mode_for(path: Path) -> int:
    """The replaced file's permission bits, or 0666 less the umask for a new one."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    # Linux reports it without changing it; os.umask can only read by setting,
    # which another thread could observe
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii") as status:
            line = next(line for line in status if line.startswith("Umask:"))
            return int(line.split()[1], 8)
    current = os.umask(0o022)
    os.umask(current)
    return current


def write_atomic(path: str | Path, text: str) -> None:
    """Replace `path` with `text` atomically."""
    with atomic_open(path) as stream:
        stream.write(text)


class AppendFile:
    """A file grown by appends under a hidden name, renamed into place when complete.

    A log that a run appends to cannot be written whole at the end without holding
    it in memory, nor to its final name without clobbering the previous run's
    complete version. It grows as `.NAME.partial` beside `path` instead; `sync()`
    makes what was written durable and returns the byte length (a checkpoint keeps
    it), `commit()` renames it over `path`. A resumed run opens the partial file
    at that length again, cutting off whatever followed, a half-written line
    included, so the file holds each record once.

    Args:
        path: the final name.
        resume_at: byte length to continue from, or None to start empty.

    Raises:
        FileNotFoundError: resuming, but the partial file is gone.
        ValueError: resuming, but the partial file is shorter than `resume_at`.
        OutputWriteError: a write, sync or the rename failed (disk full, say);
            it names `path`.
    """

    def __init__(self, path: str | Path, resume_at: int | None = None) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._committed = False
        if resume_at is None:
            self._stream = open(self.partial, "wb")
            return
        size = self.partial.stat().st_size
        if size < resume_at:
            raise ValueError(
                f"{self.partial} holds {size} bytes, fewer than the {resume_at}"
                " its checkpoint recorded"
            )
        with open(self.partial, "r+b") as stream:
            stream.truncate(resume_at)
        self._stream = open(self.partial, "ab")

    def write(self, text: str) -> None:
        try:
            self._stream.write(text.encode("utf-8"))
        except OSError as error:
            raise write_error(self.path, error) from error

    def sync(self) -> int:
        """Flush and fsync; the byte length of what is now durable."""
        try:
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as error:
            raise write_error(self.path, error) from error
        return self._stream.tell()

    def commit(self) -> None:
        """Make the file complete: synced, closed and renamed to `path`."""
        if self._committed:
            return
        if not self._stream.closed:
            self.sync()
            self._stream.close()
        _rename(str(self.partial), self.path)
        self._committed = True

    def discard(self) -> None:
        """Close and delete the partial file: no run can continue it."""
        if not self._stream.closed:
            # what is still buffered may not fit on a full disk: it is dropped
            with contextlib.suppress(OSError):
                self._stream.close()
        with contextlib.suppress(FileNotFoundError):
            self.partial.unlink()

    def close(self) -> None:
        """Close without renaming: the partial file stays for a resumed run."""
        if self._stream.closed:
            return
        try:
            self._stream.flush()
            os.fsync(self._stream.fileno())
        except OSError as error:
            with contextlib.suppress(OSError):
                self._stream.close()
            raise write_error(self.path, error) from error
        self._stream.close()


def remove_stale(path: str | Path) -> int:
    """Delete temporary files an earlier, killed writer of `path` left; how many.

    `atomic_open` removes its temporary file on any exception, but a SIGKILL or a
    power cut leaves it (a checkpoint's is as large as the shuffle buffer). Call
    this only when no other process writes `path`.
    """
    path = Path(path)
    stale = list(path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))
    for temporary in stale:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return len(stale)


def create_exclusive(path: str | Path, text: str) -> bool:
    """Create `path` holding `text`, only if no file of that name exists.

    The text is written whole under a temporary name first and then hard-linked
    to `path`: `link` fails when the name exists and is atomic, so a reader
    never sees a half-written file and of two concurrent callers one wins.

    Returns:
        True if this call created `path`; False if it existed already.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        os.fchmod(handle, _mode_for(path))
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
