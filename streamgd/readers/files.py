"""Turn the job's `data.paths` into an ordered list of data files.

A path may be a file, a directory (searched recursively for data files, hidden and
`_`-prefixed names skipped, as Spark and pyarrow do), or a glob. The order is sorted
and therefore stable, which the seeded shuffle and the input fingerprint rely on.
"""

from __future__ import annotations

import errno
import glob
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from streamgd.errors import ConfigError, DataError

log = logging.getLogger(__name__)

SUFFIXES = {
    ".parquet": "parquet", ".pq": "parquet",
    ".csv": "csv", ".tsv": "csv",
}
# a file named directly may be a .txt CSV; in a folder scan, .txt files are
# notes and READMEs far more often than data
NAMED_ONLY = {".txt": "csv"}
COMPRESSIONS = (".gz", ".bz2", ".zst", ".lz4")


@dataclass(frozen=True)
class DataFile:
    """One data file and its format (`parquet` or `csv`)."""

    path: str
    format: str

    @property
    def name(self) -> str:
        return Path(self.path).name


def resolve_files(paths: list[str], fmt: str = "auto") -> list[DataFile]:
    """Expand files, directories and globs into data files, in a stable order.

    Raises:
        DataError: a path that matches nothing, or a directory with no data file.
        ConfigError: a file whose format cannot be told from its name under
            `data.format: auto`, or files of both formats in one job.
    """
    found: list[str] = []
    for path in paths:
        found.extend(_expand(path, fmt))
    files = [DataFile(path, _format_of(path, fmt)) for path in dict.fromkeys(found)]
    first_of = {}
    for file in files:
        first_of.setdefault(file.format, file.path)
    if len(first_of) > 1:
        raise ConfigError(
            f"data.paths mixes Parquet and CSV files ({first_of['parquet']} and"
            f" {first_of['csv']}, for example); give one format per job"
        )
    return files


def _expand(path: str, fmt: str) -> list[str]:
    if glob.has_magic(path):
        matches = sorted(glob.glob(path, recursive=True))
        files = [match for match in matches if Path(match).is_file()]
        if not files:
            raise DataError(f"no file matches the pattern {path}", file=path)
        return files
    target = Path(path)
    if target.is_file():
        return [path]
    if target.is_dir():
        return _data_files_under(target, fmt)
    raise DataError(_not_a_file(target), file=path)


def _missing_folder(target: Path) -> str:
    """", its folder F does not exist" for the outermost missing folder, or ""."""
    missing = None
    for folder in target.absolute().parents:
        if folder.exists():
            break
        missing = folder
    if missing is None:
        return ""
    return (f" (the folder {missing} does not exist; relative paths in a job"
            " file are resolved against the job file's folder)")


def _not_a_file(target: Path) -> str:
    """Why a path that is neither a regular file nor a folder cannot be read."""
    try:
        os.lstat(target)
    except FileNotFoundError:
        return "no such file or directory" + _missing_folder(target)
    except OSError as error:
        return f"cannot be looked up ({error.strerror})"
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return (f"is a symbolic link to {os.readlink(target)}, which does not"
                " exist")
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "is a symbolic link loop (a link that leads back to itself)"
        return f"cannot be looked up ({error.strerror})"
    if stat.S_ISFIFO(mode):
        return ("is a named pipe (FIFO), not a file: training reads the data"
                " several times (statistics pass, epochs); save it to a file")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a data file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a data file"
    return "is not a regular file"


def _data_files_under(folder: Path, fmt: str) -> list[str]:
    files = []
    for candidate in sorted(folder.rglob("*")):
        relative = candidate.relative_to(folder).parts
        if any(part.startswith((".", "_")) for part in relative):
            continue
        if candidate.is_file() and _guess_format(candidate.name) in _wanted(fmt):
            files.append(str(candidate))
    if not files:
        kinds = "Parquet or CSV" if fmt == "auto" else fmt
        raise DataError(f"directory holds no {kinds} data file", file=str(folder))
    return files


def _wanted(fmt: str) -> set[str]:
    return {"parquet", "csv"} if fmt == "auto" else {fmt}


def _data_suffix(name: str) -> str:
    lowered = name.lower()
    for compression in COMPRESSIONS:
        lowered = lowered.removesuffix(compression)
    return Path(lowered).suffix


def _guess_format(name: str, named: bool = False) -> str | None:
    suffix = _data_suffix(name)
    return SUFFIXES.get(suffix) or (NAMED_ONLY.get(suffix) if named else None)


def is_tab_separated(path: str) -> bool:
    """True for a .tsv file (maybe compressed: .tsv.gz)."""
    return _data_suffix(Path(path).name) == ".tsv"


def _format_of(path: str, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    guessed = _guess_format(Path(path).name, named=True)
    if guessed is None:
        raise ConfigError(
            f"cannot tell the format of {path} from its name;"
            " set data.format: parquet or csv"
        )
    return guessed


def skip_empty(path: str, empty_files: str) -> bool:
    """True for a 0-byte file to skip (`data.empty_files: skip`), logged.

    Raises:
        DataError: a 0-byte file under `data.empty_files: error`.
    """
    if Path(path).stat().st_size != 0:
        return False
    if empty_files == "skip":
        log.warning("skipping empty file %s", path)
        return True
    raise DataError(
        "file is empty (0 bytes); remove it or set data.empty_files: skip",
        file=path,
    )
