"""Named hypothesis strategies shared by the tests (tested in test_strategies.py).

Rows built here carry their identity: `y` holds a global row id, every feature
is a fixed function of it and so is the weight, so a test can tell whether a row
arrived whole, once, and where it came from.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk

# 0 and 1 are the edges a chunked pipeline gets wrong most often
MAX_CHUNK_ROWS = 40


def chunk_sizes(max_chunks: int = 12) -> st.SearchStrategy[list[int]]:
    """Lists of chunk lengths in rows, empty chunks and 1-row chunks included."""
    size = st.one_of(st.sampled_from([0, 1]), st.integers(0, MAX_CHUNK_ROWS))
    return st.lists(size, max_size=max_chunks)


def capacities() -> st.SearchStrategy[int]:
    """Shuffle-buffer capacities in rows: 1, small, and larger than most inputs."""
    return st.one_of(st.just(1), st.integers(1, 3 * MAX_CHUNK_ROWS))


def batch_sizes() -> st.SearchStrategy[int]:
    """Mini-batch sizes in rows, 1 (per-row SGD) included."""
    return st.one_of(st.just(1), st.integers(1, 2 * MAX_CHUNK_ROWS))


def seeds() -> st.SearchStrategy[int]:
    """Seeds for `numpy.random.default_rng`."""
    return st.integers(0, 2**32 - 1)


def identified_chunk(first_id: int, n_rows: int, n_features: int,
                     weighted: bool) -> Chunk:
    """A chunk whose rows are ids first_id .. first_id + n_rows - 1 (in `y`).

    Feature j of row id r is r * (j + 1) + 0.5 and the weight is r + 0.25, so
    a row torn apart (X from one row, y from another) is detectable.
    """
    ids = np.arange(first_id, first_id + n_rows, dtype=np.float64)
    X = ids[:, None] * np.arange(1, n_features + 1) + 0.5
    weight = ids + 0.25 if weighted else None
    return Chunk(np.ascontiguousarray(X.reshape(n_rows, n_features)), ids, weight)


def assert_rows_whole(rows: Chunk) -> None:
    """Each row's features and weight are those `identified_chunk` gave its id."""
    n_features = rows.X.shape[1]
    expected = rows.y[:, None] * np.arange(1, n_features + 1) + 0.5
    np.testing.assert_array_equal(rows.X, expected)
    if rows.weight is not None:
        np.testing.assert_array_equal(rows.weight, rows.y + 0.25)


@st.composite
def identified_chunks(draw, sizes=None) -> list[Chunk]:
    """Lists of chunks with consecutive row ids, 0 to 3 features, maybe weighted."""
    lengths = draw(chunk_sizes() if sizes is None else sizes)
    n_features = draw(st.integers(0, 3))
    weighted = draw(st.booleans())
    chunks, first_id = [], 0
    for n_rows in lengths:
        chunks.append(identified_chunk(first_id, n_rows, n_features, weighted))
        first_id += n_rows
    return chunks


@st.composite
def chunk_refs(draw) -> list[ChunkRef]:
    """Chunk references over 1 to 3 files, in file order, first rows consistent."""
    refs = []
    for number in range(draw(st.integers(1, 3))):
        first_row = 0
        for index, n_rows in enumerate(draw(chunk_sizes(max_chunks=6))):
            refs.append(ChunkRef(f"part-{number}.csv", index, first_row, n_rows,
                                 first_row + 2))
            first_row += n_rows
    return refs


@st.composite
def numeric_columns(draw, max_rows: int = 60) -> dict[str, np.ndarray]:
    """Columns `id` (row number), `a` (int64) and `b` (finite float64), one length."""
    n_rows = draw(st.integers(0, max_rows))
    integers = st.integers(-(10**12), 10**12)
    floats = st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
    a = draw(st.lists(integers, min_size=n_rows, max_size=n_rows))
    b = draw(st.lists(floats, min_size=n_rows, max_size=n_rows))
    return {
        "id": np.arange(n_rows, dtype=np.int64),
        "a": np.array(a, dtype=np.int64),
        "b": np.array(b, dtype=np.float64),
    }


def csv_block_sizes() -> st.SearchStrategy[int]:
    """CSV block sizes in bytes that split a test file into many blocks.

    The smallest still holds the longest line `numeric_columns` writes (about
    50 bytes): pyarrow refuses a row that straddles two blocks.
    """
    return st.integers(128, 2048)


# ---------------------------------------------------------------- statistics

# the kinds of piece a column is cut into; each is a known trap for running
# statistics: overflowing squares, underflow, a variance that must be exactly 0,
# cancellation at a large offset, and nothing at all
PIECE_KINDS = ("ordinary", "huge", "tiny", "constant", "offset", "empty")


def _magnitudes(low: float, high: float) -> st.SearchStrategy[float]:
    """Floats of either sign whose magnitude lies in [low, high]."""
    magnitude = st.floats(low, high)
    return st.tuples(st.sampled_from([-1.0, 1.0]), magnitude).map(
        lambda pair: pair[0] * pair[1]
    )


@st.composite
def statistics_piece(
    draw, kind: str, n_features: int, offset: float
) -> np.ndarray:
    """One float64 piece of shape (n_rows, n_features) of the given kind.

    `offset` is shared by the offset pieces of one draw, so that they form one
    column of small noise riding on a large value, as a timestamp column does.
    """
    n_rows = 0 if kind == "empty" else draw(st.integers(1, 12))
    shape = (n_rows, n_features)
    if kind == "constant":
        value = draw(st.floats(-1e12, 1e12))
        return np.full(shape, value)
    elements = {
        "ordinary": st.floats(-1e6, 1e6),
        "huge": _magnitudes(1e100, 1e150),
        "tiny": _magnitudes(1e-100, 1e-50),
        "offset": st.floats(-1e3, 1e3),
        "empty": st.just(0.0),
    }[kind]
    values = draw(hnp.arrays(np.float64, shape, elements=elements))
    return offset + values if kind == "offset" else values


@st.composite
def statistics_pieces(
    draw, kinds=PIECE_KINDS, max_pieces: int = 6
) -> list[np.ndarray]:
    """1 to `max_pieces` pieces of one table (1 to 3 columns), kinds mixed.

    A piece may hold NaN (a missing value) anywhere when the draw says so.
    """
    n_features = draw(st.integers(1, 3))
    offset = draw(st.sampled_from([1e9, 1e12, 1e15, -1e15]))
    chosen = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=max_pieces))
    pieces = [draw(statistics_piece(kind, n_features, offset)) for kind in chosen]
    if draw(st.booleans()):
        for piece in pieces:
            holes = draw(hnp.arrays(np.bool_, piece.shape))
            piece[holes] = np.nan
    return pieces


@st.composite
def gradient_runs(draw, max_features: int = 4, max_steps: int = 6) -> dict:
    """A short optimizer run: initial weights, active mask, L1 strength, and per
    step a weight gradient, an intercept gradient, a learning rate and an input
    batch X (rows of features on scales from 1e-3 to 1e3, some exact zeros).
    """
    n_features = draw(st.integers(1, max_features))
    n_steps = draw(st.integers(1, max_steps))
    # magnitudes below 1e-6 become exact zeros: a step of lr / s for a scale s
    # near the float limit overflows in any implementation of the formula
    value = st.floats(-10, 10, allow_nan=False, allow_infinity=False).map(
        lambda v: 0.0 if abs(v) < 1e-6 else v
    )

    def vector(n):
        return np.array(draw(st.lists(value, min_size=n, max_size=n)))

    active = np.array(draw(st.lists(st.booleans(), min_size=n_features,
                                    max_size=n_features)))
    scales = 10.0 ** np.array(draw(st.lists(st.integers(-3, 3), min_size=n_features,
                                            max_size=n_features)))
    steps = []
    for _ in range(n_steps):
        n_rows = draw(st.integers(1, 4))
        X = vector(n_rows * n_features).reshape(n_rows, n_features) * scales
        steps.append({
            "weights": vector(n_features), "intercept": draw(value),
            "learning_rate": draw(st.floats(1e-3, 1.0)), "X": X,
        })
    return {"weights": vector(n_features), "intercept": draw(value),
            "active": active, "l1": draw(st.sampled_from([0.0, 0.0, 0.3])),
            "fit_intercept": draw(st.booleans()), "steps": steps}


# ---------------------------------------------------------------- cost logs

# how a block's update costs are drawn: costs over twelve orders of magnitude
# make the order of additions show in the sums' last bits; zeros (-0.0 among
# them) and zero weights give windows of nothing; inf and NaN a diverging run
COST_KINDS = ("ordinary", "spread", "zeros", "blown_up")
# longer than the longest window (1000), so a block's windows end in it
MAX_BLOCK_UPDATES = 2500


@st.composite
def update_blocks(draw, max_blocks: int = 6) -> dict:
    """A run of update blocks as the engine hands them to the cost log.

    Returns {"log_every", "update_count", "rows_seen", "epoch_sums" (where the
    log stands, as at the start or after a resume), "blocks": [(costs,
    weights, rows, learning_rates), ...] (float64 arrays of one length per
    block, 0, 1, a few or MAX_BLOCK_UPDATES updates)}.
    """
    rng = np.random.default_rng(draw(seeds()))
    size = st.one_of(st.sampled_from([0, 1, 999, 1000, 1001]),
                     st.integers(0, 40), st.integers(0, MAX_BLOCK_UPDATES))
    blocks = []
    for n_updates in draw(st.lists(size, min_size=1, max_size=max_blocks)):
        kind = draw(st.sampled_from(COST_KINDS))
        blocks.append((_block_costs(rng, kind, n_updates),
                       *_block_weights_and_rows(rng, draw(st.booleans()), n_updates),
                       rng.uniform(1e-4, 1.0, n_updates)))
    resumed = draw(st.booleans())
    return {
        "log_every": draw(st.one_of(st.just(1), st.integers(1, 40),
                                    st.integers(1, 3000))),
        "update_count": draw(st.integers(0, 10**6)) if resumed else 0,
        "rows_seen": draw(st.integers(0, 10**9)) if resumed else 0,
        "epoch_sums": (np.array([rng.uniform(0, 1e6), rng.uniform(1, 1e6)])
                       if resumed else np.zeros(2)),
        "blocks": blocks,
    }


def _block_costs(rng: np.random.Generator, kind: str, n_updates: int) -> np.ndarray:
    """Update costs of one kind (see COST_KINDS)."""
    if kind == "ordinary":
        return rng.uniform(0, 5, n_updates)
    costs = 10.0 ** rng.uniform(-6, 6, n_updates)
    if kind == "zeros":
        costs[rng.random(n_updates) < 0.5] = 0.0
        costs[rng.random(n_updates) < 0.2] = -0.0
    elif kind == "blown_up":
        costs[rng.random(n_updates) < 0.02] = np.inf
        costs[rng.random(n_updates) < 0.01] = np.nan
    return costs


def _block_weights_and_rows(
    rng: np.random.Generator, weighted: bool, n_updates: int
) -> tuple[np.ndarray, np.ndarray]:
    """Total weights and rows of a block's batches: 1 row of weight 1 each, or
    batches of up to 64 rows and weights with some exact zeros."""
    if not weighted:
        return np.ones(n_updates), np.ones(n_updates)
    rows = rng.integers(1, 65, n_updates).astype(np.float64)
    weights = rows * rng.uniform(0, 3, n_updates)
    weights[rng.random(n_updates) < 0.1] = 0.0
    return weights, rows


# ---------------------------------------------------------------- tables on disk

# Arrow types a feature column may have; booleans and float32 are read from
# Parquet as numbers, see `csv_copy` for their CSV form
FEATURE_TYPES = (
    pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint32(),
    pa.float32(), pa.float64(), pa.bool_(),
)


def _values(arrow_type: pa.DataType) -> st.SearchStrategy:
    """Python values of an Arrow type, extremes included, never NaN or inf."""
    if pa.types.is_boolean(arrow_type):
        return st.booleans()
    if pa.types.is_floating(arrow_type):
        width = 32 if arrow_type == pa.float32() else 64
        return st.floats(allow_nan=False, allow_infinity=False, width=width)
    info = np.iinfo(arrow_type.to_pandas_dtype())
    extremes = st.sampled_from([int(info.min), int(info.max), 0, 2**53 + 1])
    in_range = extremes.filter(lambda value: info.min <= value <= info.max)
    return st.one_of(in_range, st.integers(int(info.min), int(info.max)))


@st.composite
def column(draw, arrow_type: pa.DataType, n_rows: int, nulls: bool) -> pa.Array:
    """An Arrow array of `n_rows` values of `arrow_type`, with nulls if asked."""
    values = draw(st.lists(_values(arrow_type), min_size=n_rows, max_size=n_rows))
    mask = None
    if nulls:
        mask = np.array(draw(st.lists(st.booleans(), min_size=n_rows,
                                      max_size=n_rows)), dtype=bool)
    return pa.array(values, type=arrow_type, mask=mask)


@st.composite
def tables(
    draw, max_rows: int = 40, nulls: bool = True, weighted: bool | None = None,
    moderate: bool = False,
) -> pa.Table:
    """Tables of feature columns x0, x1, ..., a float64 target y, maybe a weight w.

    Features have any of `FEATURE_TYPES`; with `moderate`, every feature is a
    float64 of magnitude at most 10 (for tests that train on the table). The
    target is a finite float64 in [-1e3, 1e3]; the weight, if any, a float64 in
    [0, 10]. With `nulls`, any feature, target or weight value may be null.
    """
    n_rows = draw(st.integers(0, max_rows))
    n_features = draw(st.integers(1, 3))
    use_nulls = nulls and draw(st.booleans())
    columns = {}
    for j in range(n_features):
        kind = pa.float64() if moderate else draw(st.sampled_from(FEATURE_TYPES))
        if moderate:
            values = draw(st.lists(st.floats(-10, 10), min_size=n_rows,
                                   max_size=n_rows))
            columns[f"x{j}"] = pa.array(values, pa.float64())
        else:
            columns[f"x{j}"] = draw(column(kind, n_rows, use_nulls))
    target = draw(st.lists(st.floats(-1e3, 1e3), min_size=n_rows, max_size=n_rows))
    columns["y"] = pa.array(target, pa.float64())
    if weighted or (weighted is None and draw(st.booleans())):
        weight = draw(st.lists(st.floats(0, 10), min_size=n_rows, max_size=n_rows))
        columns["w"] = pa.array(weight, pa.float64())
    return pa.table(columns)


def features_of(table: pa.Table) -> list[str]:
    """The feature column names of a table drawn from `tables`."""
    return [name for name in table.column_names if name.startswith("x")]


def csv_copy(table: pa.Table) -> pa.Table:
    """The table as its CSV copy holds it: booleans as 1/0, float32 as float64.

    CSV text has no types. pyarrow writes a boolean as `true`, which streamgd's
    CSV reader refuses in a numeric column, and a float32 in its shortest float32
    form (0.1 for the float32 nearest 0.1), which reads back as another float64
    than Parquet's exact widening; the copy therefore writes the values a
    Parquet reader sees.
    """
    columns = {}
    for name, values in zip(table.column_names, table.columns):
        if pa.types.is_boolean(values.type):
            values = values.cast(pa.int8())
        elif values.type == pa.float32():
            values = values.cast(pa.float64())
        columns[name] = values
    return pa.table(columns)


def write_copies(
    table: pa.Table, folder: Path, row_group_size: int, block_size: int
) -> tuple[Path, Path, int]:
    """Write `table` as data.parquet and data.csv under `folder`.

    Returns the two paths and a CSV block size, in bytes, at least
    `block_size` and large enough for the file's longest line (pyarrow cannot
    parse a row longer than its block).
    """
    parquet_path, csv_path = folder / "data.parquet", folder / "data.csv"
    pq.write_table(table, parquet_path, row_group_size=max(row_group_size, 1))
    pa_csv.write_csv(csv_copy(table), csv_path)
    longest = max(len(line) for line in csv_path.read_bytes().splitlines())
    return parquet_path, csv_path, max(block_size, 2 * longest + 2)


@st.composite
def layouts(draw) -> dict:
    """How to store one table: format, files, row-group rows or CSV block bytes.

    `cuts` are fractions of the rows where one file ends and the next begins
    (0 to 2 of them, empty files included).
    """
    return {
        "format": draw(st.sampled_from(["parquet", "csv"])),
        "cuts": sorted(draw(st.lists(st.floats(0, 1), max_size=2))),
        "row_group_size": draw(st.integers(1, 16)),
        "block_size": draw(csv_block_sizes()),
    }


def write_layout(table: pa.Table, folder: Path, layout: dict) -> dict:
    """Write `table` under `folder` as `layout` says; return the job's data keys.

    Files are named part-0, part-1, ... so that the folder lists them in order.
    """
    folder.mkdir(parents=True, exist_ok=True)
    bounds = [0, *(round(cut * table.num_rows) for cut in layout["cuts"]),
              table.num_rows]
    longest = 0
    for number, (start, stop) in enumerate(zip(bounds, bounds[1:])):
        part = table.slice(start, stop - start)
        path = folder / f"part-{number}.{layout['format']}"
        if layout["format"] == "parquet":
            pq.write_table(part, path, row_group_size=layout["row_group_size"])
        else:
            pa_csv.write_csv(csv_copy(part), path)
            lines = path.read_bytes().splitlines()
            longest = max(longest, *(len(line) for line in lines))
    keys = {"paths": str(folder)}
    if layout["format"] == "csv":
        keys["csv"] = {"block_size": max(layout["block_size"], 2 * longest + 2)}
    return keys
