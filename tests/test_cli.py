"""The command line, run in-process: exit codes and what it prints."""

import json

import pyarrow.parquet as pq
import pytest

from streamgd.cli import main


@pytest.fixture
def trained(tmp_path, monkeypatch, capsys):
    """The embedded default job, trained for one epoch into tmp_path/out."""
    monkeypatch.chdir(tmp_path)
    code = main(["train", "--quiet", "--set", "optimizer.max_epochs=1",
                 "--set", f"output.dir={tmp_path / 'out'}"])
    assert code == 0
    return tmp_path / "out", capsys.readouterr().out


def test_cli_train_default_prints_where_it_wrote(trained):
    """`streamgd train` with no job trains the embedded data and names its outputs."""
    trained, printed = trained
    assert f"model:    {trained / 'model.json'}" in printed
    assert f"cost log: {trained / 'costs.jsonl'}" in printed
    # the default job names no schedule: its update's default, said so
    assert ", schedule invscaling (not given; the default for sgd)" in printed
    model = json.loads((trained / "model.json").read_text())
    assert model["training"]["rows"] == 327_346
    assert model["training"]["rows_dropped"] == 9_430
    assert model["constant_features"] == ["year"]
    records = [json.loads(line)
               for line in (trained / "costs.jsonl").read_text().splitlines()]
    assert records[-1]["kind"] == "epoch"


def test_cli_predict_writes_one_row_per_input_row(trained, tmp_path, capsys):
    """Predictions stream to Parquet with one row per input row, nulls where missing."""
    from tests.helpers import FLIGHTS

    trained, _ = trained
    out = tmp_path / "pred.parquet"
    assert main(["predict", str(trained / "model.json"), str(FLIGHTS),
                 "--out", str(out)]) == 0
    predictions = pq.read_table(out)
    assert predictions.num_rows == 336_776
    # air_time is missing on 9,430 flights (dep_delay on 8,255 of those)
    assert predictions["prediction"].null_count == 9_430
    assert "wrote 336776 predictions" in capsys.readouterr().out


def test_cli_evaluate_json(trained, capsys):
    """`evaluate --json` prints one JSON line with the RMSE and row counts."""
    from tests.helpers import FLIGHTS

    trained, _ = trained
    assert main(["evaluate", str(trained / "model.json"), str(FLIGHTS), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 327_346
    assert 10 < report["rmse"] < 25


def test_cli_bad_key_exits_1_with_suggestion(capsys):
    """A misspelt override exits 1 with one line naming the key and a suggestion."""
    assert main(["train", "--set", "optimizer.batchsize=4"]) == 1
    error = capsys.readouterr().err
    assert "unknown key 'optimizer.batchsize'" in error
    assert "optimizer.batch_size" in error


def test_cli_missing_data_file_exits_1(tmp_path, capsys):
    """A job pointing at a missing file exits 1 naming the path."""
    job = tmp_path / "job.yaml"
    job.write_text("data: {paths: nowhere.csv, features: [a], target: b}\n")
    assert main(["train", str(job)]) == 1
    assert "nowhere.csv" in capsys.readouterr().err


def test_cli_config_keys_lists_every_key(capsys):
    """`config --keys` lists each job key once."""
    from streamgd.config import FIELDS

    assert main(["config", "--keys"]) == 0
    printed = capsys.readouterr().out
    assert all(field.path in printed for field in FIELDS)


def test_cli_train_reports_constant_predictor_and_holdout(tmp_path, capsys):
    """`train` prints the best constant's cost beside the model's, and the holdout."""
    from streamgd.cli import main

    code = main(["train", "-q", "--set", f"output.dir={tmp_path}",
                 "--set", "validation.holdout=0.1", "--set", "optimizer.max_epochs=1"])
    out = capsys.readouterr().out
    assert code == 0
    assert "best constant predictor (mean 6.9" in out
    assert "holdout cost" in out and "for the constant, on" in out
