"""A bounded shuffle buffer: mixes rows of several chunks, holds at most a set number.

Rows of each chunk arriving are pooled with the rows held back so far; a uniformly
random subset of the pool, as many rows as exceed the buffer's capacity, leaves in
random order, and the rest stay. Every row leaves exactly once: the last ones at
`flush()`, at the end of the epoch. With a capacity at least the dataset's size the
epoch is a uniform permutation of all rows; with a smaller one, rows move at most
about a buffer's length from their place in the chunk order, which the chunk
permutation of `stream.plan` then breaks up.
"""

from __future__ import annotations

import numpy as np

from streamgd.readers.decode import Chunk


class ShuffleBuffer:
    """Holds at most `capacity` rows; `push` returns rows to train on, shuffled.

    Args:
        capacity: rows held back at most (memory: capacity x (n_features + 2) x 8 B).
        rng: the job's generator.
        held: rows already held (a buffer restored from a checkpoint), or None.
    """

    def __init__(
        self, capacity: int, rng: np.random.Generator, held: Chunk | None = None
    ) -> None:
        self.capacity = capacity
        self.rng = rng
        self._held = held

    def push(self, chunk: Chunk) -> Chunk | None:
        """Add a chunk; return the rows that overflow the buffer, in random order."""
        pool = chunk if self._held is None else _concatenate(self._held, chunk)
        n_out = pool.n_rows - self.capacity
        if n_out <= 0:
            self._held = pool
            return None
        order = self.rng.permutation(pool.n_rows)
        self._held = _take(pool, np.sort(order[n_out:]))
        return _take(pool, order[:n_out])

    def flush(self) -> Chunk | None:
        """The rows still held, in random order; the buffer is empty afterwards."""
        held, self._held = self._held, None
        if held is None or held.n_rows == 0:
            return None
        return _take(held, self.rng.permutation(held.n_rows))

    @property
    def n_held(self) -> int:
        return 0 if self._held is None else self._held.n_rows

    @property
    def held(self) -> Chunk | None:
        """The rows held back now (never modified in place), or None."""
        return self._held


def _take(chunk: Chunk, rows: np.ndarray) -> Chunk:
    weight = None if chunk.weight is None else chunk.weight[rows]
    return Chunk(chunk.X[rows], chunk.y[rows], weight)


def _concatenate(first: Chunk, second: Chunk) -> Chunk:
    weight = None
    if first.weight is not None:
        weight = np.concatenate([first.weight, second.weight])
    return Chunk(
        np.concatenate([first.X, second.X]), np.concatenate([first.y, second.y]),
        weight,
    )
