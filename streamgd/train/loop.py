"""The streaming SGD engine: epochs of shuffled mini-batches, cost log, stopping.

`train.job` runs a whole job around it (outputs, resume, statistics pass).

    files -> chunks (readers) -> statistics pass (prepare) -> per epoch:
    chunk order -> read ahead + decode (readers.ahead) -> scaled into the block
    shuffle (stream.blocks) -> whole batches, read in place -> SGD updates
    (train.updates: compiled kernel or numpy)

Memory is bounded by the chunks read ahead plus the shuffle buffer, whatever
the data size.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import replace
from typing import Callable

import numpy as np
import pyarrow as pa

from streamgd.config import Config
from streamgd.errors import DivergenceError
from streamgd.model.linear import LinearParams
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.model.saved import TrainedModel
from streamgd.optim import Schedule, make_optimizer
from streamgd.optim.defaults import (
    DataScales, default_learning_rate, default_schedule,
)
from streamgd.optim.kernels import select_kernel
from streamgd.readers import Source
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk
from streamgd.readers.ahead import read_chunks
from streamgd.stream import epoch_indices
from streamgd.stream.blocks import STREAMS, BlockShuffle, Visit, block_rows_for
from streamgd.stream.store import BlockStore
from streamgd.train.costlog import CostLog
from streamgd.train.prepare import Prepared
from streamgd.train.state import EpochPosition, Monitor, TrainState
from streamgd.train.updates import Updater
from streamgd.validate import Validation
from streamgd.train.stopping import (
    BASELINE_UPDATES, epoch_divergence, judge_epoch, made_progress,
    progress_reference, starting_cost,
)

log = logging.getLogger(__name__)


def _block_store(config: Config, source: Source, compiled: bool) -> BlockStore:
    """The shuffle's store for the job, with room for what it will hold."""
    chunk_rows = [chunk.n_rows for chunk in source.chunks]
    block_rows = block_rows_for(chunk_rows, config["shuffle.block_rows"])
    store = BlockStore(block_rows, len(config["data.features"]),
                       config["data.weight"] is not None, compiled)
    # rows in the store at once: the buffer; the chunk whose rows are being
    # trained on (they leave the buffer with it); the chunks written ahead,
    # read_ahead waiting and one more being written; a batch waiting, in as
    # many blocks as a visit reads at once (STREAMS); and a short last block
    # per chunk held. A store that runs out doubles, which would make memory
    # depend on how long the run is lucky, so count them all (measured: 2
    # chunks and 8 blocks over the buffer at read_ahead 0, batch 256)
    largest = max(chunk_rows, default=0)
    capacity = min(config["shuffle.buffer_rows"], sum(chunk_rows))
    in_flight = (max(config["data.read_ahead"], 0) + 1) * largest
    rows = capacity + largest + in_flight + config["optimizer.batch_size"]
    n_chunks = capacity // max(largest, 1) + 2 + max(config["data.read_ahead"], 0)
    store.reserve(-(-rows // block_rows) + n_chunks + STREAMS)
    return store


class Engine:
    """Runs epochs over a source, holding the training state.

    The changing part of the state is `params`, `opt_state`, `position`,
    `monitor` and `rng`; `snapshot()` freezes them into a `TrainState` (what a
    checkpoint stores) and `restore()` puts one back. All other pieces are fixed
    by the job and the statistics pass.

    Args:
        config: the job.
        prepared: what the statistics pass learned.
        on_boundary: called with the engine after each chunk and at each epoch's
            end (`at_epoch_end=True`), where a snapshot is consistent: the
            checkpoint and interruption hook.
    """

    def __init__(
        self,
        config: Config,
        prepared: Prepared,
        on_boundary: Callable[[Engine, bool], None] | None = None,
        holdout_source: Source | None = None,
    ) -> None:
        self.config = config
        self.prepared = prepared
        self.on_boundary = on_boundary
        self.loss = LOSSES[config["model.type"]]
        penalty = Penalty.of(
            config["model.penalty"], config["model.alpha"], config["model.l1_ratio"]
        )
        updates_per_epoch = -(-prepared.n_rows // config["optimizer.batch_size"])
        self.optimizer = make_optimizer(
            config, penalty, ~prepared.stats.constant, updates_per_epoch
        )
        self.learning_rate = self._initial_rate()
        self.schedule_name = self._schedule_name()
        self.schedule = Schedule(
            self.schedule_name, self.learning_rate,
            config["optimizer.power_t"], config["optimizer.decay"],
        )
        self.kernel = select_kernel(
            config["optimizer.kernel"], config["optimizer.update"], self.loss.name,
            penalty, self.optimizer.active, self.optimizer.fit_intercept,
            self.schedule, prepared.mean_weight,
            safe_steps=config["preprocess.scaler"] != "none",
        )
        self.rng = np.random.default_rng(config["seed"])
        self.params = self._initial_params()
        self.opt_state = self.optimizer.init(len(config["data.features"]))
        self.validation = Validation(config, prepared, self.loss, holdout_source)
        self.position = EpochPosition()
        self.monitor = Monitor()
        # rules whose step is rate x gradient can overshoot on a batch of rare,
        # large scaled rows; see _safe_rate. Unscaled, every batch would be
        # capped, silently replacing the job's rate: divergence is reported then
        self._safe_steps = (config["optimizer.update"] in ("sgd", "asgd")
                            and config["preprocess.scaler"] != "none")
        self.updater = Updater(
            self.optimizer, self.loss, self.schedule, config["optimizer.batch_size"],
            self.kernel, prepared.mean_weight, self._safe_steps,
            config["model.fit_intercept"],
        )
        # the epoch's shuffle while it runs: a snapshot copies its rows only
        # when taken, not after every chunk; its store lives across epochs
        self._live: BlockShuffle | None = None
        self._store: BlockStore | None = None
        self._read_ahead = config["data.read_ahead"]

    @property
    def epoch(self) -> int:
        """The epoch in progress (after the run: the number of epochs run)."""
        return self.position.epoch

    @property
    def stop_reason(self) -> str:
        return self.monitor.stop_reason

    def snapshot(self) -> TrainState:
        """The run's progress, frozen; consistent only at a chunk boundary."""
        position = self.position
        if self._live is not None:
            held, held_lengths = self._live.held or (None, None)
            position = replace(position, held=held, held_lengths=held_lengths,
                               pending=self._live.pending)
        return TrainState(
            self.params, self.opt_state, position, self.monitor,
            self.rng.bit_generator.state, self.validation.state,
        )

    def restore(self, state: TrainState) -> None:
        """Continue from `state` (a snapshot of a run of the same job)."""
        self.params, self.opt_state = state.params, state.optimizer
        self.position, self.monitor = state.position, state.monitor
        self._live = None
        self.rng.bit_generator.state = state.rng
        if state.validation is not None:
            self.validation.state = state.validation

    def _initial_rate(self) -> float:
        """The job's learning rate, or the default derived from the data; the
        way it was found goes to `learning_rate_from` and the log."""
        given = self.config["optimizer.learning_rate"]
        if given is not None:
            self.learning_rate_from = "job"
            return float(given)
        config, prepared = self.config, self.prepared
        scales = DataScales(prepared.stats, prepared.scaler,
                            config["model.fit_intercept"],
                            prepared.largest_curvature, prepared.target_scale)
        rate, self.learning_rate_from = default_learning_rate(
            config["optimizer.update"], config["model.type"], scales,
            config["optimizer.batch_size"], config["optimizer.momentum"],
            self.optimizer.penalty.l2,
        )
        log.info("optimizer.learning_rate not given: using %.4g = %s", rate,
                 self.learning_rate_from)
        return rate

    def _schedule_name(self) -> str:
        """The job's schedule, or the default of its update rule; whether it
        was given goes to `schedule_from`."""
        given = self.config["optimizer.schedule"]
        if given is not None:
            self.schedule_from = "job"
            return given
        update = self.config["optimizer.update"]
        self.schedule_from = f"the default for {update}"
        return default_schedule(update)

    def _initial_params(self) -> LinearParams:
        n_features = len(self.config["data.features"])
        weights = np.zeros(n_features)
        if self.config["model.init"] == "random":
            weights = self.rng.normal(0.0, self.config["model.init_scale"], n_features)
            weights[self.prepared.stats.constant] = 0.0
        return LinearParams(weights, 0.0)

    def fit(self, source: Source, cost_log: CostLog) -> None:
        """Epochs until max_epochs or until the epoch cost stops improving."""
        while (
            self.position.epoch < self.config["optimizer.max_epochs"]
            and self.monitor.stop_reason == "max_epochs"
        ):
            # a diverging run overflows; the explicit checks turn that into a
            # DivergenceError naming the rate, so numpy need not warn as well
            with np.errstate(over="ignore", invalid="ignore"):
                self._run_epoch(source, cost_log)
            record = cost_log.end_epoch(self.epoch, self._learning_rate())
            self.monitor = self._judge_epoch(record["cost_epoch"])
            holdout = self.validation.end_epoch(
                self.epoch, self._model_params(), source
            )
            if holdout is not None:
                cost_log.add_record(holdout)
                if holdout["stop"]:
                    self.monitor = replace(self.monitor, stop_reason="early_stopped")
            self.position = EpochPosition(self.position.epoch + 1)
            self._boundary(at_epoch_end=True)
            if self.monitor.stop_reason == "early_stopped":
                break
        # a run of at most the baseline's updates is its own starting cost
        judged = self.opt_state.update_count > BASELINE_UPDATES
        if judged and not made_progress(self.monitor):
            log.warning(
                "the final epoch cost %.6g is not below %s: training made no"
                " progress; check optimizer.learning_rate (now %g)",
                self.monitor.epoch_costs[-1], progress_reference(self.monitor),
                self.learning_rate,
            )
        self._warn_if_no_better_than_constant()

    def _warn_if_no_better_than_constant(self) -> None:
        """Warn when a later epoch's cost is no lower than the best constant
        predictor's over the training rows: the model has learned nothing useful.

        The first epoch is left out: its average includes the costs of the
        untrained starting model, so a good one-epoch run could look worse.
        """
        constant_cost = self.validation.summary().get("constant_train_cost")
        if len(self.monitor.epoch_costs) < 2 or constant_cost is None:
            return
        final = self.monitor.epoch_costs[-1]
        if final < constant_cost:
            return
        stats = self.prepared.stats
        if np.all(stats.constant | (stats.count == 0)):
            # no rate helps: the features hold nothing to predict from
            log.warning(
                "the final epoch cost %.6g is no lower than %.6g, the cost of the"
                " best constant predictor: every feature is constant (%s), so"
                " they carry no information about the target; check"
                " data.features and the input files",
                final, constant_cost, ", ".join(self.config["data.features"]),
            )
        else:
            log.warning(
                "the final epoch cost %.6g is no lower than %.6g, the cost of the"
                " best constant predictor: the model predicts no better than a"
                " constant; raise optimizer.learning_rate (now %g) or train"
                " longer (`streamgd tune` searches the rate)",
                final, constant_cost, self.learning_rate,
            )

    def _judge_epoch(self, cost: float) -> Monitor:
        """The monitor after an epoch of averaged cost `cost`.

        Raises:
            DivergenceError: the epoch cost shows a blow-up (see `stopping`).
        """
        problem = epoch_divergence(self.monitor, cost)
        if problem is not None:
            self._diverged(cost, self._learning_rate(), problem)
        return judge_epoch(self.monitor, cost, self.config["optimizer.tol"],
                           self.config["optimizer.n_iter_no_change"])

    def _boundary(self, at_epoch_end: bool) -> None:
        if self.on_boundary is not None:
            self.on_boundary(self, at_epoch_end)

    def _learning_rate(self) -> float:
        return self.schedule(max(self.opt_state.update_count, 1), self.epoch)

    def _run_epoch(self, source: Source, cost_log: CostLog) -> None:
        """The rest of the epoch in progress, from `position` on."""
        if self.position.order is None:
            order = epoch_indices(source.chunks, self.rng,
                                  self.config["shuffle.enabled"])
            key = int(self.rng.integers(2**63))
            self.position = replace(self.position, order=order, chunk_key=key)
        position = self.position
        shuffle = self._live = self._open_shuffle(source, position)
        first = position.n_chunks_done

        def write(index: int, ref: ChunkRef, table: pa.Table, chunk: Chunk):
            # in the reading thread: the chunk's training rows into the store;
            # only their targets wait with the blocks (a chunk read ahead costs
            # its rows in the store, not its table and arrays as well)
            chunk = self.validation.training_rows(table, ref, chunk)
            blocks = shuffle.write(chunk, first + index)
            return chunk.n_rows, chunk.y, chunk.weight, blocks

        # chunk by chunk, a consistent position after each
        remaining = [source.chunks[index] for index in position.order[first:]]
        decoder = self.prepared.decoder
        # the compiled store write takes a chunk's columns as read: no
        # row-major copy of the chunk is made on the way
        chunks = read_chunks(source, remaining, decoder, self._read_ahead, write,
                             columns=shuffle.store.compiled)
        # closed on the way out, an error included: the reading threads then
        # end here, not after the caller has closed the source they read
        with closing(chunks):
            for done, (_, _, (n_rows, y, weight, blocks)) in enumerate(
                chunks, start=first + 1
            ):
                self.validation.count_targets(y, weight, self.epoch)
                if n_rows > 0:
                    self._train_visit(shuffle.take(blocks), cost_log)
                self.position = replace(self.position, n_chunks_done=done)
                self._boundary(at_epoch_end=False)

        # the epoch's tail: rows still held, then the short last batch
        self._train_visit(shuffle.flush(), cost_log)
        self._train_visit(shuffle.rest(), cost_log)
        self._live = None

    def _open_shuffle(
        self, source: Source, position: EpochPosition
    ) -> BlockShuffle:
        """The epoch's shuffle, holding the rows of `position` if restored."""
        config, scaler = self.config, self.prepared.scaler
        if self._store is None:
            self._store = _block_store(config, source, self.kernel is not None)
        return BlockShuffle(
            self._store, config["shuffle.buffer_rows"],
            config["optimizer.batch_size"], self.rng, config["shuffle.enabled"],
            scaler.shift, scaler.scale, position.held, position.held_lengths,
            position.pending, position.chunk_key, position.n_chunks_done,
        )

    def _train_visit(self, visit: Visit | None, cost_log: CostLog) -> None:
        """SGD updates over the visit's rows, logged as one cost-log entry.

        One entry per visit, whatever its batches, keeps the log's running
        sums, and so every record, identical to the last bit on resume.
        """
        if visit is None:
            return
        done = self.updater.run(visit, self.params, self.opt_state, self.epoch)
        self.params, self.opt_state = done.params, done.opt_state
        self._count_capped(done.capped)
        if done.diverged is not None:
            self._diverged(*done.diverged)
        costs, weights, rows, rates, penalties = done.records
        if len(costs) == 0:
            return
        cost_log.extend(self.epoch, costs, weights, rows, rates)
        self.validation.add_progressive(self.epoch, costs, penalties, weights)
        self._check_explosion(cost_log, costs, weights)

    def _count_capped(self, n_capped: int) -> None:
        """Count capped steps; say so the first time in a run."""
        if n_capped and self.monitor.capped_updates == 0:
            log.info(
                "capped a step at the rate that stops at its batch's minimum"
                " (a batch of rare, large rows); the training summary counts"
                " such steps (capped_updates)"
            )
        self.monitor = replace(
            self.monitor, capped_updates=self.monitor.capped_updates + n_capped
        )

    def _check_explosion(
        self, cost_log: CostLog, costs: np.ndarray, weights: np.ndarray
    ) -> None:
        """Diverged when the last 10 updates cost `divergence_factor` times the
        starting cost: that of the run's first updates, not of its first block,
        which may be a whole epoch that has already blown up."""
        if not np.isfinite(self.params.weights).all():
            self._diverged(float("nan"), self._learning_rate())
        if self.monitor.first_cost is None:
            start = starting_cost(costs, weights)
            # at least the zero model's cost over all the data: opening rows
            # fitted (nearly) exactly, as sorted data or a run of zero targets
            # give, made the starting cost 0 or 1e-276 and every ordinary
            # cost after them a "divergence"
            if start is not None:
                start = max(start, self.prepared.baseline_cost)
            self.monitor = replace(self.monitor, first_cost=start)
        first = self.monitor.first_cost
        if first is None:
            return
        recent = cost_log.recent_cost(10)
        factor = self.config["optimizer.divergence_factor"]
        if recent > factor * max(first, np.finfo(float).tiny):
            self._diverged(recent, self._learning_rate())

    def _diverged(self, cost: float, rate: float, problem: str | None = None) -> None:
        hint = f"lower optimizer.learning_rate (now {rate:g}; try {rate / 10:g})"
        if self.config["preprocess.scaler"] == "none":
            hint += " or set preprocess.scaler: standard"
        # before its first updates are judged, a run's yardstick is the cost of
        # the all-zero model over the data, which the statistics pass measured
        start = self.monitor.first_cost
        reference = (f"the zero model's cost {self.prepared.baseline_cost:.4g}"
                     if start is None else f"starting cost {start:.4g}")
        what = problem or f"the cost reached {cost:.4g} ({reference})"
        raise DivergenceError(
            f"training diverged in epoch {self.epoch + 1}, after"
            f" {self.opt_state.update_count} updates: {what}; {hint}."
            " No model was written."
        )

    def model(self, config: Config, prepared: Prepared, seconds: float) -> TrainedModel:
        """The trained model with its training summary."""
        decoder = prepared.decoder
        epoch_costs = list(self.monitor.epoch_costs)
        training = {
            "epochs": self.epoch, "updates": self.opt_state.update_count,
            "rows": prepared.n_rows, "rows_dropped": prepared.n_dropped,
            "epoch_costs": epoch_costs,
            "final_cost": epoch_costs[-1] if epoch_costs else None,
            "stop_reason": self.stop_reason, "seconds": round(seconds, 3),
            "learning_rate": self.learning_rate,
            "learning_rate_from": self.learning_rate_from,
            "schedule": self.schedule_name, "schedule_from": self.schedule_from,
            "capped_updates": self.monitor.capped_updates,
            **self.validation.summary(),
        }
        return TrainedModel(
            kind=config["model.type"], features=list(config["data.features"]),
            target=config["data.target"],
            params=self.validation.final_params(self._model_params()),
            scaler=prepared.scaler, stats=prepared.stats, labels=decoder.labels,
            missing=config["data.missing"], impute_values=decoder.impute_values,
            training=training, config=config.as_dict(),
        )

    def _model_params(self) -> LinearParams:
        """The parameters to evaluate and write (averaged SGD: its average)."""
        return self.optimizer.model_params(self.params, self.opt_state)
