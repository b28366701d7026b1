"""The cost log's window averages equal numpy's over the same updates."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamgd.train.costlog import CostLog


@given(sizes=st.lists(st.integers(0, 700), min_size=1, max_size=6),
       log_every=st.integers(7, 250), seed=st.integers(0, 2**16))
@settings(max_examples=30, deadline=None)
def test_costlog_windows_equal_weighted_means(sizes, log_every, seed):
    """Every record's 10/100/1000 and epoch averages are the weighted means."""
    rng = np.random.default_rng(seed)
    log = CostLog(None, log_every)
    costs, weights = [], []
    for size in sizes:
        block_costs, block_weights = rng.uniform(0, 5, size), rng.uniform(1, 32, size)
        log.extend(0, block_costs, block_weights, np.full(size, 32.0),
                   np.full(size, 0.1))
        costs.append(block_costs)
        weights.append(block_weights)
    cost, weight = np.concatenate(costs), np.concatenate(weights)
    update_records = [r for r in log.records if r["kind"] == "update"]
    assert [r["update"] for r in update_records] == list(
        range(log_every, len(cost) + 1, log_every))
    for record in update_records:
        end = record["update"]
        for window in (10, 100, 1000):
            start = max(0, end - window)
            expected = cost[start:end] @ weight[start:end] / weight[start:end].sum()
            assert record[f"cost_{window}"] == pytest.approx(expected, rel=1e-9)
        expected_epoch = cost[:end] @ weight[:end] / weight[:end].sum()
        assert record["cost_epoch"] == pytest.approx(expected_epoch, rel=1e-9)
        assert record["rows_seen"] == 32 * end


def test_costlog_epoch_record_restarts_the_epoch_average(tmp_path):
    """The epoch record averages its epoch only, and the file is strict JSON lines."""
    path = tmp_path / "costs.jsonl"
    log = CostLog(path, log_every=1000)
    log.extend(0, np.array([4.0, 2.0]), np.array([1.0, 3.0]), np.ones(2), np.ones(2))
    first = log.end_epoch(0, 0.1)
    log.extend(1, np.array([1.0]), np.array([2.0]), np.ones(1), np.ones(1))
    second = log.end_epoch(1, 0.1)
    log.commit()
    assert first["cost_epoch"] == pytest.approx((4 + 6) / 4)
    assert second["cost_epoch"] == pytest.approx(1.0)
    assert second["cost_10"] == pytest.approx((4 + 6 + 2) / 6)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["kind"] for line in lines] == ["epoch", "epoch"]


def test_costlog_uncommitted_leaves_the_previous_log_whole(tmp_path):
    """Until commit, records grow in a hidden partial file; the previous complete
    log keeps its place."""
    path = tmp_path / "costs.jsonl"
    path.write_text("previous run\n")
    log = CostLog(path, log_every=1)
    log.extend(0, np.array([1.0]), np.array([1.0]), np.ones(1), np.ones(1))
    log.close()
    assert path.read_text() == "previous run\n"
    partial = tmp_path / ".costs.jsonl.partial"
    assert json.loads(partial.read_text())["update"] == 1


def _grow(log, epoch, costs):
    n = len(costs)
    log.extend(epoch, np.asarray(costs, float), np.ones(n), np.ones(n), np.ones(n))


def test_costlog_resumed_drops_records_after_the_state_and_a_half_line(tmp_path):
    """A log resumed from a state cuts what followed it (a half-written line
    included) and continues into the same records as an uninterrupted log."""
    whole = CostLog(tmp_path / "whole.jsonl", log_every=2)
    _grow(whole, 0, [5.0, 4.0, 3.0])
    _grow(whole, 0, [2.0, 1.5, 1.0, 0.5])
    whole.end_epoch(0, 0.1)
    whole.commit()

    path = tmp_path / "costs.jsonl"
    crashed = CostLog(path, log_every=2)
    _grow(crashed, 0, [5.0, 4.0, 3.0])
    state = crashed.state()
    _grow(crashed, 0, [2.0, 1.5])
    crashed._file.write('{"kind": "upd')  # the crash cut this record short
    crashed.close()

    resumed = CostLog(path, log_every=2, resume=state)
    _grow(resumed, 0, [2.0, 1.5, 1.0, 0.5])
    resumed.end_epoch(0, 0.1)
    resumed.commit()

    def without_time(file):
        lines = [json.loads(line) for line in file.read_text().splitlines()]
        return [{k: v for k, v in line.items() if k != "elapsed"} for line in lines]

    assert without_time(path) == without_time(tmp_path / "whole.jsonl")
    assert [r["update"] for r in resumed.records] == [2, 4, 6, 7]


def test_costlog_numbers_epochs_from_one(tmp_path):
    """The engines' epoch index 0 is written as epoch 1, as the summary and the
    progress display count epochs."""
    log = CostLog(tmp_path / "costs.jsonl", log_every=1)
    log.extend(0, np.array([1.0]), np.array([1.0]), np.ones(1), np.ones(1))
    log.end_epoch(0, 0.1)
    log.extend(1, np.array([1.0]), np.array([1.0]), np.ones(1), np.ones(1))
    log.commit()
    lines = [json.loads(line) for line in log.path.read_text().splitlines()]
    assert [(line["kind"], line["epoch"]) for line in lines] == [
        ("update", 1), ("epoch", 1), ("update", 2)]


def test_costlog_resumed_from_a_zero_based_log_keeps_its_numbering(tmp_path):
    """A log an earlier version began (epochs from 0) goes on numbered from 0
    when a run resumes it, rather than mixing the two."""
    path = tmp_path / "costs.jsonl"
    log = CostLog(path, log_every=1)
    log.extend(0, np.array([1.0]), np.array([1.0]), np.ones(1), np.ones(1))
    state = log.state()
    log.close()
    partial = tmp_path / ".costs.jsonl.partial"
    old_style = partial.read_text().replace('"epoch": 1', '"epoch": 0')
    partial.write_text(old_style)
    resumed = CostLog(path, log_every=1,
                      resume=type(state)(**{**state.__dict__,
                                            "n_bytes": len(old_style)}))
    resumed.extend(0, np.array([2.0]), np.array([1.0]), np.ones(1), np.ones(1))
    resumed.end_epoch(0, 0.1)
    resumed.commit()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [0, 0, 0]
