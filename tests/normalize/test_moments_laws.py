"""Laws of merging running statistics, checked against exact rational arithmetic.

The reference is computed in `fractions.Fraction` from the float64 values held,
so it has no rounding error at all: numpy's own `var` errs by up to the square
of its mean's rounding error, about 0.004 for values near 1e15, which is more
than the statistics themselves may err.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from streamgd.normalize.moments import RunningStats
from tests import strategies

EPSILON = np.finfo(np.float64).eps
# the statistics of a few dozen values may lose a few dozen roundings; 1e-12 is
# about 4500 of them, and still 10 orders below the 1 % of the old offset bug
RELATIVE = 1e-12
SUBNORMAL = Fraction(float(np.nextafter(0.0, 1.0)))


# ---------------------------------------------------------------- references


def exact_column(values: np.ndarray) -> tuple[Fraction, Fraction] | None:
    """Exact mean and population variance of the non-NaN values, or None."""
    present = [Fraction(float(value)) for value in values if not np.isnan(value)]
    if not present:
        return None
    mean = sum(present, Fraction(0)) / len(present)
    variance = sum(((value - mean) ** 2 for value in present), Fraction(0))
    return mean, variance / len(present)


def assert_exact_to_rounding(stats: RunningStats, X: np.ndarray) -> None:
    """Counts and extrema exact; mean and variance within RELATIVE of exact.

    The mean is judged with its correction, relative to the column's spread
    (its rounding to float64 alone is judged relative to the mean itself).
    """
    for feature, column in enumerate(X.T):
        present = column[~np.isnan(column)]
        assert stats.count[feature] == present.size
        reference = exact_column(column)
        if reference is None:
            assert stats.minimum[feature] == np.inf
            assert stats.maximum[feature] == -np.inf
            assert stats.mean[feature] == stats.variance[feature] == 0.0
            continue
        assert stats.minimum[feature] == present.min()
        assert stats.maximum[feature] == present.max()
        _assert_column_moments(stats, feature, present, *reference)


def _assert_column_moments(
    stats: RunningStats,
    feature: int,
    present: np.ndarray,
    mean: Fraction,
    variance: Fraction,
) -> None:
    spread = Fraction(float(present.max())) - Fraction(float(present.min()))
    mean_held = Fraction(float(stats.mean[feature]))
    corrected = mean_held + Fraction(float(stats.mean_correction[feature]))
    # below the normal range a mean such as 2.5e-324 has no float64 at all
    assert abs(corrected - mean) <= Fraction(RELATIVE) * spread + SUBNORMAL, feature
    # the rounded mean is within an ulp of the exact one (plus the above)
    ulp = Fraction(float(np.spacing(abs(float(mean)))))
    assert abs(mean_held - mean) <= ulp + Fraction(RELATIVE) * spread, feature

    held = Fraction(float(stats.variance[feature]))
    tiny = Fraction(float(np.finfo(np.float64).tiny))
    assert abs(held - variance) <= Fraction(RELATIVE) * variance + tiny, feature
    if spread == 0:
        assert stats.variance[feature] == 0.0


def merge_in_order(parts: list[RunningStats], choices: list[int]) -> RunningStats:
    """Merge neighbours parts[i], parts[i + 1] for each i in `choices` (mod len).

    Any binary merge tree over any order of the parts is some permutation of
    them followed by some list of choices.
    """
    parts = list(parts)
    for choice in choices:
        if len(parts) == 1:
            break
        i = choice % (len(parts) - 1)
        parts[i : i + 2] = [parts[i].merge(parts[i + 1])]
    while len(parts) > 1:
        parts[:2] = [parts[0].merge(parts[1])]
    return parts[0]


# ---------------------------------------------------------------- laws


OFFSET_NOISE = [np.array([[1e15 + 0.125 * k] for k in range(12)])] * 13
HUGE_AND_TINY = [np.array([[1e150], [-1e150]]), np.array([[1e-100], [3e-100]])]


@given(strategies.statistics_pieces(), st.permutations(range(6)),
       st.lists(st.integers(0, 10), max_size=8))
@example(pieces=OFFSET_NOISE, order=list(range(6)), choices=[])
@example(pieces=HUGE_AND_TINY, order=[1, 0, 2, 3, 4, 5], choices=[])
# found by the thorough profile: the exact mean 2.5e-324 lies between floats
@example(pieces=[np.array([[0.0]]), np.array([[5e-324]])], order=list(range(6)),
         choices=[])
def test_merge_in_any_order_and_grouping_is_exact_to_rounding(
    pieces: list[np.ndarray], order: list[int], choices: list[int]
) -> None:
    """Any merge tree over any order of the pieces gives the exact statistics."""
    order = [i for i in order if i < len(pieces)] + list(range(6, len(pieces)))
    with np.errstate(all="raise"):
        parts = [RunningStats.of(pieces[i]) for i in order]
        merged = merge_in_order(parts, choices)
    assert_exact_to_rounding(merged, np.concatenate(pieces))


# found by the thorough profile: a + b and b + a round their means to
# neighbouring floats, so means compare with their corrections, not rounded
ROUNDED_APART = [np.array([[1000000000001.9]]), np.array([[1e12], [1e12], [1e12]])]


@given(strategies.statistics_pieces(max_pieces=2))
@example(pieces=ROUNDED_APART)
def test_merge_is_commutative_for_every_kind_of_piece(
    pieces: list[np.ndarray],
) -> None:
    """a + b and b + a agree to rounding: same counts and extrema, close moments."""
    a = RunningStats.of(pieces[0])
    b = RunningStats.of(pieces[-1])
    with np.errstate(all="raise"):
        forward, backward = a.merge(b), b.merge(a)
    _assert_agree(forward, backward)


@given(strategies.statistics_pieces(max_pieces=3))
def test_merge_is_associative_for_every_kind_of_piece(
    pieces: list[np.ndarray],
) -> None:
    """(a + b) + c and a + (b + c) agree to rounding."""
    a, b, c = (RunningStats.of(pieces[i % len(pieces)]) for i in range(3))
    with np.errstate(all="raise"):
        left, right = a.merge(b).merge(c), a.merge(b.merge(c))
    _assert_agree(left, right)


def _assert_agree(first: RunningStats, second: RunningStats) -> None:
    np.testing.assert_array_equal(first.count, second.count)
    np.testing.assert_array_equal(first.minimum, second.minimum)
    np.testing.assert_array_equal(first.maximum, second.maximum)
    # the difference of the means, corrections included: the rounded means are
    # close, so they subtract exactly, and may differ by an ulp at a tie
    spread = np.where(first.count > 0, first.maximum - first.minimum, 0.0)
    difference = (first.mean - second.mean) + (
        first.mean_correction - second.mean_correction
    )
    difference = np.where(first.count > 0, difference, 0.0)
    assert (np.abs(difference) <= RELATIVE * spread).all()
    np.testing.assert_allclose(
        first.variance, second.variance, rtol=RELATIVE,
        atol=np.finfo(np.float64).tiny,
    )


@given(strategies.statistics_pieces(kinds=("ordinary", "offset", "constant",
                                           "empty")))
def test_streamed_statistics_equal_numpy_on_the_concatenation(
    pieces: list[np.ndarray],
) -> None:
    """Updating piece by piece matches numpy's nanmean and nanvar of the whole.

    numpy is allowed its own error: its mean is off by up to about n ulp of the
    largest value, and its variance by the square of that.
    """
    with np.errstate(all="raise"):
        stats = RunningStats.empty(pieces[0].shape[1])
        for piece in pieces:
            stats = stats.update(piece)
    X = np.concatenate(pieces)
    for feature, column in enumerate(X.T):
        present = column[~np.isnan(column)]
        if present.size == 0:
            continue
        mean_error = present.size * EPSILON * np.abs(present).max()
        spread = present.max() - present.min()
        assert abs(stats.mean[feature] - np.mean(present)) <= (
            2 * mean_error + RELATIVE * spread
        )
        assert abs(stats.variance[feature] - np.var(present)) <= (
            RELATIVE * np.var(present) + 4 * mean_error**2 + 1e-300
        )


def test_offset_noise_over_many_chunks_keeps_its_variance() -> None:
    """Regression: 13 pieces of 12 values at 1e15 apart by 0.125 keep var exact.

    With a float64 mean per piece the merged variance was several % off.
    """
    X = np.concatenate(OFFSET_NOISE)
    with np.errstate(all="raise"):
        merged = merge_in_order([RunningStats.of(piece) for piece in OFFSET_NOISE], [])
    assert_exact_to_rounding(merged, X)
    expected = np.var(np.arange(12) * 0.125)
    np.testing.assert_allclose(merged.variance, [expected], rtol=1e-15)
