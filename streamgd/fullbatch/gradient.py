"""Loss and gradient sums of one block of rows, computed feature column by column.

A full-batch pass needs, per block, z = b + sum_j w_j x_j (x scaled), the
per-row loss and slope at z, and one dot product per feature. Done on a
row-major matrix this costs a transposing copy of the Arrow columns, a scaled
copy of that, and two matrix products; done column by column it reads each
Arrow column in place. Measured here per Parquet row group of 65,536 rows and
20 float64 features: 1.5 ms column by column against about 5 ms for the matrix
route (to_tensor 1.8 ms, scaling 2-6 ms, products 0.4 ms), next to the 4 ms
pyarrow takes to read the row group.

The same arithmetic, in the same order, serves the three sources of a block:

    Arrow columns (`dense_sums`)       scaled once into a block (`scaled_columns`)
    a cached block (`block_sums`)      features stored scaled, one row per feature
    a decoded chunk (`GradientSums.of`) rows decoded under the missing-value
                                       policy, transposed into a block first

so a pass over partitions cached in worker memory gives bit for bit the sums of
a pass that reads the files, and every scaled value is the one the decoder and
scaler would produce; only the order of the sums over rows and features differs
from a row-major `X.T @ slopes` (rounding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from streamgd.fullbatch import kernel
from streamgd.model.linear import LinearParams, Loss
from streamgd.normalize import Scaler
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk, Decoder

@dataclass(frozen=True)
class GradientSums:
    """Sums over some rows of the loss and its gradient; no mean taken yet.

    Attributes:
        loss: sum over rows of sample weight * loss.
        weights: float64 array of shape (n_features,), sum over rows of sample
            weight * dloss/dweights.
        intercept: sum over rows of sample weight * dloss/dintercept.
        total_weight: sum of the sample weights (the row count when unweighted).
        n_rows: rows summed.
    """

    loss: float
    weights: np.ndarray
    intercept: float
    total_weight: float
    n_rows: int

    @classmethod
    def empty(cls, n_features: int) -> GradientSums:
        return cls(0.0, np.zeros(n_features), 0.0, 0.0, 0)

    @classmethod
    def of(cls, chunk: Chunk, params: LinearParams, loss: Loss) -> GradientSums:
        """Sums over a decoded, scaled chunk at `params`."""
        return block_sums(ScaledBlock.of(chunk), params, loss)

    def merge(self, other: GradientSums) -> GradientSums:
        """Sums over the rows of both (disjoint) parts."""
        return GradientSums(
            self.loss + other.loss, self.weights + other.weights,
            self.intercept + other.intercept, self.total_weight + other.total_weight,
            self.n_rows + other.n_rows,
        )


@dataclass(frozen=True)
class ScaledBlock:
    """Scaled rows stored feature by feature, as a worker caches them.

    Attributes:
        columns: float64 array of shape (n_features, n_rows), C-contiguous;
            row j holds feature j of every row, scaled.
        y: float64 array of shape (n_rows,).
        weight: float64 array of shape (n_rows,), or None when unweighted.
    """

    columns: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None

    @classmethod
    def of(cls, chunk: Chunk) -> ScaledBlock:
        """The block of a decoded, scaled chunk (a transposing copy)."""
        return cls(np.ascontiguousarray(chunk.X.T), chunk.y, chunk.weight)

    @property
    def n_rows(self) -> int:
        return self.columns.shape[1]


def block_sums(
    block: ScaledBlock, params: LinearParams, loss: Loss,
    scratch: Scratch | None = None,
) -> GradientSums:
    """Sums over a block of scaled rows at `params`.

    Args:
        scratch: arrays reused across a task's blocks; None for new ones.
    """
    n_features, n_rows = block.columns.shape
    if n_rows == 0:
        return GradientSums.empty(n_features)
    scratch = scratch or Scratch()
    margins = _margins(block.columns, params, scratch.array("margins", (n_rows,)),
                       scratch.array("product", (n_rows,)))
    return _sums(block.columns, margins, block.y, block.weight, loss, scratch)


class Scratch:
    """Arrays a task reuses from one block to the next, instead of new ones.

    dask's nanny starts worker processes with MALLOC_TRIM_THRESHOLD_ set, which
    turns off glibc's adaptive mmap threshold: each array over 128 KiB is then
    mapped when made and unmapped when freed, its pages faulted in and zeroed
    again for every block. Measured here with that setting, per 65,536 x 20 row
    group: 1.6 ms more CPU (a fifth of the block's time) than with the arrays
    kept.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
        """A float64 array of `shape`, C-contiguous; its values are undefined
        and the previous array of that name is overwritten."""
        size = int(np.prod(shape))
        kept = self._arrays.get(name)
        if kept is None or kept.size < size:
            kept = self._arrays[name] = np.empty(size)
        return kept[:size].reshape(shape)


def dense_sums(
    decoder: Decoder, scaler: Scaler, table: pa.Table, ref: ChunkRef,
    params: LinearParams, loss: Loss, scratch: Scratch | None = None,
) -> GradientSums | None:
    """Sums over a table's rows straight from its Arrow columns, or None.

    Returns None when the table needs the decoder: no rows, a feature column
    that is not float64, a null anywhere (the missing-value policy), or a value
    that is not finite (the decoder names its column and row).

    Args:
        scratch: arrays reused across a task's blocks; None for new ones.

    Raises:
        DataError: a bad target or sample weight, as `Decoder.decode` does.
    """
    features = decoder.dense_features(table)
    if features is None or table.num_rows == 0:
        return None
    scratch = scratch or Scratch()
    columns, margins = _scaled_margins(features, table.num_rows, scaler, params,
                                       scratch)
    # NaN and infinities in any feature propagate into the margins' sum
    with np.errstate(over="ignore", invalid="ignore"):
        if not np.isfinite(margins.sum()):
            return None
    target = decoder.complete_target(table, ref)
    if target is None:
        return None
    y, weight = target
    return _sums(columns, margins, y, weight, loss, scratch)


def scaled_columns(
    features: list[np.ndarray], scaler: Scaler, out: np.ndarray | None = None
) -> np.ndarray:
    """The features scaled as the scaler scales them, one row per feature.

    Args:
        features: float64 arrays of shape (n_rows,), one per feature.
        out: where to write them, or None for a new array.

    Returns:
        float64 array of shape (n_features, n_rows), C-contiguous.
    """
    n_rows = len(features[0]) if features else 0
    columns = np.empty((len(features), n_rows)) if out is None else out
    for j, feature in enumerate(features):
        np.subtract(feature, scaler.shift[j], out=columns[j])
        columns[j] /= scaler.scale[j]
    return columns


def _scaled_margins(
    features: list[np.ndarray], n_rows: int, scaler: Scaler, params: LinearParams,
    scratch: Scratch,
) -> tuple[np.ndarray, np.ndarray]:
    """The scaled features, one row each, and the margins, in `scratch`: in one
    compiled pass per column when numba is installed (`kernel`), else numpy.

    Scaled once, read twice: scaling each column again for the dot products
    took 1.4 of 3.4 ms of arithmetic per 65,536 x 20 row group (measured).
    """
    columns = scratch.array("columns", (len(features), n_rows))
    margins = scratch.array("margins", (n_rows,))
    if kernel.scale_into_margins(features, scaler, params, columns, margins):
        return columns, margins
    scaled_columns(features, scaler, out=columns)
    return columns, _margins(columns, params, margins,
                             scratch.array("product", (n_rows,)))


def _margins(
    columns: np.ndarray, params: LinearParams, out: np.ndarray, buffer: np.ndarray
) -> np.ndarray:
    """z = b + sum_j w_j x_j over the rows, feature by feature, into `out`."""
    out.fill(params.intercept)
    for j, weight in enumerate(params.weights):
        out += np.multiply(columns[j], weight, out=buffer)
    return out


def _sums(
    columns: np.ndarray, margins: np.ndarray, y: np.ndarray,
    weight: np.ndarray | None, loss: Loss, scratch: Scratch,
) -> GradientSums:
    """Weighted loss and slope sums, then one dot product per feature.

    The per-row losses and slopes go into `scratch`: new arrays for them cost
    0.7 ms per 65,536-row block in a dask worker (mapped and zeroed each time,
    see `Scratch`), a tenth of the block's time (measured, 2M-row bench file).
    """
    n_rows = len(y)
    losses, slopes = loss.value_and_slope(
        margins, y, out=(scratch.array("losses", (n_rows,)),
                         scratch.array("slopes", (n_rows,))))
    total_weight = float(n_rows)
    if weight is not None:
        losses *= weight
        slopes *= weight
        total_weight = float(weight.sum())

    gradient = np.empty(len(columns))
    for j in range(len(columns)):
        gradient[j] = np.dot(columns[j], slopes)
    return GradientSums(float(losses.sum()), gradient, float(slopes.sum()),
                        total_weight, len(y))
