"""Column-by-column sums equal the decoded route and numpy, and fall back exactly."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streamgd.errors import NonFiniteValueError
from streamgd.fullbatch import kernel
from streamgd.fullbatch.gradient import (
    GradientSums, ScaledBlock, Scratch, block_sums, dense_sums,
)
from streamgd.fullbatch.partitions import Partition, PartitionReader
from streamgd.fullbatch.passes import (
    ScaledData, cached_sums, group_sums, partition_sums,
)
from streamgd.model.labels import LabelMap
from streamgd.model.linear import LinearParams
from streamgd.model.losses import LOSSES
from streamgd.normalize import RunningStats, Scaler
from streamgd.readers import ChunkRef, ColumnPlan, CsvOptions
from streamgd.readers.decode import Decoder

FEATURES = ["a", "b", "c"]


def _table(seed, n_rows, weighted=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_rows, 3)) * [1e3, 0.01, 5.0] + [1e6, -2.0, 0.0]
    columns = {name: X[:, j] for j, name in enumerate(FEATURES)}
    columns["y"] = rng.normal(size=n_rows) * 4.0
    if weighted:
        columns["w"] = rng.random(n_rows) + 0.1
    return pa.table(columns), X


def _decoder(weighted=False, missing="error", labels=None):
    numeric = (*FEATURES, "w") if weighted else tuple(FEATURES)
    plan = ColumnPlan(numeric, "y", labels is None)
    return Decoder(list(FEATURES), plan, "w" if weighted else None, missing, labels)


def _scaler(X):
    return Scaler.fit("standard", RunningStats.of(X))


def _decoded_sums(decoder, scaler, table, params, loss):
    """The reference route: decode, scale the row-major chunk, then sum."""
    chunk = decoder.decode(table, ChunkRef("t", 0, 0, table.num_rows))
    scaled = type(chunk)(scaler.transform(chunk.X), chunk.y, chunk.weight)
    return GradientSums.of(scaled, params, loss)


def _assert_same(actual, expected):
    assert actual.loss == expected.loss
    np.testing.assert_array_equal(actual.weights, expected.weights)
    assert (actual.intercept, actual.total_weight, actual.n_rows) == (
        expected.intercept, expected.total_weight, expected.n_rows)


@pytest.mark.parametrize("kind", ["linear", "logistic"])
@pytest.mark.parametrize("weighted", [False, True])
def test_dense_sums_equal_the_decoded_route_bit_for_bit(kind, weighted):
    """Straight from Arrow columns, the sums are those of decode + scale + sum."""
    table, X = _table(1, 333, weighted)
    if kind == "logistic":
        table = table.set_column(3, "y", pa.array((X[:, 2] > 0).astype(float)))
    decoder, scaler = _decoder(weighted), _scaler(X)
    params = LinearParams(np.array([0.3, -1.2, 2.0]), 0.7)
    ref = ChunkRef("t", 0, 0, table.num_rows)

    dense = dense_sums(decoder, scaler, table, ref, params, LOSSES[kind])
    assert dense is not None
    _assert_same(dense, _decoded_sums(decoder, scaler, table, params, LOSSES[kind]))


def test_block_sums_equal_numpy_on_the_scaled_matrix():
    """z = Xw + b, the losses and X^T slopes, as numpy computes them."""
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(200, 4)), rng.normal(size=200)
    weight = rng.random(200)
    params = LinearParams(rng.normal(size=4), -0.4)
    sums = block_sums(ScaledBlock(np.ascontiguousarray(X.T), y, weight), params,
                      LOSSES["linear"])
    residual = X @ params.weights + params.intercept - y
    assert sums.loss == pytest.approx(0.5 * (weight * residual**2).sum(), rel=1e-12)
    np.testing.assert_allclose(sums.weights, X.T @ (weight * residual), rtol=1e-11)
    assert sums.intercept == pytest.approx((weight * residual).sum(), rel=1e-11)
    assert (sums.total_weight, sums.n_rows) == (pytest.approx(weight.sum()), 200)


def test_dense_sums_leave_nulls_and_other_types_to_the_decoder():
    """A null (missing-value policy), an int column or a null target: None."""
    table, X = _table(2, 10)
    decoder, scaler = _decoder(missing="drop"), _scaler(X)
    params, ref = LinearParams(np.ones(3), 0.0), ChunkRef("t", 0, 0, 10)
    with_null = table.set_column(0, "a", pa.array([None, *X[1:, 0]]))
    as_int = table.set_column(1, "b", pa.array(np.arange(10)))
    null_target = table.set_column(3, "y", pa.array([1.0] * 9 + [None]))
    for changed in (with_null, as_int, null_target, table.slice(0, 0)):
        assert dense_sums(decoder, scaler, changed, ref, params,
                          LOSSES["linear"]) is None


def test_a_nan_feature_is_named_by_the_decoder_after_the_fallback(tmp_path):
    """NaN in a float64 column: the pass falls back and the error names its row,
    even where the weight of that column is 0."""
    table, X = _table(3, 50)
    values = X[:, 1].copy()
    values[17] = np.nan
    table = table.set_column(1, "b", pa.array(values))
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    data = ScaledData(PartitionReader(_decoder().plan, CsvOptions()), _decoder(),
                      _scaler(X))
    params = LinearParams(np.array([1.0, 0.0, 1.0]), 0.0)
    partition = Partition(str(path), "parquet", 0, 0, 50)
    with pytest.raises(NonFiniteValueError, match=r"'b'.*row 17"):
        partition_sums(data, partition, params, LOSSES["linear"])


def test_cached_blocks_give_the_sums_of_the_files_for_mixed_blocks(tmp_path):
    """Blocks summed from columns and blocks decoded (nulls imputed, text labels)
    give the same sums from a worker's cache as from the files, bit for bit."""
    table, X = _table(4, 300, weighted=True)
    labels = np.where(X[:, 2] > 0, "up", "down").astype(object)
    table = table.set_column(3, "y", pa.array(labels))
    values = X[:, 0].copy().astype(object)
    values[250] = None
    table = table.set_column(0, "a", pa.array(values, pa.float64()))
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=100)

    decoder = _decoder(True, "impute", LabelMap("down", "up"))
    decoder.impute_values = X.mean(axis=0)
    data = ScaledData(PartitionReader(decoder.plan, CsvOptions()), decoder,
                      _scaler(X))
    params, loss = LinearParams(np.array([0.2, 3.0, -0.5]), 0.1), LOSSES["logistic"]
    for group in range(3):
        partition = Partition(str(path), "parquet", group, 100 * group, 100)
        from_files = partition_sums(data, partition, params, loss)
        from_cache = cached_sums(data.load(partition), params, loss)
        _assert_same(from_cache, from_files)
        assert from_files.n_rows == 100


def test_a_group_read_through_one_open_file_gives_each_partitions_sums(tmp_path):
    """`group_sums` over row groups of two files, column-summed and decoded
    ones mixed, gives each partition's sums as read alone, bit for bit."""
    table, X = _table(5, 230, weighted=True)
    values = X[:, 1].copy().astype(object)
    values[130] = None  # the second row group is decoded (imputed)
    table = table.set_column(1, "b", pa.array(values, pa.float64()))
    paths = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    pq.write_table(table.slice(0, 150), paths[0], row_group_size=100)
    pq.write_table(table.slice(150), paths[1], row_group_size=30)
    partitions = [Partition(str(paths[0]), "parquet", g, 100 * g, n)
                  for g, n in enumerate([100, 50])]
    partitions += [Partition(str(paths[1]), "parquet", g, 30 * g, n)
                   for g, n in enumerate([30, 30, 20])]

    decoder = _decoder(True, "impute")
    decoder.impute_values = X.mean(axis=0)
    data = ScaledData(PartitionReader(decoder.plan, CsvOptions()), decoder,
                      _scaler(X))
    params, loss = LinearParams(np.array([0.2, 3.0, -0.5]), 0.1), LOSSES["linear"]
    grouped = group_sums(partitions, data, params, loss)
    assert len(grouped) == len(partitions)
    for partition, sums in zip(partitions, grouped):
        _assert_same(sums, partition_sums(data, partition, params, loss))
    assert sum(sums.n_rows for sums in grouped) == 230


@pytest.mark.parametrize("kind", ["linear", "logistic"])
def test_compiled_scaling_gives_numpys_sums_bit_for_bit(kind, monkeypatch):
    """The compiled scale-and-margins loop and the numpy route give the same
    sums, bit for bit, over values from 1e-300 to 1e12 and subnormal ones."""
    pytest.importorskip("numba")
    rng = np.random.default_rng(7)
    n_rows = 4099
    X = rng.normal(size=(n_rows, 3)) * [1e12, 1e-300, 3.0] + [5e12, 0.0, -1.0]
    X[:50, 2] = rng.normal(size=50) * 1e-310
    columns = {name: X[:, j] for j, name in enumerate(FEATURES)}
    columns["y"] = (X[:, 2] > -1.0).astype(float)
    table = pa.table(columns)
    decoder, scaler = _decoder(), _scaler(X)
    params = LinearParams(np.array([0.3, -1.2, 2.0]), 0.7)
    ref = ChunkRef("t", 0, 0, n_rows)

    compiled = dense_sums(decoder, scaler, table, ref, params, LOSSES[kind])
    monkeypatch.setattr(kernel, "_compiled", None)
    with_numpy = dense_sums(decoder, scaler, table, ref, params, LOSSES[kind])
    assert compiled is not None and with_numpy is not None
    _assert_same(compiled, with_numpy)
    assert compiled.n_rows == n_rows


def test_compiled_scaling_leaves_a_nan_to_the_decoder_too():
    """A NaN feature: the compiled route also returns None (the decoder then
    names it)."""
    pytest.importorskip("numba")
    table, X = _table(3, 50)
    values = X[:, 1].copy()
    values[17] = np.nan
    table = table.set_column(1, "b", pa.array(values))
    ref = ChunkRef("t", 0, 0, 50)
    params = LinearParams(np.ones(3), 0.0)
    assert dense_sums(_decoder(), _scaler(X), table, ref, params,
                      LOSSES["linear"]) is None


def test_scratch_reuses_its_memory_and_grows_when_asked_for_more():
    """An array no larger than the kept one shares its memory; a larger one is
    new; either has the shape asked for, C-contiguous."""
    scratch = Scratch()
    first = scratch.array("columns", (3, 10))
    smaller = scratch.array("columns", (2, 7))
    assert smaller.shape == (2, 7) and smaller.flags.c_contiguous
    assert np.shares_memory(first, smaller)
    larger = scratch.array("columns", (4, 10))
    assert larger.shape == (4, 10) and not np.shares_memory(first, larger)
    assert not np.shares_memory(larger, scratch.array("margins", (10,)))
