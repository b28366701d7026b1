"""What a checkpoint was made from: the input files and the job, to refuse a mismatch.

A resumed run is exact only on the same rows under the same job. Each input file
is identified by its path, size and modification time (nanoseconds): reading
every byte for a hash would cost a pass over data that may take hours, and a
rewrite that keeps both size and mtime is not what a scheduled job meets. The
job is the resolved config minus the `checkpoint` section, whose keys decide
only when and where checkpoints are written.
"""

from __future__ import annotations

import os
from typing import Any

from streamgd.config import Config
from streamgd.readers import resolve_files

IGNORED_SECTIONS = ("checkpoint",)


def fingerprint(config: Config) -> dict[str, Any]:
    """The job's input files (training and validation) and its config, as a
    JSON-ready dict."""
    files = []
    for data_file in _input_files(config):
        status = os.stat(data_file.path)
        files.append({"path": data_file.path, "size": status.st_size,
                      "mtime_ns": status.st_mtime_ns})
    job = {key: value for key, value in config.as_dict().items()
           if key not in IGNORED_SECTIONS}
    return {"files": files, "config": job}


def _input_files(config: Config) -> list:
    """Every file the run reads: the training data, then any validation files
    (a changed validation file changes the holdout costs and early stopping)."""
    files = resolve_files(config["data.paths"], config["data.format"])
    if config["validation.paths"]:
        files += resolve_files(config["validation.paths"], config["data.format"])
    return files


def differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Each way `current` differs from `stored`, in words; empty when equal."""
    return _file_differences(stored["files"], current["files"]) + _config_differences(
        _flatten(stored["config"]), _flatten(current["config"])
    )


def _file_differences(stored: list[dict], current: list[dict]) -> list[str]:
    old = {entry["path"]: entry for entry in stored}
    new = {entry["path"]: entry for entry in current}
    found = [f"input file {path} is new" for path in new if path not in old]
    found += [f"input file {path} is gone" for path in old if path not in new]
    for path in (path for path in new if path in old):
        for key, unit in (("size", " bytes"), ("mtime_ns", " ns (modified)")):
            if old[path][key] != new[path][key]:
                found.append(
                    f"input file {path}: {key} {old[path][key]}{unit}"
                    f" in the checkpoint, {new[path][key]} now"
                )
    return found


def _config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    found = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key, "(absent)"), new.get(key, "(absent)")
        if before != after:
            found.append(f"config {key}: {before!r} in the checkpoint, {after!r} now")
    return found


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
