"""Re-batching: blocks of rows in, runs of whole mini-batches out.

The shuffle hands on blocks of any length; the trainer steps through them
`batch_size` rows at a time. `push` returns the longest prefix that is a whole
number of batches (the remainder waits for the next block) and `flush` returns the
short last batch of the epoch, so that it is explicit and testable.
"""

from __future__ import annotations

import numpy as np

from streamgd.readers.decode import Chunk
from streamgd.stream.shuffle import _concatenate


class Rebatcher:
    """Cuts a stream of blocks into whole mini-batches of `batch_size` rows."""

    def __init__(self, batch_size: int, pending: Chunk | None = None) -> None:
        self.batch_size = batch_size
        self._rest = pending

    def push(self, block: Chunk) -> Chunk | None:
        """Rows forming whole batches (a multiple of batch_size), or None."""
        pool = block if self._rest is None else _concatenate(self._rest, block)
        n_whole = pool.n_rows - pool.n_rows % self.batch_size
        self._rest = _slice(pool, n_whole, pool.n_rows)
        return _slice(pool, 0, n_whole) if n_whole else None

    @property
    def pending(self) -> Chunk | None:
        """Rows waiting for a whole batch (never modified in place), or None."""
        return self._rest

    def flush(self) -> Chunk | None:
        """The last, short batch of the epoch, or None when nothing is left."""
        rest, self._rest = self._rest, None
        return rest if rest is not None and rest.n_rows else None


def _slice(chunk: Chunk, start: int, stop: int) -> Chunk:
    weight = None if chunk.weight is None else chunk.weight[start:stop]
    return Chunk(chunk.X[start:stop], chunk.y[start:stop], weight)


def batch_bounds(n_rows: int, batch_size: int) -> np.ndarray:
    """Start offsets of the batches of a block, plus its end: shape (n_batches + 1,)."""
    return np.append(np.arange(0, n_rows, batch_size), n_rows)
