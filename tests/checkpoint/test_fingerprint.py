"""The input fingerprint: a rewrite that keeps size and mtime is still seen."""

import os

import numpy as np
import pytest

import streamgd
from streamgd.checkpoint.fingerprint import (
    SAMPLE_BYTES, content_sample, differences, fingerprint,
)
from streamgd.config import make_config
from streamgd.errors import CheckpointError
from tests.helpers import write_csv, write_parquet


def _rewrite_keeping_size_and_mtime(path, edit) -> None:
    """Replace the file's bytes by `edit(bytes)` (same length), mtime restored."""
    status = os.stat(path)
    data = path.read_bytes()
    changed = edit(data)
    assert len(changed) == len(data) and changed != data
    path.write_bytes(changed)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == status.st_mtime_ns


def _config(path):
    return make_config({"data": {"paths": [str(path)], "features": ["x1"],
                                 "target": "y"}})


def _swap_digits(data: bytes, at: int) -> bytes:
    """Swap the first two different digits from `at` on (length unchanged)."""
    i = next(k for k in range(at, len(data)) if data[k:k + 1].isdigit())
    j = next(k for k in range(i + 1, len(data))
             if data[k:k + 1].isdigit() and data[k] != data[i])
    out = bytearray(data)
    out[i], out[j] = data[j], data[i]
    return bytes(out)


@pytest.mark.parametrize("where", ["start", "end"])
def test_fingerprint_sees_a_csv_rewrite_that_kept_size_and_mtime(tmp_path, where):
    """Two digits swapped near the start or the end of a CSV: the size and the
    mtime match, the sampled content does not."""
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=20_000)
    path = write_csv(tmp_path / "d.csv", {"x1": x1, "y": 2 * x1})
    before = fingerprint(_config(path))
    size = path.stat().st_size
    at = 100 if where == "start" else size - 200
    _rewrite_keeping_size_and_mtime(path, lambda data: _swap_digits(data, at))
    changes = differences(before, fingerprint(_config(path)))
    assert changes == [f"input file {path}: its content changed although its"
                       " size and modification time did not (sampled bytes"
                       " differ)"]


def test_fingerprint_sees_a_parquet_rewrite_of_the_same_size(tmp_path):
    """Other values of the same types and row groups give a file of the same
    size; its footer statistics differ, and the sample with them."""
    path = tmp_path / "d.parquet"
    rng = np.random.default_rng(1)
    write_parquet(path, {"x1": rng.normal(size=5000), "y": rng.normal(size=5000)},
                  row_group_size=1000)
    before = fingerprint(_config(path))
    status = os.stat(path)
    for seed in range(2, 50):
        other = np.random.default_rng(seed)
        write_parquet(path, {"x1": other.normal(size=5000),
                             "y": other.normal(size=5000)}, row_group_size=1000)
        if os.stat(path).st_size == status.st_size:
            break
    else:
        pytest.skip("no same-size rewrite found")
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))
    changes = differences(before, fingerprint(_config(path)))
    assert len(changes) == 1 and "content changed" in changes[0]


def test_fingerprint_of_an_unchanged_file_is_stable(tmp_path):
    """The same bytes give the same sample; the sample of a small file covers
    every byte, of a large one the head, the tail and blocks between."""
    small = tmp_path / "small.bin"
    small.write_bytes(b"a" * 100)
    assert content_sample(str(small), 100) == content_sample(str(small), 100)
    large = tmp_path / "large.bin"
    data = bytearray(os.urandom(10 * SAMPLE_BYTES))
    large.write_bytes(bytes(data))
    first = content_sample(str(large), len(data))
    data[len(data) // 2] ^= 0xFF  # a byte in no sampled block: not seen
    large.write_bytes(bytes(data))
    # honest limit, stated in the module doc: a middle byte outside the blocks
    assert content_sample(str(large), len(data)) == first
    data[5] ^= 0xFF
    large.write_bytes(bytes(data))
    assert content_sample(str(large), len(data)) != first


def test_fingerprint_of_an_older_checkpoint_without_sample_still_matches(tmp_path):
    """A checkpoint written before the sample existed is compared on size and
    mtime alone: no difference is invented."""
    path = write_csv(tmp_path / "d.csv", {"x1": np.arange(10.0), "y": np.arange(10.0)})
    current = fingerprint(_config(path))
    older = {**current, "files": [{key: value for key, value in entry.items()
                                   if key != "sample"}
                                  for entry in current["files"]]}
    assert differences(older, current) == []


def test_resume_refuses_a_rewrite_that_kept_size_and_mtime(tmp_path):
    """End to end: a checkpointed run, its CSV rewritten in place with the same
    size and mtime, then --resume: refused, naming the file."""
    from tests.train.test_resume import _crash_at

    rng = np.random.default_rng(3)
    x1 = rng.normal(size=3000)
    path = write_csv(tmp_path / "d.csv", {"x1": x1, "y": 3 * x1})
    job = tmp_path / "job.yaml"
    job.write_text(f"data: {{paths: [{path}], features: [x1], target: y}}\n"
                   f"optimizer: {{max_epochs: 2}}\n"
                   f"output: {{dir: {tmp_path / 'out'}}}\n")
    _crash_at(job, lambda n_calls, at_epoch_end: at_epoch_end)
    _rewrite_keeping_size_and_mtime(path, lambda data: _swap_digits(data, 50))
    with pytest.raises(CheckpointError, match="d.csv: its content changed"):
        streamgd.train(job, resume=True)
