"""The epoch plan: a seeded permutation of the non-empty chunks."""

from __future__ import annotations

import numpy as np
from hypothesis import given

from streamgd.readers.chunks import ChunkRef
from streamgd.stream.plan import epoch_order
from tests import strategies


@given(strategies.chunk_refs(), strategies.seeds())
def test_epoch_order_is_a_permutation_of_the_non_empty_chunks(refs, seed):
    """The shuffled order holds each non-empty chunk once and no empty one."""
    order = epoch_order(refs, np.random.default_rng(seed), shuffle=True)

    non_empty = [ref for ref in refs if ref.n_rows > 0]
    assert sorted(order, key=refs.index) == non_empty
    assert len(set(order)) == len(order)


@given(strategies.chunk_refs(), strategies.seeds())
def test_epoch_order_without_shuffle_keeps_file_order(refs, seed):
    """With shuffle off the order is file order, empty chunks left out, and
    the generator is not advanced."""
    rng = np.random.default_rng(seed)
    order = epoch_order(refs, rng, shuffle=False)

    assert order == [ref for ref in refs if ref.n_rows > 0]
    assert rng.integers(2**62) == np.random.default_rng(seed).integers(2**62)


@given(strategies.chunk_refs(), strategies.seeds())
def test_epoch_order_same_seed_gives_same_order(refs, seed):
    """Two generators seeded alike give the same epoch order."""
    first = epoch_order(refs, np.random.default_rng(seed), shuffle=True)
    second = epoch_order(refs, np.random.default_rng(seed), shuffle=True)
    assert first == second


def test_epoch_order_differs_between_epochs():
    """One generator draws a fresh permutation each epoch."""
    refs = [ChunkRef("f.parquet", index, 10 * index, 10) for index in range(30)]
    rng = np.random.default_rng(3)
    # two uniform orders of 30 chunks agree with probability 1 / 30!
    assert epoch_order(refs, rng, True) != epoch_order(refs, rng, True)
