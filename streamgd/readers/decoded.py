"""Decoded chunks kept in a file, so that an epoch reads them without decoding.

The statistics pass of a CSV job decodes every block as it is parsed (Arrow
columns into a row-major float64 matrix, the target, the weight). When nothing
the pass learns changes the decoding - no class labels to collect, no means to
impute, no holdout drawn from the rows - an epoch's chunks are exactly those
arrays. Kept here, in place of the typed Arrow cache, an epoch reads each chunk
with one read per array instead of reading the Arrow cache and decoding it
again, which was about half of an epoch's time (200,000 rows of 20 features:
0.070 s an epoch through the Arrow cache, 0.035 s from decoded chunks held in
memory), and the parse writes no Arrow cache (0.025 s of its main thread).

Each chunk's arrays are written one after another as raw float64 (the kept
rows' indices as int64), in the machine's byte order; the file lives in the
CSV source's cache folder, which is removed with it.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from streamgd.atomic import naming_write_failures
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk, Decoder


@dataclass(frozen=True)
class _Place:
    """Where a chunk's arrays start in the file, and which are there."""

    offset: int
    n_rows: int
    n_dropped: int
    weighted: bool
    some_dropped: bool


class DecodedChunks:
    """Chunks decoded by `decoder`, written by `add`, read back by `read`."""

    def __init__(self, path: Path, decoder: Decoder, hint: str = "") -> None:
        self.path, self.decoder, self._hint = path, decoder, hint
        self._n_features = len(decoder.features)
        self._places: dict[tuple[str, int], _Place] = {}
        self._end = 0
        self._writer: BinaryIO | None = None
        self._reader: BinaryIO | None = None
        self._lock = threading.Lock()  # the threads that read ahead share a file
        self._closed = False

    def add(self, ref: ChunkRef, chunk: Chunk) -> None:
        """Append a chunk; its X must be C-contiguous (as `Decoder` gives it)."""
        arrays = [chunk.X, chunk.y]
        if chunk.weight is not None:
            arrays.append(chunk.weight)
        if chunk.kept is not None:
            arrays.append(chunk.kept.astype(np.int64, copy=False))
        with naming_write_failures(self.path, self._hint):
            if self._writer is None:
                self._writer = open(self.path, "wb")
            for array in arrays:
                self._writer.write(np.ascontiguousarray(array).data)
        self._places[_key(ref)] = _Place(self._end, chunk.n_rows, chunk.n_dropped,
                                   chunk.weight is not None, chunk.kept is not None)
        self._end += sum(array.nbytes for array in arrays)

    def finish(self) -> None:
        """Done adding: flush the file (reads may follow)."""
        writer, self._writer = self._writer, None
        if writer is not None:
            with naming_write_failures(self.path, self._hint):
                writer.close()

    def read(self, ref: ChunkRef, decoder: Decoder) -> Chunk | None:
        """The chunk as `decoder` decodes it; None when it was not kept, or
        when `decoder` is not the one whose chunks these are."""
        place = self._places.get(_key(ref))
        if place is None or decoder is not self.decoder:
            return None
        n_rows = place.n_rows
        X = np.empty((n_rows, self._n_features))
        y = np.empty(n_rows)
        weight = np.empty(n_rows) if place.weighted else None
        kept = np.empty(n_rows, dtype=np.int64) if place.some_dropped else None
        arrays = [array for array in (X, y, weight, kept) if array is not None]
        with self._lock:
            if self._closed:
                raise ValueError(f"{self.path}: read after the cache was closed")
            if self._reader is None:
                self._reader = open(self.path, "rb", buffering=0)
            self._reader.seek(place.offset)
            for array in arrays:
                _read_into(self._reader, array, self.path)
        return Chunk(X, y, weight, place.n_dropped, kept)

    def close(self) -> None:
        """Close the file (the source removes it); a writer still open is
        being given up after an error, so its unwritten bytes are dropped."""
        with self._lock:  # a reading thread still at work opens no file again
            self._closed = True
            if self._writer is not None:
                with contextlib.suppress(OSError):
                    self._writer.close()
            if self._reader is not None:
                self._reader.close()
            self._writer = self._reader = None


def _read_into(file: BinaryIO, array: np.ndarray, path: Path) -> None:
    """Fill `array` from the file's next bytes."""
    if array.size == 0:  # a chunk whose rows were all dropped
        return
    view = memoryview(array).cast("B")
    done = 0
    while done < len(view):
        n_read = file.readinto(view[done:])
        if not n_read:
            raise OSError(f"{path}: the decoded-chunk cache ends early")
        done += n_read


def _key(ref: ChunkRef) -> tuple[str, int]:
    # file and index: a source may drop a ref's first_line once its file is read
    return ref.file, ref.index
