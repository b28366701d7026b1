"""A compiled loop that scales a feature column and adds it to the margins.

numpy takes four passes over a column for this (subtract the shift, divide by
the scale, multiply by the weight, add to the margins); the loop below takes
one, doing the same four operations on each value in the same order, each
rounded as numpy rounds it: compiled without fast-math, nothing is fused into a
multiply-add or reordered, so its results are numpy's bit for bit (a test
checks both routes against each other). Measured here per 65,536 x 20 row
group: 1.1 ms against 2.2 ms for numpy, next to about 5 ms to read the row
group and 0.5 ms for the dot products.

numba comes with the `fast` extra; without it `scale_into_margins` returns
False and the caller takes the numpy route.
"""

from __future__ import annotations

import numpy as np

from streamgd.model.linear import LinearParams
from streamgd.normalize import Scaler
from streamgd.optim.jitcache import cached_njit

try:
    import numba
except ImportError:  # the `fast` extra is optional
    numba = None


def _scale_and_add(
    feature: np.ndarray, shift: float, scale: float, weight: float,
    scaled: np.ndarray, margins: np.ndarray,
) -> None:
    """scaled = (feature - shift) / scale; margins += scaled * weight."""
    for row in range(feature.shape[0]):
        value = (feature[row] - shift) / scale
        scaled[row] = value
        margins[row] += value * weight


# cached between runs outside the package (see `optim.jitcache`)
_compiled = (None if numba is None
             else cached_njit(numba, _scale_and_add, nogil=True, fastmath=False))


def scale_into_margins(
    features: list[np.ndarray], scaler: Scaler, params: LinearParams,
    columns: np.ndarray, margins: np.ndarray,
) -> bool:
    """The scaled features into `columns` and z = b + sum_j w_j x_j into
    `margins`; False (nothing written) when numba is not installed.

    Args:
        features: float64 arrays of shape (n_rows,), one per feature.
        columns: float64 array of shape (n_features, n_rows), one row per
            scaled feature, C-contiguous.
        margins: float64 array of shape (n_rows,).
    """
    if _compiled is None:
        return False
    margins.fill(params.intercept)
    for j, feature in enumerate(features):
        _compiled(feature, float(scaler.shift[j]), float(scaler.scale[j]),
                  float(params.weights[j]), columns[j], margins)
    return True
