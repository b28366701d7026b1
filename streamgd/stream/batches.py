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
        parts = self.push_parts(block)
        if len(parts) < 2:
            return parts[0] if parts else None
        return _concatenate(*parts)

    def push_parts(self, block: Chunk) -> list[Chunk]:
        """The rows `push` returns, as up to two blocks of whole batches.

        The rows waiting from the last push are completed into one batch with
        the first rows of `block` (a copy of at most one batch), and the rest
        of `block` follows as a view: joining the whole block to the few
        waiting rows copied every block the shuffle handed on.
        """
        parts, rest = [], self._rest
        self._rest = None
        if rest is not None and rest.n_rows:
            n_needed = min(self.batch_size - rest.n_rows, block.n_rows)
            rest = _concatenate(rest, _slice(block, 0, n_needed))
            block = _slice(block, n_needed, block.n_rows)
            if rest.n_rows < self.batch_size:
                self._rest = rest
                return parts
            parts.append(rest)
        n_whole = block.n_rows - block.n_rows % self.batch_size
        self._rest = _slice(block, n_whole, block.n_rows)
        if n_whole:
            parts.append(_slice(block, 0, n_whole))
        return parts

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
