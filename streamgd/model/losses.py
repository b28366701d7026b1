"""Losses of a linear model, each with its exact derivative, row by row.

Convention: a loss is a function of the margin z = x . w + b and the label y. The
cost of a batch is the weighted mean of its rows' losses (the weights are the sample
weights, all 1 when none are given), so batch sizes compare on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

# two float64 arrays of a block's length, (losses, slopes), that a loss writes
# into instead of new ones: a pass over many blocks reuses them (in a dask
# worker each new array of a block's size is mapped and zeroed again, see
# `fullbatch.gradient.Scratch`)
LossArrays = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class SquaredLoss:
    """l(z, y) = (z - y)^2 / 2; dl/dz = z - y. The 1/2 makes the slope the residual."""

    name: str = "squared"
    # the largest d2l/dz2, which bounds a batch cost's curvature (see train.loop)
    curvature: ClassVar[float] = 1.0

    def value_and_slope(
        self, z: np.ndarray, y: np.ndarray, out: LossArrays | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss and dl/dz; float64 arrays of z's shape.

        Args:
            out: arrays to write the loss and the slope into (see `LossArrays`),
                or None for new ones; the values are the same bit for bit.
        """
        if out is None:
            residual = z - y
            return 0.5 * residual * residual, residual
        losses, residual = out
        np.subtract(z, y, out=residual)
        np.multiply(residual, 0.5, out=losses)
        losses *= residual
        return losses, residual

    def predict(self, z: np.ndarray) -> np.ndarray:
        return z


@dataclass(frozen=True)
class LogLoss:
    """l(z, y) = log(1 + e^z) - y z for y in {0, 1}; dl/dz = sigmoid(z) - y.

    Computed as logaddexp(0, z) - y z, which neither overflows for large |z| nor
    loses the loss of a confident mistake to rounding.
    """

    name: str = "log"
    # sigmoid(z) (1 - sigmoid(z)) is at most 1/4, at z = 0
    curvature: ClassVar[float] = 0.25

    def value_and_slope(
        self, z: np.ndarray, y: np.ndarray, out: LossArrays | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-row loss and dl/dz; float64 arrays of z's shape.

        Args:
            out: arrays to write the loss and the slope into (see `LossArrays`),
                or None for new ones; the values are the same bit for bit.
        """
        if out is None:
            return np.logaddexp(0.0, z) - y * z, sigmoid(z) - y
        losses, slopes = out
        np.logaddexp(0.0, z, out=losses)
        losses -= np.multiply(y, z, out=slopes)
        sigmoid(z, out=slopes)
        slopes -= y
        return losses, slopes

    def predict(self, z: np.ndarray) -> np.ndarray:
        """Probability of the positive class."""
        return sigmoid(z)


def sigmoid(z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """1 / (1 + e^-z), through tanh so that no exponential overflows.

    Args:
        out: a float64 array of z's shape to write into (not z itself), or None
            for a new one; the same values either way.
    """
    if out is None:
        return 0.5 * (1.0 + np.tanh(0.5 * z))
    np.tanh(np.multiply(z, 0.5, out=out), out=out)
    out += 1.0
    out *= 0.5
    return out


LOSSES = {"linear": SquaredLoss(), "logistic": LogLoss()}
