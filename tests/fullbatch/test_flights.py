"""The full-batch engine on the real flights data: exact optima to 1e-6 and 1e-5.

The CSV is written from the embedded Parquet as in tests/test_flights.py (all
336,776 flights with their `NA` markers), split into three files of uneven
length so that each is a partition of its own.
"""

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

import streamgd
from tests.helpers import (
    FLIGHT_FEATURES, FLIGHTS, flights_complete, least_squares, logistic_optimum,
)


@pytest.fixture(scope="module")
def flights_csv_folder(tmp_path_factory):
    """The flights columns as three gzip CSV files (NA marks a missing value)."""
    folder = tmp_path_factory.mktemp("flights-csv")
    table = pq.read_table(FLIGHTS, columns=[*FLIGHT_FEATURES, "arr_delay"])
    for k, (start, stop) in enumerate([(0, 1), (1, 100_000), (100_000, None)]):
        part = table.slice(start, None if stop is None else stop - start)
        with pa.CompressedOutputStream(str(folder / f"part{k}.csv.gz"),
                                       "gzip") as stream:
            pa_csv.write_csv(part, stream)
    return folder


def _job(paths, out, **sections):
    job = {"data": {"paths": [str(p) for p in paths], "features": FLIGHT_FEATURES,
                    "target": "arr_delay", "missing": "drop"},
           "optimizer": {"method": "batch"},
           "fullbatch": {"tol": 1e-14, "max_iter": 500},
           "output": {"dir": str(out)}}
    for key, value in sections.items():
        section, _, leaf = key.partition("__")
        job.setdefault(section, {})[leaf] = value
    return job


def _relative_error(result, expected):
    weights, intercept = result.model.original_coefficients()
    actual = np.append(weights, intercept)
    return float(np.max(np.abs(actual - expected) / np.abs(expected)))


@pytest.fixture(scope="module")
def flights_arrays():
    data = flights_complete([*FLIGHT_FEATURES, "arr_delay"])
    X = np.column_stack([data[name] for name in FLIGHT_FEATURES])
    return X, data["arr_delay"]


@pytest.mark.slow
def test_flights_csv_lbfgs_reaches_least_squares(flights_csv_folder, flights_arrays,
                                                 tmp_path):
    """From the CSV files, L-BFGS gives each least-squares coefficient to 1e-6."""
    X, y = flights_arrays
    weights, intercept, _ = least_squares(X, y)
    result = streamgd.train(_job([flights_csv_folder], tmp_path))
    assert result.model.training["rows"] == len(y)
    assert _relative_error(result, np.append(weights, intercept)) < 1e-6


def test_flights_logistic_on_local_cluster(flights_arrays, tmp_path, local_cluster):
    """'Arrived over 15 minutes late', on a LocalCluster over the Parquet row
    groups: each coefficient of the exact logistic optimum to 1e-5."""
    X, y = flights_arrays
    late = (y > 15).astype(np.float64)
    # Newton on standardized columns (distance and air_time are near collinear),
    # mapped back to the original units
    mean, std = X.mean(0), X.std(0)
    beta, _ = logistic_optimum((X - mean) / std, late)
    weights = beta[:-1] / std
    expected = np.append(weights, beta[-1] - weights @ mean)
    job = _job([FLIGHTS], tmp_path, model__type="logistic",
               data__positive_above=15, dask__scheduler=local_cluster)
    result = streamgd.train(job)
    assert _relative_error(result, expected) < 1e-5
