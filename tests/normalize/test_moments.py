"""Tests of streamgd.normalize.moments: running statistics against numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamgd.normalize.moments import RunningStats, StatisticsOverflow

FIELDS = (
    "count", "mean", "variance", "minimum", "maximum", "mean_correction",
)

# ---------------------------------------------------------------- strategies


@st.composite
def matrices(
    draw: st.DrawFn, *, missing: bool = False, bound: float = 1e6
) -> np.ndarray:
    """float64 matrices of 0-40 rows and 1-4 columns, values in [-bound, bound].

    With `missing`, any entry may be NaN, so whole columns may be missing.
    """
    n_rows = draw(st.integers(0, 40))
    n_features = draw(st.integers(1, 4))
    values = st.floats(-bound, bound, allow_subnormal=False)
    if missing:
        values = st.one_of(values, st.just(np.nan))
    return draw(hnp.arrays(np.float64, (n_rows, n_features), elements=values))


@st.composite
def chunkings(
    draw: st.DrawFn, *, missing: bool = False, min_cuts: int = 0, bound: float = 1e6
) -> list[np.ndarray]:
    """A matrix cut into row chunks at any split points, empty chunks included."""
    X = draw(matrices(missing=missing, bound=bound))
    cuts = draw(st.lists(st.integers(0, X.shape[0]), min_size=min_cuts, max_size=6))
    return np.split(X, sorted(cuts))


# ---------------------------------------------------------------- helpers


def numpy_stats(X: np.ndarray) -> dict[str, np.ndarray]:
    """Reference statistics, column by column, skipping NaN."""
    columns = [column[~np.isnan(column)] for column in X.T]
    return {
        "count": np.array([c.size for c in columns]),
        "mean": np.array([c.mean() if c.size else 0.0 for c in columns]),
        "variance": np.array([c.var() if c.size else 0.0 for c in columns]),
        "minimum": np.array([c.min() if c.size else np.inf for c in columns]),
        "maximum": np.array([c.max() if c.size else -np.inf for c in columns]),
    }


def assert_matches_numpy(stats: RunningStats, X: np.ndarray) -> None:
    """Counts and extrema exact; mean and variance to rounding of the data."""
    expected = numpy_stats(X)
    np.testing.assert_array_equal(stats.count, expected["count"])
    np.testing.assert_array_equal(stats.minimum, expected["minimum"])
    np.testing.assert_array_equal(stats.maximum, expected["maximum"])
    magnitude = np.nanmax(np.abs(X), axis=0, initial=0.0)
    np.testing.assert_allclose(
        stats.mean, expected["mean"], rtol=1e-12, atol=1e-12 * magnitude.max()
    )
    # below the normal range (tiny) float64 holds no relative accuracy
    np.testing.assert_allclose(
        stats.variance, expected["variance"], rtol=1e-9,
        atol=1e-12 * magnitude.max() ** 2 + np.finfo(np.float64).tiny,
    )


def assert_close_stats(a: RunningStats, b: RunningStats) -> None:
    """Equal counts and extrema; mean and variance equal to rounding."""
    np.testing.assert_array_equal(a.count, b.count)
    np.testing.assert_array_equal(a.minimum, b.minimum)
    np.testing.assert_array_equal(a.maximum, b.maximum)
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a.variance, b.variance, rtol=1e-9, atol=1e-6)


def assert_identical(a: RunningStats, b: RunningStats) -> None:
    """Every field equal bit for bit."""
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype


def streamed(chunks: list[np.ndarray]) -> RunningStats:
    stats = RunningStats.empty(chunks[0].shape[1])
    for chunk in chunks:
        stats = stats.update(chunk)
    return stats


# ---------------------------------------------------------------- against numpy


@given(chunkings())
def test_running_stats_equal_numpy_for_any_chunking(chunks: list[np.ndarray]) -> None:
    """Streaming any split of a matrix, empty chunks included, matches numpy."""
    with np.errstate(all="raise"):
        stats = streamed(chunks)
    assert_matches_numpy(stats, np.concatenate(chunks))


@given(chunkings(missing=True))
def test_running_stats_equal_numpy_with_missing_values(
    chunks: list[np.ndarray],
) -> None:
    """With NaN anywhere, each column matches numpy on its non-missing values."""
    with np.errstate(all="raise"):
        stats = streamed(chunks)
    assert_matches_numpy(stats, np.concatenate(chunks))


@given(chunkings(missing=True, bound=1e150))
def test_running_stats_equal_numpy_for_wide_magnitudes(
    chunks: list[np.ndarray],
) -> None:
    """Values of any size up to 1e150, mixed in one column, match numpy."""
    with np.errstate(all="raise"):
        stats = streamed(chunks)
    assert_matches_numpy(stats, np.concatenate(chunks))


@given(matrices(missing=True))
def test_running_stats_update_equals_numpy_on_every_prefix(X: np.ndarray) -> None:
    """Updating row by row, the statistics after each row match numpy's."""
    stats = RunningStats.empty(X.shape[1])
    for end in range(1, X.shape[0] + 1):
        with np.errstate(all="raise"):
            stats = stats.update(X[end - 1 : end])
        assert_matches_numpy(stats, X[:end])


@pytest.mark.parametrize("rows_per_chunk", [1, 2, 7, 500, 503])
def test_running_stats_same_for_chunk_sizes(rows_per_chunk: int) -> None:
    """Chunks of 1, 2, 7, n and n + 3 rows give the statistics of the whole."""
    rng = np.random.default_rng(7)
    X = rng.normal(3.0, 2.0, size=(500, 3)) * np.array([1.0, 1e-3, 1e4])
    X[rng.random(X.shape) < 0.05] = np.nan
    starts = range(0, X.shape[0], rows_per_chunk)
    with np.errstate(all="raise"):
        stats = streamed([X[start : start + rows_per_chunk] for start in starts])
    assert_matches_numpy(stats, X)


def test_running_stats_of_empty_chunk_is_empty() -> None:
    """A chunk of no rows gives the statistics of nothing, count 0 everywhere."""
    assert_identical(RunningStats.of(np.empty((0, 3))), RunningStats.empty(3))


# ---------------------------------------------------------------- merge laws


@given(chunkings(missing=True, min_cuts=1))
def test_merge_is_commutative(chunks: list[np.ndarray]) -> None:
    """a.merge(b) equals b.merge(a) to rounding."""
    a, b = RunningStats.of(chunks[0]), RunningStats.of(chunks[1])
    with np.errstate(all="raise"):
        forward, backward = a.merge(b), b.merge(a)
    assert_close_stats(forward, backward)


@given(chunkings(missing=True, min_cuts=2))
def test_merge_is_associative(chunks: list[np.ndarray]) -> None:
    """(a + b) + c equals a + (b + c) to rounding, for any three chunks."""
    a, b, c = (RunningStats.of(chunk) for chunk in chunks[:3])
    with np.errstate(all="raise"):
        left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    assert_close_stats(left, right)


@given(matrices(missing=True))
def test_merge_with_empty_returns_other_side_exactly(X: np.ndarray) -> None:
    """Merging with empty statistics, on either side, changes no bit."""
    stats, empty = RunningStats.of(X), RunningStats.empty(X.shape[1])
    with np.errstate(all="raise"):
        assert_identical(stats.merge(empty), stats)
        assert_identical(empty.merge(stats), stats)


@pytest.mark.parametrize("split", [1, 10, 500, 990, 999])
def test_merge_small_and_large_partitions(split: int) -> None:
    """10 zeros and 990 ones, split anywhere, give mean 0.99 and variance 0.0099."""
    X = np.concatenate([np.zeros(10), np.ones(990)])[:, None]
    with np.errstate(all="raise"):
        merged = RunningStats.of(X[:split]).merge(RunningStats.of(X[split:]))
        reversed_ = RunningStats.of(X[split:]).merge(RunningStats.of(X[:split]))
    for stats in (merged, reversed_):
        np.testing.assert_allclose(stats.mean, [0.99], rtol=1e-15)
        np.testing.assert_allclose(stats.variance, [0.0099], rtol=1e-13)


def test_merge_rejects_different_widths() -> None:
    """Statistics of 2 and 3 features cannot merge; the error says both."""
    with pytest.raises(ValueError, match="2 features with statistics of 3"):
        RunningStats.empty(2).merge(RunningStats.empty(3))


# ---------------------------------------------------------------- numerics


@pytest.mark.parametrize("offset", [1e9, 1e11, 1e13, 1e15])
def test_running_stats_variance_of_one_chunk_stable_under_offsets(
    offset: float,
) -> None:
    """Noise of std 1 on offsets up to 1e15 keeps its variance to 1e-13 in a chunk."""
    X = offset + np.random.default_rng(11).normal(0.0, 1.0, size=(4000, 1))
    # X - offset is exact (Sterbenz), so this is the variance of the data held
    expected = np.var(X - offset)
    with np.errstate(all="raise"):
        stats = RunningStats.of(X)
    np.testing.assert_allclose(stats.variance, [expected], rtol=1e-13)


@pytest.mark.parametrize("seed", [0, 11])
@pytest.mark.parametrize("offset", [1e9, 1e11, 1e13, 1e15])
def test_running_stats_variance_over_chunks_stable_under_offsets(
    offset: float, seed: int
) -> None:
    """Over 13 chunks the variance keeps 13 digits at offsets up to 1e15.

    Regression: with each chunk mean held as one float64, merges saw the chunk
    means' differences only to within ulp(offset) (0.125 at 1e15), and seed 11
    gave a variance 1.4 % off; the mean's correction term removes that limit.
    """
    X = offset + np.random.default_rng(seed).normal(0.0, 1.0, size=(4000, 1))
    expected = np.var(X - offset)
    with np.errstate(all="raise"):
        stats = streamed(np.array_split(X, 13))
    np.testing.assert_allclose(stats.variance, [expected], rtol=1e-13)
    mean = (stats.mean - offset) + stats.mean_correction
    np.testing.assert_allclose(mean, [np.mean(X - offset)], rtol=0, atol=1e-15)


def test_running_stats_huge_constant_column_is_exact() -> None:
    """A 1.5e305 column over 20 chunks of 1000: exact mean, variance 0.0."""
    chunk = np.full((1000, 2), 1.5e305)
    chunk[:, 1] = np.linspace(-1.0, 1.0, 1000)
    with np.errstate(all="raise"):
        stats = streamed([chunk] * 20)
    assert stats.mean[0] == 1.5e305
    assert stats.variance[0] == 0.0
    assert stats.std[0] == 0.0
    assert stats.constant.tolist() == [True, False]


@pytest.mark.parametrize("value", [14.62, 1e8 + 0.1, -3.3e-300, 0.0])
@pytest.mark.parametrize("n_chunks", [1, 7])
def test_running_stats_constant_column_has_zero_variance(
    value: float, n_chunks: int
) -> None:
    """1000 equal values give variance exactly 0.0 and mean exactly the value."""
    X = np.full((1000, 1), value)
    with np.errstate(all="raise"):
        stats = streamed(np.array_split(X, n_chunks))
    assert stats.variance[0] == 0.0
    assert stats.mean[0] == value
    assert stats.constant[0]


def test_running_stats_large_spread_does_not_overflow() -> None:
    """Values +-1.2e154 give variance 1.44e308, past which squares would overflow."""
    X = np.full((1000, 1), 1.2e154)
    X[::2] *= -1.0
    with np.errstate(all="raise"):
        whole = RunningStats.of(X)
        chunked = streamed(np.array_split(X, 9))
    for stats in (whole, chunked):
        np.testing.assert_allclose(stats.variance, [1.44e308], rtol=1e-14)


def test_running_stats_overflow_names_feature_and_row() -> None:
    """One 1.797e308 among normals raises StatisticsOverflow at its place."""
    X = np.random.default_rng(3).normal(size=(1000, 3))
    X[417, 2] = 1.797e308
    with pytest.raises(StatisticsOverflow, match="feature 2, row 417") as caught:
        RunningStats.of(X)
    assert (caught.value.feature, caught.value.row) == (2, 417)
    assert isinstance(caught.value, ArithmeticError)


# with two values both are equally far from the mean, and the first is named
@pytest.mark.parametrize(
    ("column", "row"), [([0.0, 1.797e308], 0), ([0.0, -1.0, 1.797e308], 2)]
)
def test_running_stats_overflow_when_mean_fits_but_variance_does_not(
    column: list[float], row: int
) -> None:
    """Values 1.797e308 and 0: the mean fits, the variance overflows and raises."""
    X = np.stack([np.arange(len(column), dtype=float), column], axis=1)
    with pytest.raises(StatisticsOverflow, match="variance overflows") as caught:
        RunningStats.of(X)
    assert (caught.value.feature, caught.value.row) == (1, row)


def test_running_stats_overflow_when_values_differ_beyond_float64() -> None:
    """Values +-1.797e308 in one chunk raise at the second of them."""
    X = np.array([[-1.797e308], [0.0], [1.797e308]])
    with pytest.raises(StatisticsOverflow, match="differ by more") as caught:
        RunningStats.of(X)
    assert (caught.value.feature, caught.value.row) == (0, 2)


def test_merge_overflow_names_feature_without_row() -> None:
    """Chunk means of +-1.7e308 overflow on merge; the error has no row."""
    old = RunningStats.of(np.array([[0.0, 1.7e308]]))
    new = RunningStats.of(np.array([[0.0, -1.7e308]]))
    with pytest.raises(StatisticsOverflow, match="feature 1: merged") as caught:
        old.merge(new)
    assert (caught.value.feature, caught.value.row) == (1, None)


@pytest.mark.parametrize("infinity", [np.inf, -np.inf])
def test_running_stats_rejects_infinity(infinity: float) -> None:
    """An infinite value raises StatisticsOverflow at its place, even beside NaN."""
    X = np.zeros((5, 3))
    X[1, 0] = np.nan
    X[3, 1] = infinity
    with pytest.raises(StatisticsOverflow, match="feature 1, row 3: infinite"):
        RunningStats.of(X)


def test_running_stats_of_rejects_non_matrix() -> None:
    """A one-dimensional chunk is refused with its shape in the message."""
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        RunningStats.of(np.zeros(4))


# ---------------------------------------------------------------- missing values


def test_running_stats_count_missing_values_per_column() -> None:
    """Each column counts and summarises only its own non-missing values."""
    X = np.array(
        [[1.0, np.nan, np.nan], [np.nan, 5.0, np.nan], [3.0, 7.0, np.nan]]
    )
    stats = RunningStats.of(X)
    assert stats.count.tolist() == [2, 2, 0]
    assert stats.mean.tolist() == [2.0, 6.0, 0.0]
    assert stats.variance.tolist() == [1.0, 1.0, 0.0]
    assert stats.minimum.tolist() == [1.0, 5.0, np.inf]
    assert stats.maximum.tolist() == [3.0, 7.0, -np.inf]
    assert stats.constant.tolist() == [False, False, False]


@given(matrices())
def test_running_stats_all_missing_column_leaves_column_unchanged(
    X: np.ndarray,
) -> None:
    """A chunk whose column is all NaN leaves that column's statistics as they were."""
    before = RunningStats.of(X)
    chunk = np.ones((3, X.shape[1]))
    chunk[:, 0] = np.nan
    with np.errstate(all="raise"):
        after = before.update(chunk)
    for name in FIELDS:
        assert getattr(after, name)[0] == getattr(before, name)[0]


def test_running_stats_missing_value_elsewhere_changes_nothing() -> None:
    """Complete columns give the same bits whether or not another has a NaN."""
    X = np.random.default_rng(5).normal(10.0, 3.0, size=(200, 3))
    holed = X.copy()
    holed[17, 1] = np.nan
    complete, with_missing = RunningStats.of(X), RunningStats.of(holed)
    for name in FIELDS:
        assert getattr(complete, name)[[0, 2]].tolist() == (
            getattr(with_missing, name)[[0, 2]].tolist()
        )


# ---------------------------------------------------------------- serialisation


@given(chunkings(missing=True))
def test_running_stats_dict_round_trip_is_exact(chunks: list[np.ndarray]) -> None:
    """to_dict, strict JSON and from_dict give back every bit, empty columns too."""
    stats = streamed(chunks)
    text = json.dumps(stats.to_dict(), allow_nan=False)
    assert_identical(RunningStats.from_dict(json.loads(text)), stats)


def test_running_stats_from_dict_rejects_bad_fields() -> None:
    """A field absent or of another length is named in the error."""
    d = RunningStats.of(np.ones((2, 3))).to_dict()
    with pytest.raises(ValueError, match="lack the field.* variance"):
        RunningStats.from_dict({k: v for k, v in d.items() if k != "variance"})
    with pytest.raises(ValueError, match="differ in length"):
        RunningStats.from_dict({**d, "mean": d["mean"][:2]})


def test_running_stats_from_dict_without_correction_reads_zero_corrections() -> None:
    """A model file written before mean_correction existed still loads."""
    stats = RunningStats.of(np.array([[1e15 + 0.125, 2.0], [1e15, 4.0], [1e15, 5.0]]))
    old = {k: v for k, v in stats.to_dict().items() if k != "mean_correction"}
    loaded = RunningStats.from_dict(old)
    assert loaded.mean_correction.tolist() == [0.0, 0.0]
    assert loaded.mean.tolist() == stats.mean.tolist()
    with pytest.raises(ValueError, match="mean_correction has 1 values, mean 2"):
        RunningStats.from_dict({**old, "mean_correction": [0.0]})
