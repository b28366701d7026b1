"""`streamgd tune`: the grid, divergent trials, the choice and the override."""

import math

import numpy as np
import pytest
import yaml

from streamgd.config import make_config
from streamgd.errors import ConfigError
from streamgd.tune import Trial, tune
from streamgd.tune.search import choose, learning_rate_grid
from tests.helpers import write_parquet


@pytest.fixture(scope="module")
def regression(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tune")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(3000, 2))
    y = X @ [1.5, -2.0] + 0.5 + rng.normal(0, 0.3, 3000)
    write_parquet(folder / "d.parquet", {"a": X[:, 0], "b": X[:, 1], "y": y},
                  row_group_size=500)
    return folder


def _config(folder, out, **tune_keys):
    return make_config({
        "data": {"paths": [str(folder / "d.parquet")], "features": ["a", "b"],
                 "target": "y"},
        "optimizer": {"max_epochs": 2, "schedule": "constant", "batch_size": 16},
        "preprocess": {"scaler": "none"},
        "tune": {"sample_rows": 2000, **tune_keys},
        "output": {"dir": str(out)}})


def test_grid_is_log_spaced_over_the_range(tmp_path):
    """The default grid runs from low to high with a constant ratio."""
    grid = learning_rate_grid(_config(tmp_path, tmp_path, rate_range=[1e-3, 10.0],
                                      grid_size=5))
    assert grid == pytest.approx([1e-3, 1e-2, 1e-1, 1.0, 10.0])


def test_tune_reports_divergence_and_picks_the_best_finished(regression, tmp_path):
    """A huge rate is reported as diverged; the pick has the lowest holdout cost
    and is written as a YAML override."""
    result = tune(_config(regression, tmp_path,
                          learning_rates=[1e-4, 0.01, 0.1, 1000.0]))
    by_rate = {trial.learning_rate: trial for trial in result.trials}
    assert by_rate[1000.0].status == "diverged"
    finished = [t for t in result.trials if t.status == "ok"]
    assert result.best is min(finished, key=lambda t: t.holdout_cost)
    assert result.best.learning_rate == 0.1
    assert result.sample_rows == 2000
    override = yaml.safe_load(result.override_path.read_text())
    assert override == {"optimizer": {"learning_rate": 0.1}}


def test_tune_grid_over_epochs_and_alphas(regression, tmp_path):
    """Epochs and penalties multiply the grid, and enter the override."""
    config = _config(regression, tmp_path, learning_rates=[0.05], epochs=[1, 2],
                     alphas=[0.0, 10.0])
    result = tune(config.replace(**{"model.penalty": "l2"}))
    assert {(t.epochs, t.alpha) for t in result.trials} == {
        (1, 0.0), (1, 10.0), (2, 0.0), (2, 10.0)}
    # a strong ridge penalty shrinks the fit: it cannot be the best
    assert result.best.alpha == 0.0
    assert set(result.override) == {"optimizer", "model"}


def test_choose_ignores_diverged_and_breaks_ties_towards_smaller_rates():
    """The smaller of two equal-cost rates wins; no finished trial gives None."""
    trials = [Trial(1.0, 1, 0.0, "ok", holdout_cost=2.0),
              Trial(0.1, 1, 0.0, "ok", holdout_cost=2.0),
              Trial(0.01, 1, 0.0, "diverged")]
    assert choose(trials).learning_rate == 0.1
    assert choose([Trial(1.0, 1, 0.0, "diverged")]) is None
    assert math.isnan(trials[2].holdout_cost)


def test_tune_keys_are_validated(tmp_path):
    """A bad rate range is refused before any data is read."""
    with pytest.raises(ConfigError, match="tune.rate_range"):
        _config(tmp_path, tmp_path, rate_range=[1.0, 0.1])


def test_cli_tune_prints_the_table_and_the_override(regression, tmp_path, capsys):
    """`streamgd tune JOB` prints one row per rate, marks the best, names the file."""
    from streamgd.cli import main

    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({
        "data": {"paths": [str(regression / "d.parquet")], "features": ["a", "b"],
                 "target": "y"},
        "preprocess": {"scaler": "none"},
        "optimizer": {"max_epochs": 1, "schedule": "constant"},
        "tune": {"sample_rows": 1000, "learning_rates": [0.01, 0.1, 1000.0]},
        "output": {"dir": str(tmp_path / "out")}}))
    assert main(["tune", str(job)]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.rstrip().endswith(
        ("ok", "diverged"))]
    assert len(rows) == 3 and rows[-1].endswith("diverged")
    assert sum(line.startswith("*") for line in rows) == 1
    assert f"override: {tmp_path / 'out' / 'tuned.yaml'}" in out


def test_tune_refuses_alphas_without_a_penalty(regression, tmp_path):
    """tune.alphas with model.penalty none would train identical models: refused
    before any data is read, naming both keys."""
    config = _config(regression, tmp_path, learning_rates=[0.05], alphas=[0.0, 1.0])
    with pytest.raises(ConfigError, match="tune.alphas with model.penalty: none"):
        tune(config)
    assert not (tmp_path / "tuned.yaml").exists()


def test_tune_refuses_a_batch_job(regression, tmp_path):
    """A full-batch job has no SGD rate to tune: a clear refusal, not a table
    of failed trials."""
    config = _config(regression, tmp_path, learning_rates=[0.05])
    with pytest.raises(ConfigError, match="optimizer.method: batch"):
        tune(config.replace(**{"optimizer.method": "batch"}))


def test_tune_an_sgd_then_batch_job_tunes_its_sgd_phase(regression, tmp_path):
    """sgd+batch trials run the SGD phase: they finish and are compared on the
    holdout, where the polish would refuse the holdout."""
    config = _config(regression, tmp_path, learning_rates=[0.01, 0.1])
    result = tune(config.replace(**{"optimizer.method": "sgd+batch"}))
    assert [trial.status for trial in result.trials] == ["ok", "ok"]
    assert all(math.isfinite(trial.holdout_cost) for trial in result.trials)
    assert result.best.learning_rate == 0.1


@pytest.mark.parametrize("value, match", [
    ("nan", "column 'a' of .*bad.csv, row 150 \\(line 152\\): value nan is not"
            " finite"),
    ("1e300", "column 'a' of .*bad.csv, row 150 \\(line 152\\): values so large"),
    ("", "column 'a' of .*bad.csv, row 150 \\(line 152\\): missing value"),
])
def test_tune_reports_a_data_error_once_with_its_row(tmp_path, value, match):
    """Bad data fails tune before any trial, located in the job's own file."""
    from streamgd.errors import DataError

    rows = [f"{i % 7},{i % 5},{i % 3}" for i in range(300)]
    rows[150] = f"{value},1,2"
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    config = make_config({
        "data": {"paths": [str(path)], "features": ["a", "b"], "target": "y"},
        "tune": {"grid_size": 2}, "output": {"dir": str(tmp_path / "out")}})
    with pytest.raises(DataError, match=match):
        tune(config)


def test_tune_raises_the_error_every_trial_failed_with(regression, tmp_path,
                                                        monkeypatch):
    """When every trial fails alike, that error is raised, not blamed on rates."""
    from streamgd.errors import DataError
    from streamgd.tune import search

    def failing(job, point):
        error = DataError("broken", file="x.csv", column="a", row=3)
        return Trial(*point, "failed", message=str(error), error=error)

    monkeypatch.setattr(search, "run_trial", failing)
    with pytest.raises(DataError, match="column 'a' of x.csv, row 3: broken"):
        tune(_config(regression, tmp_path, grid_size=3))


def test_cli_no_best_line_names_failures_apart_from_divergence():
    """Only a grid that merely diverged is told to lower the rate range."""
    from streamgd.cli import _no_best_line

    diverged = Trial(10.0, 1, 0.0, "diverged")
    failed = Trial(0.1, 1, 0.0, "failed", message="x.csv: broken")
    assert "lower tune.rate_range" in _no_best_line([diverged, diverged])
    line = _no_best_line([diverged, failed])
    assert line == ("no setting finished: 1 diverged, 1 failed (first failure:"
                    " x.csv: broken)")


def test_tune_warns_of_a_constant_feature_once(tmp_path, caplog):
    """The trials share the sample's rows: a constant feature is reported once
    per tune run, not once per trial and once for the sample; a second run
    reports it again."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(1200, 2))
    write_parquet(tmp_path / "d.parquet",
                  {"a": X[:, 0], "b": X[:, 1], "year": np.full(1200, 2013.0),
                   "y": X @ [1.0, -1.0] + rng.normal(0, 0.1, 1200)},
                  row_group_size=300)
    config = make_config({
        "data": {"paths": [str(tmp_path / "d.parquet")],
                 "features": ["a", "b", "year"], "target": "y"},
        "optimizer": {"max_epochs": 1},
        "tune": {"sample_rows": 900, "learning_rates": [0.01, 0.1, 1.0]},
        "output": {"dir": str(tmp_path / "out")}})
    message = "feature 'year' is constant: left unscaled, weight held at 0"
    for run in range(2):
        caplog.clear()
        with caplog.at_level("WARNING"):
            result = tune(config)
        assert [trial.status for trial in result.trials] == ["ok"] * 3
        assert caplog.messages.count(message) == 1
