"""scikit-learn estimators backed by the streaming engine.

    >>> from streamgd.sklearn import StreamingSGDRegressor
    >>> model = StreamingSGDRegressor(max_epochs=20).fit(X, y)      # arrays
    >>> model = StreamingSGDRegressor(features=["dep_delay", "distance"],
    ...                               target="arr_delay").fit("flights.parquet")

Arrays are cut into chunks and run through the same pieces as a job: running
statistics (`normalize`), the scaler, the seeded block shuffle (`stream.blocks`),
the SGD engine (`train.loop.Engine`). A path, or a list of paths, to Parquet or
CSV data is streamed through `streamgd.train` instead, so memory stays bounded.

Each parameter is one job key (see `PARAMETERS`); `options` takes any other key
(`{"optimizer.method": ...}`). Values are validated by the job schema when `fit`
runs, so an error names the key. `partial_fit` runs one epoch over its batch; the
running statistics absorb the batch, and the weights are carried over to the new
scaling exactly (the model's function does not change when the scaler does).

The classifier is binary: logistic regression on two classes. Wrap it in
`sklearn.multiclass.OneVsRestClassifier` for more.

Requires scikit-learn (`pip install 'streamgd[sklearn]'`).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from streamgd.config import Config, make_config
from streamgd.model.labels import LabelMap, label_key
from streamgd.model.linear import LinearParams
from streamgd.model.saved import TrainedModel
from streamgd.normalize import RunningStats, Scaler
from streamgd.normalize.comoments import Comoments, largest_curvature
from streamgd.readers import ChunkRef, ColumnPlan
from streamgd.readers.decode import Decoder
from streamgd.train.costlog import CostLog
from streamgd.train.loop import Engine
from streamgd.train.prepare import Prepared
from streamgd.train.state import EpochPosition, Monitor, TrainState

__all__ = ["PARAMETERS", "StreamingSGDClassifier", "StreamingSGDRegressor"]

# estimator parameter -> the job key it sets
PARAMETERS = {
    "scaler": "preprocess.scaler",
    "penalty": "model.penalty",
    "alpha": "model.alpha",
    "l1_ratio": "model.l1_ratio",
    "fit_intercept": "model.fit_intercept",
    "learning_rate": "optimizer.learning_rate",
    "schedule": "optimizer.schedule",
    "power_t": "optimizer.power_t",
    "decay": "optimizer.decay",
    "batch_size": "optimizer.batch_size",
    "max_epochs": "optimizer.max_epochs",
    "tol": "optimizer.tol",
    "n_iter_no_change": "optimizer.n_iter_no_change",
    "shuffle": "shuffle.enabled",
    "buffer_rows": "shuffle.buffer_rows",
    "random_state": "seed",
    # used when fitting on files only
    "features": "data.features",
    "target": "data.target",
    "weight_column": "data.weight",
    "missing": "data.missing",
}
# rows per chunk when arrays are streamed (the unit the epoch order permutes)
CHUNK_ROWS = 8192
_IN_MEMORY = "<in-memory arrays>"


@dataclass(frozen=True)
class _TrainingState:
    """What carries over from one `partial_fit` call to the next.

    Attributes:
        engine: the engine's frozen state (parameters on inputs scaled by
            `scaler`, optimizer, epoch, monitor, generator); None after a fit on
            files, where only `params` and `epoch` are known.
        params: the parameters, as in `engine` when it is known.
        epoch: epochs run so far (one per `partial_fit` call).
        stats: running statistics of every row seen.
        scaler: the scaler fitted to `stats`, on which the parameters act.
        learning_rate, learning_rate_from: the rate of the first call and how
            it was found; later calls keep it, so that a rate derived from the
            data (no `learning_rate` given) does not change with each call's
            rows.
    """

    engine: TrainState | None
    params: LinearParams
    epoch: int
    stats: RunningStats
    scaler: Scaler
    learning_rate: float | None = None
    learning_rate_from: str | None = None


class _StreamingSGD(BaseEstimator):
    """The parameters and the fitting shared by the regressor and the classifier."""

    _model_type = "linear"

    def __init__(
        self,
        *,
        learning_rate: float | None = None,
        schedule: str | None = None,
        power_t: float = 0.25,
        decay: float = 0.5,
        batch_size: int = 32,
        max_epochs: int = 5,
        tol: float = 1e-4,
        n_iter_no_change: int = 2,
        penalty: str = "none",
        alpha: float = 1e-4,
        l1_ratio: float = 0.15,
        fit_intercept: bool = True,
        scaler: str = "standard",
        shuffle: bool = True,
        buffer_rows: int = 100_000,
        random_state: int | None = 0,
        features: list[str] | None = None,
        target: str | None = None,
        weight_column: str | None = None,
        missing: str = "error",
        output_dir: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.schedule = schedule
        self.power_t = power_t
        self.decay = decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.scaler = scaler
        self.shuffle = shuffle
        self.buffer_rows = buffer_rows
        self.random_state = random_state
        self.features = features
        self.target = target
        self.weight_column = weight_column
        self.missing = missing
        self.output_dir = output_dir
        self.options = options

    # the job

    def _job(self, data: dict[str, Any]) -> dict[str, Any]:
        """The nested job of these parameters, with the given `data` section."""
        flat = {key: getattr(self, name) for name, key in PARAMETERS.items()
                if not key.startswith("data.")}
        if flat["seed"] is None:
            # None asks for a fresh seed, as in scikit-learn
            flat["seed"] = int(np.random.default_rng().integers(2**31))
        flat.update(self.options or {})
        flat["model.type"] = self._model_type
        job: dict[str, Any] = {"data": data}
        for key, value in flat.items():
            *sections, leaf = key.split(".")
            node = job
            for section in sections:
                node = node.setdefault(section, {})
            node[leaf] = value
        return job

    def _config(self, data: dict[str, Any], **overrides: Any) -> Config:
        config = make_config(self._job(data))
        return config.replace(**overrides) if overrides else config

    # fitting on arrays

    def _fit_arrays(self, X, y, sample_weight, state: _TrainingState | None,
                    epochs: int | None) -> None:
        """Run the engine over in-memory rows, from `state` or from scratch."""
        names = list(getattr(self, "feature_names_in_", []))
        names = [str(name) for name in names] or [f"x{j}" for j in range(X.shape[1])]
        target = "y" if "y" not in names else "__target__"
        weight = None if sample_weight is None else "__weight__"
        data = {"paths": [_IN_MEMORY], "features": names, "target": target,
                "weight": weight}
        epoch = 0 if state is None else state.epoch
        overrides = {} if epochs is None else {"optimizer.max_epochs": epoch + epochs}
        pinned = (self.learning_rate is None and state is not None
                  and state.learning_rate is not None)
        if pinned:
            overrides["optimizer.learning_rate"] = state.learning_rate
        config = self._config(data, **overrides)
        _check_array_engine(config)

        # statistics pass: the running statistics absorb these rows
        stats = RunningStats.of(X)
        if state is not None:
            stats = state.stats.merge(stats)
        scaler = Scaler.fit(config["preprocess.scaler"], stats,
                            center=config["model.fit_intercept"])
        plan = ColumnPlan((*names, *([weight] if weight else [])), target, True)
        decoder = Decoder(names, plan, weight, "error")
        constant = [name for name, flag in zip(names, stats.constant) if flag]
        mean_weight = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        # what sets the default learning rate, from this call's rows
        comoments = Comoments.empty(X.shape[1])
        curvature = largest_curvature(
            comoments and comoments.update(X), scaler.shift, scaler.scale,
            ~stats.constant, config["model.fit_intercept"],
        )
        target_scale = float(np.std(y)) if self._model_type == "linear" else None
        prepared = Prepared(
            decoder, stats, scaler, X.shape[0], 0, constant, mean_weight,
            largest_curvature=curvature, target_scale=target_scale,
        )

        # the engine, continued from the previous call's state
        started = time.perf_counter()
        engine = Engine(config, prepared)
        if state is not None:
            engine.restore(_continued(engine, state, scaler))
        source = _ArraySource(names, target, weight, X, y, sample_weight)
        engine.fit(source, CostLog(None, config["output.log_every"]))

        model = engine.model(config, prepared, time.perf_counter() - started)
        source_of_rate = engine.learning_rate_from
        if pinned:
            source_of_rate = state.learning_rate_from
            model = replace(model, training={
                **model.training, "learning_rate_from": source_of_rate})
        self._training_state_ = _TrainingState(
            engine.snapshot(), engine.params, engine.epoch, stats, scaler,
            engine.learning_rate, source_of_rate,
        )
        self._set_model(model)

    def _set_model(self, model: TrainedModel) -> None:
        """Publish a trained model as scikit-learn's fitted attributes."""
        weights, intercept = model.original_coefficients()
        self.model_ = model
        self.coef_ = weights
        self.intercept_ = np.array([intercept])
        self.n_iter_ = int(model.training["epochs"])
        self.t_ = int(model.training["updates"])

    # fitting on files

    def _fit_files(self, paths: list[str]) -> None:
        """Stream Parquet/CSV files through `streamgd.train`."""
        import streamgd

        if not self.features or self.target is None:
            raise ValueError(
                "fitting on files needs the columns: set features=[...] and"
                " target=... on the estimator"
            )
        data = {"paths": [str(Path(path).expanduser().resolve()) for path in paths],
                "features": list(self.features), "target": self.target,
                "weight": self.weight_column, "missing": self.missing}
        with tempfile.TemporaryDirectory(prefix="streamgd-sklearn-") as scratch:
            output = self.output_dir or scratch
            result = streamgd.train(self._config(data, **{"output.dir": output}))
        model = result.model
        self.n_features_in_ = len(model.features)
        self.feature_names_in_ = np.array(model.features, dtype=object)
        self._training_state_ = _TrainingState(
            None, model.params, int(model.training["epochs"]), model.stats,
            model.scaler, model.training.get("learning_rate"),
            model.training.get("learning_rate_from"),
        )
        self._set_model(model)
        self._after_file_fit(model)

    def _after_file_fit(self, model: TrainedModel) -> None:
        """Hook for the classifier: its classes come from the model's labels."""

    def _decision(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self.model_.decision_function(X)

    def _validate_training_data(self, X, y, sample_weight, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=np.float64,
                             y_numeric=self._model_type == "linear")
        if sample_weight is not None:
            sample_weight = _checked_sample_weight(sample_weight, X.shape[0])
        return X, y, sample_weight


class StreamingSGDRegressor(RegressorMixin, _StreamingSGD):
    """Linear regression (squared loss) fitted by the streaming SGD engine.

    Parameters are the job keys of `PARAMETERS`, with the job's defaults.

    Attributes:
        coef_: float64 array (n_features,), weights in the features' units.
        intercept_: float64 array (1,).
        model_: the `TrainedModel` (`model_.save(path)` writes a model file).
        n_iter_: epochs run; t_: updates made.
    """

    _model_type = "linear"

    def fit(self, X, y=None, sample_weight=None) -> StreamingSGDRegressor:
        """Fit on arrays, or on a path (or list of paths) of Parquet/CSV data."""
        if _is_paths(X):
            self._fit_files(_as_paths(X))
            return self
        X, y, sample_weight = self._validate_training_data(X, y, sample_weight, True)
        self._fit_arrays(X, y.astype(np.float64), sample_weight, None, None)
        return self

    def partial_fit(self, X, y, sample_weight=None) -> StreamingSGDRegressor:
        """One epoch over this batch, continuing from the previous calls."""
        state = getattr(self, "_training_state_", None)
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, state is None)
        self._fit_arrays(X, y.astype(np.float64), sample_weight, state, 1)
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted values, float64 array (n_rows,)."""
        return self._decision(X)


class StreamingSGDClassifier(ClassifierMixin, _StreamingSGD):
    """Binary logistic regression (log loss) fitted by the streaming SGD engine.

    Parameters are the job keys of `PARAMETERS`, with the job's defaults.

    Attributes:
        classes_: the two class labels, sorted; the second is the positive one.
        coef_: float64 array (1, n_features), weights in the features' units.
        intercept_: float64 array (1,).
        model_: the `TrainedModel`.
        n_iter_: epochs run; t_: updates made.
    """

    _model_type = "logistic"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y=None, sample_weight=None) -> StreamingSGDClassifier:
        """Fit on arrays, or on a path (or list of paths) of Parquet/CSV data."""
        if _is_paths(X):
            self._fit_files(_as_paths(X))
            return self
        X, y, sample_weight = self._validate_training_data(X, y, sample_weight, True)
        self.classes_ = _two_classes(y, None)
        self._fit_arrays(X, self._encode(y), sample_weight, None, None)
        return self

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over this batch; `classes` (both labels) on the first call."""
        state = getattr(self, "_training_state_", None)
        X, y, sample_weight = self._validate_training_data(
            X, y, sample_weight, state is None)
        if state is None:
            self.classes_ = _two_classes(y, classes)
        self._fit_arrays(X, self._encode(y), sample_weight, state, 1)
        return self

    def _encode(self, y: np.ndarray) -> np.ndarray:
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"label {unknown[0]!r} is not one of the classes {list(self.classes_)}"
            )
        return (y == self.classes_[1]).astype(np.float64)

    def _set_model(self, model: TrainedModel) -> None:
        if model.labels is None:
            labels = LabelMap(label_key(self.classes_[0]), label_key(self.classes_[1]))
            model = dataclasses.replace(model, labels=labels)
        super()._set_model(model)
        self.coef_ = self.coef_.reshape(1, -1)

    def _after_file_fit(self, model: TrainedModel) -> None:
        labels = model.labels
        if labels.threshold_value is not None:
            self.classes_ = np.array([False, True])
        else:
            self.classes_ = np.array([labels.negative, labels.positive])

    def decision_function(self, X) -> np.ndarray:
        """Margins, float64 array (n_rows,); positive means `classes_[1]`."""
        return self._decision(X)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, float64 array (n_rows, 2), columns as `classes_`."""
        margins = self._decision(X)
        positive = self.model_.loss.predict(margins)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X) -> np.ndarray:
        """The more probable class of each row."""
        margins = self._decision(X)
        return self.classes_[(margins > 0).astype(int)]


class _ArraySource:
    """In-memory rows as a chunked source: the engine reads them like row groups."""

    def __init__(self, names, target, weight, X, y, sample_weight) -> None:
        self._columns = dict(zip(names, X.T))
        self._columns[target] = y
        if weight is not None:
            self._columns[weight] = sample_weight
        starts = range(0, X.shape[0], CHUNK_ROWS)
        self.chunks = [
            ChunkRef(_IN_MEMORY, index, start, min(CHUNK_ROWS, X.shape[0] - start))
            for index, start in enumerate(starts)
        ]

    def read(self, ref: ChunkRef) -> pa.Table:
        stop = ref.first_row + ref.n_rows
        return pa.table({name: values[ref.first_row:stop]
                         for name, values in self._columns.items()})

    def close(self) -> None:
        self._columns.clear()


def _continued(engine: Engine, state: _TrainingState, scaler: Scaler) -> TrainState:
    """The engine state to resume from, its parameters moved to `scaler`."""
    params = _rescaled(state.params, state.scaler, scaler)
    if state.engine is None:
        # after a fit on files the optimizer's state stayed inside `train`:
        # the learning-rate schedule starts afresh from the learned weights
        fresh = engine.snapshot()
        return replace(fresh, params=params, position=EpochPosition(state.epoch),
                       monitor=Monitor(continued=True))
    # Each call is one epoch over other rows: the monitor's rules compare epochs
    # of the same rows (progress, the rising-cost and 100x-start divergence
    # tests, the constant predictor), so carried across calls they compared a
    # noisy batch with an easy one and warned or even stopped the fit. Each
    # call starts a monitor of its own; the schedule and optimizer carry on.
    capped = state.engine.monitor.capped_updates
    monitor = Monitor(capped_updates=capped, continued=True)
    return replace(state.engine, params=params, monitor=monitor)


def _rescaled(params: LinearParams, old: Scaler, new: Scaler) -> LinearParams:
    """The same linear function on inputs scaled by `new` instead of `old`."""
    weights, intercept = old.to_original(params.weights, params.intercept)
    return LinearParams(*new.from_original(weights, intercept))


def _two_classes(y: np.ndarray, classes) -> np.ndarray:
    check_classification_targets(y)
    found = np.unique(y if classes is None else classes)
    if len(found) > 2:
        raise ValueError(
            f"Only binary classification is supported. y has {len(found)} classes"
            f" ({list(found)[:5]}...); wrap StreamingSGDClassifier in"
            " sklearn.multiclass.OneVsRestClassifier for more"
        )
    if len(found) < 2:
        raise ValueError(
            f"StreamingSGDClassifier is binary and needs two classes; y has"
            f" {'one class' if len(found) else 'no class'} ({list(found)})"
        )
    return found


def _checked_sample_weight(sample_weight, n_rows: int) -> np.ndarray:
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.ndim == 0:
        weight = np.full(n_rows, float(weight))
    if weight.shape != (n_rows,):
        raise ValueError(
            f"sample_weight must have shape ({n_rows},), got {weight.shape}"
        )
    if not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError("sample_weight must be finite and >= 0")
    if not weight.sum() > 0:
        raise ValueError("sample weights are all zero: no row would teach the model")
    return weight


def _is_paths(X: Any) -> bool:
    if isinstance(X, (str, Path)):
        return True
    return isinstance(X, list) and bool(X) and all(
        isinstance(item, (str, Path)) for item in X)


def _as_paths(X: Any) -> list[str]:
    return [str(item) for item in (X if isinstance(X, list) else [X])]


def _check_array_engine(config: Config) -> None:
    """Refuse job keys that in-memory fitting would otherwise ignore silently.

    Arrays run through the streaming SGD engine alone: the full-batch engine and
    restarts are reached by fitting on paths, which go through `streamgd.train`.

    Raises:
        ValueError: `optimizer.method` other than sgd, or `optimizer.restarts` > 1.
    """
    if config["optimizer.method"] != "sgd":
        raise ValueError(
            f"optimizer.method: {config['optimizer.method']} is not available when"
            " fitting arrays (they run the streaming SGD engine); fit on a path"
            " to Parquet/CSV data to use the full-batch engine"
        )
    if config["optimizer.restarts"] > 1:
        raise ValueError(
            "optimizer.restarts > 1 is not available when fitting arrays; fit on"
            " a path to Parquet/CSV data to use restarts"
        )
