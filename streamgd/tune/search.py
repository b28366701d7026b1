"""`streamgd tune`: short runs over a grid, in parallel, and the best settings.

    sample      a bounded sample of the job's rows (sample.py)
    grid        learning rates log-spaced over `tune.rate_range`, times the
                `tune.epochs` and `tune.alphas` lists when given
    trials      one short training run each, on dask (threads of this process
                by default; `dask.workers` or `dask.scheduler` as for full batch)
    choice      the lowest holdout cost; a diverged trial is reported, never chosen

A job with `optimizer.method: sgd+batch` is tuned on its SGD phase (trials run
plain SGD); `batch` is refused, as is `tune.alphas` without a penalty (see
`check_tunable`). Every trial holds out the same hashed rows of the sample (the
job's own holdout or validation files when it has them, else `tune.holdout`), so
trials are compared on rows none of them trained on. The best settings are
written as a YAML override (`tune.out`), to be merged into the job with --set or
by hand.
"""

from __future__ import annotations

import itertools
import logging
import math
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import numpy as np
import yaml

from streamgd.atomic import write_atomic
from streamgd.config import Config
from streamgd.errors import ConfigError, DivergenceError, StreamgdError
from streamgd.fullbatch.cluster import open_cluster
from streamgd.tune.sample import write_sample

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trial:
    """One grid point and how it ended.

    Attributes:
        learning_rate, epochs, alpha: the settings tried.
        status: "ok", "diverged", or "failed" (another error, in `message`).
        holdout_cost: the trial model's cost on the held-out rows (nan if none).
        train_cost: its last epoch's averaged training cost.
        epochs_run: epochs it ran (early stopping may end it sooner).
        error: the error that failed the trial, or None.
    """

    learning_rate: float
    epochs: int
    alpha: float
    status: str
    holdout_cost: float = float("nan")
    train_cost: float = float("nan")
    epochs_run: int = 0
    message: str = ""
    error: StreamgdError | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class TuneResult:
    """The trials, the best one, the sample size and where the override went."""

    trials: list[Trial]
    best: Trial | None
    sample_rows: int
    override_path: Path | None
    override: dict[str, Any] = field(default_factory=dict)


def learning_rate_grid(config: Config) -> list[float]:
    """`tune.learning_rates` if given, else `tune.grid_size` log-spaced rates."""
    given = config["tune.learning_rates"]
    if given:
        return [float(rate) for rate in given]
    low, high = config["tune.rate_range"]
    count = config["tune.grid_size"]
    return [float(rate) for rate in np.geomspace(low, high, count)]


def tune(config: Config) -> TuneResult:
    """Run the grid on a sample of the job's data; write the best as YAML.

    Raises:
        ConfigError: a job the grid cannot tune (see `check_tunable`).
        DataError: the data cannot be read (before any trial).
    """
    check_tunable(config)
    with (tempfile.TemporaryDirectory(prefix="streamgd-tune-") as folder,
          _statistics_warnings_once()):
        # a bounded sample, shared by every trial
        sample_path = Path(folder) / "sample.parquet"
        sample_rows = write_sample(config, sample_path)
        log.info("tuning on a sample of %d rows", sample_rows)

        # the grid, as one dask task per trial
        points = list(itertools.product(
            learning_rate_grid(config),
            config["tune.epochs"] or [config["optimizer.max_epochs"]],
            config["tune.alphas"] or [config["model.alpha"]],
        ))
        jobs = [
            _trial_job(config, sample_path, Path(folder) / f"trial-{k}", point)
            for k, point in enumerate(points)
        ]
        tasks = [dask.delayed(run_trial)(job, point)
                 for job, point in zip(jobs, points)]
        with open_cluster(config) as cluster:
            trials = cluster.compute(dask.delayed(list)(tasks))

    _raise_common_failure(trials)
    best = choose(trials)
    override = {} if best is None else best_override(config, best)
    path = None
    if best is not None and config["tune.out"]:
        path = Path(config["output.dir"]) / config["tune.out"]
        write_atomic(path, yaml.safe_dump(override, sort_keys=False))
    return TuneResult(trials, best, sample_rows, path, override)


class _FirstOccurrence(logging.Filter):
    """Passes each distinct message once: the trials share the sample's rows,
    so their statistics passes repeat its warnings (a constant feature, once
    per trial and once for the sample)."""

    def __init__(self) -> None:
        super().__init__()
        self._seen: set[tuple[int, str]] = set()
        self._lock = threading.Lock()  # trials run on dask threads

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.levelno, record.getMessage())
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
        return first


@contextmanager
def _statistics_warnings_once() -> Iterator[None]:
    """Within a tune run, each message of the statistics pass is logged once;
    one that only a trial finds (its rows less the holdout) still is."""
    logger = logging.getLogger("streamgd.train.prepare")
    once = _FirstOccurrence()
    logger.addFilter(once)
    try:
        yield
    finally:
        logger.removeFilter(once)


def _raise_common_failure(trials: list[Trial]) -> None:
    """Raise the error that failed every trial, when none finished or diverged.

    Such an error is the job's or the data's, whatever the learning rate; a
    table of identical failures would blame the rate range.
    """
    failed = [trial for trial in trials if trial.status == "failed"]
    if failed and len(failed) == len(trials) and failed[0].error is not None:
        raise failed[0].error


def check_tunable(config: Config) -> None:
    """Refuse a job whose grid could not tell its points apart, before any read.

    Raises:
        ConfigError: optimizer.method batch (the full-batch solvers use no
            optimizer.learning_rate, and refuse the holdout trials need), or
            tune.alphas with model.penalty none (alpha would change nothing).
    """
    if config["optimizer.method"] == "batch":
        raise ConfigError(
            "tune with optimizer.method: batch: tune searches"
            " optimizer.learning_rate, the SGD step, which the full-batch"
            " solvers do not use (lbfgs and linesearch find their own steps,"
            " gd takes fullbatch.learning_rate); use fullbatch.solver: lbfgs"
            " or linesearch, or tune the job with optimizer.method: sgd+batch"
            " (its SGD phase) or sgd"
        )
    if config["tune.alphas"] and config["model.penalty"] == "none":
        raise ConfigError(
            "tune.alphas with model.penalty: none: without a penalty alpha"
            " changes nothing, so every alpha would give the same model; set"
            " model.penalty (l2, l1 or elasticnet) or remove tune.alphas"
        )


def _trial_job(
    config: Config, sample: Path, out: Path, point: tuple[float, int, float]
) -> dict[str, Any]:
    """The nested job of one trial: the job's settings on the sample."""
    learning_rate, epochs, alpha = point
    tree = config.as_dict()
    tree["data"].update({"paths": [str(sample)], "format": "parquet"})
    tree["optimizer"].update({"learning_rate": learning_rate, "max_epochs": epochs})
    tree["model"]["alpha"] = alpha
    tree["output"].update({"dir": str(out)})
    tree["checkpoint"]["enabled"] = False
    tree["optimizer"]["restarts"] = 1
    # sgd+batch: the grid's rate is its SGD phase's (the polish refuses holdouts)
    tree["optimizer"]["method"] = "sgd"
    validation = tree["validation"]
    if validation["holdout"] == 0 and not validation["paths"]:
        validation["holdout"] = config["tune.holdout"]
    # the trial's model is its last, so the grid compares the settings as given
    validation["patience"] = None
    return tree


def run_trial(job: dict[str, Any], point: tuple[float, int, float]) -> Trial:
    """Train one trial; divergence and bad settings end as a status, not a raise."""
    from streamgd.train.job import train

    from streamgd.config import make_config

    learning_rate, epochs, alpha = point
    try:
        result = train(make_config(job))
    except DivergenceError as error:
        return Trial(learning_rate, epochs, alpha, "diverged", message=str(error))
    except StreamgdError as error:
        return Trial(learning_rate, epochs, alpha, "failed", message=str(error),
                     error=error)
    training = result.model.training
    holdout = training.get("holdout_cost")
    return Trial(
        learning_rate, epochs, alpha, "ok",
        holdout_cost=float("nan") if holdout is None else float(holdout),
        train_cost=float(training["final_cost"]), epochs_run=training["epochs"],
    )


def choose(trials: list[Trial]) -> Trial | None:
    """The finished trial of lowest holdout cost (training cost if none has one);
    ties go to the smaller learning rate, the safer of two equals."""
    finished = [trial for trial in trials if trial.status == "ok"]
    if not finished:
        return None
    use_holdout = any(math.isfinite(trial.holdout_cost) for trial in finished)

    def key(trial: Trial) -> tuple[float, float]:
        cost = trial.holdout_cost if use_holdout else trial.train_cost
        return (cost if math.isfinite(cost) else math.inf, trial.learning_rate)

    return min(finished, key=key)


def best_override(config: Config, best: Trial) -> dict[str, Any]:
    """The YAML override of the best settings (only the keys the grid varied)."""
    override: dict[str, Any] = {"optimizer": {"learning_rate": best.learning_rate}}
    if config["tune.epochs"]:
        override["optimizer"]["max_epochs"] = best.epochs
    if config["tune.alphas"]:
        override["model"] = {"alpha": best.alpha}
    return override
