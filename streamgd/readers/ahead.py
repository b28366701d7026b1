"""Chunks read and decoded in order, optionally ahead in a background thread.

pyarrow reads and converts a row group with the GIL released, and the compiled
SGD kernel trains with it released too, so on two cores the next chunk can be
read while the trainer works on this one. The chunks, and so the model, are the
same either way: only when the reading happens changes. A chunk read ahead
costs its memory (one more chunk per chunk of depth).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa

from streamgd.readers.chunks import ChunkRef, Source
from streamgd.readers.decode import Chunk, Decoder


def read_chunks(
    source: Source, refs: list[ChunkRef], decoder: Decoder, depth: int = 0
) -> Iterator[tuple[ChunkRef, pa.Table | None, Chunk]]:
    """Each chunk of `refs` in turn: its reference, table and decoded rows
    (the table None where the source kept the rows decoded; see `_read`).

    Args:
        source: where the chunks are read from.
        refs: the chunks, in the order to yield them.
        decoder: turns a table into rows (its errors are raised here, at the
            chunk they concern, as if read without a thread).
        depth: chunks read ahead in a background thread; 0 reads each chunk
            when it is asked for.
    """
    if depth <= 0:
        for ref in refs:
            yield _read(source, decoder, ref)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="streamgd-read") as pool:
        waiting: deque[Future] = deque()
        upcoming = iter(refs)
        try:
            for ref in upcoming:
                waiting.append(pool.submit(_read, source, decoder, ref))
                if len(waiting) > depth:
                    yield waiting.popleft().result()
            while waiting:
                yield waiting.popleft().result()
        finally:
            # a consumer that stops early (an error, a stop request) reads no more
            for future in waiting:
                future.cancel()


def _read(
    source: Source, decoder: Decoder, ref: ChunkRef
) -> tuple[ChunkRef, pa.Table | None, Chunk]:
    """The chunk's table and rows; the table is None when the source kept the
    rows decoded by `decoder` (a CSV source, see `readers.decoded`), which it
    does only for jobs that need no table after decoding."""
    decoded = getattr(source, "decoded", None)
    chunk = None if decoded is None else decoded(ref, decoder)
    if chunk is not None:
        return ref, None, chunk
    table = source.read(ref)
    return ref, table, decoder.decode(table, ref)
