"""One pass over the partitions: per-partition sums, combined by a tree reduction.

A gradient pass returns, per partition, the weighted sum of the losses, the
weighted sum of the loss gradients, the total sample weight and the row count.
Sums merge by addition, so any split of the rows into partitions (empty ones,
one-row ones, partitions of unknown or very different lengths) gives the same
totals up to rounding; the mean cost and gradient are taken once, at the end, as
sum / total weight. An average of partition averages would weigh a one-row
partition like a million-row one.

The statistics pass uses the same machinery: per-partition `RunningStats`, row
counts and class labels, merged pairwise (`RunningStats.merge`).

Partial results are combined `FAN_IN` at a time, level by level, so no single
task receives one result per partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import reduce
from typing import Any, Callable, Protocol, TypeVar

import numpy as np
from dask import delayed

from streamgd.errors import NonFiniteValueError
from streamgd.fullbatch.partitions import Partition, PartitionReader
from streamgd.model.labels import Key, collect_classes
from streamgd.model.linear import LinearParams, Loss
from streamgd.normalize import RunningStats, Scaler
from streamgd.normalize.moments import StatisticsOverflow
from streamgd.readers.decode import Chunk, Decoder
from streamgd.train.prepare import check_target_magnitude, update_statistics

# 8 partial results per merge task: a pass over 10,000 partitions is 5 levels
FAN_IN = 8


class Mergeable(Protocol):
    def merge(self, other: Any) -> Any: ...


M = TypeVar("M", bound=Mergeable)


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
        losses, slopes = loss.value_and_slope(params.margin(chunk.X), chunk.y)
        total_weight = float(chunk.n_rows)
        if chunk.weight is not None:
            losses, slopes = losses * chunk.weight, slopes * chunk.weight
            total_weight = float(chunk.weight.sum())
        return cls(float(losses.sum()), chunk.X.T @ slopes, float(slopes.sum()),
                   total_weight, chunk.n_rows)

    def merge(self, other: GradientSums) -> GradientSums:
        """Sums over the rows of both (disjoint) parts."""
        return GradientSums(
            self.loss + other.loss, self.weights + other.weights,
            self.intercept + other.intercept, self.total_weight + other.total_weight,
            self.n_rows + other.n_rows,
        )


@dataclass(frozen=True)
class Summary:
    """What the statistics pass learns from some partitions.

    Attributes:
        stats: running statistics of the features over the rows kept.
        n_rows: rows kept; n_dropped: rows dropped for missing values.
        classes: class labels seen (logistic models with text or 0/1 labels).
        weight_sum: sum of the sample weights of the rows kept (0.0 unweighted).
    """

    stats: RunningStats
    n_rows: int = 0
    n_dropped: int = 0
    classes: frozenset[Key] = field(default_factory=frozenset)
    weight_sum: float = 0.0

    def merge(self, other: Summary) -> Summary:
        return Summary(
            self.stats.merge(other.stats), self.n_rows + other.n_rows,
            self.n_dropped + other.n_dropped, self.classes | other.classes,
            self.weight_sum + other.weight_sum,
        )


@dataclass(frozen=True)
class ScaledData:
    """How a task turns a partition's tables into scaled chunks."""

    reader: PartitionReader
    decoder: Decoder
    scaler: Scaler

    def chunks(self, partition: Partition):
        """The partition's decoded, scaled chunks, one block at a time."""
        for ref, table in self.reader.tables(partition):
            chunk = self.decoder.decode(table, ref)
            if chunk.n_rows:
                yield Chunk(self.scaler.transform(chunk.X), chunk.y, chunk.weight)

    def load(self, partition: Partition) -> Chunk:
        """The whole partition as one scaled chunk (for caching in memory)."""
        n_features = len(self.decoder.features)
        parts = list(self.chunks(partition))
        if not parts:
            return Chunk(np.empty((0, n_features)), np.empty(0), None)
        weights = [part.weight for part in parts]
        return Chunk(
            np.concatenate([part.X for part in parts]),
            np.concatenate([part.y for part in parts]),
            None if weights[0] is None else np.concatenate(weights),
        )


def partition_sums(
    data: ScaledData, partition: Partition, params: LinearParams, loss: Loss
) -> GradientSums:
    """Gradient sums over a partition read from its file, block by block."""
    sums = GradientSums.empty(len(data.decoder.features))
    for chunk in data.chunks(partition):
        sums = sums.merge(GradientSums.of(chunk, params, loss))
    return sums


def chunk_sums(chunk: Chunk, params: LinearParams, loss: Loss) -> GradientSums:
    """Gradient sums over a partition cached in memory."""
    return GradientSums.of(chunk, params, loss)


def summarize(
    reader: PartitionReader, decoder: Decoder, needs_classes: bool,
    partition: Partition,
) -> Summary:
    """The statistics-pass summary of one partition; labels collected if needed.

    Raises:
        DataError: a bad value, naming file, column and row.
    """
    features, target = decoder.features, decoder.plan.target
    # a numeric target without a threshold is a regression target
    regression = decoder.plan.target_numeric and decoder.labels is None
    stats, classes = RunningStats.empty(len(features)), set()
    n_rows = n_dropped = 0
    weight_sum = 0.0
    for ref, table in reader.tables(partition):
        if needs_classes:
            collect_classes(table.column(target), target, classes, ref)
        # a numeric target is decoded, so NaN, inf and overflow fail here
        chunk = decoder.decode(table, ref, with_target=not needs_classes)
        if regression:
            check_target_magnitude(chunk, ref, target)
        stats = update_statistics(stats, chunk, ref, features)
        n_rows, n_dropped = n_rows + chunk.n_rows, n_dropped + chunk.n_dropped
        if chunk.weight is not None:
            weight_sum += float(chunk.weight.sum())
    return Summary(stats, n_rows, n_dropped, frozenset(classes), weight_sum)


def merge_all(*parts: M) -> M:
    """The merge of partial results, left to right."""
    return reduce(lambda old, new: old.merge(new), parts)


def merge_summaries(features: list[str], *parts: Summary) -> Summary:
    """`merge_all` for summaries; an overflow becomes an error naming the column.

    Converted here, inside the task: a `StatisticsOverflow` does not survive the
    trip from a worker process, a `DataError` does.
    """
    try:
        return merge_all(*parts)
    except StatisticsOverflow as overflow:
        # merged statistics know their column, no longer a row or a file
        raise NonFiniteValueError(
            f"{overflow.reason}; rescale the column before training (divide it"
            " by a power of ten)", column=features[overflow.feature],
        ) from None


def tree_reduce(parts: list[Any], merge: Callable[..., Any], empty: Any) -> Any:
    """A dask value merging `parts` (dask values) `FAN_IN` at a time.

    With no parts at all, the value is `empty`.
    """
    if not parts:
        return delayed(empty)
    level = list(parts)
    while len(level) > 1:
        level = [
            delayed(merge, pure=False)(*level[start:start + FAN_IN])
            for start in range(0, len(level), FAN_IN)
        ]
    return level[0]
