"""The training state: everything that changes while a job trains, frozen.

    TrainState
    ├── params      LinearParams            weights and intercept
    ├── optimizer   the optimizer's state   a frozen dataclass (SGDState, ...)
    ├── position    EpochPosition           epoch, chunk order, chunks done,
    │                                       rows held and waiting in the block shuffle
    ├── monitor     Monitor                 epoch costs, stopping and divergence
    └── rng         dict                    the numpy bit generator's state

Everything else the engine uses is fixed by the job and the statistics pass. A
snapshot taken at a chunk boundary is therefore the whole of a run's progress: a
checkpoint is its serialisation, and restoring it continues the run bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamgd.model.linear import LinearParams
from streamgd.readers.decode import Chunk


@dataclass(frozen=True)
class EpochPosition:
    """Where training stands inside an epoch, always at a chunk boundary.

    Attributes:
        epoch: the epoch in progress, 0-based.
        order: this epoch's chunk order as indices into the source's chunks;
            None until the epoch has drawn it from the generator.
        n_chunks_done: chunks of `order` already pushed through the shuffle.
        held: scaled rows held back in the shuffle buffer, or None.
        held_lengths: intp array, the rows of each block of `held`, in order
            (see `stream.blocks`); None when nothing is held.
        pending: scaled rows waiting for a whole batch, or None.
        chunk_key: this epoch's key for the orders of rows inside each chunk
            (see `stream.blocks.BlockShuffle.write`), drawn with `order`.
    """

    epoch: int = 0
    order: tuple[int, ...] | None = None
    n_chunks_done: int = 0
    held: Chunk | None = None
    pending: Chunk | None = None
    held_lengths: np.ndarray | None = None
    chunk_key: int = 0


@dataclass(frozen=True)
class Monitor:
    """What the stopping rule and the divergence check remember.

    Attributes:
        epoch_costs: the averaged cost of each finished epoch.
        best_cost: the lowest epoch cost so far (inf before the first epoch).
        n_stale: epochs in a row that improved on `best_cost` by less than tol.
        first_cost: the starting cost, the weighted mean cost of the run's
            first 10 updates (see `train.stopping`) or, if larger, the zero
            model's cost over the data (`Prepared.baseline_cost`), the
            reference of the divergence checks; None before the first update.
        stop_reason: "max_epochs" while running or at the end, "converged"
            (the cost settled) or "no_improvement" (it stopped improving
            without settling).
        capped_updates: steps cut to their batch's cap (`optim.stepcap`).
        continued: the run began from weights trained before, on other rows
            (scikit-learn's partial_fit): its starting cost is then no
            untrained yardstick, so a single epoch is not judged against it.
    """

    epoch_costs: tuple[float, ...] = ()
    best_cost: float = float("inf")
    n_stale: int = 0
    first_cost: float | None = None
    stop_reason: str = "max_epochs"
    capped_updates: int = 0
    continued: bool = False


@dataclass(frozen=True)
class TrainState:
    """A run's progress at a chunk boundary; see the module docstring.

    Attributes:
        params: the model's parameters on scaled inputs.
        optimizer: the optimizer's state, a frozen dataclass of numpy arrays,
            ints and floats (its `update_count` drives the schedule).
        position: the epoch and the place inside it.
        monitor: stopping and divergence memory.
        rng: `numpy.random.Generator.bit_generator.state` of the job's generator.
        validation: the holdout, progressive and early-stopping memory
            (`streamgd.validate.monitor.ValidationState`); None in older
            checkpoints.
    """

    params: LinearParams
    optimizer: Any
    position: EpochPosition
    monitor: Monitor
    rng: dict[str, Any]
    validation: Any = None
