"""Feature scalers fitted to running statistics, and the way back to original units.

A scaler maps each feature x to z = (x - shift) / scale. The model is trained on
z; `Scaler.to_original` turns its weights back into weights on x, so a saved
model needs no scaler to predict.

    method     shift     scale          range of z on the fitted data
    none       0         1              unchanged
    standard   mean      std            mean 0, std 1
    minmax     minimum   max - min      [0, 1]
    maxabs     0         max |x|        [-1, 1]

A constant column gets scale 1.0, never a division by zero; under standard and
minmax its shift is its value, so it becomes exactly 0 (the trainer holds its
weight at 0 anyway). A column with no value seen gets shift 0 and scale 1.
Without an intercept (`model.fit_intercept: false`) the shift is 0 for every
method, so the model still passes through the origin in original units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from streamgd.normalize.moments import RunningStats

SCALERS = ("none", "standard", "minmax", "maxabs")


@dataclass(frozen=True)
class Scaler:
    """A fitted per-feature affine map, z = (x - shift) / scale.

    Attributes:
        method: one of `SCALERS`.
        shift: float64 array of shape (n_features,), subtracted first.
        scale: float64 array of shape (n_features,), divided by next; exactly
            1.0 for constant columns, empty columns and the method 'none'.
    """

    method: str
    shift: NDArray[np.float64]
    scale: NDArray[np.float64]

    @classmethod
    def fit(cls, method: str, stats: RunningStats, center: bool = True) -> Scaler:
        """The scaler `method` for data with statistics `stats`.

        Args:
            method: one of `SCALERS`.
            stats: running statistics of the features.
            center: subtract the shift; False scales only (shift 0). A model
                without an intercept must not be shifted: a shift of the origin
                becomes an intercept of -weights . shift in original units.

        Raises:
            ValueError: `method` is not one of `SCALERS`.
        """
        _check_method(method)
        shift, scale = _FITTERS[method](stats)
        if not center:
            shift = np.zeros_like(shift)

        # constant and empty columns: never divide by zero
        seen = stats.count > 0
        usable = seen & ~stats.constant & (scale > 0)
        return cls(
            method=method,
            shift=np.where(seen, shift, 0.0),
            scale=np.where(usable, scale, 1.0),
        )

    def transform(
        self, X: NDArray[np.float64], out: NDArray[np.float64] | None = None
    ) -> NDArray[np.float64]:
        """(X - shift) / scale, as a new float64 array of the shape of `X`.

        Args:
            X: float64 array of shape (n_rows, n_features) or (n_features,).
            out: a float64 array of X's shape to write into instead (X itself
                is allowed: the trainer scales each freshly decoded chunk in
                place, which saves a pass over memory per chunk).

        Raises:
            ValueError: `X` has a different number of features.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 0 or X.shape[-1] != self.shift.shape[0]:
            raise ValueError(
                f"X must have {self.shift.shape[0]} features in its last axis;"
                f" got shape {X.shape}"
            )
        scaled = np.subtract(X, self.shift, out=out)
        scaled /= self.scale
        return scaled

    def to_original(
        self, weights: NDArray[np.float64], intercept: float
    ) -> tuple[NDArray[np.float64], float]:
        """Weights and intercept that act on unscaled features as these act on z.

        Since weights @ z + intercept
            = sum_j weights_j * (x_j - shift_j) / scale_j + intercept,
        the original weights are weights / scale and the original intercept is
        intercept - sum_j weights_j * shift_j / scale_j.

        Args:
            weights: float64 array of shape (n_features,), learned on z.
            intercept: the intercept learned on z.

        Returns:
            (original weights, float64 array of shape (n_features,); original
            intercept, a float).

        Raises:
            ValueError: `weights` has a different shape from the scaler.
        """
        weights = self._checked(weights)
        original = weights / self.scale
        return original, float(intercept - np.dot(original, self.shift))

    def from_original(
        self, weights: NDArray[np.float64], intercept: float
    ) -> tuple[NDArray[np.float64], float]:
        """The inverse of `to_original`: weights and intercept that act on z.

        weights_z = weights * scale and intercept_z = intercept + weights . shift,
        so a model can move from one fitted scaler to another (as `partial_fit`
        does when the running statistics grow) without changing its predictions.

        Raises:
            ValueError: `weights` has a different shape from the scaler.
        """
        weights = self._checked(weights)
        return weights * self.scale, float(intercept + np.dot(weights, self.shift))

    def _checked(self, weights: NDArray[np.float64]) -> NDArray[np.float64]:
        """`weights` as float64, of the scaler's shape (n_features,)."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != self.scale.shape:
            raise ValueError(
                f"weights must have shape {self.scale.shape}; got {weights.shape}"
            )
        return weights

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; floats read back bit for bit through `json`."""
        return {
            "method": self.method,
            "shift": self.shift.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scaler:
        """The scaler written by `to_dict`.

        Raises:
            ValueError: a field is absent, the method is unknown, or shift and
                scale differ in length.
        """
        absent = [name for name in ("method", "shift", "scale") if name not in d]
        if absent:
            raise ValueError(f"scaler lacks the field(s) {', '.join(absent)}")
        _check_method(d["method"])
        if len(d["shift"]) != len(d["scale"]):
            raise ValueError(
                f"scaler shift has {len(d['shift'])} values but scale has"
                f" {len(d['scale'])}"
            )
        return cls(
            method=d["method"],
            shift=np.array(d["shift"], dtype=np.float64),
            scale=np.array(d["scale"], dtype=np.float64),
        )


def _check_method(method: str) -> None:
    if method not in SCALERS:
        raise ValueError(
            f"unknown scaler {method!r}; choose one of {', '.join(SCALERS)}"
        )


_Fitted = tuple[NDArray[np.float64], NDArray[np.float64]]


def _fit_none(stats: RunningStats) -> _Fitted:
    return np.zeros(stats.mean.shape), np.ones(stats.mean.shape)


def _fit_standard(stats: RunningStats) -> _Fitted:
    return stats.mean.copy(), stats.std


def _fit_minmax(stats: RunningStats) -> _Fitted:
    # finite: a spread beyond float64 would have made the variance overflow
    return stats.minimum.copy(), stats.maximum - stats.minimum


def _fit_maxabs(stats: RunningStats) -> _Fitted:
    largest = np.maximum(np.abs(stats.minimum), np.abs(stats.maximum))
    return np.zeros(stats.mean.shape), largest


_FITTERS = {
    "none": _fit_none,
    "standard": _fit_standard,
    "minmax": _fit_minmax,
    "maxabs": _fit_maxabs,
}
