"""The best constant predictor: the yardstick of the final report.

For the squared loss (z - y)^2 / 2 the best constant is the weighted mean of the
training targets; for the log loss it is the base rate (the mean of the 0/1
labels, as a probability). Its cost on any rows follows from their weighted sums
of y and y^2, so no second pass is needed:

    squared   (E[y^2] - 2 c E[y] + c^2) / 2
    log       -(E[y] log p + (1 - E[y]) log(1 - p))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TargetSums:
    """Weighted sums over some rows: of the weights, of y and of y^2; and the
    number of rows."""

    weight: float = 0.0
    y: float = 0.0
    y2: float = 0.0
    n_rows: int = 0

    def add(self, y: np.ndarray, weight: np.ndarray | None) -> TargetSums:
        """These sums with rows y (float64 (n_rows,)) and their weights added.

        Sums of products by einsum, not `@`: BLAS spreads a dot product of a
        chunk over its threads, and on a busy machine waking them cost 5 ms
        per chunk, longer than training on the chunk.
        """
        if weight is None:
            return TargetSums(
                self.weight + len(y), self.y + float(y.sum()),
                self.y2 + float(np.einsum("i,i->", y, y)), self.n_rows + len(y),
            )
        return TargetSums(
            self.weight + float(weight.sum()),
            self.y + float(np.einsum("i,i->", weight, y)),
            self.y2 + float(np.einsum("i,i,i->", weight, y, y)),
            self.n_rows + len(y),
        )


def best_constant(kind: str, train: TargetSums) -> float:
    """The constant prediction (mean, or base rate) fitted to the training rows."""
    return train.y / train.weight if train.weight > 0 else float("nan")


def constant_cost(kind: str, constant: float, rows: TargetSums) -> float:
    """The mean loss of predicting `constant` on the rows the sums describe."""
    if rows.weight <= 0 or not math.isfinite(constant):
        return float("nan")
    mean, mean_square = rows.y / rows.weight, rows.y2 / rows.weight
    if kind == "linear":
        return 0.5 * (mean_square - 2 * constant * mean + constant * constant)
    # a base rate of exactly 0 or 1 would make a log infinite: keep it inside
    p = min(max(constant, 1e-15), 1 - 1e-15)
    return -(mean * math.log(p) + (1 - mean) * math.log1p(-p))
