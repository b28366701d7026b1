"""From an Arrow table of one chunk to the float64 arrays the trainer uses.

Decoding applies the job's missing-value policy, maps class labels to 0/1, and
refuses NaN and infinite values with the file, column and row where they occur.
Missing values (nulls, or the CSV null markers) are not NaN: NaN read from a file
is an error, a null follows `data.missing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamgd.errors import (
    DataError, MissingValueError, NonFiniteValueError, SchemaError,
)
from streamgd.readers.chunks import ChunkRef, ColumnPlan
from streamgd.model.labels import LabelMap


@dataclass(frozen=True)
class Chunk:
    """The rows of one chunk, ready for the trainer.

    Attributes:
        X: float64 array of shape (n_rows, n_features), C-contiguous; imputed
            values filled in; NaN only during the statistics pass with
            `data.missing: impute` (the value is missing there).
        y: float64 array of shape (n_rows,); 0/1 for a logistic model.
        weight: float64 array of shape (n_rows,), or None when unweighted.
        n_dropped: rows of the chunk dropped for missing values.
        kept: indices (in the chunk) of the rows kept when some were dropped;
            None when all were kept.
    """

    X: np.ndarray
    y: np.ndarray
    weight: np.ndarray | None
    n_dropped: int = 0
    kept: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return self.X.shape[0]


# the most features a chunk is handed on as columns (see `ColumnChunk`): the
# compiled store write takes them as one tuple, and compiles once per length
MOST_COLUMNS = 128


@dataclass(frozen=True)
class ColumnChunk:
    """The rows of one chunk as the file's own float64 columns, not yet a matrix.

    What `Decoder.decode_columns` hands on when nothing needed decoding
    (float64 features without nulls or non-finite values, a complete target
    and weight): Arrow's column buffers as read-only numpy arrays, without the
    row-major copy. The shuffle's store writes them into its rows directly
    (`stream.store`), which saves a pass over the chunk's memory; `X` builds
    the matrix for the paths that need one.

    Attributes:
        columns: one float64 array (n_rows,) per feature, in model order.
        y, weight, n_dropped, kept: as in `Chunk` (nothing was dropped).
    """

    columns: tuple[np.ndarray, ...]
    y: np.ndarray
    weight: np.ndarray | None
    n_dropped: int = 0
    kept: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.y)

    @property
    def X(self) -> np.ndarray:
        """The (n_rows, n_features) C-ordered matrix, built on each call."""
        X = np.empty((self.n_rows, len(self.columns)))
        for j, column in enumerate(self.columns):
            X[:, j] = column
        return X


@dataclass
class Decoder:
    """Turns chunk tables into `Chunk`s under one job's policies.

    Attributes:
        features: feature column names, in model order.
        plan: the columns read.
        weight: the weight column, or None.
        missing: `error`, `drop` or `impute`.
        labels: the label mapping of a logistic model, or None for regression.
        impute_values: per-feature fill values for `impute` (the means of the
            statistics pass); None until they are known, when missing feature
            values stay NaN.
    """

    features: list[str]
    plan: ColumnPlan
    weight: str | None
    missing: str
    labels: LabelMap | None = None
    impute_values: np.ndarray | None = field(default=None, repr=False)

    def decode(self, table: pa.Table, ref: ChunkRef, with_target: bool = True) -> Chunk:
        """Arrays of one chunk.

        With `with_target=False` (the statistics pass, before the classes of a
        logistic model are known) `y` is all zeros, but rows with a missing
        target are still dropped.

        Raises:
            MissingValueError: a null under `data.missing: error`.
            NonFiniteValueError: NaN or an infinity read from the file.
            DataError: a negative sample weight.
        """
        X, feature_nulls = self._features(table, ref)  # nulls: None if none
        if self.plan.target is None:
            y, target_nulls = np.zeros(table.num_rows), np.zeros(table.num_rows, bool)
        elif with_target:
            y, target_nulls = self._target(table, ref)
        else:
            target_nulls = table.column(self.plan.target).is_null().to_numpy(
                zero_copy_only=False
            )
            y = np.zeros(table.num_rows)
        weight, weight_nulls = self._weight(table, ref)

        # missing-value policy
        incomplete = target_nulls | weight_nulls
        if self.missing != "impute" and feature_nulls is not None:
            incomplete = incomplete | feature_nulls.any(axis=1)
        if self.missing == "error" and incomplete.any():
            raise self._missing_error(table, ref, int(np.argmax(incomplete)))
        impute = self.missing == "impute" and self.impute_values is not None
        if impute and feature_nulls is not None:
            rows, columns = np.nonzero(feature_nulls)
            X[rows, columns] = self.impute_values[columns]
        kept = None
        if incomplete.any():
            kept = np.flatnonzero(~incomplete)
            X, y = X[kept], y[kept]
            weight = weight[kept] if weight is not None else None
        return Chunk(np.ascontiguousarray(X), y, weight, int(incomplete.sum()), kept)

    def decode_columns(self, table: pa.Table, ref: ChunkRef) -> Chunk | ColumnChunk:
        """As `decode`, but a chunk that needs no decoding stays in columns.

        A `ColumnChunk` when every feature is float64 without nulls and
        finite, the target and weight have no nulls, and there are at most
        `MOST_COLUMNS` features; otherwise `decode`'s `Chunk` (which raises
        for a bad value, naming its file, column and row).
        """
        if len(self.features) > MOST_COLUMNS or self.plan.target is None:
            return self.decode(table, ref)
        columns = _finite_read_only(self.dense_features(table))
        target = None if columns is None else self.complete_target(table, ref)
        if target is None:
            return self.decode(table, ref)
        y, weight = target
        return ColumnChunk(columns, y, weight)

    def dense_features(self, table: pa.Table) -> list[np.ndarray] | None:
        """The feature columns as float64 arrays, when nothing needs decoding.

        For passes that work column by column (the full-batch gradient): no
        row-major copy is built. Returns None for other types and for nulls; the
        values are not checked for NaN or infinities (the caller checks its
        results and falls back to `decode`, which names the bad value).
        """
        columns = [table.column(name) for name in self.features]
        if any(not pa.types.is_float64(column.type) or column.null_count
               for column in columns):
            return None
        return [column.to_numpy() for column in columns]

    def complete_target(
        self, table: pa.Table, ref: ChunkRef
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """Target and sample weight of a chunk with no missing value in them.

        Returns None when either has a null (the missing-value policy then
        applies: use `decode`). Raises as `decode` does for a bad value.
        """
        if self.plan.target is None:
            return None
        y, target_nulls = self._target(table, ref)
        weight, weight_nulls = self._weight(table, ref)
        if target_nulls.any() or weight_nulls.any():
            return None
        return y, weight

    def _features(self, table: pa.Table, ref: ChunkRef):
        dense = _dense_float64(table, self.features)
        if dense is not None:
            return dense, None
        n_rows = table.num_rows
        X = np.empty((n_rows, len(self.features)), dtype=np.float64)
        nulls = np.zeros((n_rows, len(self.features)), dtype=bool)
        for j, name in enumerate(self.features):
            X[:, j], nulls[:, j] = self._numbers(table, name, ref)
        return X, nulls

    def _numbers(self, table: pa.Table, name: str, ref: ChunkRef):
        column = table.column(name)
        if not pa.types.is_float64(column.type):
            # unsafe: an int64 beyond 2**53 rounds to the nearest float64, as in
            # numpy, instead of failing the safe cast without naming the column
            column = pc.cast(column, pa.float64(), safe=False)
        values = column.to_numpy()
        nulls = np.zeros(len(values), dtype=bool)
        if column.null_count:
            nulls = column.is_null().to_numpy(zero_copy_only=False)
        bad = ~np.isfinite(values) & ~nulls
        if bad.any():
            row = int(np.argmax(bad))
            raise NonFiniteValueError(
                f"value {float(values[row])!r} is not finite; remove or fix it",
                file=ref.file, column=name, row=ref.first_row + row,
                line=_line(ref, row),
            )
        return values, nulls

    def _target(self, table: pa.Table, ref: ChunkRef):
        if self.plan.target_numeric:
            y, nulls = self._numbers(table, self.plan.target, ref)
            if self.labels is not None:
                y = self.labels.threshold(y)
            return y, nulls
        column = table.column(self.plan.target)
        nulls = column.is_null().to_numpy(zero_copy_only=False)
        if self.labels is None:
            raise SchemaError("class labels are not known yet", column=self.plan.target)
        return self.labels.encode(column, self.plan.target, ref, nulls), nulls

    def _weight(self, table: pa.Table, ref: ChunkRef):
        if self.weight is None:
            return None, np.zeros(table.num_rows, dtype=bool)
        weight, nulls = self._numbers(table, self.weight, ref)
        negative = (weight < 0) & ~nulls
        if negative.any():
            row = int(np.argmax(negative))
            raise DataError(
                f"sample weight {float(weight[row])!r} is negative;"
                " weights must be 0 or more",
                file=ref.file, column=self.weight, row=ref.first_row + row,
                line=_line(ref, row),
            )
        return weight, nulls

    def _missing_error(self, table: pa.Table, ref: ChunkRef, row: int):
        names = self.plan.names
        column = next(name for name in names if not table.column(name)[row].is_valid)
        return MissingValueError(
            "missing value; set data.missing: drop or impute",
            file=ref.file, column=column, row=ref.first_row + row,
            line=_line(ref, row),
        )


def _dense_float64(table: pa.Table, features: list[str]) -> np.ndarray | None:
    """The features as one row-major matrix, when that is all there is to do.

    When every feature column is float64 without nulls, one `to_tensor` call
    builds the (n_rows, n_features) matrix: measured here it is the fastest
    way from Arrow columns into a C-ordered float64 matrix, about twice as fast
    as filling the matrix column by column. Returns None (the column path
    then runs) for other types, for nulls, and for any NaN or infinity, so that
    the column path can name the column and row of the bad value.
    """
    columns = table.select(features)
    if columns.num_rows == 0 or any(
        not pa.types.is_float64(column.type) or column.null_count
        for column in columns.columns
    ):
        return None
    batches = columns.combine_chunks().to_batches()
    X = np.asarray(batches[0].to_tensor(row_major=True))
    # a sum is finite only if every term is (NaN and infinities propagate); a
    # sum that overflows sends finite data down the column path, which is exact
    with np.errstate(over="ignore", invalid="ignore"):
        total = X.sum()
    if not X.flags.writeable or not np.isfinite(total):
        return None
    return X


def _finite_read_only(
    columns: list[np.ndarray] | None,
) -> tuple[np.ndarray, ...] | None:
    """`Decoder.dense_features`'s columns, read-only, or None (decode them
    instead) for no columns, no rows, and any NaN or infinity (found by sums,
    as in `_dense_float64`)."""
    if not columns or len(columns[0]) == 0:
        return None
    for values in columns:
        with np.errstate(over="ignore", invalid="ignore"):
            if not np.isfinite(values.sum()):
                return None
        # one array type for the compiled write: read-only, like Arrow's own
        # buffers (a column of several pieces comes as a writable copy)
        values.flags.writeable = False
    return tuple(columns)


def _line(ref: ChunkRef, row: int) -> int | None:
    return None if ref.first_line is None else ref.first_line + row
