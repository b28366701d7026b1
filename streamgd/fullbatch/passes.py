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
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

import numpy as np
import pyarrow as pa
from dask import delayed

from streamgd.errors import NonFiniteValueError
from streamgd.fullbatch.gradient import (
    GradientSums, ScaledBlock, Scratch, block_sums, dense_sums, scaled_columns,
)
from streamgd.fullbatch.partitions import (
    OpenParquet, Partition, PartitionReader,
)
from streamgd.model.labels import Key, collect_classes
from streamgd.model.linear import LinearParams, Loss
from streamgd.normalize import RunningStats, Scaler
from streamgd.normalize.moments import StatisticsOverflow
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk, Decoder
from streamgd.train.prepare import (
    check_target_magnitude, count_positives, update_statistics,
)

# 8 partial results per merge task: a pass over 10,000 partitions is 5 levels
FAN_IN = 8


class Mergeable(Protocol):
    def merge(self, other: Any) -> Any: ...


M = TypeVar("M", bound=Mergeable)
T = TypeVar("T")

# tasks per worker thread in a gradient pass: one. A second task per thread
# did not even out slow workers: the scheduler hands a one-thread worker two
# tasks at once (worker-saturation 1.1, rounded up), so both queued where they
# landed. It cost each pass a task's round trip, a file opened again and new
# arrays: 2M rows on 2 workers took 137-154 ms in 2 tasks against 142-167 ms
# in 4, worker CPU 5-8 ms less each (interleaved runs, load 1.5-2.5)
TASKS_PER_SLOT = 1


@dataclass(frozen=True)
class Summary:
    """What the statistics pass learns from some partitions.

    Attributes:
        stats: running statistics of the features over the rows kept.
        n_rows: rows kept; n_dropped: rows dropped for missing values.
        classes: class labels seen (logistic models with text or 0/1 labels).
        weight_sum: sum of the sample weights of the rows kept (0.0 unweighted).
        positives: rows kept whose label is 1 (0 unless thresholded).
    """

    stats: RunningStats
    n_rows: int = 0
    n_dropped: int = 0
    classes: frozenset[Key] = field(default_factory=frozenset)
    weight_sum: float = 0.0
    positives: int = 0

    def merge(self, other: Summary) -> Summary:
        return Summary(
            self.stats.merge(other.stats), self.n_rows + other.n_rows,
            self.n_dropped + other.n_dropped, self.classes | other.classes,
            self.weight_sum + other.weight_sum, self.positives + other.positives,
        )


@dataclass(frozen=True)
class ScaledData:
    """How a task turns a partition's tables into scaled chunks."""

    reader: PartitionReader
    decoder: Decoder
    scaler: Scaler

    def chunks(self, partition: Partition) -> Iterator[Chunk]:
        """The partition's decoded, scaled chunks, one block at a time."""
        return self.scaled(self.reader.tables(partition))

    def scaled(self, tables: Iterable[tuple[ChunkRef, pa.Table]]) -> Iterator[Chunk]:
        """The tables decoded and scaled; empty ones skipped."""
        for ref, table in tables:
            chunk = self.decoder.decode(table, ref)
            if chunk.n_rows:
                # in place: the decoded matrix is this task's own
                X = self.scaler.transform(chunk.X, out=chunk.X)
                yield Chunk(X, chunk.y, chunk.weight)

    def load(self, partition: Partition) -> list[ScaledBlock]:
        """The partition's blocks, scaled, for caching in worker memory."""
        blocks = []
        for ref, table in self.reader.tables(partition):
            with self.reader.rows_in_file(partition):
                if table.num_rows:
                    blocks.append(self._block(ref, table))
        return blocks

    def _block(self, ref: ChunkRef, table: pa.Table) -> ScaledBlock:
        """A table's rows as a scaled block; decoded when `dense_sums` would be
        (the scaled values are the same either way)."""
        features = self.decoder.dense_features(table)
        if features is not None:
            columns = scaled_columns(features, self.scaler)
            with np.errstate(over="ignore", invalid="ignore"):
                finite = np.isfinite(columns.sum())
            target = self.decoder.complete_target(table, ref) if finite else None
            if target is not None:
                return ScaledBlock(columns, *target)

        chunks = list(self.scaled([(ref, table)]))
        if not chunks:  # every row dropped for missing values
            n_features = len(self.decoder.features)
            return ScaledBlock(np.empty((n_features, 0)), np.empty(0), None)
        return ScaledBlock.of(chunks[0])


def partition_sums(
    data: ScaledData, partition: Partition, params: LinearParams, loss: Loss,
    parquet: OpenParquet | None = None, scratch: Scratch | None = None,
) -> GradientSums:
    """Gradient sums over a partition read from its file, block by block.

    A block of complete float64 columns is summed straight from them
    (`dense_sums`); any other block is decoded and scaled first.

    Args:
        parquet: the task's open Parquet file (`PartitionReader.tables`).
        scratch: the task's reused arrays (`gradient.Scratch`).
    """
    sums = GradientSums.empty(len(data.decoder.features))
    for ref, table in data.reader.tables(partition, parquet):
        with data.reader.rows_in_file(partition):
            block = dense_sums(data.decoder, data.scaler, table, ref, params, loss,
                               scratch)
            if block is None:
                block = GradientSums.empty(len(data.decoder.features))
                for chunk in data.scaled([(ref, table)]):
                    block = GradientSums.of(chunk, params, loss)
        sums = sums.merge(block)
    return sums


def cached_sums(
    blocks: list[ScaledBlock], params: LinearParams, loss: Loss,
    scratch: Scratch | None = None,
) -> GradientSums:
    """Gradient sums over a partition cached in memory (`ScaledData.load`);
    merged block by block as `partition_sums` does, so the two agree exactly.

    Args:
        scratch: the task's reused arrays (`gradient.Scratch`).
    """
    sums = GradientSums.empty(len(params.weights))
    for block in blocks:
        sums = sums.merge(block_sums(block, params, loss, scratch))
    return sums


def group_sums(
    partitions: list[Partition], data: ScaledData, params: LinearParams, loss: Loss
) -> list[GradientSums]:
    """The gradient sums of each partition of a group, read from the files; a
    Parquet file is opened once for the partitions of the group in it, and the
    blocks are summed in the same arrays, one after the other."""
    scratch = Scratch()
    with OpenParquet() as parquet:
        return [partition_sums(data, partition, params, loss, parquet, scratch)
                for partition in partitions]


def cached_group_sums(
    cached: list[list[ScaledBlock]], params: LinearParams, loss: Loss
) -> list[GradientSums]:
    """The gradient sums of each partition of a group, cached in memory."""
    scratch = Scratch()
    return [cached_sums(blocks, params, loss, scratch) for blocks in cached]


def split_evenly(items: list[T], n_groups: int) -> list[list[T]]:
    """At most `n_groups` runs of consecutive items, lengths differing by <= 1."""
    n_groups = max(1, min(n_groups, len(items)))
    bounds = [len(items) * k // n_groups for k in range(n_groups + 1)]
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def groups_by_holder(
    holders: list[str | None], n_groups: int
) -> tuple[list[list[int]], list[str | None]]:
    """Indices of kept values grouped by the worker holding them, each worker's
    share split into about `n_groups` / workers groups; and each group's worker.

    A task then reads only values held where it runs: nothing moves between
    workers during a pass.
    """
    by_holder: dict[str | None, list[int]] = {}
    for index, holder in enumerate(holders):
        by_holder.setdefault(holder, []).append(index)
    per_holder = max(1, n_groups // max(1, len(by_holder)))
    groups, workers = [], []
    for holder, indices in by_holder.items():
        for group in split_evenly(indices, per_holder):
            groups.append(group)
            workers.append(holder)
    return groups, workers


def merge_in_order(
    groups: list[list[int]], per_group: list[list[M]], empty: M
) -> M:
    """The merge of every item's result, in item order, whatever the grouping.

    Args:
        groups: the item indices of each group (together each index once).
        per_group: the results of each group's items, in the group's order.
    """
    results: dict[int, M] = {}
    for indices, values in zip(groups, per_group):
        results.update(zip(indices, values))
    return merge_all(empty, *(results[index] for index in sorted(results)))


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
    positives = 0
    thresholded = decoder.labels is not None and not needs_classes
    for ref, table in reader.tables(partition):
        with reader.rows_in_file(partition):
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
        if thresholded:
            positives += count_positives(chunk)
    return Summary(stats, n_rows, n_dropped, frozenset(classes), weight_sum,
                   positives)


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
