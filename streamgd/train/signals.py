"""SIGINT and SIGTERM during training: finish the chunk, checkpoint, stop.

The library installs no handler by itself; the CLI (or a caller) wraps a run in
`stop_on_signals()` and passes the `StopRequest` to `train`. While the engine
trains, a signal only sets the request, which the engine reads at the next chunk
boundary, where its state is consistent and can be checkpointed. Before training
(the statistics pass), or on a second signal, there is nothing worth waiting
for: the handler raises KeyboardInterrupt at once.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class SignalInterrupt(KeyboardInterrupt):
    """A signal that stops a run at once, with its number (the exit status is
    128 + it: 130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signal_number: int) -> None:
        self.signal_number = signal_number
        super().__init__(signal.Signals(signal_number).name)


class StopRequest:
    """Set by a signal; read by the training loop at chunk boundaries.

    Attributes:
        signal_number: the signal received, or None.
        armed: True while the engine trains and reads the request.
        late_signal: a signal received after `finish()`, which stopped nothing.
    """

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self.armed = False
        self.finished = False
        self.late_signal: int | None = None

    def finish(self) -> None:
        """The outputs are complete: a later signal is only noted."""
        self.finished = True

    @property
    def requested(self) -> bool:
        return self.signal_number is not None

    def request(self, signal_number: int) -> None:
        """Ask training to stop (what the handler does; tests call it too)."""
        if self.finished:
            # nothing is left to stop: the exit status stays that of the run
            self.late_signal = signal_number
            return
        if self.signal_number is not None or not self.armed:
            raise SignalInterrupt(signal_number)
        self.signal_number = signal_number


@contextlib.contextmanager
def stop_on_signals(
    signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM),
) -> Iterator[StopRequest]:
    """Route `signals` to a fresh StopRequest; the old handlers come back after."""
    stop = StopRequest()
    previous = {}
    for number in signals:
        previous[number] = signal.signal(number, lambda n, _: stop.request(n))
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
