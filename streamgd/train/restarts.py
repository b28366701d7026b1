"""`optimizer.restarts: N`: train from N seeded random starts, keep the best.

Start k (k = 0 .. N-1) is the job with `seed + k` and random initial weights
(`model.init: random`), trained in `output.dir/restart-k/` with its checkpoint
there. The best start has the lowest holdout cost (the job's
`validation.holdout` or `validation.paths`), or, without a holdout, the lowest
final training cost; its model and cost log are written to the job's own model
and cost-log paths, and the model's training summary lists every start.

Resuming: each finished start is recorded in `output.dir/restarts.json` with
the fingerprint of the job and its input files. A run stopped by a signal
stops inside one start, which writes its checkpoint; `--resume` then keeps the
finished starts as they are (refusing, with the list of changes, if the job or
files differ), resumes the stopped start from its checkpoint and runs the rest,
so the kept model is bit for bit that of an uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from streamgd.atomic import write_atomic
from streamgd.checkpoint import differences, fingerprint
from streamgd.config import Config
from streamgd.errors import CheckpointError, DivergenceError, TrainingInterrupted
from streamgd.model.saved import load_model
from streamgd.report.costs import read_cost_log
from streamgd.train.checkpoints import checkpoint_path
from streamgd.train.costlog import Progress
from streamgd.train.job import TrainResult, train
from streamgd.train.signals import StopRequest

log = logging.getLogger(__name__)

RECORD = "restarts.json"


def train_with_restarts(
    config: Config, progress: Progress | None = None, resume: bool = False,
    stop: StopRequest | None = None,
) -> TrainResult:
    """Train `optimizer.restarts` starts; see the module docstring.

    Raises:
        DivergenceError: every start diverged (the last one's error).
        CheckpointError: resume refused (other input files or job).
        TrainingInterrupted: stopped by `stop` inside a start, whose checkpoint
            was written; the message names the start.
    """
    n_starts = config["optimizer.restarts"]
    if not (config["validation.holdout"] > 0 or config["validation.paths"]):
        log.warning("optimizer.restarts without a holdout: starts are compared"
                    " on their training cost; set validation.holdout to compare"
                    " them on unseen rows")
    record_path = Path(config["output.dir"]) / RECORD
    stamp = fingerprint(config)
    summary = _finished(config, record_path, stamp) if resume else []
    if not resume:
        record_path.unlink(missing_ok=True)
    results = [_reused(config, k) for k, entry in enumerate(summary)
               if entry["status"] == "ok"]
    last_error = None
    for k in range(len(summary), n_starts):
        start = start_config(config, k)
        try:
            result = _train_start(start, k, n_starts, progress, resume, stop)
        except DivergenceError as error:
            summary.append({"seed": start["seed"], "status": "diverged"})
            last_error = error
        else:
            results.append(result)
            summary.append({"seed": start["seed"], "status": "ok",
                            "score": _score(result)})
        write_atomic(record_path, json.dumps(
            {"fingerprint": stamp, "starts": summary}, indent=1) + "\n")
    if not results:
        record_path.unlink(missing_ok=True)
        if last_error is None:  # every start diverged in an earlier run
            raise DivergenceError("every start diverged; see the starts' folders")
        raise last_error
    kept = _keep_best(config, results, summary)
    record_path.unlink(missing_ok=True)
    return kept


def start_config(config: Config, k: int) -> Config:
    """The job of start k: its seed, random weights, its own folder."""
    return config.replace(**{
        "seed": config["seed"] + k, "model.init": "random",
        "optimizer.restarts": 1,
        "output.dir": str(Path(config["output.dir"]) / f"restart-{k}"),
        "checkpoint.path": None,
    })


def _train_start(start: Config, k: int, n_starts: int, progress: Progress | None,
                 resume: bool, stop: StopRequest | None) -> TrainResult:
    """Start k trained, resumed from its checkpoint if asked and there is one."""
    resume_start = resume and checkpoint_path(start).exists()
    try:
        return train(start, progress, resume=resume_start, stop=stop)
    except TrainingInterrupted as error:
        message = (f"restart {k + 1} of {n_starts} (seed {start['seed']},"
                   f" {start['output.dir']}): {error}")
        if error.checkpoint is not None:
            message += ("; the finished starts are kept and this one continues"
                        " from its checkpoint")
        raise TrainingInterrupted(message, error.signal_number,
                                  error.checkpoint) from None


def _finished(config: Config, record_path: Path,
              stamp: dict[str, Any]) -> list[dict[str, Any]]:
    """The starts a previous run of this job finished, from its record.

    Raises:
        CheckpointError: the record is unreadable or from another job or files.
    """
    if not record_path.exists():
        return []
    try:
        record = json.loads(record_path.read_text())
        stored, starts = record["fingerprint"], list(record["starts"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"cannot read {record_path} ({error}); train without --resume to"
            " start over"
        ) from None
    changed = differences(stored, stamp)
    if changed:
        raise CheckpointError(
            f"cannot resume from {record_path}: " + "; ".join(changed)
            + ". Restore the original files and job, or train without --resume"
            " to start over."
        )
    log.info("resuming restarts: %d of %d starts finished", len(starts),
             config["optimizer.restarts"])
    return starts[:config["optimizer.restarts"]]


def _reused(config: Config, k: int) -> TrainResult:
    """The result of start k, finished by an earlier run, read from its folder."""
    start = start_config(config, k)
    folder = Path(start["output.dir"])
    model_path = folder / start["output.model"]
    cost_log_path = folder / start["output.cost_log"]
    try:
        model = load_model(model_path)
        records = read_cost_log(cost_log_path)
    except Exception as error:  # noqa: BLE001 - any failure means: start over
        raise CheckpointError(
            f"start {k + 1} ({folder}) finished in an earlier run but its files"
            " cannot be read"
            f" ({error}); train without --resume to start over"
        ) from None
    return TrainResult(model, model_path, cost_log_path, records)


def _score(result: TrainResult) -> float:
    training = result.model.training
    cost = training.get("holdout_cost")
    if cost is None:
        cost = training["final_cost"]
    return float(cost) if cost is not None and math.isfinite(cost) else math.inf


def _keep_best(
    config: Config, results: list[TrainResult], summary: list[dict[str, Any]]
) -> TrainResult:
    """Write the best start's model and cost log at the job's own paths."""
    best = min(results, key=_score)
    output = Path(config["output.dir"])
    training = {**best.model.training, "restarts": summary,
                "best_seed": best.model.config["seed"]}
    model = replace(best.model, training=training)
    model_path = output / config["output.model"]
    model.save(model_path)
    cost_log_path = output / config["output.cost_log"]
    write_atomic(cost_log_path, best.cost_log_path.read_text())
    log.info("restarts: kept seed %d of %d starts", training["best_seed"],
             len(summary))
    return TrainResult(model, model_path, cost_log_path, best.records)
