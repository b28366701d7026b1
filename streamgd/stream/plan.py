"""The order of chunks in each epoch: a fresh seeded permutation per epoch."""

from __future__ import annotations

import numpy as np

from streamgd.readers.chunks import ChunkRef


def epoch_order(
    chunks: list[ChunkRef], rng: np.random.Generator, shuffle: bool
) -> list[ChunkRef]:
    """The chunks in this epoch's order; empty chunks left out.

    Args:
        chunks: every chunk of the dataset, in file order.
        rng: the job's generator; one permutation is drawn from it per epoch.
        shuffle: False keeps file order (and draws nothing).
    """
    return [chunks[index] for index in epoch_indices(chunks, rng, shuffle)]


def epoch_indices(
    chunks: list[ChunkRef], rng: np.random.Generator, shuffle: bool
) -> tuple[int, ...]:
    """This epoch's order as indices into `chunks`; see `epoch_order`.

    Indices, unlike references, are what a checkpoint stores to replay the
    rest of an interrupted epoch in the same order.
    """
    kept = [index for index, chunk in enumerate(chunks) if chunk.n_rows > 0]
    if not shuffle:
        return tuple(kept)
    return tuple(kept[i] for i in rng.permutation(len(kept)))
