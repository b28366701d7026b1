"""A store of row slots in fixed blocks: where the shuffle keeps rows while held.

Rows are written once, scaled on the way in, and stay in their slots until the
trainer has visited them: the shuffle moves block numbers, never rows, and the
trainer reads the rows of the blocks it is handed in place (see
`stream.blocks`). Block `b` is slots `b * block_rows` to `(b + 1) * block_rows`;
`lengths[b]` of them are in use, the first ones.

Reading threads write chunks while the trainer reads the rows of other
blocks: taking and freeing blocks happen under a lock, and the trainer reads
`X` afresh for each visit (a grown store is a new array holding the old rows,
and the old one stays valid for a visit under way). Writes into disjoint
blocks run at once; the store grows only while no write is copying rows (a
row copied into the old array during the growth would be lost).

The write is the one pass over a chunk's rows after reading: it scales them,
puts them in the chunk's shuffled order and spreads them over free blocks, in
one compiled loop when numba is installed (`kernels.scatter_rows`; from the
file's own columns, transposing them on the way, `kernels.scatter_columns`),
else in numpy. All compute (x - shift) / scale with the same two roundings, so
the stores hold the same bits.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from streamgd.readers.decode import Chunk, ColumnChunk

from streamgd.optim.kernels import (
    numba, scatter_columns, scatter_rows, write_rows,
)


log = logging.getLogger(__name__)


class BlockStore:
    """Row slots in blocks of `block_rows`, grown on demand, reused across epochs.

    Args:
        block_rows: slots per block.
        n_features: columns of X.
        weighted: keep a sample-weight column.
        compiled: write rows with the compiled loop (numba installed).
    """

    def __init__(
        self, block_rows: int, n_features: int, weighted: bool, compiled: bool
    ) -> None:
        self.block_rows = block_rows
        self.compiled = compiled and numba is not None
        self.X = np.empty((0, n_features))
        self.y = np.empty(0)
        self.weight = np.empty(0) if weighted else None
        self.lengths = np.empty(0, dtype=np.intp)
        self._free = np.empty(0, dtype=np.intp)
        # guards `_free`, `lengths` and growth; `_writing` counts the writes
        # copying rows, which a growth waits for
        self._changed = threading.Condition()
        self._writing = 0

    @property
    def n_blocks(self) -> int:
        return len(self.lengths)

    def reserve(self, n_blocks: int) -> None:
        """Room for at least `n_blocks` blocks, made at once (growing by
        doubling copies the store a few times, each costing a pass over it)."""
        with self._changed:
            while self._writing:
                self._changed.wait()
            if n_blocks > self.n_blocks:
                self._grow(n_blocks - self.n_blocks)

    def release(self, blocks: np.ndarray) -> None:
        """Free the blocks (their rows have been trained on)."""
        with self._changed:
            self._free = np.concatenate([self._free, blocks])
            self._changed.notify_all()

    def clear(self) -> None:
        """Free every block (an epoch starts with an empty shuffle; no write
        may be under way)."""
        with self._changed:
            self._free = np.arange(self.n_blocks, dtype=np.intp)
            self._changed.notify_all()

    def write(
        self,
        chunk: Chunk | ColumnChunk,
        order: np.ndarray | None = None,
        shift: np.ndarray | None = None,
        scale: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
    ) -> np.ndarray:
        """Write the chunk's rows into free blocks; return the blocks, in order.

        Args:
            chunk: the rows (a `ColumnChunk` is written from its columns).
            order: intp permutation of the chunk's rows: its row `order[i]` is
                written i-th; None keeps the chunk's order.
            shift, scale: float64 (n_features,): X is stored as
                (X - shift) / scale; None stores X as it is.
            lengths: rows per block, summing to the chunk's rows (a restored
                shuffle's blocks); None fills whole blocks, the last one short.
        """
        if lengths is None:
            full, rest = divmod(chunk.n_rows, self.block_rows)
            lengths = np.full(full + (rest > 0), self.block_rows, dtype=np.intp)
            if rest:
                lengths[-1] = rest
        if order is not None and (lengths[:-1] != self.block_rows).any():
            raise ValueError("rows in an order are written in whole blocks")
        with self._changed:
            # grow only when no other write is copying rows into the store
            while len(self._free) < len(lengths) and self._writing:
                self._changed.wait()
            blocks = self._take_free(len(lengths))
            self.lengths[blocks] = lengths
            self._writing += 1
        try:
            if shift is None:
                shift = np.zeros(self.X.shape[1])
                scale = np.ones(self.X.shape[1])
            starts = blocks * self.block_rows
            self._copy_in(chunk, order, shift, scale, starts, lengths)
        finally:
            with self._changed:
                self._writing -= 1
                self._changed.notify_all()
        return blocks

    def segments(self, blocks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The blocks' rows as (start slots, lengths), intp arrays."""
        return blocks * self.block_rows, self.lengths[blocks]

    def take(self, rows: np.ndarray) -> Chunk:
        """A copy of the rows in the slots `rows` (intp array), in order."""
        weight = None if self.weight is None else self.weight[rows]
        return Chunk(self.X[rows], self.y[rows], weight)

    def _take_free(self, n_blocks: int) -> np.ndarray:
        # under the lock, no other write copying when it must grow
        missing = n_blocks - len(self._free)
        if missing > 0:
            # double the store: a few copies per run, not one per chunk
            self._grow(max(missing, self.n_blocks))
            log.debug("shuffle store grown to %d blocks of %d rows",
                      self.n_blocks, self.block_rows)
        blocks, self._free = self._free[:n_blocks], self._free[n_blocks:]
        return blocks

    def _grow(self, n_new: int) -> None:
        """Add n_new free blocks at the end (rows held keep their slots); under
        the lock, by the one writing thread."""
        n_old = self.n_blocks
        n_slots = (n_old + n_new) * self.block_rows
        X = np.empty((n_slots, self.X.shape[1]))
        X[: len(self.X)] = self.X
        y = np.empty(n_slots)
        y[: len(self.y)] = self.y
        self.X, self.y = X, y
        if self.weight is not None:
            weight = np.empty(n_slots)
            weight[: len(self.weight)] = self.weight
            self.weight = weight
        self.lengths = np.concatenate([self.lengths, np.zeros(n_new, np.intp)])
        new = np.arange(n_old, n_old + n_new, dtype=np.intp)
        self._free = np.concatenate([self._free, new])

    def _copy_in(
        self, chunk: Chunk | ColumnChunk, order: np.ndarray | None,
        shift: np.ndarray, scale: np.ndarray, starts: np.ndarray,
        lengths: np.ndarray,
    ) -> None:
        weighted = self.weight is not None
        if isinstance(chunk, ColumnChunk):
            # `write` cuts a chunk of its own into whole blocks, as scatter needs
            if self.compiled:
                scatter_columns(
                    chunk.columns, chunk.y,
                    chunk.weight if weighted else np.empty(0), weighted,
                    np.empty(0, np.intp) if order is None else order,
                    order is not None, shift, scale, starts, self.block_rows,
                    self.X, self.y, self.weight if weighted else np.empty(0),
                )
                return
            chunk = Chunk(chunk.X, chunk.y, chunk.weight)
        # an order comes with whole blocks (`write` cuts them), as scatter needs
        if self.compiled and order is not None:
            scatter_rows(
                chunk.X, chunk.y, chunk.weight if weighted else np.empty(0),
                weighted, order, shift, scale, starts, self.block_rows,
                self.X, self.y, self.weight if weighted else np.empty(0),
            )
            return
        if self.compiled:
            write_rows(
                chunk.X, chunk.y, chunk.weight if weighted else np.empty(0),
                weighted, np.empty(0, np.intp) if order is None else order,
                order is not None, shift, scale, starts, lengths,
                self.X, self.y, self.weight if weighted else np.empty(0),
            )
            return
        # the same arithmetic in numpy: gather, subtract, divide, scatter
        rows = segment_rows(starts, lengths)
        source = slice(None) if order is None else order
        X = np.subtract(chunk.X[source], shift)
        X /= scale
        self.X[rows], self.y[rows] = X, chunk.y[source]
        if weighted:
            self.weight[rows] = chunk.weight[source]


def segment_rows(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The slots of segments (starts, lengths), concatenated: intp array."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.intp)
    # each segment's slots are its start plus 0..length-1: an offset per row
    offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
    return offsets + np.arange(total, dtype=np.intp)
