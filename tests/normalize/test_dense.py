"""The compiled passes give a complete chunk's statistics to the bit."""

import numpy as np
import pytest

from streamgd.normalize import dense, moments
from streamgd.normalize.moments import RunningStats, StatisticsOverflow

pytestmark = pytest.mark.skipif(dense.numba is None, reason="needs numba")


def _numpy_only(X):
    """RunningStats.of(X) by the numpy passes alone."""
    original = moments.scaled_moments
    moments.scaled_moments = lambda X: None
    try:
        return RunningStats.of(X)
    finally:
        moments.scaled_moments = original


def _columns(rng, n_rows, n_columns):
    """Columns of assorted kinds: noise at any scale and offset, constants,
    zeros of both signs, a few distinct values, huge and tiny values."""
    kinds = []
    for _ in range(n_columns):
        kind = rng.integers(6)
        if kind == 0:
            offset = rng.choice([0.0, 1e3, 1e15, -1e300])
            kinds.append(offset + rng.normal(size=n_rows)
                         * 10.0 ** rng.integers(-300, 150))
        elif kind == 1:
            kinds.append(np.full(n_rows, rng.normal() * 10.0 ** rng.integers(-5, 5)))
        elif kind == 2:
            kinds.append(rng.choice([0.0, -0.0], size=n_rows))
        elif kind == 3:
            kinds.append(rng.choice([-1.5, 2.0, 7.25], size=n_rows))
        elif kind == 4:
            kinds.append(rng.uniform(-1e153, 1e153, size=n_rows))
        else:
            kinds.append(rng.normal(size=n_rows) * 1e-310)
    return np.ascontiguousarray(np.column_stack(kinds))


def _assert_same_bits(a: RunningStats, b: RunningStats) -> None:
    for name in ("count", "mean", "variance", "minimum", "maximum",
                 "mean_correction"):
        left, right = getattr(a, name), getattr(b, name)
        assert left.tobytes() == right.tobytes(), name


def _outcome(statistics):
    """The statistics of X, or the overflow raised, as comparable values."""
    try:
        return statistics()
    except StatisticsOverflow as overflow:
        return (overflow.feature, overflow.row, str(overflow))


@pytest.mark.parametrize("seed", range(40))
def test_compiled_statistics_equal_numpys_to_the_bit(seed):
    """Or both raise the same located overflow (a variance beyond float64)."""
    rng = np.random.default_rng(seed)
    for n_rows in (1, 2, 3, int(rng.integers(4, 3000))):
        X = _columns(rng, n_rows, int(rng.integers(2, 25)))
        assert dense.scaled_moments(X) is not None
        compiled = _outcome(lambda: RunningStats.of(X))
        numpy = _outcome(lambda: _numpy_only(X))
        if isinstance(numpy, tuple):
            assert compiled == numpy
        else:
            _assert_same_bits(compiled, numpy)


def test_merged_statistics_of_a_file_equal_numpys_to_the_bit():
    """Chunk by chunk, as the statistics pass merges them."""
    rng = np.random.default_rng(7)
    X = 1e6 + rng.normal(size=(20_000, 20)) * rng.uniform(0.1, 100, size=20)
    compiled = numpy = RunningStats.empty(20)
    for chunk in np.array_split(X, 37):
        chunk = np.ascontiguousarray(chunk)
        compiled, numpy = compiled.update(chunk), numpy.merge(_numpy_only(chunk))
    _assert_same_bits(compiled, numpy)


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_value_not_finite_is_left_to_numpy(bad):
    X = np.ones((50, 3))
    X[17, 1] = bad
    assert dense.scaled_moments(X) is None


def test_values_too_far_apart_raise_the_located_overflow():
    X = np.zeros((10, 2))
    X[0, 1], X[6, 1] = -1.5e308, 1.5e308
    assert dense.scaled_moments(X) is None
    with pytest.raises(StatisticsOverflow) as caught:
        RunningStats.of(X)
    assert (caught.value.feature, caught.value.row) == (1, 6)


def test_one_column_or_a_strided_matrix_is_left_to_numpy():
    """numpy sums one column pairwise; the loops need C order."""
    assert dense.scaled_moments(np.ones((10, 1))) is None
    assert dense.scaled_moments(np.ones((10, 4))[:, ::2]) is None


def test_a_variance_beyond_float64_raises_as_numpy_does():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=100), rng.uniform(-1e307, 1e307, 100)])
    compiled = _outcome(lambda: RunningStats.of(X))
    assert isinstance(compiled, tuple) and compiled[0] == 1
    assert compiled == _outcome(lambda: _numpy_only(X))


@pytest.mark.parametrize("column", [
    [0.0, 1.0, 2.0], [-0.0, 1.0, 2.0], [1.0, -0.0, -2.0], [3.0, 0.0, -0.0],
    [-0.0, 0.0, 5.0], [0.0, -0.0, -5.0], [-0.0, -0.0, 0.0], [2.0, -0.0, 1.0],
])
def test_extrema_that_are_zeros_have_numpys_sign(column):
    """The compiled extrema equal numpy's to the bit, signed zeros included
    (where both signs meet at an extreme, numpy's own reduction decides)."""
    rng = np.random.default_rng(len(column))
    for order in (column, column[::-1], list(rng.permutation(column))):
        X = np.ascontiguousarray(np.column_stack([order, [7.0, 8.0, 9.0]]))
        assert dense.scaled_moments(X) is not None
        _assert_same_bits(RunningStats.of(X), _numpy_only(X))
