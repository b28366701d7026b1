"""Tests of streamgd.normalize.scalers: ranges, constant columns, original units."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamgd.normalize.moments import RunningStats
from streamgd.normalize.scalers import SCALERS, Scaler

# ---------------------------------------------------------------- strategies


@st.composite
def datasets(draw: st.DrawFn) -> np.ndarray:
    """Normal data of 2-200 rows, 1-5 columns, each with its own offset and spread."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_rows, n_features = draw(st.integers(2, 200)), draw(st.integers(1, 5))
    offset = rng.normal(0.0, 1e3, size=n_features)
    spread = 10.0 ** rng.uniform(-3.0, 3.0, size=n_features)
    return offset + spread * rng.normal(size=(n_rows, n_features))


def with_constant_and_empty(X: np.ndarray) -> tuple[np.ndarray, RunningStats]:
    """X with a constant column 4.2 and an all-missing column appended; its stats."""
    n_rows = X.shape[0]
    full = np.column_stack([X, np.full(n_rows, 4.2), np.full(n_rows, np.nan)])
    return full, RunningStats.of(full)


# ---------------------------------------------------------------- ranges


@given(datasets())
def test_scaler_standard_gives_mean_zero_std_one(X: np.ndarray) -> None:
    """Standardised training data has mean 0 and std 1 in every varying column."""
    stats = RunningStats.of(X)
    with np.errstate(all="raise"):
        Z = Scaler.fit("standard", stats).transform(X)
    # the stored mean is a float64 near the data, exact to about ulp(mean)
    bound = 1e-12 + 4 * np.spacing(np.abs(stats.mean)) / stats.std
    assert np.all(np.abs(Z.mean(axis=0)) <= bound)
    np.testing.assert_allclose(Z.std(axis=0), 1.0, rtol=1e-9)


@given(datasets())
def test_scaler_minmax_maps_into_unit_interval(X: np.ndarray) -> None:
    """Min-max scaled training data spans exactly [0, 1]."""
    with np.errstate(all="raise"):
        Z = Scaler.fit("minmax", RunningStats.of(X)).transform(X)
    assert Z.min(axis=0).tolist() == [0.0] * X.shape[1]
    assert Z.max(axis=0).tolist() == [1.0] * X.shape[1]


@given(datasets())
def test_scaler_maxabs_maps_into_symmetric_unit_interval(X: np.ndarray) -> None:
    """Max-abs scaled training data lies in [-1, 1] and reaches one of its ends."""
    with np.errstate(all="raise"):
        Z = Scaler.fit("maxabs", RunningStats.of(X)).transform(X)
    assert np.all(np.abs(Z) <= 1.0)
    assert np.abs(Z).max(axis=0).tolist() == [1.0] * X.shape[1]


@given(datasets())
def test_scaler_none_is_identity(X: np.ndarray) -> None:
    """The 'none' scaler returns a new array equal to its input."""
    scaler = Scaler.fit("none", RunningStats.of(X))
    Z = scaler.transform(X)
    assert Z is not X
    np.testing.assert_array_equal(Z, X)
    assert scaler.scale.tolist() == [1.0] * X.shape[1]


def test_scaler_transform_leaves_input_unchanged() -> None:
    """transform returns a new float64 array and does not write into X."""
    X = np.array([[1.0, 2.0], [3.0, 6.0]])
    copy = X.copy()
    Z = Scaler.fit("standard", RunningStats.of(X)).transform(X)
    np.testing.assert_array_equal(X, copy)
    assert Z.dtype == np.float64 and not np.shares_memory(Z, X)


# ---------------------------------------------------------------- degenerate columns


@pytest.mark.parametrize("method", SCALERS)
def test_scaler_constant_and_empty_columns_have_unit_scale(method: str) -> None:
    """A constant column and a column never seen both get scale exactly 1.0."""
    X, stats = with_constant_and_empty(np.array([[1.0], [2.0], [4.0]]))
    scaler = Scaler.fit(method, stats)
    assert scaler.scale[1:].tolist() == [1.0, 1.0]
    assert scaler.shift[2] == 0.0


@pytest.mark.parametrize("method", ["standard", "minmax"])
@pytest.mark.parametrize("value", [4.2, 1.5e305, -7e-300])
def test_scaler_constant_column_becomes_zero(method: str, value: float) -> None:
    """Under standard and minmax a constant column transforms to exactly 0."""
    X = np.column_stack([np.arange(5.0), np.full(5, value)])
    with np.errstate(all="raise"):
        Z = Scaler.fit(method, RunningStats.of(X)).transform(X)
    assert Z[:, 1].tolist() == [0.0] * 5


@pytest.mark.parametrize("method", ["maxabs", "none"])
def test_scaler_constant_column_kept_unshifted(method: str) -> None:
    """Under maxabs and none a constant column keeps shift 0 and scale 1."""
    X = np.column_stack([np.arange(5.0), np.full(5, 4.2)])
    scaler = Scaler.fit(method, RunningStats.of(X))
    assert (scaler.shift[1], scaler.scale[1]) == (0.0, 1.0)


def test_scaler_standard_with_underflowed_variance_never_divides_by_zero() -> None:
    """Values 0 and 1e-200 differ, yet their variance underflows: scale stays 1."""
    stats = RunningStats.of(np.array([[0.0], [1e-200]]))
    assert not stats.constant[0] and stats.variance[0] == 0.0
    assert Scaler.fit("standard", stats).scale.tolist() == [1.0]


# ---------------------------------------------------------------- original units


@given(datasets(), st.sampled_from(SCALERS), st.integers(0, 2**32 - 1))
def test_scaler_to_original_gives_same_predictions(
    X: np.ndarray, method: str, seed: int
) -> None:
    """A model on scaled data predicts the same as its weights in original units."""
    rng = np.random.default_rng(seed)
    X, stats = with_constant_and_empty(X)
    scaler = Scaler.fit(method, stats)
    X[:, -1] = rng.normal(size=X.shape[0])  # values new since fitting
    weights, intercept = rng.normal(size=X.shape[1]), float(rng.normal())

    original, original_intercept = scaler.to_original(weights, intercept)
    scaled_prediction = scaler.transform(X) @ weights + intercept
    original_prediction = X @ original + original_intercept
    assert isinstance(original_intercept, float)
    tolerance = 1e-9 * (np.abs(X) @ np.abs(original) + abs(original_intercept))
    assert np.all(np.abs(scaled_prediction - original_prediction) <= tolerance)


@given(datasets(), st.sampled_from(SCALERS), st.integers(0, 2**32 - 1))
def test_scaler_from_original_inverts_to_original(
    X: np.ndarray, method: str, seed: int
) -> None:
    """Scaled weights taken to original units and back are the same weights."""
    rng = np.random.default_rng(seed)
    X, stats = with_constant_and_empty(X)
    scaler = Scaler.fit(method, stats)
    weights, intercept = rng.normal(size=X.shape[1]), float(rng.normal())

    back, back_intercept = scaler.from_original(*scaler.to_original(weights, intercept))
    np.testing.assert_allclose(back, weights, rtol=1e-12)
    bound = 1e-9 * (1 + np.abs(weights / scaler.scale) @ np.abs(scaler.shift))
    assert abs(back_intercept - intercept) <= bound


def test_scaler_from_original_rejects_wrong_shape() -> None:
    """Original weights of another length are refused, naming both shapes."""
    scaler = Scaler.fit("maxabs", RunningStats.of(np.eye(3)))
    with pytest.raises(ValueError, match=r"shape \(3,\); got \(4,\)"):
        scaler.from_original(np.zeros(4), 0.0)


def test_scaler_to_original_rejects_wrong_shape() -> None:
    """Weights of another length are refused, naming both shapes."""
    scaler = Scaler.fit("standard", RunningStats.of(np.eye(3)))
    with pytest.raises(ValueError, match=r"shape \(3,\); got \(2,\)"):
        scaler.to_original(np.zeros(2), 0.0)


# ---------------------------------------------------------------- boundaries


def test_scaler_fit_rejects_unknown_method() -> None:
    """An unknown method name is refused with the choices listed."""
    with pytest.raises(ValueError, match="'zscore'; choose one of none, standard"):
        Scaler.fit("zscore", RunningStats.empty(2))


def test_scaler_transform_rejects_wrong_width() -> None:
    """Data with another number of features is refused, naming its shape."""
    scaler = Scaler.fit("minmax", RunningStats.of(np.eye(3)))
    with pytest.raises(ValueError, match=r"3 features .* got shape \(4, 2\)"):
        scaler.transform(np.zeros((4, 2)))


@given(datasets(), st.sampled_from(SCALERS))
def test_scaler_dict_round_trip_is_exact(X: np.ndarray, method: str) -> None:
    """to_dict, strict JSON and from_dict give back every bit of the scaler."""
    X, stats = with_constant_and_empty(X)
    scaler = Scaler.fit(method, stats)
    text = json.dumps(scaler.to_dict(), allow_nan=False)
    restored = Scaler.from_dict(json.loads(text))
    assert restored.method == scaler.method
    np.testing.assert_array_equal(restored.shift, scaler.shift)
    np.testing.assert_array_equal(restored.scale, scaler.scale)


def test_scaler_from_dict_rejects_bad_fields() -> None:
    """An absent field, an unknown method or unequal lengths are named."""
    d = Scaler.fit("standard", RunningStats.of(np.eye(3))).to_dict()
    with pytest.raises(ValueError, match="lacks the field.* scale"):
        Scaler.from_dict({"method": "standard", "shift": d["shift"]})
    with pytest.raises(ValueError, match="unknown scaler 'robust'"):
        Scaler.from_dict({**d, "method": "robust"})
    with pytest.raises(ValueError, match="shift has 2 values but scale has 3"):
        Scaler.from_dict({**d, "shift": d["shift"][:2]})
