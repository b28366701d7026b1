"""Checkpoints of full-batch gradient descent (fullbatch.solver gd, linesearch).

The state of these solvers between two iterations is small: the iterate, its
number, the next trial rate, the first cost (the divergence yardstick) and the
costs so far. After every iteration it is written with the cost log's position
and the statistics pass's results, in the same checkpoint file as the SGD
engine's (`checkpoint.path`, default `output.dir/checkpoint.npz`). A resumed
run skips the statistics pass, evaluates the stored iterate once (a pass: its
gradient is not stored) and goes on; every later iterate is bitwise the
uninterrupted run's, since a pass sums its partitions in a fixed order.

L-BFGS keeps its curvature pairs inside scipy's driver, out of reach: its runs
are not checkpointed, and `sgd+batch` runs (their SGD phase) neither.
"""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass

import numpy as np

from streamgd.checkpoint import Checkpoint, fingerprint, save_checkpoint
from streamgd.config import Config
from streamgd.errors import ConfigError, TrainingInterrupted
from streamgd.train.checkpoints import RESUME_HINT, checkpoint_path
from streamgd.train.costlog import CostLog
from streamgd.train.prepare import PreparedSummary
from streamgd.train.signals import StopRequest

log = logging.getLogger(__name__)

RESUMABLE_SOLVERS = ("gd", "linesearch")


@dataclass(frozen=True)
class FullBatchState:
    """Descent between two iterations; what a checkpoint stores.

    Attributes:
        theta: float64 array of shape (n_features + 1,), the iterate (the
            intercept last).
        iteration: the iteration that reached it (0: the start).
        next_rate: the rate the next iteration tries first.
        first_cost: the cost at iteration 0, the divergence yardstick.
        iteration_costs: the cost at each iteration so far, 0 included.
        n_passes: data passes made so far, over every resumed part.
    """

    theta: np.ndarray
    iteration: int
    next_rate: float
    first_cost: float
    iteration_costs: tuple[float, ...]
    n_passes: int


def resumable(config: Config) -> bool:
    """Whether this job's full-batch run writes checkpoints."""
    return (config["optimizer.method"] == "batch"
            and config["fullbatch.solver"] in RESUMABLE_SOLVERS
            and config["checkpoint.enabled"])


def check_resumable(config: Config) -> None:
    """Refuse --resume for a full-batch job that writes no checkpoints.

    Raises:
        ConfigError: naming what keeps it from checkpointing.
    """
    if config["optimizer.method"] != "batch":
        why = "its SGD phase is not checkpointed"
    elif config["fullbatch.solver"] not in RESUMABLE_SOLVERS:
        why = "L-BFGS keeps its state inside scipy, out of a checkpoint's reach"
    elif not config["checkpoint.enabled"]:
        why = "checkpoint.enabled is false"
    else:
        return
    raise ConfigError(
        f"--resume with optimizer.method: {config['optimizer.method']} and"
        f" fullbatch.solver: {config['fullbatch.solver']}: {why}, so there is"
        " nothing to resume (gd and linesearch runs are resumable); run the job"
        " again without --resume"
    )


class FullBatchCheckpointer:
    """Writes a checkpoint after each iteration and obeys a stop request.

    Args:
        config: the job.
        cost_log: the run's cost log, synced and recorded with each checkpoint.
        prepared: the statistics pass's results.
        stop: the stop request a signal sets, or None.
    """

    def __init__(self, config: Config, cost_log: CostLog,
                 prepared: PreparedSummary, stop: StopRequest | None) -> None:
        self.enabled = resumable(config)
        self.solver = config["fullbatch.solver"]
        self.learning_rate = config["fullbatch.learning_rate"]
        self.path = checkpoint_path(config)
        self.cost_log = cost_log
        self.prepared = prepared
        self.stop = stop
        self.fingerprint = fingerprint(config) if self.enabled else {}
        self.written = False

    def after_iteration(self, iteration: int, theta: np.ndarray, step: float,
                        iteration_costs: list[float], n_passes: int) -> None:
        """Iteration `iteration` reached `theta` with rate `step`: checkpoint."""
        # linesearch tries twice the accepted rate next; gd keeps its rate
        next_rate = 2.0 * step if self.solver == "linesearch" else self.learning_rate
        self(FullBatchState(np.array(theta, dtype=np.float64), iteration,
                            float(next_rate), float(iteration_costs[0]),
                            tuple(float(cost) for cost in iteration_costs),
                            n_passes))

    def __call__(self, state: FullBatchState) -> None:
        """After an iteration: write the checkpoint; stop if a signal asked."""
        if self.enabled:
            checkpoint = Checkpoint(state, self.cost_log.state(), self.prepared,
                                    self.fingerprint)
            save_checkpoint(self.path, checkpoint)
            self.written = True
        if self.stop is not None and self.stop.requested:
            raise self._interrupted(state.iteration)

    def remove(self) -> None:
        """Delete the checkpoint (the run finished, or diverged)."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def _interrupted(self, iteration: int) -> TrainingInterrupted:
        number = self.stop.signal_number
        name = signal.Signals(number).name
        if not self.enabled:
            return TrainingInterrupted(
                f"stopped by {name} after iteration {iteration}; this run writes"
                " no checkpoint (only gd and linesearch with checkpoint.enabled"
                " do), so nothing of it was kept: its partial cost log is"
                " removed, an earlier model is untouched", number)
        return TrainingInterrupted(
            f"stopped by {name} after iteration {iteration}; checkpoint"
            f" {self.path}: {RESUME_HINT}", number, self.path)
