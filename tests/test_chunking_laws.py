"""Invariance to chunking, and Parquet and CSV copies that read alike.

What must not depend on how a table is split into files, row groups or CSV
blocks, for a fixed job:

- the rows, in file order, bit for bit (values, drops, weights);
- the normalization statistics: counts and extrema exactly, mean and variance
  to rounding (merges round differently for different splits);
- the full-batch gradient at any parameters, to rounding;
- with `shuffle.enabled: false`, the trained model: to rounding, and bit for
  bit under `scaler: none` without sample weights, where no rounding of the
  statistics or of the mean weight plays a part and the engine sees the same
  batches.

With shuffling on, the model depends on the chunking by design: each epoch
permutes the chunks, and a permutation of 3 chunks is not one of 5, so a fixed
seed orders the rows differently. There, only the laws of the shuffle hold
(every row once per epoch, same seed same order: tests/train/test_engine_laws).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import streamgd
from streamgd.config import make_config
from streamgd.errors import DataError
from streamgd.model.linear import LinearParams, batch_gradient
from streamgd.model.losses import LOSSES
from streamgd.model.penalties import Penalty
from streamgd.readers import column_plan, open_source
from streamgd.train.prepare import decoder_for, prepare
from tests import strategies
from tests.helpers import END_TO_END, recorded_batches, scratch_folder


def job(data: dict, table: pa.Table, out, **sections) -> dict:
    """A linear job on `data` (paths and CSV keys) over the table's columns."""
    tree = {
        "data": {**data, "features": strategies.features_of(table), "target": "y",
                 "weight": "w" if "w" in table.column_names else None,
                 "missing": sections.pop("missing", "drop")},
        "output": {"dir": str(out)},
    }
    for name, values in sections.items():
        tree[name] = values
    return tree


def rows_in_file_order(tree: dict):
    """(X, y, weight or None, rows dropped) of every chunk, concatenated."""
    config = make_config(tree)
    plan = column_plan(config)
    source = open_source(config, plan)
    decoder = decoder_for(config, plan)
    try:
        chunks = [decoder.decode(source.read(ref), ref) for ref in source.chunks]
    finally:
        source.close()
    n_features = len(config["data.features"])
    X = np.concatenate([c.X for c in chunks] + [np.empty((0, n_features))])
    y = np.concatenate([c.y for c in chunks] + [np.empty(0)])
    weight = None
    if config["data.weight"] is not None:
        weight = np.concatenate([c.weight for c in chunks] + [np.empty(0)])
    return X, y, weight, sum(c.n_dropped for c in chunks)


def assert_bitwise_equal(first, second) -> None:
    """Equal arrays bit for bit: -0.0 is not 0.0 and NaN equals NaN."""
    if first is None or second is None:
        assert first is None and second is None
        return
    first, second = np.asarray(first), np.asarray(second)
    assert first.shape == second.shape
    np.testing.assert_array_equal(first.view(np.int64), second.view(np.int64))


# ---------------------------------------------------------------- readers


@given(table=strategies.tables(), block_size=strategies.csv_block_sizes(),
       row_group_size=st.integers(1, 16), missing=st.sampled_from(["drop", "impute"]))
def test_parquet_and_csv_copies_give_the_same_rows(
    table, block_size, row_group_size, missing
):
    """Any types, nulls and extreme values: both copies decode to the same bits."""
    with scratch_folder() as folder:
        parquet_path, csv_path, block = strategies.write_copies(
            table, folder, row_group_size, block_size)
        from_parquet = rows_in_file_order(job(
            {"paths": str(parquet_path)}, table, folder / "out", missing=missing))
        from_csv = rows_in_file_order(job(
            {"paths": str(csv_path), "csv": {"block_size": block}}, table,
            folder / "out", missing=missing))
    for one, other in zip(from_parquet[:3], from_csv[:3]):
        assert_bitwise_equal(one, other)
    assert from_parquet[3] == from_csv[3]


@settings(END_TO_END)
@given(table=strategies.tables(moderate=True), block_size=strategies.csv_block_sizes(),
       row_group_size=st.integers(1, 16), batch_size=strategies.batch_sizes())
def test_parquet_and_csv_copies_give_the_same_batches(
    table, block_size, row_group_size, batch_size
):
    """Unshuffled, both copies train on the same batches, and to the same bits."""
    assume(table.num_rows > 0)
    sections = {"preprocess": {"scaler": "none"}, "shuffle": {"enabled": False},
                "optimizer": {"batch_size": batch_size, "max_epochs": 2,
                              "learning_rate": 0.001}}
    with scratch_folder() as folder:
        parquet_path, csv_path, block = strategies.write_copies(
            table, folder, row_group_size, block_size)
        runs = []
        for data in ({"paths": str(parquet_path)},
                     {"paths": str(csv_path), "csv": {"block_size": block}}):
            with recorded_batches() as batches:
                model = _train_or_none(job(data, table, folder / "out", **sections))
            runs.append((batches, model))

    (parquet_batches, parquet_model), (csv_batches, csv_model) = runs
    assert len(parquet_batches) == len(csv_batches)
    for one, other in zip(parquet_batches, csv_batches):
        for array, twin in zip(one, other):
            assert_bitwise_equal(array, twin)
    if parquet_model is not None:
        assert_same_model(parquet_model.params, csv_model.params,
                          bitwise="w" not in table.column_names)


def assert_same_model(one, other, bitwise: bool) -> None:
    """Equal parameters, bit for bit or to rounding.

    Sample weights leave only rounding: each step scales with the mean weight,
    a sum that rounds differently chunk by chunk.
    """
    if bitwise:
        assert_bitwise_equal(one.weights, other.weights)
        assert_bitwise_equal(one.intercept, other.intercept)
        return
    np.testing.assert_allclose(one.weights, other.weights, rtol=1e-9, atol=1e-12)
    assert one.intercept == pytest.approx(other.intercept, rel=1e-9, abs=1e-12)


NOTHING_TO_TRAIN = ("no rows to train on", "every sample weight is 0")


def _train_or_none(tree: dict):
    """The trained model, or None when no row is left to train on (every row
    dropped, or every weight 0): both layouts must then agree on None."""
    try:
        return streamgd.train(tree).model
    except DataError as error:
        assert any(reason in str(error) for reason in NOTHING_TO_TRAIN)
        return None


# ---------------------------------------------------------------- chunking


@st.composite
def tables_and_layouts(draw, moderate: bool = True):
    """A table and two ways of storing it."""
    table = draw(strategies.tables(moderate=moderate))
    return table, draw(strategies.layouts()), draw(strategies.layouts())


@given(tables_and_layouts(moderate=False))
def test_rows_do_not_depend_on_files_row_groups_or_blocks(case):
    """Two layouts of one table decode to the same rows in file order."""
    table, first, second = case
    with scratch_folder() as folder:
        rows = [
            rows_in_file_order(job(strategies.write_layout(
                table, folder / name, layout), table, folder / "out"))
            for name, layout in (("a", first), ("b", second))
        ]
    for one, other in zip(rows[0][:3], rows[1][:3]):
        assert_bitwise_equal(one, other)
    assert rows[0][3] == rows[1][3]


@given(tables_and_layouts(), st.data())
def test_statistics_and_full_gradient_do_not_depend_on_chunking(case, data):
    """The statistics pass and the full-batch gradient agree to rounding."""
    table, first, second = case
    results = []
    with scratch_folder() as folder:
        for name, layout in (("a", first), ("b", second)):
            tree = job(strategies.write_layout(table, folder / name, layout), table,
                       folder / "out")
            results.append(_statistics_and_gradient(tree, data))
    if results[0] is None:
        assert results[1] is None
        return
    (stats, mean_weight, gradient), (twin, twin_weight, twin_gradient) = results
    np.testing.assert_array_equal(stats.count, twin.count)
    np.testing.assert_array_equal(stats.minimum, twin.minimum)
    np.testing.assert_array_equal(stats.maximum, twin.maximum)
    np.testing.assert_allclose(stats.mean, twin.mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stats.variance, twin.variance, rtol=1e-10,
                               atol=1e-12)
    assert mean_weight == pytest.approx(twin_weight, rel=1e-12)
    np.testing.assert_allclose(gradient, twin_gradient, rtol=1e-10, atol=1e-9)


def _statistics_and_gradient(tree: dict, data):
    """(statistics, mean weight, full-batch gradient at drawn parameters), or
    None when no row is left to train on."""
    config = make_config(tree)
    plan = column_plan(config)
    source = open_source(config, plan)
    try:
        prepared = prepare(config, source, plan)
    except DataError as error:
        assert any(reason in str(error) for reason in NOTHING_TO_TRAIN)
        return None
    n_features = len(config["data.features"])
    params = LinearParams(np.linspace(-1, 1, n_features), 0.5)
    # the gradient of all rows: chunk gradients weighted by their total weight
    total, gradient = 0.0, np.zeros(n_features + 1)
    try:
        for ref in source.chunks:
            chunk = prepared.decoder.decode(source.read(ref), ref)
            if chunk.n_rows == 0:
                continue
            part = batch_gradient(chunk.X, chunk.y, chunk.weight, params,
                                  LOSSES["linear"], Penalty(l2=0.1))
            gradient += part.total_weight * np.append(part.weights, part.intercept)
            total += part.total_weight
    finally:
        source.close()
    return prepared.stats, prepared.mean_weight, gradient / max(total, 1e-300)


@settings(END_TO_END)
@given(tables_and_layouts(), strategies.batch_sizes(),
       st.sampled_from(["none", "standard"]))
def test_unshuffled_model_does_not_depend_on_chunking(case, batch_size, scaler):
    """Unshuffled, two layouts train the same model: bit for bit without a
    scaler, to rounding with one (the statistics round differently)."""
    table, first, second = case
    assume(table.num_rows > 0)
    sections = {"preprocess": {"scaler": scaler}, "shuffle": {"enabled": False},
                "optimizer": {"batch_size": batch_size, "max_epochs": 2,
                              "learning_rate": 0.001}}
    with scratch_folder() as folder:
        models = [
            _train_or_none(job(strategies.write_layout(table, folder / name, layout),
                               table, folder / f"out-{name}", **sections))
            for name, layout in (("a", first), ("b", second))
        ]
    if models[0] is None:
        assert models[1] is None
        return
    one, other = (model.params for model in models)
    unweighted = "w" not in table.column_names
    assert_same_model(one, other, bitwise=scaler == "none" and unweighted)
