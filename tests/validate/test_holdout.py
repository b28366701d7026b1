"""The hashed holdout: stable membership, whatever the chunking or the seed."""

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streamgd
from streamgd.config import make_config
from streamgd.errors import ConfigError
from streamgd.readers import column_plan, open_source
from streamgd.train.prepare import decoder_for
from streamgd.validate import holdout_fraction_of, in_holdout
from streamgd.validate.holdout import column_hash, row_hash
from streamgd.readers.chunks import ChunkRef
from tests.helpers import write_parquet
from tests.strategies import csv_block_sizes, seeds

N_ROWS = 600


@pytest.fixture(scope="module")
def identified(tmp_path_factory):
    """A CSV of 600 rows whose target is the row id; every 7th row misses x."""
    folder = tmp_path_factory.mktemp("holdout")
    ids = np.arange(N_ROWS, dtype=np.float64)
    x = np.where(ids % 7 == 3, np.nan, ids * 0.5)
    table = pa.table({"x": pa.array(x, from_pandas=True), "y": ids,
                      "key": [f"k{i % 250}" for i in range(N_ROWS)]})
    path = folder / "rows.csv"
    import pyarrow.csv as pa_csv

    pa_csv.write_csv(table, path)
    return path


def _held_ids(path, block_size, key=None, fraction=0.3):
    """Ids (targets) of the rows the holdout takes, reading in `block_size` blocks."""
    job = {"data": {"paths": [str(path)], "features": ["x"], "target": "y",
                    "missing": "drop", "csv": {"block_size": block_size}},
           "validation": {"holdout": fraction, "key": key}}
    config = make_config(job)
    plan = column_plan(config)
    source = open_source(config, plan)
    try:
        decoder, held = decoder_for(config, plan), []
        for ref in source.chunks:
            table = source.read(ref)
            chunk = decoder.decode(table, ref)
            mask = holdout_fraction_of(table, ref, chunk.kept, key, fraction)
            held.extend(chunk.y[mask].tolist())
        return sorted(held)
    finally:
        source.close()


@settings(max_examples=8)
@given(csv_block_sizes(), st.sampled_from([None, "key"]))
def test_holdout_membership_is_the_same_for_any_chunk_size(identified, block, key):
    """Cutting the file into other blocks holds out exactly the same rows."""
    assert _held_ids(identified, block, key) == _held_ids(identified, 1 << 20, key)


def test_holdout_takes_about_the_fraction_and_no_dropped_row(identified):
    """About 30% of the kept rows are held out, none of the dropped ones."""
    held = _held_ids(identified, 1 << 20)
    kept = [i for i in range(N_ROWS) if i % 7 != 3]
    assert set(held) <= set(kept)
    # binomial(514, 0.3): mean 154, sd about 10
    assert abs(len(held) - 0.3 * len(kept)) < 4 * np.sqrt(len(kept) * 0.21)


def test_holdout_key_column_keeps_equal_keys_together(identified):
    """Rows sharing a key value are held out together."""
    held = set(_held_ids(identified, 1 << 20, key="key"))
    for i in range(N_ROWS):
        if i % 7 == 3:
            continue
        twins = [j for j in range(i % 250, N_ROWS, 250) if j % 7 != 3]
        assert all((j in held) == (i in held) for j in twins)


def test_row_hash_depends_on_file_name_not_folder():
    """The same file name in another folder gives the same hashes."""
    rows = np.arange(50)
    first = row_hash(ChunkRef("/a/data.csv", 0, 10, 50), rows)
    moved = row_hash(ChunkRef("/elsewhere/data.csv", 3, 10, 50), rows)
    other = row_hash(ChunkRef("/a/other.csv", 0, 10, 50), rows)
    assert (first == moved).all() and not (first == other).all()


def test_column_hash_treats_equal_numbers_alike():
    """3 (int) and 3.0 (float) are one key; -0.0 and 0.0 too; nulls agree."""
    ints = column_hash(pa.array([3, 0, None], pa.int64()))
    floats = column_hash(pa.array([3.0, -0.0, None], pa.float64()))
    assert (ints == floats).all()


def test_in_holdout_extremes():
    """Fraction 0 holds out nothing; a fraction near 1 nearly everything."""
    hashes = row_hash(ChunkRef("f.csv", 0, 0, 1000), np.arange(1000))
    assert not in_holdout(hashes, 0.0).any()
    assert in_holdout(hashes, 0.999).sum() > 980


@settings(max_examples=5)
@given(seeds(), st.sampled_from([1, 7, 32]))
def test_holdout_rows_do_not_depend_on_seed_or_batch(tmp_path_factory, seed, batch):
    """Training with any seed and batch size evaluates the same holdout rows."""
    folder = tmp_path_factory.mktemp("seeded")
    rng = np.random.default_rng(1)
    x = rng.normal(size=400)
    write_parquet(folder / "d.parquet", {"x": x, "y": 2 * x + 1}, row_group_size=50)
    result = streamgd.train({
        "data": {"paths": [str(folder)], "features": ["x"], "target": "y"},
        "optimizer": {"batch_size": batch, "max_epochs": 1},
        "validation": {"holdout": 0.25}, "seed": seed,
        "output": {"dir": str(folder / "out")}})
    baseline = streamgd.train({
        "data": {"paths": [str(folder)], "features": ["x"], "target": "y"},
        "optimizer": {"max_epochs": 1}, "validation": {"holdout": 0.25},
        "output": {"dir": str(folder / "base")}})
    # the constant is fitted on the training rows: the same rows give the same
    # sums, up to the order of the (shuffled) additions
    training, expected = result.model.training, baseline.model.training
    assert training["holdout_rows"] == expected["holdout_rows"]
    for key in ("constant", "constant_holdout_cost"):
        assert training[key] == pytest.approx(expected[key], rel=1e-12)


def test_holdout_and_validation_paths_exclude_each_other(tmp_path):
    """Both at once is refused, naming the two keys."""
    job = {"data": {"paths": ["a.csv"], "features": ["x"], "target": "y"},
           "validation": {"holdout": 0.1, "paths": "v.csv"}}
    with pytest.raises(ConfigError, match="validation.holdout and validation.paths"):
        make_config(job)
