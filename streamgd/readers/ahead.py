"""Chunks read and decoded in order, optionally ahead in background threads.

pyarrow reads and converts a row group with the GIL released, and the compiled
kernels (the shuffle's store write, the SGD updates) run with it released too,
so the next chunks can be read, decoded and written into the shuffle's store
while the trainer works on this one. Up to `READERS` threads read at once, each
its own chunk; the chunks are handed on in order. The chunks, and so the model,
are the same either way: only when and where the reading happens changes. A
chunk read ahead costs its memory (one more chunk per chunk of depth).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa

from streamgd.readers.chunks import ChunkRef, Source
from streamgd.readers.decode import Chunk, ColumnChunk, Decoder

# threads reading at once: with the trainer's, as many as this machine's two
# cores. Measured here (2M rows, batch 256): reading, decoding and writing a
# chunk into the store takes about three times as long as training on it, so
# one reader left the trainer waiting most of the epoch. The depth matters as
# much: with 2 chunks ahead the two readers idled whenever the trainer was
# late to take one (0.38-0.54 of the raw scan's rows/s), with 4 they did not
# (0.80-0.87; 2M rows, batch 256, taken in turn at a load of about 2)
READERS = 2


def read_chunks(
    source: Source, refs: list[ChunkRef], decoder: Decoder, depth: int = 0,
    then: Callable[[int, ChunkRef, pa.Table | None, Chunk], Any] | None = None,
    columns: bool = False,
) -> Iterator[tuple[ChunkRef, pa.Table | None, Any]]:
    """Each chunk of `refs` in turn: its reference, table and decoded rows
    (the table None where the source kept the rows decoded; see `_read`).

    Args:
        source: where the chunks are read from.
        refs: the chunks, in the order to yield them.
        decoder: turns a table into rows (its errors are raised here, at the
            chunk they concern, as if read without a thread).
        depth: chunks read ahead in a background thread; 0 reads each chunk
            when it is asked for.
        then: work on each chunk done in the reading thread, after decoding:
            called with the chunk's index in `refs`, its reference, table and
            rows, and what it returns is yielded instead of the rows (and
            None instead of the table). With a
            depth of 2 or more, calls for different chunks may run at once.
        columns: hand on a chunk that needs no decoding as a `ColumnChunk`
            (`Decoder.decode_columns`), without its row-major copy.
    """
    decode = decoder.decode_columns if columns else decoder.decode
    return _in_order(
        lambda index, ref: _read(source, decoder, decode, index, ref, then),
        refs, depth,
    )


def read_tables(
    source: Source, refs: list[ChunkRef], depth: int = 0
) -> Iterator[tuple[ChunkRef, pa.Table]]:
    """Each chunk of `refs` in turn with its table, read up to `depth` chunks
    ahead in background threads (the statistics pass: it decodes the tables
    itself, learning labels as it goes)."""
    return _in_order(lambda _, ref: (ref, source.read(ref)), refs, depth)


def _in_order(
    work: Callable[[int, ChunkRef], Any], refs: list[ChunkRef], depth: int
) -> Iterator[Any]:
    """`work(index, ref)` for each chunk, handed on in order; with a depth,
    done up to `depth` chunks ahead by up to `READERS` threads at once."""
    if depth <= 0:
        for index, ref in enumerate(refs):
            yield work(index, ref)
        return
    threads = min(depth, READERS)
    with ThreadPoolExecutor(threads, thread_name_prefix="streamgd-read") as pool:
        waiting: deque[Future] = deque()
        try:
            for index, ref in enumerate(refs):
                waiting.append(pool.submit(work, index, ref))
                if len(waiting) > depth:
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
        finally:
            # a consumer that stops early (an error, a stop request) reads no more
            for future in waiting:
                future.cancel()


def read_chunk(
    source: Source, decoder: Decoder, ref: ChunkRef
) -> tuple[ChunkRef, pa.Table | None, Chunk]:
    """One chunk's reference, table and rows, read now (see `_read`)."""
    return _read(source, decoder, decoder.decode, 0, ref, None)


def _read(
    source: Source, decoder: Decoder,
    decode: Callable[[pa.Table, ChunkRef], Chunk | ColumnChunk], index: int,
    ref: ChunkRef,
    then: Callable[[int, ChunkRef, pa.Table | None, Chunk], Any] | None,
) -> tuple[ChunkRef, pa.Table | None, Any]:
    """The chunk's table and rows, or what `then` makes of them; the table is
    None when the source kept the rows decoded by `decoder` (a CSV source, see
    `readers.decoded`), which it does only for jobs that need no table after
    decoding."""
    decoded = getattr(source, "decoded", None)
    chunk = None if decoded is None else decoded(ref, decoder)
    if chunk is not None:
        return ref, None, chunk if then is None else then(index, ref, None, chunk)
    table = source.read(ref)
    chunk = decode(table, ref)
    if then is None:
        return ref, table, chunk
    # the table is let go here: a chunk waiting to be handed on keeps only
    # what `then` made of it
    return ref, None, then(index, ref, table, chunk)
