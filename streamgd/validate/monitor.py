"""Holdout evaluation, progressive validation and early stopping, for the engine.

    per chunk      split(): held-out rows leave the training stream
    per block      add_progressive(): each batch's loss, taken before its update
    per epoch end  end_epoch(): the model's cost on the held-out rows (a read of
                   the data that decodes and predicts only them), a "holdout"
                   record in the cost log, and the early-stopping verdict

The holdout is either the hashed fraction `validation.holdout` of the training
files (see `holdout.py`) or the separate files `validation.paths`. Early
stopping keeps the parameters of the epoch with the lowest holdout cost and ends
the run after `validation.patience` epochs that did not improve it by the
relative `validation.tol`. The feature statistics of the scaler are taken over all
rows, held-out ones included (they carry no target).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa

from streamgd.config import Config
from streamgd.model.linear import LinearParams
from streamgd.model.penalties import Penalty
from streamgd.readers import Source
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk
from streamgd.train.prepare import Prepared
from streamgd.validate.baseline import TargetSums, best_constant, constant_cost
from streamgd.validate.holdout import holdout_fraction_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ValidationState:
    """What validation remembers across epochs (part of a run's progress).

    Attributes:
        progressive: (sum of weight * loss, sum of weight) over the first epoch.
        train_targets, holdout_targets: target sums for the constant predictor.
        holdout_costs: the holdout cost after each finished epoch.
        best_cost, best_epoch, best_params: the lowest holdout cost so far, its
            epoch (1-based) and the model then; None before any.
        n_stale: epochs in a row that did not improve best_cost by tol.
    """

    progressive: tuple[float, float] = (0.0, 0.0)
    train_targets: TargetSums = TargetSums()
    holdout_targets: TargetSums = TargetSums()
    holdout_costs: tuple[float, ...] = ()
    best_cost: float = float("inf")
    best_epoch: int | None = None
    best_params: LinearParams | None = None
    n_stale: int = 0


class Validation:
    """The job's validation choices, applied by the engine; see the module doc."""

    def __init__(
        self, config: Config, prepared: Prepared, loss: Any,
        holdout_source: Source | None = None,
    ) -> None:
        self.kind = config["model.type"]
        self.fraction = config["validation.holdout"]
        self.key = config["validation.key"]
        self.progressive_on = config["validation.progressive"]
        self.patience = config["validation.patience"]
        self.tol = config["validation.tol"]
        self.prepared, self.loss = prepared, loss
        penalty = Penalty.of(config["model.penalty"], config["model.alpha"],
                             config["model.l1_ratio"])
        self.penalised = penalty.l1 != 0.0 or penalty.l2 != 0.0
        self.holdout_source = holdout_source
        self.state = ValidationState()

    @property
    def has_holdout(self) -> bool:
        return self.fraction > 0 or self.holdout_source is not None

    def split(self, table: pa.Table, ref: ChunkRef, chunk: Chunk, epoch: int) -> Chunk:
        """The chunk's training rows; the first epoch also sums their targets."""
        chunk = self.training_rows(table, ref, chunk)
        self.count_targets(chunk.y, chunk.weight, epoch)
        return chunk

    def training_rows(self, table: pa.Table, ref: ChunkRef, chunk: Chunk) -> Chunk:
        """The chunk without its held-out rows. Changes no state: the reading
        thread may call it."""
        if self.fraction > 0 and chunk.n_rows > 0:
            held = holdout_fraction_of(table, ref, chunk.kept, self.key, self.fraction)
            keep = ~held
            weight = None if chunk.weight is None else chunk.weight[keep]
            chunk = Chunk(chunk.X[keep], chunk.y[keep], weight, chunk.n_dropped)
        return chunk

    def count_targets(
        self, y: np.ndarray, weight: np.ndarray | None, epoch: int
    ) -> None:
        """In the first epoch, add the training rows' targets (and sample
        weights) to the sums the constant predictor's cost is taken from."""
        if epoch == 0:
            targets = self.state.train_targets.add(y, weight)
            self.state = replace(self.state, train_targets=targets)

    def add_progressive(
        self, epoch: int, costs: np.ndarray, penalties: np.ndarray,
        weights: np.ndarray,
    ) -> None:
        """Batch costs taken before their updates, less their penalty values
        (the loss alone), and the batches' total weights; float64."""
        if not self.progressive_on or epoch != 0 or len(costs) == 0:
            return
        # unpenalised, the penalty values are +0.0 and cost - 0.0 is the cost to
        # the bit: a copy of the block's costs saved
        losses = costs - penalties if self.penalised else costs
        total, mass = self.state.progressive
        # einsum, not `@`: a BLAS dot product of a block's updates wakes BLAS's
        # threads, which cost milliseconds per block on a busy machine
        merged = (total + float(np.einsum("i,i->", losses, weights)),
                  mass + float(weights.sum()))
        self.state = replace(self.state, progressive=merged)

    def end_epoch(
        self, epoch: int, params: LinearParams, source: Source
    ) -> dict[str, Any] | None:
        """Evaluate the holdout after epoch `epoch` (0-based); None without one.

        Returns the cost-log record {"kind": "holdout", "epoch" (1-based), "cost",
        "rows" (their weight), "best", "stop"}; "stop" is True when early
        stopping ends the run.
        """
        if not self.has_holdout:
            return None
        cost, targets = self._holdout_cost(params, source)
        state = self.state
        # the first finite cost is an improvement (inf - tol * inf would be nan)
        improved = bool(np.isfinite(cost)) and (
            state.best_epoch is None
            or cost < state.best_cost - self.tol * abs(state.best_cost)
        )
        if improved:
            state = replace(state, best_cost=cost, best_epoch=epoch + 1,
                            best_params=params, n_stale=0)
        else:
            state = replace(state, n_stale=state.n_stale + 1)
        self.state = replace(state, holdout_costs=(*state.holdout_costs, cost),
                             holdout_targets=targets)
        stop = self.patience is not None and self.state.n_stale >= self.patience
        return {"kind": "holdout", "epoch": epoch + 1, "cost": cost,
                "rows": targets.weight, "best": improved, "stop": stop}

    def final_params(self, params: LinearParams) -> LinearParams:
        """The best holdout model under early stopping, else `params`."""
        best = self.state.best_params
        if self.patience is None or best is None:
            return params
        return best

    def _holdout_cost(
        self, params: LinearParams, source: Source
    ) -> tuple[float, TargetSums]:
        """Weighted mean loss of `params` on the held-out rows, and their sums."""
        decoder, scaler = self.prepared.decoder, self.prepared.scaler
        reader = self.holdout_source or source
        total, targets = 0.0, TargetSums()
        for ref in reader.chunks:
            table = reader.read(ref)
            chunk = decoder.decode(table, ref)
            if chunk.n_rows == 0:
                continue
            if self.holdout_source is None:
                held = holdout_fraction_of(table, ref, chunk.kept, self.key,
                                           self.fraction)
                weight = None if chunk.weight is None else chunk.weight[held]
                chunk = Chunk(chunk.X[held], chunk.y[held], weight)
            losses, _ = self.loss.value_and_slope(
                params.margin(scaler.transform(chunk.X)), chunk.y
            )
            total += float(losses.sum() if chunk.weight is None
                           else losses @ chunk.weight)
            targets = targets.add(chunk.y, chunk.weight)
        if targets.weight == 0:
            log.warning("the holdout is empty: no row was held out this epoch")
            return float("nan"), targets
        return total / targets.weight, targets

    def _rows_trained(self) -> int:
        """Rows read less the hashed holdout's (a validation file is apart)."""
        held = self.state.holdout_targets.n_rows if self.fraction > 0 else 0
        return self.prepared.n_rows - held

    def summary(self) -> dict[str, Any]:
        """The validation part of the training summary (JSON-ready)."""
        state = self.state
        constant = best_constant(self.kind, state.train_targets)
        report: dict[str, Any] = {
            "rows_trained": self._rows_trained(),
            "constant": _finite(constant),
            "constant_train_cost": _finite(
                constant_cost(self.kind, constant, state.train_targets)),
        }
        total, mass = state.progressive
        if self.progressive_on and mass > 0:
            report["progressive_cost"] = total / mass
        if self.has_holdout:
            report.update({
                "holdout_costs": [_finite(c) for c in state.holdout_costs],
                "holdout_cost": _finite(
                    state.best_cost if self.patience is not None and
                    state.best_params is not None else
                    (state.holdout_costs or (float("nan"),))[-1]),
                "best_epoch": state.best_epoch,
                "holdout_rows": state.holdout_targets.n_rows,
                "holdout_weight": state.holdout_targets.weight,
                "constant_holdout_cost": _finite(
                    constant_cost(self.kind, constant, state.holdout_targets)),
            })
        return report


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
