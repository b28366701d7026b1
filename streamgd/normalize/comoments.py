"""Running covariance of the features, for the curvature of the expected cost.

The statistics pass feeds every chunk to `Comoments.update`; the largest
eigenvalue of the scaled rows' second-moment matrix E[x x^T] (a 1 appended for
the intercept) is then the largest curvature of the expected squared loss,
which sets the default learning rate (`optim.defaults`).

Each chunk's co-moment matrix is taken about its own mean and combined with
the running one by the pairwise update of Chan, Golub and LeVeque (1979),
extended to cross products, so columns far from zero keep their digits. Only
rows with every feature present count, and of a long chunk only an evenly
strided `SAMPLE_ROWS` of them: an estimate of a largest eigenvalue needs no
more, and the cost stays near d^2 x SAMPLE_ROWS per chunk. Past
`MAX_FEATURES` features nothing is accumulated: the defaults fall back to the
trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

MAX_FEATURES = 128
SAMPLE_ROWS = 1024


@dataclass(frozen=True)
class Comoments:
    """count rows, their mean (d,) and sum of centered cross products (d, d)."""

    count: int
    mean: NDArray[np.float64]
    comoment: NDArray[np.float64]

    @classmethod
    def empty(cls, n_features: int) -> Comoments | None:
        """Nothing seen yet; None past `MAX_FEATURES` (see the module docstring)."""
        if n_features > MAX_FEATURES:
            return None
        return cls(0, np.zeros(n_features), np.zeros((n_features, n_features)))

    def update(self, X: NDArray[np.float64]) -> Comoments:
        """These statistics extended by the complete rows of a chunk."""
        step = max(-(-X.shape[0] // SAMPLE_ROWS), 1)
        rows = X[::step]
        rows = rows[~np.isnan(rows).any(axis=1)]
        if rows.shape[0] == 0:
            return self
        mean = rows.mean(axis=0)
        centered = rows - mean
        with np.errstate(over="ignore", invalid="ignore"):
            part = Comoments(rows.shape[0], mean, centered.T @ centered)
        return self.merge(part)

    def merge(self, other: Comoments) -> Comoments:
        """The statistics of both parts together."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        share = other.count / count
        with np.errstate(over="ignore", invalid="ignore"):
            comoment = (self.comoment + other.comoment
                        + np.outer(delta, delta) * (self.count * share))
        return Comoments(count, self.mean + delta * share, comoment)

    def covariance(self) -> NDArray[np.float64]:
        """The population covariance (ddof 0); zeros before any row."""
        return self.comoment / max(self.count, 1)


def largest_curvature(
    comoments: Comoments | None, shift: NDArray[np.float64],
    scale: NDArray[np.float64], active: NDArray[np.bool_], fit_intercept: bool,
) -> float | None:
    """Largest eigenvalue of E[z z^T] for the scaled rows z = (x - shift) /
    scale over the active features, with a 1 for the intercept; None when the
    covariance was not accumulated, has no row, or is not finite."""
    if comoments is None or comoments.count == 0:
        return None
    inverse = 1.0 / scale[active]
    covariance = comoments.covariance()[np.ix_(active, active)]
    mean = (comoments.mean[active] - shift[active]) * inverse
    # scaled one side at a time: for a spread of 1e-158 the outer product of
    # the inverses overflows where the half-scaled covariance does not; what
    # still overflows is not finite and gives None below
    with np.errstate(over="ignore", invalid="ignore"):
        second = (covariance * inverse[:, None]) * inverse[None, :]
        second += np.outer(mean, mean)
    if fit_intercept:
        second = np.block([[second, mean[:, None]], [mean[None, :], np.ones((1, 1))]])
    if second.size == 0 or not np.isfinite(second).all():
        return None
    return float(np.linalg.eigvalsh(second)[-1])
