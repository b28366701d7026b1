"""Stop requests: a signal during training waits for a boundary, else stops now."""

import os
import signal

import pytest

from streamgd.train.signals import StopRequest, stop_on_signals


def test_stop_request_while_training_is_recorded_not_raised():
    """While the engine trains, a signal only sets the request."""
    stop = StopRequest()
    stop.armed = True
    stop.request(signal.SIGTERM)
    assert stop.requested and stop.signal_number == signal.SIGTERM


def test_stop_request_before_training_or_twice_interrupts_at_once():
    """Before training (nothing to checkpoint) or on a second signal, stop now,
    carrying the signal's number (the CLI exits 128 + it)."""
    with pytest.raises(KeyboardInterrupt) as interrupt:
        StopRequest().request(signal.SIGTERM)
    assert interrupt.value.signal_number == signal.SIGTERM
    stop = StopRequest()
    stop.armed = True
    stop.request(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        stop.request(signal.SIGINT)


def test_stop_on_signals_routes_sigterm_and_restores_the_handler():
    """Inside the block SIGTERM sets the request; after it, the old handler is back."""
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        stop.armed = True
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.signal_number == signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) is before
