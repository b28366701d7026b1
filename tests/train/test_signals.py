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


def _small_job(tmp_path, **overrides):
    import numpy as np

    from tests.helpers import job, write_csv

    rng = np.random.default_rng(0)
    x1 = rng.normal(size=300)
    path = write_csv(tmp_path / "small.csv", {"x1": x1, "y": 2 * x1 - 1})
    return job([path], ["x1"], tmp_path / "out", **overrides)


def test_stop_message_numbers_epochs_from_one(tmp_path):
    """A stop at the first boundary is in epoch 1, as the cost log calls it."""
    import streamgd
    from streamgd.errors import TrainingInterrupted

    stop = StopRequest()
    stop.signal_number = signal.SIGINT  # arrived before the first boundary
    with pytest.raises(TrainingInterrupted) as caught:
        streamgd.train(_small_job(tmp_path, optimizer__max_epochs=2), stop=stop)
    assert "stopped by SIGINT in epoch 1, after" in str(caught.value)
    assert "epoch 0" not in str(caught.value)


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGTERM])
def test_signal_after_the_outputs_are_written_exits_zero(
    tmp_path, monkeypatch, capsys, number
):
    """A signal arriving once the model and cost log are written changes
    nothing: the command exits 0 and says the signal came too late to matter."""
    import yaml

    from streamgd.cli import main

    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(_small_job(tmp_path, optimizer__max_epochs=2)))
    import streamgd.cli as cli

    real_rows_phrase = cli.rows_phrase

    def signal_while_printing(training):
        os.kill(os.getpid(), number)  # handled before the next bytecode
        return real_rows_phrase(training)

    # the summary is printed after train() returned with everything written
    monkeypatch.setattr(cli, "rows_phrase", signal_while_printing)
    before = signal.getsignal(number)
    code = main(["train", "-q", str(path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "model:" in captured.out
    assert signal.Signals(number).name in captured.err
    assert "after the outputs were written" in captured.err
    assert (tmp_path / "out" / "model.json").exists()
    assert signal.getsignal(number) == before  # the command's handler is gone


def test_the_program_notes_a_signal_once_its_outputs_are_complete(capsys):
    """`streamgd` (cli.console) keeps its own handlers to the exit: before the
    outputs are complete SIGINT and SIGTERM interrupt the command; after, a
    signal in the moment the interpreter takes to shut down is only noted and
    Python's defaults come back (a second signal acts as usual)."""
    from streamgd import cli

    before = {number: signal.getsignal(number) for number in cli._SIGNALS}
    try:
        for number in cli._SIGNALS:
            signal.signal(number, cli._console_signal)
        cli._COMPLETE.clear()
        for number in cli._SIGNALS:
            # SIGTERM too: a predict's half-written file is then removed
            with pytest.raises(KeyboardInterrupt) as interrupt:
                os.kill(os.getpid(), number)
            assert interrupt.value.signal_number == number
        assert capsys.readouterr().err == ""

        cli._COMPLETE.set()
        os.kill(os.getpid(), signal.SIGTERM)  # would end pytest if not handled
        assert "SIGTERM arrived after the command's outputs were complete" in (
            capsys.readouterr().err)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        cli._COMPLETE.clear()
        for number, handler in before.items():
            signal.signal(number, handler)
