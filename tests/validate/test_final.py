"""validation.final_pass: the written model's training cost, measured, and the
final cost printed for what it is."""

import numpy as np
import pytest

import streamgd
from streamgd.cli import main
from tests.helpers import write_csv


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(4)
    x1, x2 = rng.normal(size=500), rng.normal(size=500)
    y = 3 * x1 - x2 + 2 + rng.normal(0, 0.5, 500)
    return write_csv(tmp_path / "d.csv", {"x1": x1, "x2": x2, "y": y})


def _job(data, tmp_path, **validation):
    return {"data": {"paths": [str(data)], "features": ["x1", "x2"], "target": "y"},
            "model": {"penalty": "l2", "alpha": 0.01},
            "optimizer": {"max_epochs": 2},
            "validation": validation,
            "output": {"dir": str(tmp_path / "out")}}


def test_final_pass_measures_the_written_model(data, tmp_path):
    """train_cost is the written model's mean loss plus its penalty on the rows."""
    result = streamgd.train(_job(data, tmp_path, final_pass=True))
    model = result.model
    rmse = streamgd.evaluate(result.model_path, data).metrics["rmse"]
    penalty = 0.5 * 0.01 * float(model.params.weights @ model.params.weights)
    assert model.training["train_cost"] == pytest.approx(rmse**2 / 2 + penalty,
                                                         rel=1e-12)
    # the epoch cost averages costs taken before each update: another number
    assert model.training["final_cost"] != model.training["train_cost"]
    saved = streamgd.load_model(result.model_path)
    assert saved.training["train_cost"] == model.training["train_cost"]


def test_final_pass_leaves_the_holdout_out(data, tmp_path):
    """With a hashed holdout, only the training rows are measured."""
    from streamgd.readers import open_source
    from streamgd.validate.holdout import holdout_fraction_of

    job = _job(data, tmp_path, final_pass=True, holdout=0.3)
    job["model"] = {"penalty": "none"}
    model = streamgd.train(job).model
    config = streamgd.make_config(job)
    source = open_source(config)
    table = source.read(source.chunks[0])
    source.close()
    assert len(source.chunks) == 1
    held = holdout_fraction_of(table, source.chunks[0], None, None, 0.3)
    X = np.c_[table["x1"].to_numpy(), table["x2"].to_numpy()][~held]
    y = table["y"].to_numpy()[~held]
    expected = np.mean((model.predict(X) - y) ** 2) / 2
    assert 0 < held.sum() < len(held)
    assert model.training["train_cost"] == pytest.approx(expected, rel=1e-12)


def test_no_final_pass_by_default(data, tmp_path):
    """Off by default: no extra read, no train_cost."""
    assert "train_cost" not in streamgd.train(_job(data, tmp_path)).model.training


def test_cli_names_the_final_cost_for_what_it_is(data, tmp_path, capsys):
    """train and show say the epoch cost is a mean of update costs."""
    import yaml

    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(_job(data, tmp_path, final_pass=True)))
    assert main(["train", "-q", str(path)]) == 0
    out = capsys.readouterr().out
    assert "last epoch's mean update cost " in out
    assert "final epoch cost" not in out
    assert "training cost of the written model " in out
    assert main(["show", str(tmp_path / "out" / "model.json")]) == 0
    out = capsys.readouterr().out
    assert "epoch costs (mean update cost, each before its update): " in out
    assert "training cost of this model " in out
