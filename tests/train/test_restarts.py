"""`optimizer.restarts`: several seeded starts, the best kept."""

import json

import numpy as np
import pytest

import streamgd
from streamgd.errors import ConfigError
from tests.helpers import write_parquet


def test_restarts_keep_the_start_of_lowest_holdout_cost(tmp_path):
    """The written model is the start with the lowest holdout cost; all are listed."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(800, 2))
    y = x @ [1.0, 2.0] + rng.normal(0, 0.5, 800)
    write_parquet(tmp_path / "d.parquet", {"a": x[:, 0], "b": x[:, 1], "y": y})
    result = streamgd.train({
        "data": {"paths": [str(tmp_path / "d.parquet")], "features": ["a", "b"],
                 "target": "y"},
        "model": {"init_scale": 3.0},
        "optimizer": {"max_epochs": 1, "restarts": 3, "learning_rate": 0.01},
        "validation": {"holdout": 0.25},
        "output": {"dir": str(tmp_path / "out")}})
    starts = result.model.training["restarts"]
    assert [start["seed"] for start in starts] == [0, 1, 2]
    scores = [start["score"] for start in starts]
    assert len(set(scores)) == 3  # random starts differ
    best = int(np.argmin(scores))
    assert result.model.training["best_seed"] == best
    assert result.model.training["holdout_cost"] == pytest.approx(scores[best])
    written = json.loads((tmp_path / "out" / "model.json").read_text())
    kept = json.loads((tmp_path / "out" / f"restart-{best}" / "model.json").read_text())
    assert written["scaled"] == kept["scaled"]


def test_restarts_cannot_resume(tmp_path):
    """Resuming a multi-start job is refused, naming what to do instead."""
    with pytest.raises(ConfigError, match="restart-K"):
        streamgd.train({"data": {"paths": ["x.parquet"], "features": ["a"],
                                 "target": "y"},
                        "optimizer": {"restarts": 2}}, resume=True)
