"""The block shuffle: every row once, whole batches, within capacity, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamgd.readers.decode import Chunk
from streamgd.stream.blocks import BlockShuffle, block_rows_for, interleave
from streamgd.stream.store import BlockStore, segment_rows
from tests import strategies

BLOCK_ROWS = st.integers(1, 12)


def _shuffle(n_features, weighted, capacity, batch_size, seed, block_rows,
             shuffle=True, compiled=True, **restored) -> BlockShuffle:
    store = BlockStore(block_rows, n_features, weighted, compiled)
    restored.setdefault("chunk_key", seed)
    return BlockShuffle(store, capacity, batch_size, np.random.default_rng(seed),
                        shuffle, np.zeros(n_features), np.ones(n_features),
                        **restored)


def _visits(shuffle: BlockShuffle, chunks: list[Chunk]) -> list[Chunk]:
    """The rows of every visit of one pass over `chunks`, flush included."""
    visits = []
    for chunk in [*chunks, "flush", "rest"]:
        visit = (shuffle.push(chunk) if isinstance(chunk, Chunk)
                 else getattr(shuffle, chunk)())
        # rows are copied out at once: the next push reuses the visited slots
        if visit is not None:
            visits.append(visit.gathered())
    return visits


def _run(chunks, capacity, batch_size, seed, block_rows, **options) -> list[Chunk]:
    n_features = chunks[0].X.shape[1] if chunks else 1
    weighted = bool(chunks) and chunks[0].weight is not None
    shuffle = _shuffle(n_features, weighted, capacity, batch_size, seed, block_rows,
                       **options)
    return _visits(shuffle, chunks)


def _ids(blocks: list[Chunk]) -> np.ndarray:
    return np.concatenate([block.y for block in blocks]) if blocks else np.empty(0)


@given(strategies.identified_chunks(), strategies.capacities(),
       strategies.batch_sizes(), strategies.seeds(), BLOCK_ROWS)
def test_block_shuffle_visits_every_row_exactly_once_and_whole(
    chunks, capacity, batch_size, seed, block_rows
):
    """A pass over the chunks visits each row once, its features and weight
    with it, in whole batches but for the last visit."""
    visits = _run(chunks, capacity, batch_size, seed, block_rows)

    n_rows = sum(chunk.n_rows for chunk in chunks)
    np.testing.assert_array_equal(np.sort(_ids(visits)), np.arange(n_rows))
    assert all(visit.n_rows % batch_size == 0 for visit in visits[:-1])
    for visit in visits:
        strategies.assert_rows_whole(visit)


@given(strategies.identified_chunks(), strategies.capacities(),
       strategies.seeds(), BLOCK_ROWS)
def test_block_shuffle_holds_at_most_capacity(chunks, capacity, seed, block_rows):
    """After each push at most `capacity` rows are held, and less than a block
    of them could have stayed: the overflow leaves, in whole blocks."""
    shuffle = _shuffle(3, False, capacity, 1, seed, block_rows)
    for chunk in chunks:
        held_before = shuffle.n_held
        visit = shuffle.push(Chunk(np.zeros((chunk.n_rows, 3)), chunk.y, None))
        n_out = 0 if visit is None else visit.n_rows
        assert shuffle.n_held <= capacity
        assert n_out >= held_before + chunk.n_rows - capacity
        assert n_out < max(0, held_before + chunk.n_rows - capacity) + block_rows
    shuffle.flush()
    shuffle.rest()
    assert shuffle.n_held == 0


@given(strategies.identified_chunks(), strategies.capacities(),
       strategies.batch_sizes(), strategies.seeds(), BLOCK_ROWS)
def test_block_shuffle_same_seed_same_order_compiled_or_not(
    chunks, capacity, batch_size, seed, block_rows
):
    """Two shuffles seeded alike visit the rows in the same order, with the
    compiled row writer or numpy's, to the last bit."""
    first = _run(chunks, capacity, batch_size, seed, block_rows)
    second = _run(chunks, capacity, batch_size, seed, block_rows, compiled=False)
    assert len(first) == len(second)
    for one, other in zip(first, second):
        assert one.X.tobytes() == other.X.tobytes()
        np.testing.assert_array_equal(one.y, other.y)


def _identified(sizes: list[int]) -> list[Chunk]:
    starts = np.cumsum([0, *sizes])
    return [strategies.identified_chunk(int(start), n, 2, False)
            for start, n in zip(starts, sizes)]


@given(strategies.seeds(), st.integers(1, 2**32 - 1))
def test_block_shuffle_different_seeds_give_different_orders(seed, offset):
    """On 200 rows, two different seeds put the rows in different orders."""
    chunks = _identified([50, 0, 1, 49, 100])
    first = _ids(_run(chunks, 64, 1, seed, 8))
    second = _ids(_run(chunks, 64, 1, (seed + offset) % 2**32, 8))
    # the first chunk's 50 rows alone are permuted in 50! > 1e64 ways
    assert not np.array_equal(first, second)


def test_block_shuffle_is_not_the_file_order_and_mixes_chunks():
    """The visit order is not the file order, and with room for all rows, the
    first 100 rows visited come from several of the 4 chunks (blocks of 10)."""
    chunks = _identified([100] * 4)
    ids = _ids(_run(chunks, 400, 1, seed=7, block_rows=10))
    assert not np.array_equal(ids, np.arange(400))
    assert len(np.unique(ids[:100] // 100)) >= 3


def test_block_shuffle_blocks_hold_random_rows_of_one_chunk():
    """Each block is `block_rows` rows of one chunk in a random order of it:
    rows far apart in the file share a block, and the block is not sorted."""
    shuffle = _shuffle(2, False, 1000, 1, 3, 16)
    for chunk in _identified([64, 64]):
        assert shuffle.push(chunk) is None  # all held
    held, lengths = shuffle.held
    assert lengths.tolist() == [16] * 8
    blocks = held.y.astype(int).reshape(8, 16)
    assert all(len(np.unique(block // 64)) == 1 for block in blocks)
    assert all(np.ptp(block) > 16 for block in blocks)


def test_block_shuffle_visit_reads_eight_blocks_round_robin():
    """A visit reads its blocks 8 at a time, a row of each in turn: a batch of
    8 rows holds one row of each of 8 blocks."""
    shuffle = _shuffle(2, False, 0, 8, 3, 4)
    rows = shuffle.push(strategies.identified_chunk(0, 64, 2, False)).rows
    assert len(rows) == 64
    blocks = rows.reshape(8, 8) // 4
    assert all(len(np.unique(batch)) == 8 for batch in blocks)
    assert sorted(np.unique(rows // 4)) == list(range(16))


def test_interleave_balances_its_groups():
    """Ten segments at 8 streams are read as two groups of 5, short segments
    dropping out when done."""
    starts = np.arange(10, dtype=np.intp) * 100
    lengths = np.array([2, 1, 2, 2, 2, 2, 2, 2, 2, 2], dtype=np.intp)
    rows = interleave(starts, lengths, 8)
    assert rows.tolist() == [0, 100, 200, 300, 400, 1, 201, 301, 401,
                             500, 600, 700, 800, 900, 501, 601, 701, 801, 901]


@pytest.mark.parametrize("sizes, most, expected", [
    ([65536, 65536, 100], 512, 512), ([400] * 10, 512, 6), ([50, 50], 512, 1),
    ([], 512, 1), ([0, 6400], 64, 64),
])
def test_block_rows_are_at_most_a_64th_of_a_typical_chunk(sizes, most, expected):
    """Blocks are `most` rows, or 1/64 of the median chunk when smaller."""
    assert block_rows_for(sizes, most) == expected


def test_block_shuffle_without_shuffle_keeps_the_file_order():
    """shuffle off: rows are visited in file order, nothing is held or drawn."""
    chunks = _identified([5, 7, 3])
    rng_draws = np.random.default_rng(0).bit_generator.state
    shuffle = _shuffle(2, False, 10, 4, 0, 3, shuffle=False)
    ids = _ids(_visits(shuffle, chunks))
    np.testing.assert_array_equal(ids, np.arange(15))
    assert shuffle.rng.bit_generator.state == rng_draws


def test_block_shuffle_scales_rows_on_the_way_in():
    """Rows are stored as (x - shift) / scale, the scaler's own arithmetic."""
    store = BlockStore(4, 2, False, compiled=True)
    shift, scale = np.array([0.5, 1.0]), np.array([3.0, 0.1])
    shuffle = BlockShuffle(store, 0, 1, np.random.default_rng(1), False, shift,
                           scale)
    chunk = strategies.identified_chunk(0, 9, 2, False)
    rows = shuffle.push(chunk).gathered()
    expected = chunk.X - shift
    expected /= scale
    assert rows.X.tobytes() == expected.tobytes()


@given(strategies.identified_chunks(), strategies.capacities(),
       strategies.batch_sizes(), strategies.seeds(), BLOCK_ROWS, st.data())
def test_block_shuffle_restored_from_its_snapshot_continues_alike(
    chunks, capacity, batch_size, seed, block_rows, data
):
    """A shuffle rebuilt from the held rows, their block lengths, the waiting
    rows, the generator's state, the chunk key and the chunks done after any
    chunk visits what the original visits from there on."""
    if not chunks:
        return
    at = data.draw(st.integers(0, len(chunks)))
    n_features, weighted = chunks[0].X.shape[1], chunks[0].weight is not None
    original = _shuffle(n_features, weighted, capacity, batch_size, seed,
                        block_rows)
    for chunk in chunks[:at]:
        original.push(chunk)
    held, held_lengths = original.held or (None, None)
    restored = _shuffle(n_features, weighted, capacity, batch_size, 0, block_rows,
                        held=held, held_lengths=held_lengths,
                        pending=original.pending, chunk_key=seed, first_chunk=at)
    restored.rng.bit_generator.state = original.rng.bit_generator.state

    expected = _ids(_visits(original, chunks[at:]))
    np.testing.assert_array_equal(_ids(_visits(restored, chunks[at:])), expected)


def test_block_store_stays_within_capacity_plus_a_chunk():
    """Blocks are reused: over many chunks the store never outgrows about
    twice the capacity plus a chunk (it doubles when it grows)."""
    shuffle = _shuffle(2, False, 100, 16, 5, 8)
    for start in range(0, 5000, 37):
        y = np.arange(start, start + 37, dtype=float)
        shuffle.push(Chunk(np.ones((37, 2)), y, None))
        assert shuffle.store.n_blocks * 8 <= 2 * (100 + 37 + 16 + 3 * 8)
    assert 100 - 8 < shuffle.n_held <= 100


def test_block_shuffle_flush_of_empty_shuffle_is_none():
    """Flushing a shuffle that holds nothing visits nothing."""
    shuffle = _shuffle(2, True, 5, 1, 0, 4)
    assert shuffle.flush() is None and shuffle.rest() is None
    shuffle.push(strategies.identified_chunk(0, 0, 2, True))
    assert shuffle.flush() is None and shuffle.rest() is None


def test_block_shuffle_flush_leaves_the_short_batch_to_rest():
    """At the epoch's end, flush hands on whole batches, rest the short one."""
    shuffle = _shuffle(2, False, 100, 4, 0, 4)
    assert shuffle.push(strategies.identified_chunk(0, 10, 2, False)) is None
    assert shuffle.flush().n_rows == 8
    assert shuffle.rest().n_rows == 2
    assert shuffle.rest() is None


@pytest.mark.parametrize("lengths", [[], [3], [0, 2, 5], [4, 0]])
def test_segment_rows_concatenates_the_segments(lengths):
    """The slots of segments are each segment's start plus 0..length - 1."""
    starts = np.arange(len(lengths), dtype=np.intp) * 10
    lengths = np.array(lengths, dtype=np.intp)
    expected = [start + k for start, n in zip(starts, lengths) for k in range(n)]
    assert segment_rows(starts, lengths).tolist() == expected


@pytest.mark.parametrize("compiled", [True, False])
def test_block_store_concurrent_writes_keep_every_row(compiled):
    """Four threads writing chunks at once into a store that starts with one
    block, so that it must grow while others write: every chunk's blocks hold
    exactly its rows, scaled, and no block is given twice."""
    from concurrent.futures import ThreadPoolExecutor

    store = BlockStore(4, 3, True, compiled)
    store.reserve(1)
    shift, scale = np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0, 8.0])
    chunks = []
    for k in range(40):
        n_rows = 1 + (k * 7) % 23
        X = np.arange(3 * n_rows, dtype=float).reshape(n_rows, 3) + 1000 * k
        chunks.append(Chunk(X, X[:, 0].copy(), np.full(n_rows, float(k))))

    def write(k):
        order = np.random.default_rng(k).permutation(chunks[k].n_rows)
        return order, store.write(chunks[k], order, shift, scale)

    with ThreadPoolExecutor(4) as pool:
        written = list(pool.map(write, range(40)))
    for k, (order, blocks) in enumerate(written):
        rows = segment_rows(*store.segments(blocks))
        chunk = chunks[k]
        np.testing.assert_array_equal(store.X[rows], (chunk.X[order] - shift) / scale)
        np.testing.assert_array_equal(store.y[rows], chunk.y[order])
        assert (store.weight[rows] == k).all()
    every = np.concatenate([blocks for _, blocks in written])
    assert len(np.unique(every)) == len(every)  # no block given twice


@given(st.integers(1, 300), st.integers(1, 6), st.booleans(), st.booleans(),
       st.integers(1, 16), strategies.seeds())
def test_block_store_writes_columns_as_it_writes_rows(
    n_rows, n_features, weighted, ordered, block_rows, seed
):
    """A chunk written from its columns fills the store with the bits the
    row-major write puts there: same scaling, same order, same blocks."""
    from streamgd.readers.decode import ColumnChunk

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features)) * 10.0 ** rng.integers(-3, 4)
    y, weight = rng.normal(size=n_rows), rng.uniform(size=n_rows)
    columns = tuple(np.ascontiguousarray(X[:, j]) for j in range(n_features))
    for column in columns:
        column.flags.writeable = False
    shift, scale = rng.normal(size=n_features), rng.uniform(0.5, 2, n_features)
    order = rng.permutation(n_rows) if ordered else None
    stores = []
    for chunk in (Chunk(X, y, weight if weighted else None),
                  ColumnChunk(columns, y, weight if weighted else None)):
        store = BlockStore(block_rows, n_features, weighted, compiled=True)
        blocks = store.write(chunk, order, shift, scale)
        rows = segment_rows(*store.segments(blocks))
        stores.append((store.X[rows], store.y[rows],
                       store.weight[rows] if weighted else None))
    (X_rows, y_rows, w_rows), (X_columns, y_columns, w_columns) = stores
    assert X_rows.tobytes() == X_columns.tobytes()
    np.testing.assert_array_equal(y_rows, y_columns)
    if weighted:
        np.testing.assert_array_equal(w_rows, w_columns)
