"""Options accepted on either side of the command."""

import signal

import pytest

from streamgd.cli import build_parser, main


@pytest.mark.parametrize("argv, verbose, quiet", [
    (["train", "-v"], 1, False),
    (["-v", "train"], 1, False),
    (["train", "-vv", "--quiet"], 2, True),
    (["-q", "train"], 0, True),
    (["show", "model.json", "-v"], 1, False),
    (["train"], 0, False),
])
def test_cli_verbose_and_quiet_after_the_command(argv, verbose, quiet):
    """-v and -q parse before or after the subcommand."""
    args = build_parser().parse_args(argv)
    assert (args.verbose, args.quiet) == (verbose, quiet)


def test_cli_train_folder_as_job_says_folder(tmp_path, capsys):
    """A folder given as the job is named as a folder, exit 1."""
    assert main(["train", str(tmp_path)]) == 1
    assert "is a folder" in capsys.readouterr().err


def test_cli_train_string_labels_name_the_positive_class(tmp_path, capsys):
    """A logistic model on string labels says which class is positive."""
    import numpy as np
    import yaml

    from tests.helpers import write_parquet

    rng = np.random.default_rng(4)
    x1 = rng.normal(size=200)
    labels = np.where(x1 > 0, "late", "on_time")
    path = write_parquet(tmp_path / "d.parquet", {"x1": x1, "status": labels})
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump({
        "data": {"paths": str(path), "features": ["x1"], "target": "status"},
        "model": {"type": "logistic"}, "optimizer": {"max_epochs": 1},
        "output": {"dir": str(tmp_path / "out")}}))
    assert main(["train", "-q", str(job)]) == 0
    printed = capsys.readouterr().out
    assert "positive class: status = 'on_time' (negative: 'late')" in printed


@pytest.mark.parametrize("number, status", [(signal.SIGINT, 130),
                                            (signal.SIGTERM, 143)])
def test_cli_interrupt_exits_with_the_signals_status(monkeypatch, capsys,
                                                     number, status):
    """A signal that stops a command at once (before any checkpoint, or during
    predict): 128 + its number, one line naming it, no traceback."""
    from streamgd.train.signals import SignalInterrupt

    def interrupted(*args, **kwargs):
        raise SignalInterrupt(number)

    monkeypatch.setattr("streamgd.predict", interrupted)
    assert main(["predict", "model.json", "data.csv", "--out", "p.csv"]) == status
    err = capsys.readouterr().err
    assert err.startswith(f"streamgd: interrupted by {signal.Signals(number).name}")
    assert "Traceback" not in err
