"""Where streamgd writes, checked before any data is read.

A run that trains for an hour and then cannot rename its model into place (the
name is a folder) or cannot create its output folder (a file of that name is in
the way) wastes the hour. These checks run first and raise an error naming the
path and the key that set it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from streamgd.errors import ConfigError


def _folder_problem(folder: Path) -> str | None:
    """Why a file cannot be written in `folder` (created if needed), or None."""
    if folder.exists() and not folder.is_dir():
        return "is a file, not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        return f"is not writable ({error.strerror or error})"
    return None


def check_folder(folder: str | Path, key: str) -> Path:
    """Create `folder` if needed and check a file can be written in it.

    Args:
        folder: the folder.
        key: what set it, for the message ("output.dir", "data.cache_dir").

    Raises:
        ConfigError: a file is in the way, or it cannot be created or written.
    """
    folder = Path(folder)
    problem = _folder_problem(folder)
    if problem is not None:
        raise ConfigError(
            f"{key} {folder} {problem}; choose another {key} or fix its"
            " permissions"
        )
    return folder


def check_file_target(path: str | Path, key: str) -> Path:
    """Check `path` can be replaced by a file: not a folder, its folder writable.

    Raises:
        ConfigError: `path` is a folder, or its folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise ConfigError(
            f"{key} {path} is a folder; give a file name (or remove the folder)"
        )
    problem = _folder_problem(path.parent)
    if problem is not None:
        raise ConfigError(
            f"{key} {path}: its folder {path.parent} {problem}; choose another"
            f" {key} or fix the folder's permissions"
        )
    return path


def check_not_input(out: str | Path, inputs: list[str], key: str) -> None:
    """Refuse an output file that is one of the input files.

    Raises:
        ConfigError: `out` resolves to the same file as an input.
    """
    target = Path(out).expanduser().resolve()
    for item in inputs:
        if Path(item).expanduser().resolve() == target:
            raise ConfigError(
                f"{key} {out} is also an input file; writing it would replace"
                " the data being read: choose another output name"
            )


def checkpoint_path(config) -> Path:
    """The job's checkpoint file (default: checkpoint.npz inside output.dir)."""
    configured = config["checkpoint.path"]
    if configured is not None:
        return Path(configured)
    return Path(config["output.dir"]) / "checkpoint.npz"


def check_job_outputs(config) -> None:
    """Check every place a training job writes (a `Config`), before reading data.

    Raises:
        ConfigError: naming the key and the path that cannot be written.
    """
    folder = check_folder(config["output.dir"], "output.dir")
    check_file_target(folder / config["output.model"], "output.model")
    check_file_target(folder / config["output.cost_log"], "output.cost_log")
    # the default checkpoint.npz too: a folder of that name failed only after
    # the first epoch, at the first checkpoint
    if config["checkpoint.enabled"] or config["checkpoint.path"] is not None:
        check_file_target(checkpoint_path(config), "checkpoint.path")
    if config["data.cache_dir"] is not None:
        check_folder(config["data.cache_dir"], "data.cache_dir")
