"""When checkpoints are written: epoch ends, every N updates, every T seconds."""

import itertools

import numpy as np

import streamgd
from streamgd.train import checkpoints
from tests.helpers import job, write_parquet


def _saves(tmp_path, monkeypatch, **sections):
    """Train 2 epochs of 12 chunks of 100 rows; the update count at each save."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=1200)
    write_parquet(tmp_path / "d.parquet", {"x1": x, "y": 2 * x},
                  row_group_size=100)
    saved = []
    original = checkpoints.Checkpointer.save

    def spy(self, engine):
        saved.append((engine.opt_state.update_count, engine.position.n_chunks_done))
        original(self, engine)

    monkeypatch.setattr(checkpoints.Checkpointer, "save", spy)
    streamgd.train(job([tmp_path / "d.parquet"], ["x1"], tmp_path / "out",
                       optimizer__batch_size=10, optimizer__max_epochs=2,
                       optimizer__tol=0.0, shuffle__buffer_rows=100, **sections))
    return saved


def test_checkpoints_at_each_epoch_end_only_by_default(tmp_path, monkeypatch):
    """With no interval reached, the two epoch ends are the only checkpoints, and
    the finished run leaves none behind."""
    saved = _saves(tmp_path, monkeypatch)
    assert saved == [(120, 0), (240, 0)]
    assert not (tmp_path / "out/checkpoint.npz").exists()


def test_checkpoints_every_n_updates_at_the_next_chunk_end(tmp_path, monkeypatch):
    """every_updates: 25 checkpoints at the first chunk boundary at or past 25
    updates since the last one (chunks of 10 updates here)."""
    saved = _saves(tmp_path, monkeypatch, checkpoint__every_updates=25)
    counts = [count for count, _ in saved]
    gaps = np.diff([0, *counts])
    assert all(gap >= 25 or chunk == 0 for gap, (_, chunk) in zip(gaps, saved))
    assert max(gaps) < 25 + 20  # a chunk of rows, and what the buffer lets out
    assert (120, 0) in saved and (240, 0) in saved


def test_checkpoints_every_t_seconds(tmp_path, monkeypatch):
    """every_seconds: 3 with a clock ticking one second per reading checkpoints
    every third chunk boundary."""
    ticks = itertools.count()
    monkeypatch.setattr(checkpoints.time, "monotonic", lambda: float(next(ticks)))
    saved = _saves(tmp_path, monkeypatch, checkpoint__every_seconds=3)
    mid_epoch = [chunk for _, chunk in saved if chunk]
    assert mid_epoch[:3] == [3, 6, 9]


def test_checkpoints_disabled_write_none(tmp_path, monkeypatch):
    """checkpoint.enabled: false writes no checkpoint at all."""
    assert _saves(tmp_path, monkeypatch, checkpoint__enabled=False,
                  checkpoint__every_updates=1) == []
