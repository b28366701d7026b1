"""Re-batching: whole batches from push, the short remainder from flush."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from streamgd.stream.batches import Rebatcher, batch_bounds
from tests import strategies


@given(strategies.identified_chunks(), strategies.batch_sizes())
def test_rebatcher_push_returns_whole_batches_and_flush_the_rest(chunks, batch_size):
    """Every push hands on a multiple of batch_size rows; flush hands on fewer
    than batch_size (or None); together they are the input, in order."""
    rebatcher = Rebatcher(batch_size)
    blocks = []
    for chunk in chunks:
        block = rebatcher.push(chunk)
        if block is not None:
            assert block.n_rows > 0 and block.n_rows % batch_size == 0
            blocks.append(block)
    last = rebatcher.flush()
    if last is not None:
        assert 0 < last.n_rows < batch_size
        blocks.append(last)

    n_rows = sum(chunk.n_rows for chunk in chunks)
    ids = np.concatenate([block.y for block in blocks]) if blocks else np.empty(0)
    np.testing.assert_array_equal(ids, np.arange(n_rows))
    for block in blocks:
        n_features = block.X.shape[1]
        expected = block.y[:, None] * np.arange(1, n_features + 1) + 0.5
        np.testing.assert_array_equal(block.X, expected)
        if block.weight is not None:
            np.testing.assert_array_equal(block.weight, block.y + 0.25)


def test_rebatcher_flush_twice_gives_none():
    """After a flush the rebatcher holds nothing: a second flush is None."""
    rebatcher = Rebatcher(4)
    assert rebatcher.push(strategies.identified_chunk(0, 6, 1, False)).n_rows == 4
    assert rebatcher.flush().n_rows == 2
    assert rebatcher.flush() is None


@given(strategies.chunk_sizes(max_chunks=1), strategies.batch_sizes())
def test_batch_bounds_cover_the_block_in_steps_of_batch_size(sizes, batch_size):
    """Bounds start at 0, end at n_rows and step by batch_size except the last."""
    n_rows = sum(sizes)
    bounds = batch_bounds(n_rows, batch_size)
    assert bounds[0] == 0 and bounds[-1] == n_rows
    steps = np.diff(bounds)
    if n_rows:
        assert (steps[:-1] == batch_size).all() and 0 < steps[-1] <= batch_size


@given(strategies.identified_chunks(), strategies.batch_sizes())
def test_rebatcher_push_parts_hold_the_rows_push_returns(chunks, batch_size):
    """Each push_parts list is whole batches and, joined, is what push returns
    for the same input: the same rows in the same order."""
    joined, parted = Rebatcher(batch_size), Rebatcher(batch_size)
    for chunk in chunks:
        block, parts = joined.push(chunk), parted.push_parts(chunk)
        assert all(part.n_rows and part.n_rows % batch_size == 0 for part in parts)
        ids = np.concatenate([part.y for part in parts]) if parts else None
        if block is None:
            assert ids is None
        else:
            np.testing.assert_array_equal(ids, block.y)
    last, parted_last = joined.flush(), parted.flush()
    assert (last is None) == (parted_last is None)
    if last is not None:
        np.testing.assert_array_equal(parted_last.y, last.y)
