"""Small data builders and exact reference solvers shared by the tests."""

from __future__ import annotations

import importlib
import tempfile
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from hypothesis import settings

FLIGHTS = Path(__file__).resolve().parents[1] / "streamgd/data/flights.parquet"
FLIGHT_FEATURES = ["dep_delay", "distance", "air_time", "hour", "month"]


def write_parquet(path: Path, columns: dict[str, np.ndarray], row_group_size=None):
    pq.write_table(pa.table(columns), path, row_group_size=row_group_size)
    return path


def write_csv(path: Path, columns: dict[str, np.ndarray]):
    pa_csv.write_csv(pa.table(columns), path)
    return path


def least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Exact least squares with an intercept: (weights, intercept, rmse)."""
    A = np.c_[X, np.ones(len(y))]
    solution, *_ = np.linalg.lstsq(A, y, rcond=None)
    residual = y - A @ solution
    return solution[:-1], float(solution[-1]), float(np.sqrt(np.mean(residual**2)))


def logistic_optimum(X: np.ndarray, y: np.ndarray, iterations: int = 50):
    """Newton's method for unpenalised logistic regression: (beta, mean log loss)."""
    A = np.c_[X, np.ones(len(y))]
    beta = np.zeros(A.shape[1])
    for _ in range(iterations):
        z = A @ beta
        p = 0.5 * (1 + np.tanh(0.5 * z))
        step = np.linalg.solve((A * (p * (1 - p))[:, None]).T @ A, A.T @ (p - y))
        beta -= step
        if np.abs(step).max() < 1e-12:
            break
    z = A @ beta
    return beta, float(np.mean(np.logaddexp(0, z) - y * z))


def flights_complete(columns: list[str]) -> dict[str, np.ndarray]:
    """The embedded flights columns as float64, rows with a missing value dropped."""
    table = pq.read_table(FLIGHTS, columns=columns)
    data = {name: table[name].to_numpy().astype(np.float64) for name in columns}
    complete = np.logical_and.reduce([np.isfinite(v) for v in data.values()])
    return {name: values[complete] for name, values in data.items()}


def job(paths, features, out, target="y", **sections) -> dict:
    """A job mapping; `section__key=value` sets a key (`optimizer__max_epochs=3`),
    `section__sub__key` a nested one, and a bare key a top-level one (`seed=3`)."""
    built = {"data": {"paths": [str(path) for path in paths], "features": features,
                      "target": target},
             "output": {"dir": str(out)}}
    for key, value in sections.items():
        *parents, leaf = key.split("__")
        node = built
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return built


def nothing_written(out: Path) -> bool:
    """True when neither a model nor a checkpoint is in the output folder."""
    return not (out / "model.json").exists() and not (out / "checkpoint.npz").exists()


@contextmanager
def scratch_folder():
    """A temporary folder for one hypothesis example (tmp_path is per test)."""
    with tempfile.TemporaryDirectory(prefix="streamgd-test-") as folder:
        yield Path(folder)


@contextmanager
def recorded_batches():
    """Record (X, y, sample weight) of every batch gradient the engine takes.

    Yields the list the records are appended to, in training order; the arrays
    are copies, so later changes to the engine's blocks cannot alter them. The
    compiled SGD kernel is switched off meanwhile (it computes its gradients
    inside one compiled call), so every batch goes through `batch_gradient`.
    """
    # by module name: the attribute streamgd.train is the function train()
    loop = importlib.import_module("streamgd.train.loop")
    updates = importlib.import_module("streamgd.train.updates")
    records: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    original = updates.batch_gradient

    def spy(X, y, sample_weight, *args, **kwargs):
        weight = None if sample_weight is None else sample_weight.copy()
        records.append((X.copy(), y.copy(), weight))
        return original(X, y, sample_weight, *args, **kwargs)

    with mock.patch.object(updates, "batch_gradient", spy), \
            mock.patch.object(loop, "select_kernel", lambda *args, **kwargs: None):
        yield records


# properties that train a model per example run a sixth of the profile's
# examples (5 by default, 166 thorough): each costs a whole job (files,
# statistics pass, epochs, model file), about 50 ms on an idle core
END_TO_END = settings(max_examples=max(5, settings().max_examples // 6))
