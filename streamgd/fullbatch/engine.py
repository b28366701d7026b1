"""The full-batch engine: statistics pass and solver iterations over dask partitions.

    optimizer.method: batch       statistics pass (dask) -> solver iterations,
                                  each one or more gradient passes (dask)
    optimizer.method: sgd+batch   the streaming engine's statistics pass and SGD
                                  epochs -> solver iterations from its weights

Same data section, preprocessing, model file and cost log as the streaming
engine. In the cost log the start (iteration 0) is a "start" record whose `cost`
is the full-data cost there; each iteration k >= 1 is one update followed by an
"epoch" record numbered k whose `cost_epoch` is the full-data cost after it;
after SGD epochs the iterations continue their numbering.
"""

from __future__ import annotations

import logging
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from dask import delayed

from streamgd.config import Config
from streamgd.checkpoint import Checkpoint
from streamgd.errors import (
    CheckpointError, ConfigError, DivergenceError, TrainingInterrupted,
)
from streamgd.fullbatch.cluster import Cluster, open_cluster
from streamgd.fullbatch.objective import Evaluation, Objective, as_params, as_theta
from streamgd.fullbatch.partitions import (
    Partition, list_partitions, partition_reader,
)
from streamgd.fullbatch.passes import (
    TASKS_PER_SLOT, GradientSums, ScaledData, Summary, cached_group_sums,
    group_sums, groups_by_holder, merge_in_order, merge_summaries, split_evenly,
    summarize, tree_reduce,
)
from streamgd.fullbatch.resume import (
    FullBatchCheckpointer, FullBatchState, check_resumable,
)
from streamgd.fullbatch.solvers import (
    SolverResult, Start, gradient_descent, lbfgs, line_search_descent,
)
from streamgd.model.linear import LinearParams, Loss
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.model.saved import TrainedModel
from streamgd.normalize import RunningStats
from streamgd.readers import ColumnPlan, column_plan, open_source
from streamgd.train.costlog import CostLog, Progress
from streamgd.outputs import check_job_outputs
from streamgd.train.job import TrainResult
from streamgd.train.loop import Engine
from streamgd.train.checkpoints import RESUME_HINT, load_for_resume
from streamgd.train.prepare import (
    Prepared, PreparedSummary, decoder_for, finish_preparation, prepare,
)
from streamgd.train.signals import SignalInterrupt, StopRequest

log = logging.getLogger(__name__)


def train_fullbatch(
    config: Config, progress: Progress | None = None, resume: bool = False,
    stop: StopRequest | None = None,
) -> TrainResult:
    """Run a job whose optimizer.method is batch or sgd+batch; see the module doc.

    gd and linesearch runs checkpoint after each iteration and resume
    (`fullbatch.resume`); `stop` is read after each iteration.

    Raises:
        ConfigError: L-BFGS with an L1 or elastic-net penalty; --resume of a
            run that writes no checkpoints.
        CheckpointError: resume refused (other input files or job).
        DataError: bad input (nothing is written).
        DivergenceError: fixed-rate descent blew up (no model is written).
        TrainingInterrupted: a signal (SIGINT, SIGTERM) stopped it.
    """
    started = time.perf_counter()
    check_supported(config)
    stored = None
    if resume:
        check_resumable(config)
        stored = load_for_resume(config)
    output = Path(config["output.dir"])
    check_job_outputs(config)
    plan = column_plan(config)
    run = None
    try:
        with open_cluster(config) as cluster:
            if config["optimizer.method"] == "sgd+batch":
                run = _sgd_epochs(config, plan, progress)
            else:
                run = _batch_run(config, cluster, plan, progress, stored, stop)
            with _closed_on_error(run):
                _polish(config, cluster, plan, run)
    except SignalInterrupt as interrupt:
        raise _interrupted(interrupt.signal_number, run) from None

    model = _model(config, run, time.perf_counter() - started)
    model_path = output / config["output.model"]
    model.save(model_path)
    if run.checkpointer is not None:
        run.checkpointer.remove()
    run.cost_log.commit()
    return TrainResult(model, model_path, run.cost_log.path, run.cost_log.records)


def _batch_run(config: Config, cluster: Cluster, plan: ColumnPlan,
               progress: Progress | None, stored: Checkpoint | None,
               stop: StopRequest | None) -> _Run:
    """A batch run from the statistics pass, or from the checkpoint `stored`."""
    prepared = (stored.prepared.restore(config, plan) if stored is not None
                else statistics_pass(config, cluster, plan))
    cost_log = _open_cost_log(config, progress, stored)
    checkpointer = FullBatchCheckpointer(config, cost_log,
                                         PreparedSummary.of(prepared), stop)
    return _Run(prepared, cost_log, checkpointer=checkpointer,
                stored=None if stored is None else stored.state)


def _interrupted(signal_number: int, run: _Run | None) -> TrainingInterrupted:
    """A signal that struck during a pass (before training, or a second one)."""
    name = signal.Signals(signal_number).name
    checkpointer = None if run is None else run.checkpointer
    if checkpointer is not None and checkpointer.written:
        return TrainingInterrupted(
            f"stopped by {name} during a pass; the checkpoint of the last"
            f" iteration stays ({checkpointer.path}): {RESUME_HINT}",
            signal_number, checkpointer.path)
    return TrainingInterrupted(
        f"stopped by {name} before any checkpoint: nothing of this run was kept"
        " (no model; its partial cost log removed); an earlier model and cost"
        " log in output.dir are untouched. Run the job again to train",
        signal_number,
    )


@contextmanager
def _closed_on_error(run: _Run) -> Iterator[None]:
    """On an error the cost log is closed: renamed into place after a divergence
    (to be read; the checkpoint goes), kept under its partial name when a
    checkpoint can continue it, deleted otherwise."""
    checkpointer = run.checkpointer
    try:
        yield
    except DivergenceError:
        run.cost_log.commit()
        if checkpointer is not None:
            checkpointer.remove()
        raise
    except BaseException:
        if checkpointer is not None and checkpointer.written:
            run.cost_log.close()
        else:
            run.cost_log.discard()
        raise


def check_supported(config: Config) -> None:
    """Refuse combinations the engine does not handle, before any data is read."""
    # Known gap: the full-batch passes do not split off a holdout yet; the
    # mark goes when partitions apply the streaming engine's holdout hash
    if config["validation.holdout"] > 0 or config["validation.paths"]:
        raise ConfigError(
            f"validation.holdout or validation.paths with optimizer.method:"
            f" {config['optimizer.method']} (the full-batch engine would train on"
            " the held-out rows); evaluate a holdout file with `streamgd"
            " evaluate` after training, or use optimizer.method: sgd"
        )
    penalty = config["model.penalty"]
    if config["fullbatch.solver"] == "lbfgs" and penalty in ("l1", "elasticnet"):
        raise ConfigError(
            f"fullbatch.solver: lbfgs with model.penalty: {penalty} (L-BFGS needs"
            " a smooth cost); choose fullbatch.solver: linesearch, which applies"
            " the L1 part as a proximal step, or model.penalty: l2"
        )


@dataclass
class _Run:
    """The state of one job across its phases."""

    prepared: Prepared
    cost_log: CostLog
    params: LinearParams | None = None
    sgd: Engine | None = None
    result: SolverResult | None = None
    n_passes: int = 0
    cached: bool = False
    iteration_costs: list[float] = field(default_factory=list)
    checkpointer: FullBatchCheckpointer | None = None
    stored: FullBatchState | None = None
    objective: Objective | None = None


def statistics_pass(config: Config, cluster: Cluster, plan: ColumnPlan) -> Prepared:
    """Checks, labels, counts and feature statistics in one pass of dask tasks.

    Raises:
        DataError: a bad value (file, column, row), too few classes, no rows.
    """
    partitions = list_partitions(config, plan)
    reader = partition_reader(config, plan)
    decoder = decoder_for(config, plan)
    needs_classes = config["model.type"] == "logistic" and not plan.target_numeric
    parts = [
        delayed(summarize, pure=False)(reader, decoder, needs_classes, partition)
        for partition in partitions
    ]
    empty = Summary(RunningStats.empty(len(decoder.features)))
    merge = partial(merge_summaries, decoder.features)
    summary: Summary = cluster.compute(tree_reduce(parts, merge, empty))
    log.info("statistics pass over %d partitions on %s", len(partitions), cluster.name)
    files = sorted({partition.file for partition in partitions})
    classes = set(summary.classes) if needs_classes else None
    # the mean sample weight, which the SGD engine's steps are scaled by
    mean_weight = 1.0
    if config["data.weight"] is not None and summary.n_rows:
        mean_weight = summary.weight_sum / summary.n_rows
    return finish_preparation(config, decoder, summary.stats, classes,
                              summary.n_rows, summary.n_dropped, files, mean_weight,
                              positives=summary.positives)


class Passes:
    """Gradient passes over the partitions, from the files or from worker memory.

    A pass runs one task per worker thread (`TASKS_PER_SLOT`), each summing a
    group of partitions, rather than one task per partition: on 2 cores a dask
    task's round trip through the scheduler cost milliseconds, as much as
    summing a 65,536-row partition. Each task returns its partitions' sums and
    this process adds them up in partition order, so a pass gives the same
    result, bit for bit, whatever the grouping, the number of workers or the
    caching.

    Args:
        cache: True to decode and scale every partition once and keep it in
            worker memory; False to read each partition from its file per pass.
    """

    def __init__(
        self, cluster: Cluster, data: ScaledData, partitions: list[Partition],
        loss: Loss, cache: bool,
    ) -> None:
        self.cluster = cluster
        self.data = data
        self.partitions = partitions
        self.loss = loss
        self.cached: list[Any] | None = None
        self._holders: list[str | None] = []
        if cache:
            self.cached = cluster.keep(data.load, partitions)

    def __call__(self, params: LinearParams) -> GradientSums:
        """The gradient sums over all rows at `params`: one pass."""
        n_groups = TASKS_PER_SLOT * self.cluster.n_slots
        if self.cached is None:
            groups = split_evenly(list(range(len(self.partitions))), n_groups)
            per_group = self.cluster.map_groups(
                group_sums, [[self.partitions[i] for i in g] for g in groups],
                self.data, params, self.loss)
            workers = None
        else:
            if not self._holders:
                self._holders = self.cluster.holders(self.cached)
            groups, workers = groups_by_holder(self._holders, n_groups)
            per_group = self.cluster.map_groups(
                cached_group_sums, [[self.cached[i] for i in g] for g in groups],
                params, self.loss, workers=workers)
        return merge_in_order(groups, per_group, GradientSums.empty(
            len(params.weights)))

    def release(self) -> None:
        """Drop the cached partitions from worker memory."""
        self.cached = None
        self._holders = []


def use_cache(config: Config, cluster: Cluster, prepared: Prepared) -> bool:
    """Whether to keep partitions in memory: dask.cache, or for `auto` whether
    the decoded rows (float64 features, target, weight) fit in half of it."""
    mode = config["dask.cache"]
    if mode != "auto":
        return mode == "always"
    n_columns = len(config["data.features"]) + 2
    needed = 8 * n_columns * prepared.n_rows
    available = cluster.memory_bytes()
    log.info("partitions need %d bytes decoded; workers have %d", needed, available)
    return needed <= available // 2


def _sgd_epochs(config: Config, plan: ColumnPlan, progress: Progress | None) -> _Run:
    """The streaming engine's statistics pass and epochs (optimizer.* keys)."""
    source = open_source(config, plan)
    try:
        prepared = prepare(config, source, plan, progress)
        run = _Run(prepared, _open_cost_log(config, progress))
        run.sgd = Engine(config, prepared)
        with _closed_on_error(run):
            run.sgd.fit(source, run.cost_log)
    finally:
        source.close()
    run.params = run.sgd.params
    return run


def _polish(config: Config, cluster: Cluster, plan: ColumnPlan, run: _Run) -> None:
    """Solver iterations from run.params (or the initial weights)."""
    prepared = run.prepared
    data = ScaledData(partition_reader(config, plan), prepared.decoder,
                      prepared.scaler)
    run.cached = use_cache(config, cluster, prepared)
    passes = Passes(cluster, data, list_partitions(config, plan),
                    LOSSES[config["model.type"]], run.cached)
    objective = Objective(passes, _penalty(config), _free(config, prepared))
    run.objective = objective
    first_epoch = 0 if run.sgd is None else run.sgd.epoch
    report = partial(_report, run, first_epoch)
    theta, start = as_theta(run.params or _initial_params(config, prepared)), None
    if run.stored is not None:
        stored = run.stored
        theta = stored.theta
        start = Start(stored.iteration, stored.next_rate, stored.first_cost)
        run.iteration_costs = list(stored.iteration_costs)
    stop = None if run.checkpointer is None else run.checkpointer.stop
    if stop is not None:
        stop.armed = True  # a signal now waits for the iteration's end
    try:
        run.result = _solve(config, objective, theta, report, start)
    finally:
        if stop is not None:
            stop.armed = False
        passes.release()
        run.n_passes = _passes_so_far(run)
    run.params = as_params(run.result.theta)


def _passes_so_far(run: _Run) -> int:
    before = 0 if run.stored is None else run.stored.n_passes
    return before + (0 if run.objective is None else run.objective.n_passes)


def _solve(
    config: Config, objective: Objective, theta: np.ndarray, report: Any,
    start: Start | None = None,
) -> SolverResult:
    solver = config["fullbatch.solver"]
    max_iter, tol = config["fullbatch.max_iter"], config["fullbatch.tol"]
    rate = config["fullbatch.learning_rate"]
    if solver == "gd":
        return gradient_descent(objective, theta, rate, max_iter, tol, report,
                                config["optimizer.divergence_factor"], start)
    if solver == "linesearch":
        return line_search_descent(objective, theta, rate, max_iter, tol, report,
                                   start)
    return lbfgs(objective, theta, max_iter, tol, report)


def _report(run: _Run, first_epoch: int, iteration: int, evaluation: Evaluation,
            step: float, theta: np.ndarray | None = None) -> None:
    """A start record for iteration 0 (not an update), then one update and
    epoch record per solver iteration, and a checkpoint after it."""
    _log_iteration(run, first_epoch, iteration, evaluation, step)
    if run.checkpointer is not None and iteration > 0 and theta is not None:
        run.checkpointer.after_iteration(iteration, theta, step,
                                         run.iteration_costs, _passes_so_far(run))


def _log_iteration(run: _Run, first_epoch: int, iteration: int,
                   evaluation: Evaluation, step: float) -> None:
    run.iteration_costs.append(evaluation.cost)
    if iteration == 0:
        run.cost_log.add_record({"kind": "start", "epoch": first_epoch,
                                 "cost": evaluation.cost})
        return
    epoch = first_epoch + iteration - 1  # the cost log's 0-based index
    run.cost_log.extend(
        epoch, np.array([evaluation.cost]), np.array([evaluation.total_weight]),
        np.array([float(evaluation.n_rows)]), np.array([step]),
    )
    run.cost_log.end_epoch(epoch, step)


def _penalty(config: Config) -> Penalty:
    return Penalty.of(config["model.penalty"], config["model.alpha"],
                      config["model.l1_ratio"])


def _free(config: Config, prepared: Prepared) -> np.ndarray:
    """Coordinates the solvers may move: non-constant weights, the intercept."""
    return np.append(~prepared.stats.constant, config["model.fit_intercept"])


def _initial_params(config: Config, prepared: Prepared) -> LinearParams:
    """Zero weights, or seeded normal ones (constant features held at 0)."""
    n_features = len(config["data.features"])
    weights = np.zeros(n_features)
    if config["model.init"] == "random":
        rng = np.random.default_rng(config["seed"])
        weights = rng.normal(0.0, config["model.init_scale"], n_features)
        weights[prepared.stats.constant] = 0.0
    return LinearParams(weights, 0.0)


def _open_cost_log(config: Config, progress: Progress | None,
                   stored: Checkpoint | None = None) -> CostLog:
    """The run's cost log, continued from the checkpoint's length if resuming.

    Raises:
        CheckpointError: the partial log a resumed run continues is gone or
            shorter than the checkpoint recorded.
    """
    output = Path(config["output.dir"])
    try:
        return CostLog(output / config["output.cost_log"],
                       config["output.log_every"], progress,
                       resume=None if stored is None else stored.cost_log)
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"cannot continue the cost log of the checkpoint: {error}; train"
            " without --resume to start over"
        ) from None


def _model(config: Config, run: _Run, seconds: float) -> TrainedModel:
    """The trained model with its training summary (an epoch is a data pass)."""
    prepared, result, sgd = run.prepared, run.result, run.sgd
    assert result is not None and run.params is not None  # set by _polish
    sgd_epochs = 0 if sgd is None else sgd.epoch
    sgd_updates = 0 if sgd is None else sgd.opt_state.update_count
    training = {
        "method": config["optimizer.method"], "solver": config["fullbatch.solver"],
        "epochs": sgd_epochs + run.n_passes,
        "updates": sgd_updates + result.iterations,
        "iterations": result.iterations, "passes": run.n_passes,
        "cached": run.cached,
        "rows": prepared.n_rows, "rows_dropped": prepared.n_dropped,
        "epoch_costs": [] if sgd is None else list(sgd.monitor.epoch_costs),
        "iteration_costs": run.iteration_costs,
        "final_cost": result.evaluation.cost,
        "gradient_norm": float(np.linalg.norm(result.evaluation.gradient)),
        "stop_reason": result.stop_reason, "seconds": round(seconds, 3),
    }
    decoder = prepared.decoder
    return TrainedModel(
        kind=config["model.type"], features=list(config["data.features"]),
        target=config["data.target"], params=run.params, scaler=prepared.scaler,
        stats=prepared.stats, labels=decoder.labels, missing=config["data.missing"],
        impute_values=decoder.impute_values, training=training,
        config=config.as_dict(),
    )
