"""Checkpoints: a run's frozen state to one file and back, and what it was made from.

    codec        frozen dataclasses <-> JSON + named numpy arrays, exactly
    fingerprint  input files, job and chunks of a run; what changed since
    store        the .npz checkpoint file, written atomically
"""

from streamgd.checkpoint.fingerprint import chunk_layout, differences, fingerprint
from streamgd.checkpoint.store import Checkpoint, load_checkpoint, save_checkpoint

__all__ = [
    "Checkpoint", "chunk_layout", "differences", "fingerprint", "load_checkpoint",
    "save_checkpoint",
]
