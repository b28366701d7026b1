"""Class labels of a logistic model, mapped to 0 and 1 and recorded.

Labels may be 0/1, -1/1, booleans, or two distinct strings; text that reads as a
number or as true/false is taken as that value, so a CSV column of "0"/"1" and a
Parquet column of integers mean the same. Unless the job names the classes, the
negative class is the smaller value (False, 0, -1, or the first string in sorted
order). With `data.positive_above`, the label is `target > threshold` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamgd.errors import DataError, SchemaError
from streamgd.readers.chunks import ChunkRef

Key = bool | float | str


def label_key(value: Any) -> Key:
    """The comparable form of a label: a bool, a float, or a string."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def _sort_key(key: Key) -> tuple[int, Any]:
    # bools before numbers before text, so mixed kinds still sort the same way
    kind = 0 if isinstance(key, bool) else 1 if isinstance(key, float) else 2
    return kind, key


@dataclass(frozen=True)
class LabelMap:
    """How target values become 0/1.

    Attributes:
        negative, positive: the class keys mapped to 0 and 1 (None when thresholded).
        threshold_value: with `data.positive_above`, the threshold; else None.
    """

    negative: Key | None = None
    positive: Key | None = None
    threshold_value: float | None = None

    @classmethod
    def from_classes(cls, seen: set[Key], configured: list[Any] | None, column: str):
        """The mapping from the classes seen in the data (and the job's, if given).

        Raises:
            DataError: fewer than two classes in the data and none configured, or
                a class in the data that the job does not name.
        """
        if configured is not None:
            negative, positive = (label_key(value) for value in configured)
            unknown = seen - {negative, positive}
            if unknown:
                raise DataError(
                    f"label {sorted(unknown, key=_sort_key)[0]!r} is not one of"
                    f" model.classes {configured}", column=column,
                )
            return cls(negative, positive)
        if len(seen) != 2:
            raise DataError(
                f"a logistic model needs two classes, the data has {len(seen)}:"
                f" {sorted(seen, key=_sort_key)}; set model.classes to name them",
                column=column,
            )
        negative, positive = sorted(seen, key=_sort_key)
        return cls(negative, positive)

    def threshold(self, target: np.ndarray) -> np.ndarray:
        """0/1 labels of `target > threshold_value`; float64 of the input's shape."""
        return (target > self.threshold_value).astype(np.float64)

    def encode(
        self, column: pa.ChunkedArray, name: str, ref: ChunkRef, nulls: np.ndarray
    ) -> np.ndarray:
        """0/1 float64 labels of a column chunk; null rows get 0 (dropped later)."""
        positives = []
        for value in pc.unique(column).drop_null().to_pylist():
            key = label_key(value)
            if key == self.positive:
                positives.append(value)
            elif key != self.negative:
                raise self._unknown(column, name, value, ref)
        value_set = pa.array(positives, type=column.type)
        encoded = pc.is_in(column, value_set=value_set).to_numpy(zero_copy_only=False)
        return np.where(nulls, 0.0, encoded.astype(np.float64))

    def _unknown(
        self, column: pa.ChunkedArray, name: str, value: Any, ref: ChunkRef
    ) -> SchemaError:
        row = pc.index(column, pa.scalar(value, type=column.type)).as_py()
        return SchemaError(
            f"label {value!r} is neither class {self.negative!r} nor {self.positive!r}",
            file=ref.file, column=name, row=ref.first_row + row,
            line=None if ref.first_line is None else ref.first_line + row,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "negative": self.negative, "positive": self.positive,
            "threshold": self.threshold_value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabelMap:
        return cls(data["negative"], data["positive"], data["threshold"])


def collect_classes(
    column: pa.ChunkedArray, name: str, seen: set[Key], ref: ChunkRef
) -> None:
    """Add the chunk's distinct labels to `seen`; a third class is an error."""
    for value in pc.unique(column).drop_null().to_pylist():
        earlier = sorted(seen, key=_sort_key)
        seen.add(label_key(value))
        if len(seen) > 2:
            row = pc.index(column, pa.scalar(value, type=column.type)).as_py()
            raise DataError(
                f"a third class {value!r} after {earlier};"
                " a logistic model takes two classes",
                file=ref.file, column=name, row=ref.first_row + row,
                line=None if ref.first_line is None else ref.first_line + row,
            )
