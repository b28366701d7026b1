"""When to checkpoint during a run, and how a run resumes from one.

A checkpoint is written at each epoch's end, and at the first chunk boundary
after `checkpoint.every_updates` updates or `checkpoint.every_seconds` seconds
since the last one; on a stop request (SIGINT, SIGTERM) one is written and the
run stops. Checkpoints are only taken at chunk boundaries, where the engine's
state is consistent, so the interval is met to within one chunk.

Resuming reads the checkpoint before any data: a job or input files that differ
from the checkpoint's are refused with the list of what changed.
"""

from __future__ import annotations

import logging
import signal
import time
from typing import TYPE_CHECKING

from streamgd.checkpoint import (
    Checkpoint, chunk_layout, differences, fingerprint, load_checkpoint,
    save_checkpoint,
)
from streamgd.config import Config
from streamgd.errors import CheckpointError, TrainingInterrupted
from streamgd.outputs import checkpoint_path
from streamgd.readers.chunks import ChunkRef
from streamgd.train.costlog import CostLog
from streamgd.train.prepare import PreparedSummary
from streamgd.train.signals import StopRequest

if TYPE_CHECKING:  # the engine calls this module: a runtime import would loop
    from streamgd.train.loop import Engine

log = logging.getLogger(__name__)

RESUME_HINT = "run the same command with --resume to continue"


def load_for_resume(config: Config, resume: bool = True) -> Checkpoint | None:
    """The job's checkpoint, checked against the job; None when there is none.

    Without `resume`, None: a checkpoint found is only reported (the run
    starts fresh and its first checkpoint replaces the old one).

    Raises:
        CheckpointError: unreadable, or made from other input files or another
            job (the message lists every difference).
    """
    path = checkpoint_path(config)
    if not resume:
        if path.is_file() and config["optimizer.method"] == "sgd":
            fate = ("this run's checkpoints replace it"
                    if config["checkpoint.enabled"] else "it stays untouched")
            log.warning(
                "%s holds the checkpoint of an earlier run; starting fresh"
                " (give --resume to continue it instead); %s", path, fate
            )
        return None
    if not path.exists():
        log.warning("no checkpoint at %s: training from the start", path)
        return None
    checkpoint = load_checkpoint(path)
    changed = differences(checkpoint.fingerprint, fingerprint(config))
    if changed:
        raise CheckpointError(
            f"cannot resume from {path}: " + "; ".join(changed)
            + ". Restore the original files and job, or train without --resume"
            " to start over."
        )
    log.info("resuming from %s", path)
    return checkpoint


def check_chunks(checkpoint: Checkpoint, chunks: list[ChunkRef],
                 config: Config) -> None:
    """Refuse to resume over chunks cut otherwise than the checkpoint's.

    The files and the job can be the same while the chunks are not: another
    streamgd version may cut the same files otherwise. The epoch position
    would then name other rows, and the run would silently skip or repeat
    some.

    Raises:
        CheckpointError: the checkpoint recorded another cut.
    """
    recorded = checkpoint.prepared.chunk_layout
    if recorded is not None and recorded != chunk_layout(chunks):
        raise CheckpointError(
            f"cannot resume from {checkpoint_path(config)}: the input files are"
            " cut into other chunks than when it was written (by another"
            " streamgd version?), so its place in the epoch would name other"
            " rows. Train without --resume to start over."
        )


class Checkpointer:
    """The engine's boundary hook: writes checkpoints when due, obeys stop requests.

    Args:
        config: the job (its `checkpoint` section decides when and where).
        cost_log: the run's cost log, synced and recorded with each checkpoint.
        prepared: the statistics pass's results, stored in each checkpoint.
        stop: the stop request a signal sets, or None.
    """

    def __init__(
        self,
        config: Config,
        cost_log: CostLog,
        prepared: PreparedSummary,
        stop: StopRequest | None = None,
    ) -> None:
        self.enabled = config["checkpoint.enabled"]
        self.path = checkpoint_path(config)
        self.every_updates = config["checkpoint.every_updates"]
        self.every_seconds = config["checkpoint.every_seconds"]
        self.cost_log = cost_log
        self.prepared = prepared
        self.stop = stop
        self.fingerprint = fingerprint(config) if self.enabled else {}
        self.written = False
        self._last_update = 0
        self._last_time = time.monotonic()

    def __call__(self, engine: Engine, at_epoch_end: bool) -> None:
        stopping = self.stop is not None and self.stop.requested
        if self.enabled and (at_epoch_end or stopping or self._due(engine)):
            self.save(engine)
        if stopping:
            raise self._interrupted(engine, at_epoch_end)

    def _due(self, engine: Engine) -> bool:
        updates = engine.opt_state.update_count - self._last_update
        if self.every_updates is not None and updates >= self.every_updates:
            return True
        seconds = time.monotonic() - self._last_time
        return self.every_seconds is not None and seconds >= self.every_seconds

    def save(self, engine: Engine) -> None:
        """Write the engine's state (and the cost log's) as the checkpoint."""
        checkpoint = Checkpoint(engine.snapshot(), self.cost_log.state(),
                                self.prepared, self.fingerprint)
        save_checkpoint(self.path, checkpoint)
        self.written = True
        self._last_update = engine.opt_state.update_count
        self._last_time = time.monotonic()
        log.debug("checkpoint after %d updates: %s", self._last_update, self.path)

    def remove(self) -> None:
        """Delete this job's checkpoint (the run is finished, or diverged)."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def _interrupted(self, engine: Engine, at_epoch_end: bool) -> TrainingInterrupted:
        number = self.stop.signal_number
        name = signal.Signals(number).name
        # epochs numbered from 1, as in the cost log and the summary; at an
        # epoch's end the engine already counts that epoch as done
        where = (f"at the end of epoch {engine.epoch}" if at_epoch_end
                 else f"in epoch {engine.epoch + 1}")
        where += f", after {engine.opt_state.update_count} updates"
        if not self.enabled:
            message = (f"stopped by {name} {where}; checkpoints are off"
                       " (checkpoint.enabled: false), so the run cannot be resumed")
            return TrainingInterrupted(message, number)
        message = f"stopped by {name} {where}; checkpoint {self.path}: {RESUME_HINT}"
        return TrainingInterrupted(message, number, self.path)
