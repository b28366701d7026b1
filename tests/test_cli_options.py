"""Options accepted on either side of the command."""

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
