"""The shuffle buffer: every row leaves once, within capacity, seeded."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk
from streamgd.stream.batches import Rebatcher
from streamgd.stream.plan import epoch_order
from streamgd.stream.shuffle import ShuffleBuffer
from tests import strategies


def _shuffled(chunks: list[Chunk], capacity: int, seed: int) -> list[Chunk]:
    """Every block the buffer hands on for one pass over `chunks`, flush included."""
    buffer = ShuffleBuffer(capacity, np.random.default_rng(seed))
    blocks = [buffer.push(chunk) for chunk in chunks] + [buffer.flush()]
    return [block for block in blocks if block is not None]


def _ids(blocks: list[Chunk]) -> np.ndarray:
    return np.concatenate([block.y for block in blocks]) if blocks else np.empty(0)


@given(strategies.identified_chunks(), strategies.capacities(), strategies.seeds())
def test_shuffle_buffer_yields_every_row_exactly_once(chunks, capacity, seed):
    """Pushing all chunks then flushing hands on each row once, whole."""
    blocks = _shuffled(chunks, capacity, seed)

    n_rows = sum(chunk.n_rows for chunk in chunks)
    np.testing.assert_array_equal(np.sort(_ids(blocks)), np.arange(n_rows))
    for block in blocks:
        n_features = block.X.shape[1]
        expected = block.y[:, None] * np.arange(1, n_features + 1) + 0.5
        np.testing.assert_array_equal(block.X, expected)
        if block.weight is not None:
            np.testing.assert_array_equal(block.weight, block.y + 0.25)


@given(strategies.identified_chunks(), strategies.capacities(),
       strategies.batch_sizes(), strategies.seeds())
def test_shuffle_buffer_over_an_epoch_yields_every_row_once(chunks, capacity,
                                                           batch_size, seed):
    """As in training: chunks in epoch_order, through the buffer and the
    rebatcher with one generator, hand on every row once in whole batches."""
    rng = np.random.default_rng(seed)
    refs = [ChunkRef("f.csv", index, 0, chunk.n_rows)
            for index, chunk in enumerate(chunks)]
    buffer, rebatcher = ShuffleBuffer(capacity, rng), Rebatcher(batch_size)
    shuffled = [buffer.push(chunks[ref.index])
                for ref in epoch_order(refs, rng, shuffle=True)]
    shuffled.append(buffer.flush())
    blocks = [rebatcher.push(block) for block in shuffled if block is not None]
    blocks = [block for block in blocks + [rebatcher.flush()] if block is not None]

    assert all(block.n_rows % batch_size == 0 for block in blocks[:-1])
    n_rows = sum(chunk.n_rows for chunk in chunks)
    np.testing.assert_array_equal(np.sort(_ids(blocks)), np.arange(n_rows))


@given(strategies.identified_chunks(), strategies.capacities(), strategies.seeds())
def test_shuffle_buffer_never_holds_more_than_capacity(chunks, capacity, seed):
    """After each push the buffer holds at most `capacity` rows, and hands on
    exactly the overflow."""
    buffer = ShuffleBuffer(capacity, np.random.default_rng(seed))
    for chunk in chunks:
        held_before = buffer.n_held
        out = buffer.push(chunk)
        n_out = 0 if out is None else out.n_rows
        assert buffer.n_held <= capacity
        assert n_out == max(0, held_before + chunk.n_rows - capacity)
    buffer.flush()
    assert buffer.n_held == 0


@given(strategies.identified_chunks(), strategies.capacities(), strategies.seeds())
def test_shuffle_buffer_same_seed_gives_same_order(chunks, capacity, seed):
    """Two buffers seeded alike hand on the rows in the same order."""
    first = _ids(_shuffled(chunks, capacity, seed))
    second = _ids(_shuffled(chunks, capacity, seed))
    np.testing.assert_array_equal(first, second)


@given(strategies.seeds(), st.integers(1, 2**32 - 1))
def test_shuffle_buffer_different_seeds_give_different_orders(seed, offset):
    """On 200 rows, two different seeds put the rows in different orders."""
    other_seed = (seed + offset) % 2**32
    sizes = [50, 0, 1, 49, 100]
    chunks = [
        strategies.identified_chunk(sum(sizes[:i]), n, 2, False)
        for i, n in enumerate(sizes)
    ]
    first = _ids(_shuffled(chunks, 64, seed))
    second = _ids(_shuffled(chunks, 64, other_seed))
    # negligible chance of a tie: the first overflow alone (36 of 100 rows, in
    # order) can come out in 100! / 64! > 1e60 ways
    assert not np.array_equal(first, second)


def test_shuffle_buffer_mixes_rows_across_chunks():
    """With room for the whole input, rows leave in a uniform random order: the
    first 100 rows handed on are not just the first chunk's."""
    chunks = [strategies.identified_chunk(100 * i, 100, 1, False) for i in range(4)]
    ids = _ids(_shuffled(chunks, 400, seed=7))
    assert len(np.unique(ids[:100] // 100)) == 4


def test_shuffle_buffer_flush_of_empty_buffer_is_none():
    """Flushing a buffer that holds nothing hands on None, not an empty block."""
    buffer = ShuffleBuffer(5, np.random.default_rng(0))
    assert buffer.flush() is None
    buffer.push(strategies.identified_chunk(0, 0, 2, True))
    assert buffer.flush() is None


def _pooled_reference(chunks: list[Chunk], capacity: int, seed: int) -> list:
    """The shuffle as first written: copy the whole pool, permute, sort the rest.

    Kept as the definition the slot store must reproduce draw for draw.
    """
    rng, held, blocks = np.random.default_rng(seed), np.empty(0), []
    for chunk in chunks:
        pool = np.concatenate([held, chunk.y])
        n_out = len(pool) - capacity
        if n_out <= 0:
            held = pool
            continue
        order = rng.permutation(len(pool))
        held = pool[np.sort(order[n_out:])]
        blocks.append(pool[order[:n_out]])
    if len(held):
        blocks.append(held[rng.permutation(len(held))])
    return blocks


@given(strategies.identified_chunks(), strategies.capacities(), strategies.seeds())
def test_shuffle_buffer_hands_out_what_the_pooled_shuffle_does(chunks, capacity,
                                                               seed):
    """The slot store yields the same rows in the same blocks as copying the
    pool each push, so the faster buffer changes no trained model."""
    blocks = _shuffled(chunks, capacity, seed)

    expected = _pooled_reference(chunks, capacity, seed)
    assert len(blocks) == len(expected)
    for block, reference in zip(blocks, expected):
        np.testing.assert_array_equal(block.y, reference)


def test_shuffle_buffer_store_stays_within_capacity_plus_a_chunk():
    """Row slots are reused: over many chunks the store never outgrows
    capacity plus the largest chunk."""
    rng = np.random.default_rng(5)
    buffer = ShuffleBuffer(100, rng)
    for start in range(0, 5000, 37):
        y = np.arange(start, start + 37, dtype=float)
        buffer.push(Chunk(np.ones((37, 2)), y, None))
        assert buffer._store.n_rows <= 100 + 37
    assert buffer.n_held == 100
