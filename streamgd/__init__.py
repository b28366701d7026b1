"""streamgd: out-of-core streaming gradient descent for linear models.

    >>> import streamgd
    >>> result = streamgd.train("job.yaml")            # or a dict, or None
    >>> result.model.original_coefficients()
    >>> streamgd.evaluate(result.model_path, "holdout.parquet")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamgd.config import Config, load_config, make_config, parse_override
from streamgd.errors import (
    CheckpointError, ConfigError, DataError, DivergenceError, ModelFileError,
    OutputLockedError, OutputWriteError, StreamgdError, TrainingInterrupted,
)
from streamgd.model.saved import TrainedModel, load_model
from streamgd.train import TrainResult
from streamgd.train.costlog import Progress

# load the submodule streamgd.predict now: a first import sets the package's
# attribute `predict` to the module, and done lazily inside `predict()` below it
# replaced that function, so a second `streamgd.predict(...)` call failed
from streamgd import predict as _prediction  # noqa: E402 (after its imports)

__all__ = [
    "CheckpointError", "Config", "ConfigError", "DataError", "DivergenceError",
    "ModelFileError", "OutputLockedError", "OutputWriteError",
    "TrainingInterrupted",
    "StreamgdError", "TrainResult", "TrainedModel", "evaluate", "load_config",
    "load_model", "make_config", "predict", "train",
]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from streamgd.train.signals import StopRequest


def _as_config(job: Config | dict[str, Any] | str | Path | None,
               overrides: list[str] | tuple[str, ...]) -> Config:
    if isinstance(job, Config):
        return job.replace(**dict(parse_override(item) for item in overrides))
    if isinstance(job, dict):
        return make_config(job, overrides)
    return load_config(job, overrides)


def train(
    job: Config | dict[str, Any] | str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    progress: Progress | None = None,
    resume: bool = False,
    stop: StopRequest | None = None,
) -> TrainResult:
    """Train the model a job describes and write it with its cost log.

    Args:
        job: a YAML file path, a nested mapping of the job's sections, a `Config`,
            or None for the embedded default job (flights arrival delay).
        overrides: `key.sub=value` strings applied on top of the job.
        progress: receives every cost-log record (for a progress display).
        resume: continue from the job's checkpoint when there is one; the
            result is bitwise the model of an uninterrupted run.
        stop: a `train.signals.StopRequest`; when a signal sets it, the run
            writes a checkpoint and raises TrainingInterrupted.

    Raises:
        OutputLockedError: another run writes into the job's output.dir.
    """
    from streamgd.lock import output_lock
    from streamgd.train import train as run

    config = _as_config(job, overrides)
    # one run per output folder, or two runs would interleave their files
    with output_lock(config["output.dir"]):
        if config["optimizer.restarts"] > 1:
            from streamgd.train.restarts import train_with_restarts

            return train_with_restarts(config, progress, resume=resume,
                                       stop=stop)
        return run(config, progress, resume=resume, stop=stop)


def _model(model: TrainedModel | str | Path) -> TrainedModel:
    return model if isinstance(model, TrainedModel) else load_model(model)


def _paths(data: str | Path | list[str | Path]) -> list[str]:
    items = data if isinstance(data, list) else [data]
    return [str(Path(item).expanduser().resolve()) for item in items]


def predict(model: TrainedModel | str | Path, data: str | Path | list,
            out: str | Path) -> int:
    """Stream predictions for `data` into `out` (.parquet or .csv); rows written."""
    model_path = None if isinstance(model, TrainedModel) else model
    return _prediction.predict_file(_model(model), _paths(data), out, model_path)


def evaluate(model: TrainedModel | str | Path, data: str | Path | list):
    """Metrics of a model on labelled data, streamed (see `predict.Evaluation`)."""
    return _prediction.evaluate(_model(model), _paths(data))
