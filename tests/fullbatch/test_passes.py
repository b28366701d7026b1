"""Per-partition sums and their tree reduction equal numpy on the whole data."""

import numpy as np
import pytest
from dask import delayed
from hypothesis import given
from hypothesis import strategies as st

from streamgd.errors import NonFiniteValueError
from streamgd.fullbatch.cluster import Cluster
from streamgd.fullbatch.objective import Objective, as_theta
from streamgd.fullbatch.passes import (
    FAN_IN, GradientSums, Summary, groups_by_holder, merge_all, merge_in_order,
    merge_summaries, split_evenly, tree_reduce,
)
from streamgd.fullbatch.solvers import ConvergenceWarning, gradient_descent
from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.normalize import RunningStats
from streamgd.readers.decode import Chunk
from tests.strategies import chunk_sizes, seeds


def _split(X, y, weight, sizes):
    """Chunks of the given lengths, the last one taking whatever rows remain."""
    bounds = np.cumsum([0, *sizes])
    bounds = np.minimum(bounds, len(y))
    bounds = np.append(bounds, len(y))
    return [
        Chunk(X[a:b], y[a:b], None if weight is None else weight[a:b])
        for a, b in zip(bounds[:-1], bounds[1:])
    ]


def _data(seed, n_rows, n_features, kind, weighted):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, n_features))
    if kind == "logistic":
        y = (rng.random(n_rows) < 0.5).astype(float)
    else:
        y = rng.normal(size=n_rows) * 3.0
    weight = rng.random(n_rows) + 0.1 if weighted else None
    params = LinearParams(rng.normal(size=n_features), float(rng.normal()))
    return X, y, weight, params


def _dask_sums(chunks, params, loss):
    parts = [
        delayed(GradientSums.of)(chunk, params, loss) for chunk in chunks
    ]
    empty = GradientSums.empty(len(params.weights))
    return Cluster().compute(tree_reduce(parts, merge_all, empty))


def _numpy_cost_and_gradient(X, y, weight, params, kind):
    """The textbook formulas on the whole data (weighted means)."""
    z = X @ params.weights + params.intercept
    w = np.ones(len(y)) if weight is None else weight
    if kind == "linear":
        losses, slopes = 0.5 * (z - y) ** 2, z - y
    else:
        losses = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - y * z
        slopes = 1 / (1 + np.exp(-z)) - y
    total = w.sum()
    cost = (w * losses).sum() / total
    gradient = np.append(X.T @ (w * slopes), (w * slopes).sum()) / total
    return cost, gradient


@given(sizes=chunk_sizes(max_chunks=20), seed=seeds(), n_rows=st.integers(1, 120),
       n_features=st.integers(1, 4), kind=st.sampled_from(["linear", "logistic"]),
       weighted=st.booleans())
def test_combined_sums_equal_numpy_for_any_partitioning(
    sizes, seed, n_rows, n_features, kind, weighted
):
    """Any split (empty and one-row partitions included) gives numpy's cost and
    gradient on the whole data, through dask's tree reduction."""
    X, y, weight, params = _data(seed, n_rows, n_features, kind, weighted)
    chunks = _split(X, y, weight, sizes)
    sums = _dask_sums(chunks, params, LOSSES[kind])

    cost, gradient = _numpy_cost_and_gradient(X, y, weight, params, kind)
    assert sums.n_rows == n_rows
    np.testing.assert_allclose(sums.loss / sums.total_weight, cost, rtol=1e-10)
    np.testing.assert_allclose(
        np.append(sums.weights, sums.intercept) / sums.total_weight, gradient,
        rtol=1e-9, atol=1e-12,
    )


@given(sizes=chunk_sizes(max_chunks=20), seed=seeds(), n_rows=st.integers(1, 120),
       n_features=st.integers(1, 4), learning_rate=st.floats(1e-3, 1.0),
       l2=st.sampled_from([0.0, 0.1]))
def test_one_fixed_rate_step_is_the_textbook_update(
    sizes, seed, n_rows, n_features, learning_rate, l2
):
    """gd's first step is theta - learning_rate * gradient, computed with numpy."""
    X, y, _, params = _data(seed, n_rows, n_features, "linear", False)
    chunks = _split(X, y, None, sizes)
    free = np.ones(n_features + 1, dtype=bool)
    objective = Objective(
        lambda at: _dask_sums(chunks, at, LOSSES["linear"]), Penalty(l2=l2), free
    )
    reports = []
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        result = gradient_descent(
            objective, as_theta(params), learning_rate, max_iter=1, tol=0.0,
            report=lambda *args, **_: reports.append(args),
        )

    # textbook: grad = [X 1]^T (z - y) / n + l2 [w 0]
    A = np.c_[X, np.ones(n_rows)]
    theta = as_theta(params)
    gradient = A.T @ (A @ theta - y) / n_rows + l2 * np.append(params.weights, 0.0)
    np.testing.assert_allclose(result.theta, theta - learning_rate * gradient,
                               rtol=1e-10, atol=1e-12)
    assert [report[0] for report in reports] == [0, 1]
    assert objective.n_passes == 2


def test_sums_equal_the_streaming_batch_gradient():
    """The cost and gradient from sums equal `batch_gradient` on the whole batch."""
    X, y, weight, params = _data(3, 57, 3, "logistic", True)
    loss, penalty = LOSSES["logistic"], Penalty(l2=0.3)
    sums = _dask_sums(_split(X, y, weight, [0, 1, 20, 0, 5]), params, loss)
    free = np.ones(4, dtype=bool)
    objective = Objective(lambda at: sums, penalty, free)
    evaluation = objective(as_theta(params))
    expected = batch_gradient(X, y, weight, params, loss, penalty)
    assert evaluation.cost == pytest.approx(expected.cost, rel=1e-12)
    np.testing.assert_allclose(evaluation.gradient[:-1], expected.weights, rtol=1e-10)
    assert evaluation.gradient[-1] == pytest.approx(expected.intercept, rel=1e-10)


@pytest.mark.parametrize("n_parts", [0, 1, FAN_IN, FAN_IN + 1, FAN_IN**2 + 3])
def test_tree_reduce_merges_every_part_once(n_parts):
    """Counts of 0, 1, exactly FAN_IN and more parts each merge to their sum."""
    parts = [
        delayed(GradientSums)(1.0, np.ones(2), 1.0, 2.0, k)
        for k in range(n_parts)
    ]
    total = Cluster().compute(tree_reduce(parts, merge_all, GradientSums.empty(2)))
    assert total.n_rows == sum(range(n_parts))
    assert total.loss == n_parts
    np.testing.assert_array_equal(total.weights, np.full(2, float(n_parts)))


def test_summary_merge_equals_statistics_of_the_union():
    """Merged summaries hold the statistics, counts and classes of all rows."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2)) * 1e3 + 1e9
    parts = [Summary(RunningStats.of(X[a:b]), b - a, 1, frozenset({float(a)}))
             for a, b in [(0, 0), (0, 1), (1, 30), (30, 50)]]
    merged = merge_summaries(["a", "b"], *parts)
    whole = RunningStats.of(X)
    np.testing.assert_allclose(merged.stats.mean, whole.mean, rtol=1e-15)
    np.testing.assert_allclose(merged.stats.variance, whole.variance, rtol=1e-9)
    assert (merged.n_rows, merged.n_dropped) == (50, 4)
    assert merged.classes == {0.0, 1.0, 30.0}


def test_summary_merge_overflow_names_the_column():
    """A merged variance beyond float64 is an error naming the feature column."""
    low = Summary(RunningStats.of(np.array([[0.0, -1e300], [0.0, -1e300]])), 2)
    high = Summary(RunningStats.of(np.array([[1.0, 1e300]])), 1)
    with pytest.raises(NonFiniteValueError, match="column 'big'.*overflows"):
        merge_summaries(["small", "big"], low, high)


@given(n_items=st.integers(0, 40), n_groups=st.integers(1, 12))
def test_split_evenly_keeps_every_item_once_in_order(n_items, n_groups):
    """Runs of consecutive items, at most n_groups of them, lengths within one."""
    items = list(range(n_items))
    groups = split_evenly(items, n_groups)
    assert [item for group in groups for item in group] == items
    assert len(groups) <= n_groups and all(groups)
    lengths = [len(group) for group in groups]
    assert not lengths or max(lengths) - min(lengths) <= 1


@given(holders=st.lists(st.sampled_from(["w1", "w2", "w3"]), max_size=30),
       n_groups=st.integers(1, 9))
def test_groups_by_holder_run_each_value_where_it_is_held(holders, n_groups):
    """Every index once, and every group on the worker that holds all of it."""
    groups, workers = groups_by_holder(holders, n_groups)
    assert sorted(i for group in groups for i in group) == list(range(len(holders)))
    for group, worker in zip(groups, workers):
        assert {holders[i] for i in group} == {worker}


@given(sizes=chunk_sizes(max_chunks=12), seed=seeds(), n_groups=st.integers(1, 6))
def test_merge_in_order_does_not_depend_on_the_grouping(sizes, seed, n_groups):
    """Partition sums merged in partition order: bit for bit the same total
    whether the partitions ran in one group or many."""
    X, y, weight, params = _data(seed, 60, 3, "linear", True)
    parts = [GradientSums.of(chunk, params, LOSSES["linear"])
             for chunk in _split(X, y, weight, sizes)]
    empty = GradientSums.empty(3)
    one = merge_in_order([list(range(len(parts)))], [parts], empty)
    groups = split_evenly(list(range(len(parts))), n_groups)[::-1]
    many = merge_in_order(groups, [[parts[i] for i in g] for g in groups], empty)
    assert (many.loss, many.intercept, many.n_rows) == (
        one.loss, one.intercept, one.n_rows)
    np.testing.assert_array_equal(many.weights, one.weights)
