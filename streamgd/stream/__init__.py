"""Chunks to mini-batches: epoch chunk order, shuffle buffer, re-batching."""

from streamgd.stream.batches import Rebatcher
from streamgd.stream.plan import epoch_indices, epoch_order
from streamgd.stream.shuffle import ShuffleBuffer

__all__ = ["Rebatcher", "ShuffleBuffer", "epoch_indices", "epoch_order"]
