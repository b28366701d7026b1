"""The compiled cost-log pass gives numpy's sums to the last bit, and so the
same records, whether numba is installed or not."""

from __future__ import annotations

import json
from unittest import mock

import numpy as np
import pytest
from hypothesis import given

from streamgd.train import costsums
from streamgd.train.costlog import CostLog
from tests import strategies


def _same_bits(first: np.ndarray, second: np.ndarray) -> bool:
    """Equal to the last bit (the sign of zero included); NaN where NaN."""
    first, second = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if first.shape != second.shape:
        return False
    nan = np.isnan(first)
    return bool((nan == np.isnan(second)).all()
                and (first[~nan].view(np.uint64) == second[~nan].view(np.uint64)).all())


def _run_sums(compute, run):
    """Every block of `run` through `compute`, each continuing the last."""
    tail_cost = tail_weight = np.empty(0)
    epoch_sums = run["epoch_sums"]
    rows_seen, update_count = run["rows_seen"], run["update_count"]
    results = []
    for costs, weights, rows, _ in run["blocks"]:
        if len(costs) == 0:
            continue  # the cost log does not call for an empty block
        sums = compute(tail_cost, tail_weight, costs, weights, rows, epoch_sums,
                       rows_seen, update_count, run["log_every"])
        results.append(sums)
        tail_cost, tail_weight = sums.tail_cost, sums.tail_weight
        epoch_sums, rows_seen = sums.epoch_sums, sums.rows_seen_after
        update_count += len(costs)
    return results


@given(strategies.update_blocks())
def test_compiled_block_sums_equal_numpy_to_the_bit(run):
    """Over random block splits, costs, weights and log_every, starting fresh
    or from a resumed log's counters, every field is numpy's, bit for bit."""
    # a diverging run's inf - inf is NaN in both, numpy alone says so
    with np.errstate(invalid="ignore", over="ignore"):
        expected = _run_sums(costsums.numpy_block_sums, run)
    compiled = _run_sums(costsums.compiled_block_sums, run)
    assert len(compiled) == len(expected)
    for got, want in zip(compiled, expected):
        assert np.array_equal(got.positions, want.positions)
        assert _same_bits(got.averages, want.averages)
        assert _same_bits(got.rows_seen, want.rows_seen)
        assert _same_bits(got.tail_cost, want.tail_cost)
        assert _same_bits(got.tail_weight, want.tail_weight)
        assert _same_bits(got.epoch_sums, want.epoch_sums)
        assert got.rows_seen_after == want.rows_seen_after


def _records(run, compiled_from: int, resume_at: int | None = None) -> list[dict]:
    """The records of a log fed `run`'s blocks (the first half in epoch 0, the
    rest in epoch 1), without their times: blocks from `compiled_from` on take
    the compiled path, those before it numpy's; at block `resume_at` the log
    is resumed from its state."""
    blocks, log_every = run["blocks"], run["log_every"]
    log, written = CostLog(None, log_every), []
    for number, (costs, weights, rows, rates) in enumerate(blocks):
        if number == resume_at:
            written += log.records
            log = CostLog(None, log_every, resume=log.state())
        if number == len(blocks) // 2 + 1:
            log.end_epoch(0, 0.5)
        compiled = costsums.numba if number >= compiled_from else None
        with mock.patch.object(costsums, "numba", compiled):
            log.extend(int(number > len(blocks) // 2), costs, weights, rows, rates)
    log.end_epoch(1, 0.25)
    return [{key: value for key, value in record.items() if key != "elapsed"}
            for record in written + log.records]


@given(strategies.update_blocks())
def test_costlog_records_are_the_same_with_or_without_numba(run):
    """A whole log, epoch records included, is the same under either path, and
    when a log numpy began is resumed half-way under the compiled path."""
    n_blocks = len(run["blocks"])
    # as in the engine: a diverging run's inf * 0 is NaN, not a warning
    with np.errstate(invalid="ignore", over="ignore"):
        expected = _records(run, compiled_from=n_blocks)
        resumed = _records(run, compiled_from=n_blocks // 2, resume_at=n_blocks // 2)
        compiled = _records(run, compiled_from=0)
    # as JSON text: NaN written as null and -0.0 as -0.0, as in the file
    as_text = [json.dumps(record) for record in expected]
    assert [json.dumps(record) for record in compiled] == as_text
    assert [json.dumps(record) for record in resumed] == as_text


@pytest.mark.parametrize("log_every", [1, 7, 1000])
def test_costlog_file_is_the_same_across_paths_and_a_resume(tmp_path, log_every):
    """The cost-log file a numpy run writes is the file a compiled run writes
    when it is stopped after each block in turn and resumed from its state."""
    rng = np.random.default_rng(log_every)
    sizes = [65, 1, 2400, 0, 999, 1500]
    blocks = [(10.0 ** rng.uniform(-6, 6, n), rng.uniform(0, 2, n), np.ones(n),
               np.full(n, 0.1)) for n in sizes]

    def without_time(path):
        lines = path.read_text().splitlines()
        return [{k: v for k, v in json.loads(line).items() if k != "elapsed"}
                for line in lines]

    with mock.patch.object(costsums, "numba", None):
        whole = CostLog(tmp_path / "numpy.jsonl", log_every)
        for block in blocks:
            whole.extend(0, *block)
        whole.end_epoch(0, 0.1)
        whole.commit()

    path = tmp_path / "compiled.jsonl"
    log = CostLog(path, log_every)
    for block in blocks:
        log.extend(0, *block)
        state = log.state()
        log.close()
        log = CostLog(path, log_every, resume=state)
    log.end_epoch(0, 0.1)
    log.commit()
    assert without_time(path) == without_time(tmp_path / "numpy.jsonl")
    assert len(without_time(path)) == sum(sizes) // log_every + 1


def test_compiled_sums_differ_from_a_reordered_sum():
    """The law above is not vacuous: adding the same costs pairwise (numpy's
    `sum`) instead of left to right changes the window averages' last bits."""
    rng = np.random.default_rng(3)
    costs, weights = 10.0 ** rng.uniform(-6, 6, 3000), rng.uniform(0, 2, 3000)
    sums = costsums.compiled_block_sums(
        np.empty(0), np.empty(0), costs, weights, np.ones(3000), np.zeros(2),
        0, 0, 3000,
    )
    pairwise = np.sum(costs * weights) / np.sum(weights)
    in_order = sums.averages[0, -1]
    assert in_order == pytest.approx(pairwise, rel=1e-12)
    assert in_order != pairwise


def test_compiled_sums_start_from_the_first_cost_as_cumsum_does():
    """A log opening on costs of -0.0 has windows of -0.0, as np.cumsum gives:
    its sums start from the first element, not from 0.0 + it (+0.0, which the
    epoch's average is: it adds the block to the epoch's sum so far)."""
    costs, ones = np.array([-0.0, -0.0, 2.0]), np.ones(3)
    arguments = (np.empty(0), np.empty(0), costs, ones, ones, np.zeros(2), 0, 0, 1)
    compiled = costsums.compiled_block_sums(*arguments)
    assert _same_bits(compiled.averages,
                      costsums.numpy_block_sums(*arguments).averages)
    assert np.signbit(compiled.averages[:2, :3]).all()
    assert not np.signbit(compiled.averages[:2, 3]).any()
    assert compiled.averages[2].tolist() == [2 / 3] * 4
