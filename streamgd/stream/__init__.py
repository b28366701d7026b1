"""Chunks to mini-batches: epoch chunk order, block store, block shuffle."""

from streamgd.stream.blocks import BlockShuffle, Visit
from streamgd.stream.plan import epoch_indices, epoch_order
from streamgd.stream.store import BlockStore

__all__ = ["BlockShuffle", "BlockStore", "Visit", "epoch_indices", "epoch_order"]
