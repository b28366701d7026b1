"""Named hypothesis strategies shared by the tests (tested in test_strategies.py).

Rows built here carry their identity: `y` holds a global row id, every feature
is a fixed function of it and so is the weight, so a test can tell whether a row
arrived whole, once, and where it came from.
"""

from __future__ import annotations

import numpy as np
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
