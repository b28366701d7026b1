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
        capacity: rows held back at most (memory: about capacity plus one chunk
            of rows, x (n_features + 2) x 8 B).
        rng: the job's generator.
        held: rows already held (a buffer restored from a checkpoint), or None.

    Rows are written once into a store of row slots and never moved while held:
    the pool is a list of slot numbers (held ones first, in their pool order,
    then the new chunk's), so that each push permutes and splits indices
    instead of copying the held rows. The rows that leave are gathered once, in
    their random order. Measured here, at capacity 100,000 and chunks of 65,536
    rows of 20 features, the earlier copy-the-pool version spent longer in the
    shuffle than pyarrow spent reading the file; the rows handed out are the
    same, draw for draw.
    """

    def __init__(
        self, capacity: int, rng: np.random.Generator, held: Chunk | None = None
    ) -> None:
        self.capacity = capacity
        self.rng = rng
        self._store: Chunk | None = None
        self._held = np.empty(0, dtype=np.intp)
        self._free = np.empty(0, dtype=np.intp)
        if held is not None:
            self._held = self._write(held)

    def push(self, chunk: Chunk) -> Chunk | None:
        """Add a chunk; return the rows that overflow the buffer, in random order."""
        pool = np.concatenate([self._held, self._write(chunk)])
        n_out = len(pool) - self.capacity
        if n_out <= 0:
            self._held = pool
            return None

        # the same draw as permuting the pool of rows: the first n_out leave,
        # the rest stay in their pool order (a mask keeps it, without a sort)
        order = self.rng.permutation(len(pool))
        leaving = pool[order[:n_out]]
        staying = np.zeros(len(pool), dtype=bool)
        staying[order[n_out:]] = True
        self._held = pool[staying]
        self._free = np.concatenate([self._free, leaving])
        return _take(self._store, leaving)

    def flush(self) -> Chunk | None:
        """The rows still held, in random order; the buffer is empty afterwards."""
        held, store = self._held, self._store
        self._held = np.empty(0, dtype=np.intp)
        self._store, self._free = None, np.empty(0, dtype=np.intp)
        if len(held) == 0:
            return None
        return _take(store, held[self.rng.permutation(len(held))])

    @property
    def n_held(self) -> int:
        return len(self._held)

    @property
    def held(self) -> Chunk | None:
        """A copy of the rows held back now, in pool order, or None.

        A copy costs a pass over the buffer: take it when a checkpoint needs it,
        not after every chunk.
        """
        if self._store is None or len(self._held) == 0:
            return None
        return _take(self._store, self._held)

    def _write(self, chunk: Chunk) -> np.ndarray:
        """Copy the chunk's rows into free slots; return those slots in row order."""
        if self._store is None:
            self._store = _empty_like(chunk, 0)
        missing = chunk.n_rows - len(self._free)
        if missing > 0:
            # double the store, but never past what the buffer can hold at once
            room = self.capacity + chunk.n_rows - _rows(self)
            self._grow(chunk, max(missing, min(_rows(self), room)))
        slots, self._free = self._free[:chunk.n_rows], self._free[chunk.n_rows:]
        store = self._store
        store.X[slots], store.y[slots] = chunk.X, chunk.y
        if store.weight is not None:
            store.weight[slots] = chunk.weight
        return slots

    def _grow(self, chunk: Chunk, n_new: int) -> None:
        """Add n_new free slots at the end of the store (held rows keep theirs)."""
        old = self._store
        grown = _empty_like(chunk, old.n_rows + n_new)
        grown.X[: old.n_rows], grown.y[: old.n_rows] = old.X, old.y
        if grown.weight is not None:
            grown.weight[: old.n_rows] = old.weight
        new_slots = np.arange(old.n_rows, grown.n_rows, dtype=np.intp)
        self._store, self._free = grown, np.concatenate([self._free, new_slots])


def _rows(buffer: ShuffleBuffer) -> int:
    return 0 if buffer._store is None else buffer._store.n_rows


def _empty_like(chunk: Chunk, n_rows: int) -> Chunk:
    weight = None if chunk.weight is None else np.empty(n_rows)
    return Chunk(np.empty((n_rows, chunk.X.shape[1])), np.empty(n_rows), weight)


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
