"""Learning-rate schedules: pure functions of the update count and the epoch.

    constant     lr
    invscaling   lr / t ** power_t       t = 1, 2, ... counts updates; t = 0 never
                                         occurs, so 0 ** -power_t cannot be met
    epoch_decay  lr * decay ** epoch     epoch = 0, 1, ...

Being pure, a schedule needs no state of its own in a checkpoint: the update count
and the epoch, which the training state holds, give the rate exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SCHEDULES = ("constant", "invscaling", "epoch_decay")


def _power(base: float, exponent: float) -> float:
    """base ** exponent, the usual exponents 0.5 and 0.25 by square roots: within
    an ulp or two of pow, and far cheaper in the compiled kernel, which rounds
    the same way (`optim.kernels._power`; a test holds the two to the bit)."""
    if exponent == 0.5:
        return math.sqrt(base)
    if exponent == 0.25:
        return math.sqrt(math.sqrt(base))
    return base**exponent


@dataclass(frozen=True)
class Schedule:
    """The learning rate at update t (1-based) of epoch e (0-based)."""

    kind: str
    initial: float
    power_t: float = 0.5
    decay: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}; one of {SCHEDULES}")
        if not self.initial > 0:
            raise ValueError(f"learning rate must be > 0, got {self.initial!r}")

    def __call__(self, update: int, epoch: int) -> float:
        if update < 1:
            raise ValueError(f"updates count from 1, got {update}")
        if self.kind == "invscaling":
            return self.initial / _power(float(update), self.power_t)
        if self.kind == "epoch_decay":
            return self.initial * self.decay**epoch
        return self.initial
