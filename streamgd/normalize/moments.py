"""Running per-feature count, mean, variance and extrema, mergeable across chunks.

A chunk's statistics come from a shifted, scaled two-pass computation; two sets of
statistics combine by the pairwise update of Chan, Golub and LeVeque (1979),
"Updating formulae and a pairwise algorithm for computing sample variances". The
state keeps the variance itself, never a sum of values or of squares: those sums
lose every digit of a column such as 1e15 plus small noise, and overflow for a
column of values near 1e305 whose variance is zero.

The mean is carried as an unevaluated sum of two float64 numbers, `mean` plus the
small `mean_correction` that holds its rounding error (Knuth's two-sum). A merge
needs the difference of two chunk means; held as single float64 numbers near
1e15, each is off by up to half an ulp (0.0625), which for noise of std 1 in
chunks of a few hundred rows is most of the difference itself, and the variance
came out 0.1 to 3 % wrong over 13 chunks. With the correction the difference is
exact to rounding (the `mean` parts of close means subtract exactly, by
Sterbenz's lemma), so the variance keeps full relative precision at any offset.

NaN marks a missing value and is skipped column by column, so counts may differ
between columns. An infinite value is an error, raised as `StatisticsOverflow`
along with any mean or variance that does not fit in float64; this module knows
no file or column names, so its caller turns that into a `NonFiniteValueError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamgd.normalize.dense import scaled_moments

_FIELDS = ("count", "mean", "variance", "minimum", "maximum")

# a mean as the pair (rounded mean, its rounding error), see the module docstring
_Mean = tuple[NDArray[np.float64], NDArray[np.float64]]


class StatisticsOverflow(ArithmeticError):
    """A value is infinite, or a mean or variance overflows float64.

    Attributes:
        feature: 0-based index of the column concerned.
        row: 0-based index, in the chunk given to `RunningStats.of`, of the value
            that drove the overflow; None when two sets of statistics were merged.
    """

    def __init__(self, reason: str, *, feature: int, row: int | None) -> None:
        self.feature = feature
        self.row = row
        self.reason = reason
        where = f"feature {feature}" + ("" if row is None else f", row {row}")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class RunningStats:
    """Per-feature count, mean, population variance, minimum and maximum.

    Build it with `empty` or `of`, grow it with `update(chunk)`, and combine the
    statistics of two disjoint parts of a dataset with `merge`. Columns with no
    value seen have count 0, mean 0.0, variance 0.0, minimum +inf and maximum -inf.

    Attributes:
        count: int64 array of shape (n_features,), non-missing values seen.
        mean: float64 array of shape (n_features,), the mean rounded to float64.
        variance: float64 array of shape (n_features,), population (ddof=0);
            exactly 0.0 wherever minimum == maximum.
        minimum: float64 array of shape (n_features,).
        maximum: float64 array of shape (n_features,).
        mean_correction: float64 array of shape (n_features,), the rounding
            error of `mean`: mean + mean_correction is the mean to about twice
            float64's precision; at most half an ulp of `mean` in size, and
            exactly 0.0 where the column is empty or constant.
    """

    count: NDArray[np.int64]
    mean: NDArray[np.float64]
    variance: NDArray[np.float64]
    minimum: NDArray[np.float64]
    maximum: NDArray[np.float64]
    mean_correction: NDArray[np.float64]

    @classmethod
    def empty(cls, n_features: int) -> RunningStats:
        """Statistics of no rows at all over `n_features` columns."""
        zeros = np.zeros(n_features)
        return cls(
            count=np.zeros(n_features, dtype=np.int64),
            mean=zeros,
            variance=zeros.copy(),
            minimum=np.full(n_features, np.inf),
            maximum=np.full(n_features, -np.inf),
            mean_correction=zeros.copy(),
        )

    @classmethod
    def of(cls, X: NDArray[np.float64]) -> RunningStats:
        """Statistics of one chunk.

        Args:
            X: float64 array of shape (n_rows, n_features); NaN marks a missing
                value; n_rows may be 0.

        Returns:
            The chunk's statistics; a column missing in every row has count 0.

        Raises:
            ValueError: `X` is not two-dimensional.
            StatisticsOverflow: `X` holds +-inf, or a column's variance overflows.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(
                f"X must have shape (n_rows, n_features); got shape {X.shape}"
            )
        if X.shape[0] == 0:
            return cls.empty(X.shape[1])

        # most chunks have no missing value: compiled passes where they can
        compiled = _compiled_chunk_stats(X)
        if compiled is not None:
            return compiled
        finite = np.isfinite(X)
        if finite.all():
            return _chunk_stats(X, present=None)
        _reject_infinity(X)
        return _chunk_stats(X, present=finite)

    def update(self, X: NDArray[np.float64]) -> RunningStats:
        """These statistics extended by the chunk `X`; see `of` and `merge`."""
        return self.merge(RunningStats.of(X))

    def merge(self, other: RunningStats) -> RunningStats:
        """Statistics of the union of the rows behind `self` and `other`.

        Uses the pairwise update of Chan, Golub and LeVeque written with weights
        (n = n_old + n_new, w_old = n_old / n, w_new = n_new / n):

            mean = mean_old + w_new * delta,  delta = mean_new - mean_old
            variance = w_old * var_old + w_new * var_new
                       + (sqrt(w_old * w_new) * delta) ** 2

        Both means enter with their corrections, and the merged mean keeps its
        own (see the module docstring). Every term is bounded by a variance or
        by the spread of the merged values, so nothing overflows unless the
        merged variance itself does. A column empty on one side takes the other
        side's values unchanged.

        Raises:
            ValueError: the two have different numbers of features.
            StatisticsOverflow: a merged variance overflows float64 (row None).
        """
        if self.count.shape != other.count.shape:
            raise ValueError(
                f"cannot merge statistics of {self.count.shape[0]} features"
                f" with statistics of {other.count.shape[0]} features"
            )
        return _merge(old=self, new=other)

    @property
    def std(self) -> NDArray[np.float64]:
        """Population standard deviation, float64 array of shape (n_features,)."""
        return np.sqrt(self.variance)

    @property
    def constant(self) -> NDArray[np.bool_]:
        """True for columns with values seen, all equal (an exact test)."""
        return (self.count > 0) & (self.minimum == self.maximum)

    def to_dict(self) -> dict[str, list[Any]]:
        """A JSON-ready dict of lists of Python ints and floats.

        The extrema of a column with count 0 are written as None, since strict
        JSON has no infinity; `from_dict` restores them. Floats written by the
        `json` module read back bit for bit, so the round trip is exact.
        """
        empty = self.count == 0
        return {
            "count": self.count.tolist(),
            "mean": self.mean.tolist(),
            "variance": self.variance.tolist(),
            "minimum": [None if e else v for e, v in zip(empty, self.minimum.tolist())],
            "maximum": [None if e else v for e, v in zip(empty, self.maximum.tolist())],
            "mean_correction": self.mean_correction.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, list[Any]]) -> RunningStats:
        """The statistics written by `to_dict`.

        A dict without `mean_correction` (written before it existed) reads with
        corrections of 0.0: its means are then exact only to float64 rounding.

        Raises:
            ValueError: a field is absent or the fields differ in length.
        """
        absent = [name for name in _FIELDS if name not in d]
        if absent:
            raise ValueError(f"statistics lack the field(s) {', '.join(absent)}")
        lengths = {name: len(d[name]) for name in _FIELDS}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"statistics fields differ in length: {lengths}")

        def extremum(values: list[Any], fill: float) -> NDArray[np.float64]:
            return np.array([fill if v is None else v for v in values], dtype=float)

        correction = d.get("mean_correction", [0.0] * lengths["mean"])
        if len(correction) != lengths["mean"]:
            raise ValueError(
                f"statistics fields differ in length: mean_correction has"
                f" {len(correction)} values, mean {lengths['mean']}"
            )
        return cls(
            count=np.array(d["count"], dtype=np.int64),
            mean=np.array(d["mean"], dtype=np.float64),
            variance=np.array(d["variance"], dtype=np.float64),
            minimum=extremum(d["minimum"], np.inf),
            maximum=extremum(d["maximum"], -np.inf),
            mean_correction=np.array(correction, dtype=np.float64),
        )


def _reject_infinity(X: NDArray[np.float64]) -> None:
    """Raise `StatisticsOverflow` at the first +-inf of `X`, if it holds one."""
    infinite = np.isinf(X)
    if infinite.any():
        row, feature = np.argwhere(infinite)[0]
        raise StatisticsOverflow(
            f"infinite value {X[row, feature]}",
            feature=int(feature),
            row=int(row),
        )


def _chunk_stats(
    X: NDArray[np.float64], present: NDArray[np.bool_] | None
) -> RunningStats:
    """Statistics of a non-empty chunk; `present` is None when nothing is missing.

    Each column is shifted by its first value present, then divided by the power
    of two at or just below its largest absolute deviation. The division is
    exact, the scaled deviations lie in (-2, 2), so their sums and sums of squares
    cannot overflow, and a constant column gives deviations of exactly zero.
    """
    # Overflow and underflow are both checked for below: a spread or a variance
    # beyond float64 raises StatisticsOverflow, and underflow in the scaled
    # squares loses nothing that the result can hold.
    with np.errstate(over="ignore", under="ignore"):
        count, minimum, maximum = _count_and_extrema(X, present)
        reference = _reference(X, present)
        deviation = _deviation(X, reference, present)
        shifted_mean, variance = _shifted_moments(deviation, count, present)
        mean, correction = _two_sum(reference, shifted_mean)
    return _checked(X, present, count, (mean, correction), variance, minimum, maximum)


def _count_and_extrema(
    X: NDArray[np.float64], present: NDArray[np.bool_] | None
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    if present is None:
        count = np.full(X.shape[1], X.shape[0], dtype=np.int64)
        return count, X.min(axis=0), X.max(axis=0)
    count = present.sum(axis=0, dtype=np.int64)
    minimum = np.where(present, X, np.inf).min(axis=0)
    maximum = np.where(present, X, -np.inf).max(axis=0)
    return count, minimum, maximum


def _reference(
    X: NDArray[np.float64], present: NDArray[np.bool_] | None
) -> NDArray[np.float64]:
    """The first value present in each column; 0.0 for a column with none."""
    if present is None:
        return X[0].copy()
    first = np.argmax(present, axis=0)
    reference = X[first, np.arange(X.shape[1])]
    return np.where(present.any(axis=0), reference, 0.0)


def _deviation(
    X: NDArray[np.float64],
    reference: NDArray[np.float64],
    present: NDArray[np.bool_] | None,
) -> NDArray[np.float64]:
    """X minus the reference, 0.0 where missing; raises if it leaves float64."""
    deviation = X - reference
    if present is not None:
        deviation[~present] = 0.0

    # two values further apart than the float64 range: the variance, at least
    # spread ** 2 / (2 * n_rows), cannot be finite either
    beyond = np.isinf(deviation)
    if beyond.any():
        row, feature = np.argwhere(beyond)[0]
        raise StatisticsOverflow(
            f"values {reference[feature]} and {X[row, feature]} differ by more"
            " than float64 can hold",
            feature=int(feature),
            row=int(row),
        )
    return deviation


def _shifted_moments(
    deviation: NDArray[np.float64],
    count: NDArray[np.int64],
    present: NDArray[np.bool_] | None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and variance of the deviations, by a scaled two-pass sum."""
    # scale by a power of two, so scaling and unscaling are exact
    _, exponent = np.frexp(np.abs(deviation).max(axis=0))
    scale = np.ldexp(1.0, exponent - 1)
    deviation /= scale
    n = np.maximum(count, 1)

    # the corrected two-pass algorithm: the residual sum removes the rounding
    # error of the first pass's mean (Chan, Golub and LeVeque 1983, "Algorithms
    # for computing the sample variance: analysis and recommendations")
    scaled_mean = deviation.sum(axis=0) / n
    deviation -= scaled_mean
    if present is not None:
        deviation[~present] = 0.0
    residual = deviation.sum(axis=0)
    squares = np.einsum("ij,ij->j", deviation, deviation)
    return _unscaled(scale, scaled_mean, residual, squares, n)


def _unscaled(
    scale: NDArray[np.float64], scaled_mean: NDArray[np.float64],
    residual: NDArray[np.float64], squares: NDArray[np.float64],
    n: NDArray[np.int64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean and variance of the deviations from their scaled two-pass sums."""
    scaled_variance = np.maximum((squares - residual * residual / n) / n, 0.0)
    # the same residual corrects the mean, which the merges carry in full
    scaled_mean = scaled_mean + residual / n

    # unscale one factor at a time: scale <= 2 ** 1023, so the inner product
    # overflows only if scaled_variance >= 2, and then scale ** 2 times it, the
    # variance, is beyond float64 too; scale ** 2 alone could overflow needlessly
    return scale * scaled_mean, scale * (scale * scaled_variance)


def _compiled_chunk_stats(X: NDArray[np.float64]) -> RunningStats | None:
    """`_chunk_stats(X, present=None)` from the compiled passes of
    `normalize.dense`, the same to the bit; None where they do not apply."""
    passes = scaled_moments(X)
    if passes is None:
        return None
    reference, scale, total, residual, squares, minimum, maximum = passes
    with np.errstate(over="ignore", under="ignore"):
        count = np.full(X.shape[1], X.shape[0], dtype=np.int64)
        n = np.maximum(count, 1)
        shifted_mean, variance = _unscaled(scale, total / n, residual, squares, n)
        mean, correction = _two_sum(reference, shifted_mean)
    return _checked(X, None, count, (mean, correction), variance, minimum, maximum)


def _two_sum(
    a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """a + b rounded, and its rounding error exactly (Knuth's TwoSum).

    Where the sum overflows the error is meaningless and set to 0.0; the
    callers' overflow checks report such a column.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = a + b
        b_part = total - a
        error = (a - (total - b_part)) + (b - b_part)
    return total, np.where(np.isfinite(error), error, 0.0)


def _checked(
    X: NDArray[np.float64],
    present: NDArray[np.bool_] | None,
    count: NDArray[np.int64],
    mean: _Mean,
    variance: NDArray[np.float64],
    minimum: NDArray[np.float64],
    maximum: NDArray[np.float64],
) -> RunningStats:
    """Finished chunk statistics; raises where the variance overflowed."""
    stats = _finished(count, mean, variance, minimum, maximum)
    overflowed = ~np.isfinite(stats.variance)
    if not overflowed.any():
        return stats

    # name the value furthest from the mean: it drove the variance up
    feature = int(np.argmax(overflowed))
    column = X[:, feature]
    with np.errstate(over="ignore"):
        distance = np.abs(column - stats.mean[feature])
    if present is not None:
        distance[~present[:, feature]] = -1.0
    row = int(np.argmax(distance))
    raise StatisticsOverflow(
        f"variance overflows float64 (value {column[row]}, mean"
        f" {stats.mean[feature]})",
        feature=feature,
        row=row,
    )


def _finished(
    count: NDArray[np.int64],
    mean: _Mean,
    variance: NDArray[np.float64],
    minimum: NDArray[np.float64],
    maximum: NDArray[np.float64],
) -> RunningStats:
    """Statistics with the invariants enforced, for any merge order.

    `mean` is the pair (rounded mean, its correction). A column with no value
    gets mean and variance 0.0; a constant column gets its value as mean and a
    variance of exactly 0.0; any other mean is held inside [minimum, maximum]
    against rounding, its correction too. All are no-ops on statistics that
    already hold them, so merging with an empty side changes nothing.
    """
    seen = count > 0
    constant = seen & (minimum == maximum)
    rounded, correction = _normalized(*mean)

    # hold the mean, correction included, inside the extrema
    upper = np.maximum(minimum, maximum)
    clipped = np.where(seen, np.clip(rounded, minimum, upper), 0.0)
    outside = (clipped != rounded) | ((clipped == minimum) & (correction < 0.0))
    outside |= (clipped == maximum) & (correction > 0.0)
    correction = np.where(outside | constant | ~seen, 0.0, correction)
    rounded = np.where(constant, minimum, clipped)
    variance = np.where(constant | ~seen, 0.0, variance)
    return RunningStats(count, rounded, variance, minimum, maximum, correction)


def _normalized(
    mean: NDArray[np.float64], correction: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The pair with the correction folded in: mean rounded to nearest again."""
    total, error = _two_sum(mean, correction)
    return np.where(np.isfinite(total), total, mean), error


def _merge(old: RunningStats, new: RunningStats) -> RunningStats:
    """The pairwise update of `RunningStats.merge`, column by column."""
    count = old.count + new.count
    n = np.maximum(count, 1)
    weight_old, weight_new = old.count / n, new.count / n

    # a delta or a variance term beyond float64 means the merged variance is too,
    # and the check below reports it; underflow loses nothing the result can hold.
    # Close means subtract exactly (Sterbenz), so the corrections carry the digits
    # a single float64 mean near a large offset would lose.
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        delta = (new.mean - old.mean) + (new.mean_correction - old.mean_correction)
        mean, error = _two_sum(old.mean, weight_new * delta)
        correction = old.mean_correction + error
        between = np.square(np.sqrt(weight_old * weight_new) * delta)
        variance = weight_old * old.variance + weight_new * new.variance + between

    # a side with no value contributes nothing, exactly
    mean = _side_or_merged(old, new, mean, "mean")
    correction = _side_or_merged(old, new, correction, "mean_correction")
    variance = _side_or_merged(old, new, variance, "variance")
    minimum = np.minimum(old.minimum, new.minimum)
    maximum = np.maximum(old.maximum, new.maximum)
    merged = _finished(count, (mean, correction), variance, minimum, maximum)

    overflowed = ~np.isfinite(merged.variance)
    if overflowed.any():
        feature = int(np.argmax(overflowed))
        raise StatisticsOverflow(
            f"merged variance overflows float64 (means {old.mean[feature]} and"
            f" {new.mean[feature]})",
            feature=feature,
            row=None,
        )
    return merged


def _side_or_merged(
    old: RunningStats, new: RunningStats, merged: NDArray[np.float64], name: str
) -> NDArray[np.float64]:
    """The field `name` of the side that is not empty, else `merged`."""
    old_value, new_value = getattr(old, name), getattr(new, name)
    return np.where(
        old.count == 0, new_value, np.where(new.count == 0, old_value, merged)
    )
