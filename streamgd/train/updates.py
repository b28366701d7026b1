"""The SGD updates over the rows the shuffle hands on, by either of two paths.

    generic   rows gathered out of the store, then per batch:
              `batch_gradient`, the step rate, `optimizer.update` (any rule)
    compiled  plain SGD: one numba call visits the store's rows in place
              (`optim.kernels`), every batch of the visit

Both make the same updates, in the same order, on the same rows; they agree to
rounding (see `optim.kernels`). Each returns, per update, the batch cost taken
before it, the batch's total sample weight, rows, learning rate and penalty
value: what the cost log and progressive validation need.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.optim import Schedule, SGDState
from streamgd.optim.kernels import SGDKernel
from streamgd.optim.stepcap import directional_cap, trace_caps
from streamgd.readers.decode import Chunk
from streamgd.stream.blocks import Visit


@dataclass(frozen=True)
class Updates:
    """What the updates over some rows did.

    Attributes:
        params, opt_state: after the last update.
        records: float64 arrays, one entry per update: costs, total sample
            weights, rows, learning rates and penalty values (in the first
            epoch, else 0 on the generic path).
        diverged: (cost, learning rate) of an update whose cost or intercept
            is not finite (the updates stop there), else None.
        capped: steps cut to their batch's cap (`optim.stepcap`).
    """

    params: LinearParams
    opt_state: Any
    records: tuple[np.ndarray, ...]
    diverged: tuple[float, float] | None = None
    capped: int = 0


@dataclass(frozen=True)
class Updater:
    """The job's update rule, applied batch by batch.

    Attributes:
        optimizer: the update rule (`optim.make_optimizer`).
        loss: the loss (value, slope and curvature).
        schedule: the learning-rate schedule.
        batch_size: rows per update.
        kernel: the compiled kernel, or None for the generic path.
        mean_weight: the mean sample weight over the data (1.0 if unweighted).
        safe_steps: cap steps at the batch's safe rate (see `_safe_rates`).
        fit_intercept: the model has an intercept.
    """

    optimizer: Any
    loss: Any
    schedule: Schedule
    batch_size: int
    kernel: SGDKernel | None
    mean_weight: float
    safe_steps: bool
    fit_intercept: bool

    def run(
        self, visit: Visit, params: LinearParams, opt_state: Any, epoch: int
    ) -> Updates:
        """The updates over the visit's rows, `batch_size` at a time."""
        if self.kernel is None:
            return self.run_rows(visit.gathered(), params, opt_state, epoch)
        store = visit.store
        done = self.kernel.run(
            store.X, store.y, store.weight, self.batch_size, params,
            opt_state.update_count, epoch, rows=visit.rows,
        )
        records = (done.costs, done.totals, done.rows, done.learning_rates,
                   done.penalties)
        diverged = None
        if done.diverged:
            diverged = (float(done.costs[-1]), float(done.learning_rates[-1]))
        return Updates(done.params, SGDState(done.update_count), records, diverged,
                       done.capped)

    def run_rows(
        self, block: Chunk, params: LinearParams, opt_state: Any, epoch: int
    ) -> Updates:
        """The generic path over the rows of `block`, in order."""
        batch_size, optimizer = self.batch_size, self.optimizer
        n_batches = -(-block.n_rows // batch_size)
        records = tuple(np.zeros(n_batches) for _ in range(5))
        costs, weights, rows, rates, penalties = records
        caps = self._safe_rates(block) if self.safe_steps else None
        done = n_capped = 0
        for start in range(0, block.n_rows, batch_size):
            stop = min(start + batch_size, block.n_rows)
            X, y = block.X[start:stop], block.y[start:stop]
            sample_weight = None if block.weight is None else block.weight[start:stop]
            if optimizer.observes_inputs:
                params, opt_state = optimizer.observe(
                    X, sample_weight, opt_state, params
                )
            gradient = batch_gradient(
                X, y, sample_weight, params, self.loss, optimizer.penalty
            )
            # a batch of zero total weight teaches nothing: no update, no step
            if gradient.total_weight == 0.0:
                continue

            # the step rate: the schedule's, times the weight share, capped
            rate = self.schedule(opt_state.update_count + 1, epoch)
            if epoch == 0:
                # progressive validation reports the loss alone
                penalties[done] = optimizer.penalty.value(params.weights)
            step_rate = rate * self._weight_share(gradient.total_weight, stop - start)
            if caps is not None and step_rate > caps[start // batch_size]:
                cap = directional_cap(X, sample_weight, gradient, optimizer.active,
                                      self.loss.curvature, self.fit_intercept)
                n_capped += step_rate > cap
                step_rate = min(step_rate, cap)

            # the update, and its record
            params, opt_state = optimizer.update(gradient, opt_state, params, step_rate)
            costs[done], weights[done] = gradient.cost, gradient.total_weight
            rows[done], rates[done] = stop - start, rate
            done += 1
            if not (np.isfinite(gradient.cost) and np.isfinite(params.intercept)):
                kept = tuple(column[:done] for column in records)
                return Updates(params, opt_state, kept, (gradient.cost, rate),
                               n_capped)
        kept = tuple(column[:done] for column in records)
        return Updates(params, opt_state, kept, None, n_capped)

    def _safe_rates(self, block: Chunk) -> np.ndarray:
        """Per batch of the block, the screen of the step cap: rates at most
        these cannot overshoot (see `optim.stepcap`)."""
        return trace_caps(block.X, block.weight, self.batch_size,
                          self.loss.curvature, self.fit_intercept)

    def _weight_share(self, total_weight: float, n_rows: int) -> float:
        """The batch's weight over that of an average batch of `n_rows` rows.

        The gradient is a weighted mean, in which the weights' size cancels: at
        batch size 1 every row stepped alike and the weights were ignored.
        Scaled by this share, the expected step is the gradient of the weighted
        mean cost over the whole data. Exactly 1.0 without sample weights.
        """
        return total_weight / (n_rows * self.mean_weight)
