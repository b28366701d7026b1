"""`optimizer.restarts: N`: train from N seeded random starts, keep the best.

Start k (k = 0 .. N-1) is the job with `seed + k` and random initial weights
(`model.init: random`), trained in `output.dir/restart-k/`. The best start has
the lowest holdout cost (the job's `validation.holdout` or `validation.paths`),
or, without a holdout, the lowest final training cost; its model and cost log are
written to the job's own model and cost-log paths, and the model's training
summary lists every start.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

from streamgd.atomic import write_atomic
from streamgd.config import Config
from streamgd.errors import DivergenceError
from streamgd.train.costlog import Progress
from streamgd.train.loop import TrainResult, train

log = logging.getLogger(__name__)


def train_with_restarts(
    config: Config, progress: Progress | None = None
) -> TrainResult:
    """Train `optimizer.restarts` starts; see the module docstring.

    Raises:
        DivergenceError: every start diverged (the last one's error).
    """
    n_starts = config["optimizer.restarts"]
    output = Path(config["output.dir"])
    if not (config["validation.holdout"] > 0 or config["validation.paths"]):
        log.warning("optimizer.restarts without a holdout: starts are compared"
                    " on their training cost; set validation.holdout to compare"
                    " them on unseen rows")
    results, summary, last_error = [], [], None
    for k in range(n_starts):
        start = config.replace(**{
            "seed": config["seed"] + k, "model.init": "random",
            "optimizer.restarts": 1, "output.dir": str(output / f"restart-{k}"),
        })
        try:
            result = train(start, progress)
        except DivergenceError as error:
            summary.append({"seed": start["seed"], "status": "diverged"})
            last_error = error
            continue
        results.append(result)
        summary.append({"seed": start["seed"], "status": "ok",
                        "score": _score(result)})
    if not results:
        raise last_error  # type: ignore[misc]
    return _keep_best(config, results, summary)


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
