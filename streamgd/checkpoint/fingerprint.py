"""What a checkpoint was made from: the input files and the job, to refuse a mismatch.

A resumed run is exact only on the same rows under the same job. Each input file
is identified by its path, size, modification time (nanoseconds) and a hash of
sampled bytes: its first and last SAMPLE_BYTES (a Parquet file's footer, with
every row group's offsets and column statistics, whole), and SAMPLE_BLOCKS
evenly spaced blocks between. Hashing every byte would cost a pass over data
that may take hours; the sample costs a few reads per file and catches a
rewrite that kept the size and the mtime (a copy with `cp -p`, `rsync -t`, a
restored backup) unless it changed only bytes outside the sample: a same-size
edit in the middle of a large CSV can still pass. A checkpoint written before
the sample existed is compared on size and mtime only. The job is the resolved
config minus the `checkpoint` section, whose keys decide only when and where
checkpoints are written.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from streamgd.config import Config
from streamgd.readers import resolve_files
from streamgd.readers.chunks import ChunkRef

IGNORED_SECTIONS = ("checkpoint",)
# settings that change no bit of the run's results, so a run may resume with
# another value (fewer chunks read ahead to save memory, say)
IGNORED_KEYS = (("data", "read_ahead"),)
SAMPLE_BYTES = 64 * 1024
SAMPLE_BLOCKS = 16
BLOCK_BYTES = 4096
# a Parquet footer beyond this is sampled by its last SAMPLE_BYTES only
MAX_FOOTER_BYTES = 64 * 1024 * 1024


def fingerprint(config: Config) -> dict[str, Any]:
    """The job's input files (training and validation) and its config, as a
    JSON-ready dict."""
    files = []
    for data_file in _input_files(config):
        status = os.stat(data_file.path)
        files.append({"path": data_file.path, "size": status.st_size,
                      "mtime_ns": status.st_mtime_ns,
                      "sample": content_sample(data_file.path, status.st_size)})
    job = {key: value for key, value in config.as_dict().items()
           if key not in IGNORED_SECTIONS}
    for section, key in IGNORED_KEYS:
        job[section] = {name: value for name, value in job[section].items()
                        if name != key}
    return {"files": files, "config": job}


def chunk_layout(chunks: list[ChunkRef]) -> str:
    """Hex BLAKE2b digest of how the input is cut into chunks: each chunk's
    file, first row and row count, in the source's order.

    A checkpoint's epoch position counts chunks by their place in that list,
    so a resume is exact only on the same cut: another streamgd version may
    cut the same files otherwise (CSV files by byte ranges, say).
    """
    digest = hashlib.blake2b(digest_size=16)
    for ref in chunks:
        digest.update(f"{ref.file}\0{ref.first_row}\0{ref.n_rows}\n".encode())
    return digest.hexdigest()


def content_sample(path: str, size: int) -> str:
    """Hex BLAKE2b digest of the sampled bytes of `path` (see the module doc)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        for offset, length in sample_ranges(stream, size):
            stream.seek(offset)
            digest.update(stream.read(length))
    return digest.hexdigest()


def sample_ranges(stream, size: int) -> list[tuple[int, int]]:
    """(offset, length) of the head, the blocks between and the tail."""
    if size <= 2 * SAMPLE_BYTES:
        return [(0, size)]
    tail = max(SAMPLE_BYTES, _parquet_footer_bytes(stream, size))
    tail = min(tail, size - SAMPLE_BYTES)
    middle_start, middle_end = SAMPLE_BYTES, size - tail
    step = (middle_end - middle_start) / (SAMPLE_BLOCKS + 1)
    blocks = [(int(middle_start + step * (k + 1)), BLOCK_BYTES)
              for k in range(SAMPLE_BLOCKS)] if step > BLOCK_BYTES else []
    return [(0, SAMPLE_BYTES), *blocks, (size - tail, tail)]


def _parquet_footer_bytes(stream, size: int) -> int:
    """Length of a Parquet footer with its 8-byte trailer, or 0 if not Parquet."""
    stream.seek(size - 8)
    trailer = stream.read(8)
    if trailer[4:] != b"PAR1":
        return 0
    length = int.from_bytes(trailer[:4], "little") + 8
    return length if length <= min(size, MAX_FOOTER_BYTES) else 0


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
        # compared when size and mtime agree (else those are named above); a
        # checkpoint of an earlier version has no sample: size and mtime only
        same = all(old[path][key] == new[path][key] for key in ("size", "mtime_ns"))
        before, after = old[path].get("sample"), new[path].get("sample")
        if same and None not in (before, after) and before != after:
            found.append(
                f"input file {path}: its content changed although its size and"
                " modification time did not (sampled bytes differ)"
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
