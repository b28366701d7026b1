"""The reporting commands, run in-process: plot, train --plot, inspect, show."""

import json

import numpy as np
import pytest

from streamgd.cli import main
from tests.helpers import FLIGHTS, write_parquet


@pytest.fixture
def job(tmp_path):
    """A job on 2,000 rows with a constant column, writing into tmp_path/out."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(2000, 2)) * [1.0, 100.0]
    y = X @ [5.0, 0.01] + 1.0
    write_parquet(tmp_path / "data.parquet",
                  {"small": X[:, 1], "large": X[:, 0], "flat": np.ones(2000), "y": y})
    path = tmp_path / "job.yaml"
    path.write_text("data: {paths: data.parquet, features: [small, large, flat],"
                    " target: y}\noutput: {dir: out, log_every: 10}\n")
    return path


def test_cli_train_plot_writes_the_png_beside_the_log(job, capsys):
    """`train --plot` ends by drawing cost.png next to the cost log."""
    pytest.importorskip("matplotlib")
    assert main(["train", str(job), "--quiet", "--plot"]) == 0
    png = job.parent / "out" / "cost.png"
    assert f"plot:     {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_draws_a_cost_log(job, tmp_path, capsys):
    """`plot LOG --out` writes the PNG it names."""
    pytest.importorskip("matplotlib")
    assert main(["train", str(job), "--quiet"]) == 0
    out = tmp_path / "pictures" / "c.png"
    assert main(["plot", str(job.parent / "out" / "costs.jsonl"), "--out",
                 str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.stat().st_size > 10_000


def test_cli_plot_missing_log_exits_1(tmp_path, capsys):
    """A cost log that does not exist is one error line, exit status 1."""
    assert main(["plot", str(tmp_path / "none.jsonl")]) == 1
    assert "cost log not found" in capsys.readouterr().err


def test_cli_show_sorts_coefficients_by_magnitude(job, capsys):
    """`show` lists original-unit weights largest first, constants marked."""
    assert main(["train", str(job), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["show", str(job.parent / "out" / "model.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines[2:5]]
    assert names == ["large", "small", "flat"]
    assert "(constant: held at 0)" in lines[4]
    assert any(line.startswith("trained on 2,000 rows") for line in lines)


def test_cli_show_json(job, capsys):
    """`show --json` gives the coefficients in order, with the training summary."""
    assert main(["train", str(job), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["show", str(job.parent / "out" / "model.json"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    weights = [item["weight"] for item in summary["coefficients"]]
    assert weights == sorted(weights, key=abs, reverse=True)
    assert weights[0] == pytest.approx(5.0, rel=1e-2)
    assert summary["training"]["rows"] == 2000


def test_cli_inspect_json_on_the_embedded_flights(capsys):
    """`inspect --json` counts the flights and their missing delays."""
    assert main(["inspect", str(FLIGHTS), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 336_776
    columns = {column["name"]: column for column in report["columns"]}
    assert columns["arr_delay"]["missing"] == 9_430
    assert columns["year"]["constant"] is True
    assert columns["carrier"]["mean"] is None


def test_cli_inspect_missing_path_exits_1(tmp_path, capsys):
    """A path that matches nothing is one error line naming it."""
    assert main(["inspect", str(tmp_path / "nothing.parquet")]) == 1
    assert "nothing.parquet" in capsys.readouterr().err


def test_cli_show_names_the_classes_of_a_logistic_model(job, capsys):
    """A logistic model's summary says which target values are the positive class."""
    assert main(["train", str(job), "--quiet", "--set", "model.type=logistic",
                 "--set", "data.positive_above=0"]) == 0
    capsys.readouterr()
    assert main(["show", str(job.parent / "out" / "model.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "logistic model of 'y', inputs scaled by standard"
    assert lines[1] == "positive class: target > 0"


def test_cli_inspect_reads_other_delimiters(tmp_path, capsys):
    """`--delimiter` splits the CSV columns as given."""
    path = tmp_path / "data.tsv"
    path.write_text("a\tb\n1\tx\n3\ty\n")
    assert main(["inspect", str(path), "--delimiter", "\t", "--json"]) == 0
    columns = json.loads(capsys.readouterr().out)["columns"]
    assert [(c["name"], c["mean"]) for c in columns] == [("a", 2.0), ("b", None)]


def test_cli_plot_without_matplotlib_names_the_extra(job, monkeypatch, capsys):
    """Without matplotlib, plotting fails in one line naming the pip extra."""
    import sys

    assert main(["train", str(job), "--quiet"]) == 0
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["plot", str(job.parent / "out" / "costs.jsonl")]) == 1
    assert "pip install 'streamgd[plot]'" in capsys.readouterr().err


def test_cli_train_and_show_count_held_out_rows_apart(job, capsys):
    """With a hashed holdout, train and show name the rows trained on, not every
    row read, and the holdout's size beside them."""
    assert main(["train", str(job), "--quiet", "--set",
                 "validation.holdout=0.25"]) == 0
    out = capsys.readouterr().out
    model = json.loads((job.parent / "out" / "model.json").read_text())
    training = model["training"]
    held = training["holdout_rows"]
    assert isinstance(held, int) and 350 < held < 650
    assert training["rows_trained"] == 2000 - held
    phrase = f"on {2000 - held:,} rows ({held:,} held out, 0 dropped)"
    assert phrase in out
    assert main(["show", str(job.parent / "out" / "model.json")]) == 0
    assert f"trained {phrase}:" in capsys.readouterr().out


def test_cli_show_a_folder_names_it(job, capsys):
    """`show` given the output folder instead of its model file: one error line
    pointing to model.json, not an IsADirectoryError traceback."""
    assert main(["show", str(job.parent)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("streamgd: error:") and "is a folder" in err
    assert "model.json" in err and "Traceback" not in err


@pytest.mark.parametrize("target, message", [
    ("folder", "is a folder"),
    ("/proc/streamgd-x/c.png", "is not writable"),
])
def test_cli_plot_bad_out_is_one_line(job, tmp_path, capsys, target, message):
    """A picture that cannot be written is named in one line, before drawing."""
    (tmp_path / "folder").mkdir()
    log = tmp_path / "costs.jsonl"
    log.write_text('{"kind": "epoch", "update": 1, "elapsed": 0.1,'
                   ' "cost_epoch": 1.0}\n')
    out = target if target.startswith("/") else str(tmp_path / target)
    assert main(["plot", str(log), "--out", out]) == 1
    err = capsys.readouterr().err
    assert err.startswith("streamgd: error: --out") and message in err


def test_cli_train_plot_into_a_folder_fails_before_training(job, capsys):
    """`train --plot FOLDER` is refused before any data is read: no model."""
    (job.parent / "pictures").mkdir()
    assert main(["train", str(job), "--quiet", "--plot",
                 str(job.parent / "pictures")]) == 1
    assert "--plot" in capsys.readouterr().err
    assert not (job.parent / "out" / "model.json").exists()


def test_cli_closed_stdout_exits_quietly(job, monkeypatch, capsys):
    """A reader that closed the pipe (`streamgd show ... | head -1`): status
    141 (128 + SIGPIPE), no BrokenPipeError traceback."""
    assert main(["train", str(job), "--quiet"]) == 0
    capsys.readouterr()

    class ClosedPipe:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass

        def fileno(self):
            raise OSError("no descriptor here")

    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["show", str(job.parent / "out" / "model.json")]) == 141
