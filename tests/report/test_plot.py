"""The cost plot, drawn from the cost log of a real training run."""

import json

import numpy as np
import pytest

import streamgd
from streamgd.errors import ConfigError, DataError
from streamgd.report.costs import cost_series, read_cost_log
from tests.helpers import write_parquet

pytest.importorskip("matplotlib", reason="matplotlib is an optional extra")

from matplotlib.image import imread  # noqa: E402

from streamgd.report.plot import _wants_log_scale, plot_cost_log  # noqa: E402


@pytest.fixture(scope="module")
def cost_log(tmp_path_factory):
    """The cost log of 3 epochs on 3,000 generated rows (logged every 5 updates)."""
    folder = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 2))
    y = X @ [3.0, -1.0] + 2.0 + rng.normal(0, 0.5, 3000)
    write_parquet(folder / "data.parquet", {"a": X[:, 0], "b": X[:, 1], "y": y},
                  row_group_size=500)
    result = streamgd.train({
        "data": {"paths": str(folder / "data.parquet"), "features": ["a", "b"],
                 "target": "y"},
        "optimizer": {"max_epochs": 3, "tol": 0.0, "n_iter_no_change": 3},
        "output": {"dir": str(folder / "out"), "log_every": 5},
    })
    return result.cost_log_path


def test_plot_renders_a_png_of_the_cost_log(cost_log, tmp_path):
    """The PNG has the figure's size in pixels and the curves' colours on it."""
    out = plot_cost_log(cost_log, tmp_path / "cost.png")
    pixels = imread(out)
    assert pixels.shape[:2] == (420, 1100)
    rgb = pixels[..., :3]
    not_white = (rgb < 0.95).any(axis=-1)
    assert 0.02 < not_white.mean() < 0.6
    # saturated pixels: the coloured curves, not only black axes and text
    saturation = rgb.max(axis=-1) - rgb.min(axis=-1)
    assert (saturation > 0.3).sum() > 2000
    assert list(tmp_path.iterdir()) == [out]


def test_plot_series_are_the_logged_averages(cost_log):
    """Each curve holds the log's values: windows at updates, epochs at their end."""
    records = read_cost_log(cost_log)
    curves = {curve.label: curve for curve in cost_series(records)}
    assert set(curves) == {"last 10 updates", "last 100 updates",
                           "last 1000 updates", "epoch average"}
    updates = [r for r in records if r["kind"] == "update"]
    np.testing.assert_array_equal(curves["last 100 updates"].cost,
                                  [r["cost_100"] for r in updates])
    epochs = curves["epoch average"]
    assert len(epochs) == 3
    assert list(epochs.update) == [r["update"] for r in records
                                   if r["kind"] == "epoch"]


def test_plot_holdout_records_make_their_own_curve():
    """Records marked holdout are drawn apart from the training epochs."""
    records = [
        {"kind": "epoch", "update": 10, "elapsed": 1.0, "cost_epoch": 2.0},
        {"kind": "holdout", "update": 10, "elapsed": 1.1, "cost": 2.5},
        {"kind": "epoch", "update": 20, "elapsed": 2.0, "cost_epoch": 1.5,
         "holdout": True},
    ]
    curves = {curve.label: curve for curve in cost_series(records)}
    assert list(curves["epoch average"].cost) == [2.0]
    assert list(curves["holdout"].cost) == [2.5, 1.5]


def test_plot_log_scale_only_for_a_decade_or_more():
    """The cost axis turns logarithmic when the costs span a factor of ten."""
    def curves(costs):
        records = [{"kind": "epoch", "update": k, "elapsed": k, "cost_epoch": c}
                   for k, c in enumerate(costs)]
        return cost_series(records)

    assert _wants_log_scale(curves([100.0, 12.0, 9.0]))
    assert not _wants_log_scale(curves([100.0, 50.0, 11.0]))


def test_plot_bad_log_names_the_line(tmp_path):
    """A line that is not a cost record fails naming the file and the line."""
    log = tmp_path / "costs.jsonl"
    good = {"kind": "update", "update": 1, "elapsed": 0.1, "cost_10": 1.0}
    log.write_text(json.dumps(good) + "\n{not json\n")
    with pytest.raises(DataError, match=r"costs.jsonl \(line 2\): not a JSON record"):
        read_cost_log(log)
    log.write_text('{"update": 3}\n')
    with pytest.raises(DataError, match="record lacks kind, elapsed"):
        read_cost_log(log)
    with pytest.raises(DataError, match="cost log not found"):
        read_cost_log(tmp_path / "none.jsonl")


def test_plot_draws_the_holdout_of_a_validated_run(tmp_path):
    """A run with a holdout logs one holdout cost per epoch, drawn as a curve."""
    rng = np.random.default_rng(8)
    X = rng.normal(size=(2000, 1))
    write_parquet(tmp_path / "d.parquet", {"a": X[:, 0], "y": 2 * X[:, 0] + 1})
    result = streamgd.train({
        "data": {"paths": str(tmp_path / "d.parquet"), "features": ["a"],
                 "target": "y"},
        "optimizer": {"max_epochs": 3, "tol": 0.0, "n_iter_no_change": 3},
        "validation": {"holdout": 0.2, "patience": None},
        "output": {"dir": str(tmp_path / "out"), "log_every": 10},
    })
    curves = {c.label: c for c in cost_series(read_cost_log(result.cost_log_path))}
    assert len(curves["holdout"]) == 3
    assert (np.diff(curves["holdout"].update) > 0).all()
    pixels = imread(plot_cost_log(result.cost_log_path, tmp_path / "c.png"))
    assert pixels.shape[:2] == (420, 1100)


def test_plot_refuses_to_write_over_its_own_log(cost_log):
    """`--out` naming the cost log itself is refused and the log stays whole."""
    before = cost_log.read_bytes()
    with pytest.raises(ConfigError, match="would destroy the log"):
        plot_cost_log(cost_log, cost_log)
    assert cost_log.read_bytes() == before


def test_plot_refuses_a_name_that_is_not_png(cost_log, tmp_path):
    """A model file named as --out by mistake is refused and left whole."""
    model = tmp_path / "model.json"
    model.write_text("{}")
    with pytest.raises(ConfigError, match="give a name ending in .png"):
        plot_cost_log(cost_log, model)
    assert model.read_text() == "{}"
