"""A training job end to end: outputs checked, statistics pass, engine, files.

    train(config) -> outputs checked (before any data is read) -> statistics
    pass (train.prepare), or the checkpoint's results on --resume -> the
    engine's epochs (train.loop) -> model and cost log written atomically

The full-batch methods (`optimizer.method: batch | sgd+batch`) go to
`streamgd.fullbatch` instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamgd.atomic import remove_stale
from streamgd.checkpoint import Checkpoint, chunk_layout
from streamgd.config import Config
from streamgd.errors import CheckpointError, DivergenceError
from streamgd.model.saved import TrainedModel
from streamgd.outputs import check_folder, check_job_outputs
from streamgd.readers import Source, column_plan, open_source
from streamgd.train.checkpoints import (
    Checkpointer, check_chunks, checkpoint_path, load_for_resume,
)
from streamgd.train.costlog import CostLog, Progress
from streamgd.train.loop import Engine
from streamgd.train.prepare import Prepared, PreparedSummary, open_and_prepare
from streamgd.train.signals import StopRequest
from streamgd.validate.final import with_training_cost


@dataclass(frozen=True)
class TrainResult:
    """A finished run: the model, where it was written, and the cost records."""

    model: TrainedModel
    model_path: Path
    cost_log_path: Path
    records: list[dict[str, Any]] = field(repr=False, default_factory=list)


def train(
    config: Config,
    progress: Progress | None = None,
    resume: bool = False,
    stop: StopRequest | None = None,
) -> TrainResult:
    """Run a job: statistics pass, SGD epochs, model and cost log written.

    Args:
        config: the job.
        progress: receives every cost-log record.
        resume: continue from the job's checkpoint, if there is one (then the
            statistics pass is skipped: the checkpoint holds its results).
        stop: set by a signal handler (see `train.signals`); the run then
            checkpoints and raises TrainingInterrupted.

    Raises:
        DataError: bad input (nothing is written).
        CheckpointError: resume refused (other input files or job).
        DivergenceError: the cost blew up (no model is written; the run's
            checkpoint is removed).
        TrainingInterrupted: stopped by `stop`, after writing a checkpoint.
    """
    if config["optimizer.method"] != "sgd":
        # batch and sgd+batch: the dask full-batch engine (streamgd/fullbatch)
        from streamgd.fullbatch import train_fullbatch

        return train_fullbatch(config, progress, resume=resume, stop=stop)
    started = time.perf_counter()
    output = Path(config["output.dir"])
    stored = load_for_resume(config, resume)
    check_job_outputs(config)
    for path in (output / config["output.model"], checkpoint_path(config)):
        remove_stale(path)
    plan = column_plan(config)
    if stored:
        prepared = stored.prepared.restore(config, plan)
        source = open_source(config, plan)
        try:
            check_chunks(stored, source.chunks, config)
        except CheckpointError:
            source.close()
            raise
    else:
        source, prepared = open_and_prepare(config, plan, progress)
    holdout_source = None
    try:
        if config["validation.paths"]:
            holdout_source = open_source(
                config.replace(**{"data.paths": config["validation.paths"]}), plan
            )
        engine, cost_log = _fit(
            config, prepared, source, stored, progress, stop, holdout_source
        )
        model = engine.model(config, prepared, time.perf_counter() - started)
        if config["validation.final_pass"]:
            model = with_training_cost(model, config, prepared.decoder, source)
    finally:
        source.close()
        if holdout_source is not None:
            holdout_source.close()

    model_path = output / config["output.model"]
    model.save(model_path)
    engine.on_boundary.remove()
    cost_log.commit()
    return TrainResult(model, model_path, cost_log.path, cost_log.records)


def _fit(
    config: Config,
    prepared: Prepared,
    source: Source,
    stored: Checkpoint | None,
    progress: Progress | None,
    stop: StopRequest | None,
    holdout_source: Source | None = None,
) -> tuple[Engine, CostLog]:
    """The engine trained to its end, from the checkpoint `stored` if given."""
    cost_log = _open_cost_log(config, progress, stored)
    summary = PreparedSummary.of(prepared, chunk_layout(source.chunks))
    checkpointer = Checkpointer(config, cost_log, summary, stop)
    engine = Engine(
        config, prepared, on_boundary=checkpointer, holdout_source=holdout_source
    )
    if stored is not None:
        engine.restore(stored.state)
    if stop is not None:
        stop.armed = True
    try:
        engine.fit(source, cost_log)
    except DivergenceError:
        # resuming would diverge again: keep the log to read, drop the checkpoint
        checkpointer.remove()
        cost_log.commit()
        raise
    finally:
        if stop is not None:
            stop.armed = False
        cost_log.close()
    return engine, cost_log


def _open_cost_log(
    config: Config, progress: Progress | None, stored: Checkpoint | None
) -> CostLog:
    """The run's cost log, continued from the checkpoint's length if resuming.

    Raises:
        CheckpointError: the partial log a resumed run continues is gone or
            shorter than the checkpoint recorded.
    """
    path = Path(config["output.dir"]) / config["output.cost_log"]
    try:
        return CostLog(path, config["output.log_every"], progress,
                       resume=stored.cost_log if stored else None)
    except (OSError, ValueError) as error:
        raise CheckpointError(
            f"cannot continue the cost log of the checkpoint: {error}; train"
            " without --resume to start over"
        ) from None


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and check a file can be written in it.

    Raises:
        ConfigError: it cannot be created or written to (before any data is read).
    """
    check_folder(folder, "output.dir")
