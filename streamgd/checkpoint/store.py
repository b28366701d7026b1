"""The checkpoint file: one `.npz`, written atomically, read back exactly.

Members: `meta.json` (a uint8 array of UTF-8 JSON: format, version, the input
fingerprint, and the encoded state tree of `codec`) and one `.npy` member per
array of the state (weights, optimizer arrays, rows in the shuffle buffer, the
statistics). Nothing is pickled. The file is written under a temporary name,
fsynced and renamed (`atomic.atomic_open`), so a crash while writing leaves the
previous checkpoint whole.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from streamgd.atomic import atomic_open
from streamgd.checkpoint.codec import CodecError, decode, encode
from streamgd.errors import CheckpointError
from streamgd.train.costlog import CostLogState
from streamgd.train.prepare import PreparedSummary
from streamgd.train.state import TrainState

FORMAT = "streamgd-checkpoint"
# 2: rows inside a chunk are ordered by the chunk's own generator, keyed by
# the epoch (`EpochPosition.chunk_key`): a version 1 run cannot be continued.
# 3: large CSV files are cut into chunks by byte ranges, and the checkpoint
# records the cut (`PreparedSummary.chunk_layout`), which version 2 did not:
# its place in an epoch could name other chunks of a CSV file
VERSION = 3
META = "meta.json"


@dataclass(frozen=True)
class Checkpoint:
    """A run's whole progress, and what it was made from.

    Attributes:
        state: the engine's state at a chunk boundary.
        cost_log: the cost log's state at the same moment.
        prepared: the statistics pass's results.
        fingerprint: the input files and the job (`checkpoint.fingerprint`).
    """

    state: TrainState
    cost_log: CostLogState
    prepared: PreparedSummary
    fingerprint: dict[str, Any]


def save_checkpoint(path: str | Path, checkpoint: Checkpoint) -> None:
    """Write `checkpoint` to `path` atomically."""
    arrays: dict[str, np.ndarray] = {}
    content = {
        "state": encode(checkpoint.state, "state", arrays),
        "cost_log": encode(checkpoint.cost_log, "cost_log", arrays),
        "prepared": encode(checkpoint.prepared, "prepared", arrays),
    }
    meta = {"format": FORMAT, "version": VERSION,
            "fingerprint": checkpoint.fingerprint, "content": content}
    arrays[META] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    with atomic_open(path, "wb") as stream:
        np.savez(stream, **arrays)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by `save_checkpoint`.

    Raises:
        CheckpointError: the file is missing, damaged, or of another format.
    """
    path = Path(path)
    arrays = _read_arrays(path)
    if META not in arrays:
        raise CheckpointError(f"{path} is not a streamgd checkpoint")
    meta = json.loads(arrays.pop(META).tobytes().decode("utf-8"))
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise CheckpointError(
            f"{path} is a checkpoint of format {meta.get('format')!r} version"
            f" {meta.get('version')!r}; this streamgd reads {FORMAT!r} {VERSION};"
            " train again without --resume"
        )
    try:
        content = {key: decode(value, arrays) for key, value in meta["content"].items()}
        return Checkpoint(content["state"], content["cost_log"], content["prepared"],
                          meta["fingerprint"])
    except (CodecError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is incomplete or damaged: {error}") from None


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    try:
        # our own handle: np.load leaves its file open when the zip is damaged
        with open(path, "rb") as stream, np.load(stream, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        # numpy reads a file that is no .npz as a pickle, which it refuses with
        # advice to unpickle it: wrong for a damaged checkpoint, so not passed on
        reason = ("not an .npz archive" if "pickle" in str(error).lower()
                  else str(error))
        raise CheckpointError(
            f"{path} is not a readable checkpoint ({reason}); delete it and train"
            " without --resume"
        ) from None
