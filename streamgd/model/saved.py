"""A trained model: parameters, the preprocessing it needs, and how it was made.

Saved as one JSON file. Floats are written with Python's shortest round-trip repr,
so loading gives back the very same float64 values, and two runs that trained the
same model write byte-identical coefficient lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from streamgd.errors import ModelFileError
from streamgd.model.labels import LabelMap
from streamgd.model.linear import LinearParams
from streamgd.model.losses import LOSSES
from streamgd.normalize import RunningStats, Scaler
from streamgd.atomic import write_atomic

FORMAT = "streamgd-model"
VERSION = 1


@dataclass(frozen=True)
class TrainedModel:
    """Everything needed to predict from raw rows, and the training summary.

    Attributes:
        kind: "linear" or "logistic".
        features: feature column names, in model order.
        target: target column name.
        params: weights and intercept on the scaled inputs.
        scaler: the input rescaling, fitted by the statistics pass.
        stats: the statistics of the features over the training rows.
        labels: class mapping of a logistic model; None for linear.
        missing: the job's missing-value policy.
        impute_values: per-feature fill values under `impute`, else None.
        training: summary of the run (epochs, costs, row counts, stop reason).
        config: the resolved job.
    """

    kind: str
    features: list[str]
    target: str
    params: LinearParams
    scaler: Scaler
    stats: RunningStats
    labels: LabelMap | None
    missing: str
    impute_values: np.ndarray | None = None
    training: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def loss(self):
        return LOSSES[self.kind]

    def original_coefficients(self) -> tuple[np.ndarray, float]:
        """Weights and intercept in the features' original units."""
        return self.scaler.to_original(self.params.weights, self.params.intercept)

    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """Margins of raw rows; X float64 (n_rows, n_features), no NaN."""
        return self.params.margin(self.scaler.transform(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted values (linear) or positive-class probabilities (logistic)."""
        return self.loss.predict(self.decision_function(X))

    def to_dict(self) -> dict[str, Any]:
        weights, intercept = self.original_coefficients()
        return {
            "format": FORMAT, "version": VERSION, "kind": self.kind,
            "features": self.features, "target": self.target,
            "coefficients": dict(zip(self.features, weights.tolist())),
            "intercept": float(intercept),
            "scaled": {"weights": self.params.weights.tolist(),
                       "intercept": float(self.params.intercept)},
            "scaler": self.scaler.to_dict(),
            "statistics": self.stats.to_dict(),
            "constant_features": [
                name for name, flag in zip(self.features, self.stats.constant) if flag
            ],
            "labels": None if self.labels is None else self.labels.to_dict(),
            "missing": self.missing,
            "impute_values": None if self.impute_values is None
            else self.impute_values.tolist(),
            "training": self.training,
            "config": self.config,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainedModel:
        impute = data["impute_values"]
        return cls(
            kind=data["kind"], features=list(data["features"]), target=data["target"],
            params=LinearParams(
                np.asarray(data["scaled"]["weights"], dtype=np.float64),
                float(data["scaled"]["intercept"]),
            ),
            scaler=Scaler.from_dict(data["scaler"]),
            stats=RunningStats.from_dict(data["statistics"]),
            labels=(None if data["labels"] is None
                    else LabelMap.from_dict(data["labels"])),
            missing=data["missing"],
            impute_values=None if impute is None else np.asarray(impute, np.float64),
            training=data["training"], config=data["config"],
        )

    def save(self, path: str | Path) -> None:
        """Write the model atomically: an existing file is replaced only whole."""
        write_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")


def load_model(path: str | Path) -> TrainedModel:
    """Read a model file written by `TrainedModel.save`.

    Raises:
        ModelFileError: the file is missing, not JSON, or not a streamgd model.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelFileError(f"model file {path} does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(
            f"{path} is a folder; give the model file in it (model.json)"
        ) from None
    except OSError as error:
        raise ModelFileError(
            f"model file {path} cannot be read ({error.strerror or error})"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path} is not a streamgd model file: {error}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a streamgd model file")
    if data.get("version") != VERSION:
        raise ModelFileError(
            f"{path} has model format version {data.get('version')};"
            f" this streamgd reads version {VERSION}"
        )
    try:
        return TrainedModel.from_dict(data)
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(f"{path} is incomplete or damaged: {error!r}") from None
