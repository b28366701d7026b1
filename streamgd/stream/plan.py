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
    kept = [chunk for chunk in chunks if chunk.n_rows > 0]
    if not shuffle:
        return kept
    return [kept[i] for i in rng.permutation(len(kept))]
