"""Measure default learning rates: the fit each candidate rule reaches.

    python scripts/default_rate.py [--rows N] [--cases flights,d1,...] [--quick]

For each data set (the embedded flights job; generated linear data with d = 1,
20 and 100 correlated features in mixed units; generated logistic data with
d = 20; bugcases b29 and b30 as the tests build them) and each candidate rule
for the rate a job without one gets, trains at the job's other settings
(default epochs, batch 32, invscaling) and prints the final training RMSE over
exact least squares (linear) or the log loss less the maximum likelihood's
(logistic). Candidates: the fixed 0.05 of old; 0.1 and 0.5 / (c T), T the mean
squared norm of the scaled rows; 1 / (c (L + T / B)), L the largest eigenvalue
of their second-moment matrix, B the batch size; and `default`, the rate
streamgd now derives (`optim.defaults`). `--batch` sets the batch size;
`--adaptive` measures the adaptive rules' defaults instead, `--bugcases ROOT`
the shared bugcases b21, b28, b29, b30 (written by their make_all.py).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import streamgd  # noqa: E402
from streamgd.config import make_config  # noqa: E402
from streamgd.optim.defaults import (  # noqa: E402
    DataScales, default_learning_rate, mean_squared_norm,
)
from streamgd.readers import column_plan, open_source  # noqa: E402
from streamgd.train.prepare import prepare  # noqa: E402

FLIGHTS = Path(streamgd.__file__).parent / "data" / "flights.parquet"
FLIGHT_FEATURES = ["dep_delay", "distance", "air_time", "hour", "month"]


def _generated(folder: Path, d: int, rows: int, logistic: bool, seed: int,
               factor: float = 0.7):
    """Features correlated by a common factor, in units 1e-2 .. 1e3."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=(rows, 1))
    X = (rng.normal(size=(rows, d)) + factor * common)
    X = X * 10.0 ** rng.uniform(-2, 3, d) + rng.normal(0, 5, d)
    beta = rng.normal(size=d) / np.sqrt(d) / X.std(axis=0)
    margin = (X - X.mean(axis=0)) @ beta * 2.0 + 1.0
    y = (rng.random(rows) < 1 / (1 + np.exp(-margin))).astype(float) if logistic \
        else margin + rng.normal(size=rows)
    names = [f"x{j}" for j in range(d)]
    path = folder / f"gen_{d}_{int(logistic)}_{factor:g}.parquet"
    pq.write_table(pa.table({**dict(zip(names, X.T)), "y": y}), path,
                   row_group_size=10_000)
    return path, names, X, y


def _cases(folder: Path, rows: int):
    table = pq.read_table(FLIGHTS, columns=FLIGHT_FEATURES + ["arr_delay"])
    data = np.column_stack([table[c].to_numpy().astype(float) for c in
                            FLIGHT_FEATURES + ["arr_delay"]])
    data = data[np.isfinite(data).all(axis=1)]
    yield ("flights", {"data": {"paths": [str(FLIGHTS)], "features": FLIGHT_FEATURES,
                                "target": "arr_delay", "missing": "drop"}},
           data[:, :-1], data[:, -1], "linear")
    for d, logistic, factor in ((1, False, 0.7), (20, False, 0.7),
                                (100, False, 0.7), (100, False, 0.0),
                                (20, True, 0.7)):
        path, names, X, y = _generated(folder, d, rows, logistic, 10 + d, factor)
        name = (f"{'logistic' if logistic else 'linear'} d={d}"
                + ("" if factor else " independent"))
        kind = "logistic" if logistic else "linear"
        yield (name, {"data": {"paths": [str(path)], "features": names,
                               "target": "y"}, "model": {"type": kind}}, X, y, kind)
    # bugcases as tests/bugcases/test_training.py builds them
    rng = np.random.default_rng(29)
    X = rng.normal(size=(5000, 3))
    y = X @ [1.5, -2.0, 0.5] + 3.0 + rng.normal(0, 0.1, 5000)
    path = folder / "b29.parquet"
    pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}),
                   path, row_group_size=500)
    yield ("b29", {"data": {"paths": [str(path)], "features": ["a", "b", "c"],
                            "target": "y"}}, X, y, "linear")


def _exact(X, y, kind):
    A = np.c_[X, np.ones(len(y))]
    if kind == "linear":
        solution, *_ = np.linalg.lstsq(A, y, rcond=None)
        return float(np.sqrt(np.mean((A @ solution - y) ** 2)))
    from sklearn.linear_model import LogisticRegression
    # the maximum likelihood's margins do not depend on an affine map of the
    # features; standardized, lbfgs converges
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    model = LogisticRegression(C=1e10, max_iter=5000).fit(Z, y)
    return _log_loss(model.decision_function(Z), y)


def _log_loss(margin, y):
    return float(np.mean(np.logaddexp(0, margin) - y * margin))


def _fit_quality(model, X, y, kind, exact):
    weights, intercept = model.original_coefficients()
    margin = X @ weights + intercept
    if kind == "linear":
        return float(np.sqrt(np.mean((margin - y) ** 2))) / exact
    return _log_loss(margin, y) - exact


def _candidates(job, kind):
    config = make_config(job)
    # the job's batch size (--batch) is set in `job` itself
    plan = column_plan(config)
    source = open_source(config, plan)
    try:
        prepared = prepare(config, source, plan)
    finally:
        source.close()
    c = 1.0 if kind == "linear" else 0.25
    T = mean_squared_norm(prepared.stats, prepared.scaler, True)
    L = prepared.largest_curvature or T
    B = config["optimizer.batch_size"]
    rates = {"fixed 0.05": 0.05, "0.1/cT": 0.1 / (c * T), "0.5/cT": 0.5 / (c * T),
             "1/c(L+T/B)": 1.0 / (c * (L + T / B))}
    scales = DataScales(prepared.stats, prepared.scaler, True,
                        prepared.largest_curvature, prepared.target_scale)
    rates["default"], _ = default_learning_rate("sgd", kind, scales, B, 0.0)
    return rates, T, L


def _largest_over_std(stats) -> float:
    """The median over active features of max |x| / std."""
    active = ~stats.constant & (stats.count > 0)
    largest = np.maximum(np.abs(stats.minimum), np.abs(stats.maximum))[active]
    std = stats.std[active]
    return float(np.median(largest[std > 0] / std[std > 0]))


def adaptive(rows: int) -> None:
    """The adaptive rules on flights, raw (normalized) and scaled (the rest),
    and on generated d = 20 data: fixed default, x target std (the default),
    and for normalized also x the median max|x| / std, at both schedules."""
    from streamgd.optim.defaults import ADAPTIVE_DEFAULTS
    with tempfile.TemporaryDirectory() as folder:
        cases = [case for case in _cases(Path(folder), rows)
                 if case[0] in ("flights", "linear d=20")]
        for name, job, X, y, kind in cases:
            exact = _exact(X, y, kind)
            config = make_config(job)
            plan = column_plan(config)
            source = open_source(config, plan)
            try:
                prepared = prepare(config, source, plan)
            finally:
                source.close()
            spread = _largest_over_std(prepared.stats)  # a candidate, not used
            sd = prepared.target_scale
            print(f"{name}: target std {sd:.4g}, median max|x|/std {spread:.4g}")
            for update, base in ADAPTIVE_DEFAULTS.items():
                scaler = "none" if update == "normalized" else "standard"
                rates = {"fixed": base, "x std": base * sd}
                if update == "normalized":
                    rates["x std x spread"] = base * sd * spread
                for schedule in ("invscaling", "constant"):
                    for label, rate in rates.items():
                        run = {**job, "preprocess": {"scaler": scaler},
                               "optimizer": {"update": update, "schedule": schedule,
                                             "learning_rate": rate},
                               "output": {"dir": str(Path(folder) / "out")}}
                        try:
                            model = streamgd.train(run).model
                            quality = f"{_fit_quality(model, X, y, kind, exact):.5f}"
                        except streamgd.errors.DivergenceError:
                            quality = "diverged"
                        print(f"  {update:<10} {schedule:<10} {label:<15}"
                              f" rate {rate:<9.4g} {quality}")
                        sys.stdout.flush()


def bugcases(root: Path) -> None:
    """The shared bugcases' own files (`python make_all.py ROOT b21 b28 b29
    b30`), at their stated settings, with the derived default and the old
    0.05: the largest coefficient error against the case's expected values."""
    import glob
    import json

    def case(name):
        folder = Path(glob.glob(str(root / f"{name}_*"))[0])
        return folder, json.loads((folder / "expected.json").read_text())

    runs = []
    folder, expected = case("b21")
    runs.append(("b21 file order", {
        "data": {"paths": [str(folder / "rare_at_end.csv")],
                 "features": ["x1", "x_rare"], "target": "y"},
        "shuffle": {"enabled": False}},
        [expected["coef_x1"], expected["coef_x_rare"], expected["intercept"]]))
    folder, expected = case("b28")
    runs.append(("b28 weights", {
        "data": {"paths": [str(folder / "weighted_outliers.csv")],
                 "features": ["x1"], "target": "y", "weight": "w"}},
        [expected["coef_x1"], expected["intercept"]]))
    folder, expected = case("b29")
    runs.append(("b29 seed 11", {
        "data": {"paths": sorted(glob.glob(str(folder / "part*.parquet"))),
                 "features": ["x1", "x2", "x3", "x4"], "target": "y"},
        "seed": 11, "shuffle": {"buffer_rows": 500},
        "optimizer": {"max_epochs": 3}},
        [*expected["converged_coef"], expected["converged_intercept"]]))
    folder, expected = case("b30")
    mle = expected["logistic_mle"]
    runs.append(("b30 sorted", {
        "data": {"paths": sorted(glob.glob(str(folder / "sorted_*.parquet"))),
                 "features": ["x1", "x2"], "target": "y"},
        "model": {"type": "logistic"}},
        [mle["coef_x1"], mle["coef_x2"], mle["intercept"]]))
    with tempfile.TemporaryDirectory() as out:
        for name, job, target in runs:
            for label, rate in (("old 0.05", 0.05), ("default", None)):
                run = {**job, "optimizer": {**job.get("optimizer", {}),
                                            "learning_rate": rate},
                       "output": {"dir": out}}
                model = streamgd.train(run).model
                weights, intercept = model.original_coefficients()
                error = np.max(np.abs(np.r_[weights, intercept] - target))
                print(f"{name:<15} {label:<9} rate"
                      f" {model.training['learning_rate']:<9.4g} max |coef - expected|"
                      f" {error:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--cases", default="")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--adaptive", action="store_true",
                        help="measure the adaptive rules' defaults instead")
    parser.add_argument("--bugcases", type=Path, metavar="ROOT",
                        help="run the shared bugcases written into ROOT instead")
    args = parser.parse_args()
    if args.bugcases:
        bugcases(args.bugcases)
        return
    if args.adaptive:
        adaptive(args.rows)
        return
    wanted = [c for c in args.cases.split(",") if c]
    with tempfile.TemporaryDirectory() as folder:
        for name, job, X, y, kind in _cases(Path(folder), args.rows):
            if wanted and not any(w in name for w in wanted):
                continue
            job = {**job, "optimizer": {"batch_size": args.batch}}
            exact = _exact(X, y, kind)
            rates, T, L = _candidates(job, kind)
            measure = ("RMSE / least squares" if kind == "linear"
                       else "log loss - MLE")
            print(f"{name}: T={T:.4g} L={L:.4g}  ({measure})")
            for label, rate in rates.items():
                run = {**job, "optimizer": {**job.get("optimizer", {}),
                                            "learning_rate": rate},
                       "output": {"dir": str(Path(folder) / "out")}}
                try:
                    model = streamgd.train(run).model
                    quality = f"{_fit_quality(model, X, y, kind, exact):.5f}"
                except streamgd.errors.DivergenceError:
                    quality = "diverged"
                print(f"  {label:<16} rate {rate:<10.4g} {quality}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
