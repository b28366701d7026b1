"""The shared strategies generate what their names promise."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
from hypothesis import Phase, find, given, settings

from tests import strategies

# find() stops at the first hit, so a generous budget costs time only when a kind
# is rare; with the default profile's 30 examples a rare kind was missed once.
FIRST_HIT = settings(phases=[Phase.generate], database=None, max_examples=1000)


@given(strategies.chunk_sizes())
def test_chunk_sizes_are_short_lists_of_non_negative_lengths(sizes):
    """Chunk sizes are between 0 and MAX_CHUNK_ROWS, at most 12 of them."""
    assert len(sizes) <= 12
    assert all(0 <= size <= strategies.MAX_CHUNK_ROWS for size in sizes)


def test_chunk_sizes_reach_the_edges():
    """Empty chunks, 1-row chunks and the empty list are all generated."""
    assert find(strategies.chunk_sizes(), lambda sizes: 0 in sizes) is not None
    assert find(strategies.chunk_sizes(), lambda sizes: 1 in sizes) is not None
    assert find(strategies.chunk_sizes(), lambda sizes: sizes == []) == []


@given(strategies.capacities(), strategies.batch_sizes(), strategies.seeds())
def test_sizes_and_seeds_are_in_range(capacity, batch_size, seed):
    """Capacities and batch sizes are at least 1; seeds fit a uint32."""
    assert capacity >= 1 and batch_size >= 1
    np.random.default_rng(seed)
    assert 0 <= seed < 2**32


@given(strategies.identified_chunks())
def test_identified_chunks_number_rows_consecutively(chunks):
    """Row ids run 0, 1, 2, ... across the chunks, and X and weight follow them."""
    ids = np.concatenate([chunk.y for chunk in chunks]) if chunks else np.empty(0)
    np.testing.assert_array_equal(ids, np.arange(len(ids)))
    for chunk in chunks:
        strategies.assert_rows_whole(chunk)


@given(strategies.chunk_refs())
def test_chunk_refs_are_in_file_order(refs):
    """Within each file, indices count up and first_row is the sum of earlier rows."""
    for file in {ref.file for ref in refs}:
        in_file = [ref for ref in refs if ref.file == file]
        assert [ref.index for ref in in_file] == list(range(len(in_file)))
        starts = np.cumsum([0] + [ref.n_rows for ref in in_file])[:-1]
        assert [ref.first_row for ref in in_file] == list(starts)
        assert all(ref.first_line == ref.first_row + 2 for ref in in_file)


@given(strategies.numeric_columns())
def test_numeric_columns_have_one_length_and_their_types(columns):
    """The three columns are equally long, int64, int64 and finite float64."""
    assert {len(values) for values in columns.values()} == {len(columns["id"])}
    assert columns["a"].dtype == np.int64 and columns["id"].dtype == np.int64
    assert columns["b"].dtype == np.float64 and np.isfinite(columns["b"]).all()


def test_csv_block_sizes_hold_the_widest_line():
    """The smallest block size exceeds the widest line numeric_columns can write."""
    widest = pa.table({
        "id": pa.array([59], pa.int64()),
        "a": pa.array([-(10**12)], pa.int64()),
        "b": pa.array([-1.2345678901234567e-11], pa.float64()),
    })
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(widest, sink)
    line = sink.getvalue().to_pybytes().splitlines()[1]
    smallest = find(strategies.csv_block_sizes(), lambda size: True)
    assert len(line) + 1 < smallest


@given(strategies.statistics_pieces())
def test_statistics_pieces_share_one_width_and_hold_no_infinity(pieces):
    """Pieces are float64 matrices of one width, 0 to 12 rows, never infinite."""
    assert 1 <= len(pieces) <= 6
    assert len({piece.shape[1] for piece in pieces}) == 1
    for piece in pieces:
        assert piece.dtype == np.float64 and piece.shape[0] <= 12
        assert not np.isinf(piece).any()


def test_statistics_pieces_reach_every_kind():
    """Empty, constant, huge, tiny and offset pieces are all generated."""
    def has(test):
        # the first hit will do: shrinking it would only cost time
        return find(strategies.statistics_pieces(), lambda pieces: any(
            test(piece[~np.isnan(piece)]) for piece in pieces), settings=FIRST_HIT)

    assert has(lambda values: values.size == 0) is not None
    assert has(lambda values: values.size > 1 and np.ptp(values) == 0) is not None
    assert has(lambda values: (np.abs(values) >= 1e100).any()) is not None
    assert has(lambda values: ((np.abs(values) <= 1e-50) & (values != 0)).any())
    assert has(lambda values: (np.abs(values) >= 1e15 - 1e3).any()) is not None


@given(strategies.gradient_runs())
def test_gradient_runs_are_consistent_and_finite(run):
    """Every step's arrays match the run's feature count and hold finite values."""
    n_features = len(run["weights"])
    assert run["active"].shape == (n_features,) and run["active"].dtype == bool
    for step in run["steps"]:
        assert step["weights"].shape == (n_features,)
        assert step["X"].shape[1] == n_features and step["X"].shape[0] >= 1
        assert np.isfinite(step["X"]).all() and 1e-3 <= step["learning_rate"] <= 1


@given(strategies.update_blocks())
def test_update_blocks_hold_one_length_per_block(run):
    """Each block's four arrays are float64 of one length; weights are never
    negative and every batch has a row."""
    assert run["log_every"] >= 1 and run["epoch_sums"].shape == (2,)
    for costs, weights, rows, rates in run["blocks"]:
        assert len({len(costs), len(weights), len(rows), len(rates)}) == 1
        assert all(a.dtype == np.float64 for a in (costs, weights, rows, rates))
        assert (weights >= 0).all() and (rows >= 1).all()


def test_update_blocks_reach_the_edges():
    """Blocks past the longest window, empty blocks, -0.0 costs, infinite costs,
    zero weights and resumed logs are all generated."""
    def has(test):
        # found as a bool: the run itself is too long to show
        hits = strategies.update_blocks().map(lambda run: any(
            test(*block) for block in run["blocks"]) and run["update_count"] > 0)
        return find(hits, bool, settings=FIRST_HIT)

    assert has(lambda costs, *rest: len(costs) > 1000)
    assert has(lambda costs, *rest: len(costs) == 0)
    assert has(lambda costs, *rest: np.signbit(costs).any())
    assert has(lambda costs, *rest: np.isinf(costs).any())
    assert has(lambda costs, weights, *rest: (weights == 0).any())
