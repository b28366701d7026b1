"""Checkpoints: a run's frozen state to one file and back, and what it was made from.

    codec        frozen dataclasses <-> JSON + named numpy arrays, exactly
    fingerprint  input files and job of a run; what changed since
    store        the .npz checkpoint file, written atomically
"""

from streamgd.checkpoint.fingerprint import differences, fingerprint
from streamgd.checkpoint.store import Checkpoint, load_checkpoint, save_checkpoint

__all__ = [
    "Checkpoint", "differences", "fingerprint", "load_checkpoint", "save_checkpoint",
]
