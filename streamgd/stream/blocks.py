"""The epoch's shuffle: rows in shuffled blocks, handed on as whole mini-batches.

    chunk -> rows in a random order of the chunk -> blocks of `block_rows`
          -> pool of blocks (held ones and the chunk's) -> a random subset of
             blocks leaves, beyond the buffer's capacity -> whole batches

Each chunk's rows are written into the store (`stream.store`) in a random
permutation of the chunk (from the chunk's own generator, keyed by the epoch
and the chunk's place in it: the reading thread writes chunks ahead, see
`write`), `block_rows` to a block (the last block of a chunk is
short). The buffer pools blocks, not rows: at each chunk, blocks leave in a
random order until the rows held are within the capacity, and the trainer
visits the rows of the leaving blocks in place, block after block. At the end of
the epoch the held blocks leave in a random order.

So every row is visited exactly once per epoch, and the order is random at two
levels, but it is not a uniform permutation of all rows: the rows of one block
come from one chunk and stay together, and a mini-batch of at most
`block_rows` rows holds rows of one or two chunks. The reason is speed:
visiting rows one by one in a uniformly random order costs a cache miss per
row (issue 8 measured about 0.3 of the throughput for it), while a block is
read in sequence. `shuffle.block_rows: 1` gives the row-level shuffle back
(blocks of one row: a uniform permutation when the buffer holds the whole
data), at that cost.

Rows that do not fill a whole batch wait in the store (`pending`) and are
visited first after the next chunk; a block is freed once all its rows have
been visited.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.readers.decode import Chunk
from streamgd.stream.store import BlockStore, segment_rows

_NO_BLOCKS = np.empty(0, dtype=np.intp)
# blocks read round robin by a visit (see `interleave`): measured on this
# machine, 8 sequential streams cost the kernel about a quarter more time than
# one, 16 about 60% and 32 three times as much
STREAMS = 8
# a block is at most this fraction of a typical chunk (see `block_rows_for`)
CHUNK_SHARE = 64


@dataclass(frozen=True)
class Visit:
    """Rows of the store to train on, in order.

    Attributes:
        store: the store the rows are in.
        rows: intp array, the slots of the rows, in training order.
    """

    store: BlockStore
    rows: np.ndarray

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def gathered(self) -> Chunk:
        """A copy of the rows, in order (the numpy path trains on these)."""
        return self.store.take(self.rows)


class BlockShuffle:
    """Holds at most `capacity` rows in blocks; `push` returns rows to train on.

    Args:
        store: the block store (the engine keeps one across epochs); cleared.
        capacity: rows held back at most (`shuffle.buffer_rows`).
        batch_size: the rows handed on are a whole number of batches, except
            at `flush`.
        rng: the job's generator.
        shuffle: False keeps the file order: nothing is held or drawn.
        shift, scale: the scaler's arrays; rows are stored scaled.
        held, held_lengths: rows held back (a restored snapshot), in pool
            order, and the rows of each of their blocks; or None.
        pending: rows waiting for a whole batch (a restored snapshot), or None.
        chunk_key: the epoch's key for the chunks' own orders (see `write`).
        first_chunk: the epoch's position of the first chunk to come (the
            chunks done before a restored snapshot).
    """

    def __init__(
        self,
        store: BlockStore,
        capacity: int,
        batch_size: int,
        rng: np.random.Generator,
        shuffle: bool,
        shift: np.ndarray,
        scale: np.ndarray,
        held: Chunk | None = None,
        held_lengths: np.ndarray | None = None,
        pending: Chunk | None = None,
        chunk_key: int = 0,
        first_chunk: int = 0,
    ) -> None:
        self.store = store
        self.capacity = capacity if shuffle else 0
        self.batch_size = batch_size
        self.rng, self.shuffle = rng, shuffle
        self.shift, self.scale = shift, scale
        self.chunk_key, self._next_chunk = chunk_key, first_chunk
        store.clear()
        self._pending = _NO_BLOCKS
        if pending is not None and pending.n_rows:
            written = store.segments(store.write(pending))
            self._pending = segment_rows(*written)
        self._held = _NO_BLOCKS
        if held is not None and held.n_rows:
            self._held = store.write(held, lengths=held_lengths)
        self._visited = _NO_BLOCKS

    def write(self, chunk: Chunk, position: int) -> np.ndarray:
        """Write a chunk's rows (unscaled) into the store; return its blocks.

        The chunk is the `position`-th of the epoch (from 0); its rows go in a
        random order drawn from its own generator, seeded by the epoch's
        `chunk_key` and `position`, not from the job's: so the write can run
        in the reading thread, ahead of `take`, and the order is the same
        however far ahead it runs. Safe to call while the trainer reads other
        blocks of the store; hand the blocks to `take` in chunk order.
        """
        order = None
        if self.shuffle:
            generator = np.random.default_rng([self.chunk_key, position])
            order = generator.permutation(chunk.n_rows)
        return self.store.write(chunk, order, self.shift, self.scale)

    def push(self, chunk: Chunk) -> Visit | None:
        """`write` the next chunk of the epoch, then `take` its blocks."""
        blocks = self.write(chunk, self._next_chunk)
        return self.take(blocks)

    def take(self, new: np.ndarray) -> Visit | None:
        """Add the blocks of the next chunk (from `write`); return whole
        batches to train on, or None.

        The rows of the previous visit must have been trained on: their
        blocks are reused from now on.
        """
        self._next_chunk += 1
        self._release_visited()
        pool = np.concatenate([self._held, new])
        leaving = self._leaving(pool)
        return self._visit(leaving, final=False)

    def flush(self) -> Visit | None:
        """At the epoch's end: whole batches of the rows still held or waiting."""
        self._release_visited()
        held, self._held = self._held, _NO_BLOCKS
        if self.shuffle:
            held = held[self.rng.permutation(len(held))]
        return self._visit(held, final=False)

    def rest(self) -> Visit | None:
        """After `flush`: the short last batch of the epoch, or None.

        Apart from the whole batches, as the cost log had it before blocks:
        an epoch of a few updates so still logs its last one on its own.
        """
        self._release_visited()
        return self._visit(_NO_BLOCKS, final=True)

    @property
    def n_held(self) -> int:
        return int(self.store.lengths[self._held].sum())

    @property
    def held(self) -> tuple[Chunk, np.ndarray] | None:
        """A copy of the rows held, in pool order, and the rows of each block.

        A copy costs a pass over the buffer: take it when a checkpoint needs
        it, not after every chunk.
        """
        if len(self._held) == 0:
            return None
        starts, lengths = self.store.segments(self._held)
        return self.store.take(segment_rows(starts, lengths)), lengths.copy()

    @property
    def pending(self) -> Chunk | None:
        """A copy of the rows waiting for a whole batch, or None."""
        if len(self._pending) == 0:
            return None
        return self.store.take(self._pending)

    def _leaving(self, pool: np.ndarray) -> np.ndarray:
        """The blocks leaving the pool now, in their random order; the rest
        stay held, in pool order."""
        lengths = self.store.lengths[pool]
        n_over = int(lengths.sum()) - self.capacity
        if n_over <= 0:
            self._held = pool
            return _NO_BLOCKS
        if not self.shuffle:
            self._held = _NO_BLOCKS
            return pool

        # blocks leave in a random order until the rest fit in the capacity
        order = self.rng.permutation(len(pool))
        n_leaving = int(np.searchsorted(np.cumsum(lengths[order]), n_over)) + 1
        staying = np.zeros(len(pool), dtype=bool)
        staying[order[n_leaving:]] = True
        self._held = pool[staying]
        return pool[order[:n_leaving]]

    def _visit(self, leaving: np.ndarray, final: bool) -> Visit | None:
        """The waiting rows, then the leaving blocks' rows: whole batches of
        them (all at the epoch's end); the rest wait for the next visit."""
        streams = STREAMS if self.shuffle else 1
        rows = np.concatenate([
            self._pending, interleave(*self.store.segments(leaving), streams)
        ])
        n_visit = len(rows) if final else len(rows) - len(rows) % self.batch_size
        block_rows = self.store.block_rows
        waited = np.unique(self._pending // block_rows)
        self._pending = rows[n_visit:]

        # a block is free once none of its rows waits any more
        self._visited = np.setdiff1d(
            np.concatenate([waited, leaving]),
            np.unique(self._pending // block_rows),
        )
        if n_visit == 0:
            return None
        return Visit(self.store, rows[:n_visit])

    def _release_visited(self) -> None:
        self.store.release(self._visited)
        self._visited = _NO_BLOCKS


def block_rows_for(chunk_rows: list[int], most: int) -> int:
    """Rows per block for chunks of these sizes: `most`, or less for small chunks.

    A block holds at most 1/64 of a typical (median) chunk, so that each chunk
    spreads over many blocks: with whole chunks as blocks, a file sorted by
    class trained on runs of one class (bugcase b30: ten 400-row chunks of
    one class each missed the logistic optimum by up to 0.3 at blocks of 512
    rows, by 0.02-0.05 at 6, as with rows shuffled one by one).
    """
    sizes = [n for n in chunk_rows if n > 0]
    if not sizes:
        return 1
    return max(1, min(most, int(np.median(sizes)) // CHUNK_SHARE))


def interleave(starts: np.ndarray, lengths: np.ndarray, streams: int) -> np.ndarray:
    """The slots of the segments, `streams` segments at a time, round robin.

    Segments 0 to streams - 1 give their first rows in turn, then their second
    rows, and so on (a short segment drops out when done); then the next
    `streams` segments. A batch so holds rows of `streams` blocks, hence of
    up to as many chunks, while each block is still read in sequence (a few
    sequential streams at once are what the processor's prefetch follows).

    Returns an intp array of the slots, `lengths.sum()` of them.
    """
    n_segments = len(starts)
    if n_segments == 0:
        return _NO_BLOCKS
    # as many streams in the last group as in the others, give or take one
    n_groups = -(-n_segments // streams)
    streams = -(-n_segments // n_groups)

    # a (groups, streams, longest) grid of slots, read column by column
    longest = int(lengths.max())
    padded = np.zeros(n_groups * streams, dtype=np.intp)
    padded[:n_segments] = lengths
    offsets = np.arange(longest, dtype=np.intp)
    slots = np.zeros(n_groups * streams, dtype=np.intp)
    slots[:n_segments] = starts
    grid = (slots[:, None] + offsets).reshape(n_groups, streams, longest)
    valid = (offsets < padded[:, None]).reshape(n_groups, streams, longest)
    return grid.transpose(0, 2, 1)[valid.transpose(0, 2, 1)]
