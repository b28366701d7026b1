"""What a reader hands on: references to chunks, and the tables read from them.

A chunk is the unit the epoch shuffle permutes: one Parquet row group, or one CSV
block. A `ChunkRef` names it without holding its rows, so an epoch plan over a
dataset of any size is a small list of references.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa


@dataclass(frozen=True)
class ChunkRef:
    """Where one chunk lives.

    Attributes:
        file: path of the data file.
        index: row-group or block number inside the file.
        first_row: 0-based index, inside the file, of the chunk's first data row.
        n_rows: rows in the chunk (0 is allowed and skipped by the trainer).
        first_line: 1-based physical line of the first row in a CSV file, when
            every row of the file is one line (no blank line between rows, no
            newline inside a value); else None.
    """

    file: str
    index: int
    first_row: int
    n_rows: int
    first_line: int | None = None


class Source(Protocol):
    """A dataset split into chunks that can be read in any order."""

    chunks: list[ChunkRef]

    def read(self, ref: ChunkRef) -> pa.Table:
        """The chunk's rows, with the job's columns only."""
        ...

    def close(self) -> None:
        """Release open files and temporary data."""
        ...


@dataclass(frozen=True)
class ColumnPlan:
    """Which columns to read and how each is typed.

    Attributes:
        numeric: columns read as float64 (features, and the weight).
        target: the target column; None when predicting.
        target_numeric: True when the target must be a number (linear model, or a
            logistic model thresholded with `data.positive_above`); False when it
            holds class labels of any type.
        extra: other columns read as they are (the holdout's key column).
    """

    numeric: tuple[str, ...]
    target: str | None
    target_numeric: bool
    extra: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        target = [] if self.target is None else [self.target]
        extra = [name for name in self.extra if name not in (*self.numeric, *target)]
        return [*self.numeric, *target, *extra]


def is_numeric_type(arrow_type: pa.DataType) -> bool:
    """True for the Arrow types streamgd reads as float64 without loss of meaning."""
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_boolean(arrow_type)
        or pa.types.is_decimal(arrow_type)
        or pa.types.is_null(arrow_type)
    )
