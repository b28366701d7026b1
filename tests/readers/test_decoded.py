"""The decoded-chunk cache of a CSV job: written, read back, closed."""

import numpy as np
import pytest

from streamgd.readers.chunks import ChunkRef, ColumnPlan
from streamgd.readers.decode import Chunk, Decoder
from streamgd.readers.decoded import DecodedChunks


def _cache(tmp_path):
    decoder = Decoder(["a", "b"], ColumnPlan(("a", "b"), "y", True), None,
                      "error")
    cache = DecodedChunks(tmp_path / "decoded.bin", decoder)
    ref = ChunkRef("data.csv", 0, 0, 3)
    X = np.arange(6.0).reshape(3, 2)
    cache.add(ref, Chunk(X, np.array([1.0, 2.0, 3.0]), None))
    cache.finish()
    return cache, decoder, ref, X


def test_chunks_read_back_as_written(tmp_path):
    cache, decoder, ref, X = _cache(tmp_path)
    chunk = cache.read(ref, decoder)
    cache.close()
    np.testing.assert_array_equal(chunk.X, X)
    np.testing.assert_array_equal(chunk.y, [1.0, 2.0, 3.0])


def test_a_read_after_close_opens_no_file_again(tmp_path):
    """A reading thread still at work when the job closes its source (a run
    that diverged) must not reopen the file: the handle would leak (a
    ResourceWarning, an error under the tests' warning filter)."""
    cache, decoder, ref, _ = _cache(tmp_path)
    cache.read(ref, decoder)
    cache.close()
    with pytest.raises(ValueError, match="read after the cache was closed"):
        cache.read(ref, decoder)
    assert cache._reader is None
