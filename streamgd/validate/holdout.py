"""Which rows are held out: a stable hash of each row's key, compared to a fraction.

The key is a configured column's value, or the data file's name with the row's
number inside the file (counted before any row is dropped). Neither depends on
how the file is cut into chunks, on the shuffle, on the seed, on a resume or on the
machine, so the same rows are held out in every epoch of every run.

    u = mix64(key) / 2^64 in [0, 1)         held out when u < fraction

mix64 is the finaliser of SplitMix64 (Steele, Lea and Flood 2014): a bijection on
64-bit integers whose output bits each depend on every input bit, so consecutive
row numbers give independent-looking u. Texts and file names are first reduced to
64 bits with BLAKE2b, which, unlike Python's `hash`, is the same in every process.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamgd.readers.chunks import ChunkRef

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_NULL_KEY = np.uint64(0x6E756C6C6B657921)  # the key of a missing value


def mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 values (wrapping arithmetic)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


def text_key(text: str) -> np.uint64:
    """64 bits of BLAKE2b of a text: equal in every process and on every machine."""
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def row_hash(ref: ChunkRef, rows: np.ndarray) -> np.ndarray:
    """uint64 hashes of rows numbered `rows` (0-based, in the chunk) of `ref`'s file.

    The file enters by its name only, so moving the data folder keeps the holdout.
    """
    numbers = (ref.first_row + rows).astype(np.uint64)
    return mix64(numbers ^ mix64(np.array([text_key(Path(ref.file).name)]))[0])


def column_hash(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """uint64 hashes of a key column's values, equal for equal values.

    Numbers hash by their float64 value (so 3 and 3.0 are one key), texts by
    BLAKE2b; a missing key hashes to one fixed value.
    """
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        keys = np.array([_NULL_KEY if value is None else text_key(value)
                         for value in column.to_pylist()], dtype=np.uint64)
        return mix64(keys)
    values = pc.cast(column, pa.float64(), safe=False)
    nulls = values.is_null().to_numpy(zero_copy_only=False)
    numbers = values.fill_null(0.0).to_numpy().astype(np.float64) + 0.0  # -0 -> 0
    keys = np.where(nulls, _NULL_KEY, numbers.view(np.uint64))
    return mix64(keys)


def in_holdout(hashes: np.ndarray, fraction: float) -> np.ndarray:
    """bool array: True for rows held out, about `fraction` of them."""
    uniform = (hashes >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return uniform < fraction


def holdout_fraction_of(
    table: pa.Table, ref: ChunkRef, kept: np.ndarray | None, key: str | None,
    fraction: float,
) -> np.ndarray:
    """The holdout mask of a decoded chunk's rows (those kept after dropping).

    Args:
        table: the chunk as read; kept: indices of the rows the decoder kept, or
            None for all; key: the key column, or None for file and row number.
    """
    rows = np.arange(table.num_rows) if kept is None else kept
    if key is None:
        return in_holdout(row_hash(ref, rows), fraction)
    column = table.column(key)
    hashes = column_hash(column if kept is None else column.take(pa.array(kept)))
    return in_holdout(hashes, fraction)
