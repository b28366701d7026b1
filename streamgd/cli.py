"""The command line: `streamgd train | predict | evaluate | inspect | show | plot |
config`.

Only this module decides what reaches the terminal. Exit status: 0 on success,
1 for bad input or divergence (one line naming the problem, no traceback),
2 for a usage error, 128 + the signal's number (130, 143) when SIGINT or SIGTERM
stopped training after a checkpoint (the message says how to resume), 141
when the reader of stdout went away (`streamgd show model.json | head -1`).
Python warnings print as one `streamgd: WARNING:` line, like log messages.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path

import streamgd
from streamgd.config import FIELDS
from streamgd.errors import StreamgdError, TrainingInterrupted
from streamgd.outputs import check_file_target
from streamgd.progress import ProgressBar
from streamgd.report.inspect import rows_from_metadata
from streamgd.report.show import (
    cost_lines, learning_rate_line, rows_phrase, steps_phrase,
)
from streamgd.train.signals import SignalInterrupt, stop_on_signals


def _progress(args: argparse.Namespace) -> ProgressBar | None:
    """The progress bar of a training run, or None under --quiet."""
    if args.quiet:
        return None
    config = streamgd.load_config(args.job, args.set)
    return ProgressBar(rows_per_pass=rows_from_metadata(config),
                       max_epochs=config["optimizer.max_epochs"])


def _train(args: argparse.Namespace) -> int:
    if args.plot:
        # a picture that cannot be written is found out before the training
        check_file_target(args.plot, "--plot")
    progress = _progress(args)
    with stop_on_signals() as stop:
        result = streamgd.train(args.job, args.set, progress=progress,
                                resume=args.resume, stop=stop)
        # model and cost log are written: a signal from here on stops nothing
        stop.finish()
        _COMPLETE.set()
        _print_trained(args, result)
        if stop.late_signal is not None:
            name = signal.Signals(stop.late_signal).name
            print(f"streamgd: {name} arrived after the outputs were written;"
                  " they are complete and were kept", file=sys.stderr)
    return 0


def _print_trained(args: argparse.Namespace, result) -> None:
    """The summary of a finished run, the coefficients, the files written."""
    model = result.model
    training = model.training
    weights, intercept = model.original_coefficients()
    print(f"trained {model.kind} model on {rows_phrase(training)},"
          f" {steps_phrase(training)}, stop: {training['stop_reason']}")
    for line in cost_lines(training):
        print(line)
    rate_line = learning_rate_line(training)
    if rate_line:
        print(rate_line)
    if model.labels is not None:
        print(_classes_line(model.target, model.labels))
    for line in _comparison(model.kind, training):
        print(line)
    for name, weight in zip(model.features, weights):
        print(f"  {name:<24} {weight: .6g}")
    print(f"  {'(intercept)':<24} {intercept: .6g}")
    print(f"model:    {result.model_path}")
    print(f"cost log: {result.cost_log_path}")
    if args.plot is not None:
        out = args.plot or result.cost_log_path.with_name("cost.png")
        print(f"plot:     {_draw_plot(result.cost_log_path, out, None)}")


def _classes_line(target: str, labels) -> str:
    """Which label the model's probability is for, e.g. positive class 'yes'."""
    if labels.threshold_value is not None:
        return f"positive class: {target} > {labels.threshold_value:g}"
    return (f"positive class: {target} = {labels.positive!r}"
            f" (negative: {labels.negative!r})")


def _tune(args: argparse.Namespace) -> int:
    from streamgd.tune import tune

    config = streamgd.load_config(args.job, args.set)
    result = tune(config)
    print(f"tuned on a sample of {result.sample_rows} rows;"
          " cost = mean loss on the sample's held-out rows")
    for line in tune_table(result):
        print(line)
    if result.best is None:
        print(_no_best_line(result.trials))
        return 1
    print(f"best: learning_rate {result.best.learning_rate:.4g}"
          f"  epochs {result.best.epochs}  alpha {result.best.alpha:.4g}")
    if result.override_path is not None:
        print(f"override: {result.override_path}"
              f" (streamgd train JOB --set optimizer.learning_rate="
              f"{result.best.learning_rate:.6g})")
    return 0


def _no_best_line(trials) -> str:
    """Why no trial was chosen: divergence, other errors, or both."""
    failed = [trial for trial in trials if trial.status == "failed"]
    if not failed:
        return "no setting trained without diverging; lower tune.rate_range"
    return (f"no setting finished: {len(trials) - len(failed)} diverged,"
            f" {len(failed)} failed (first failure: {failed[0].message})")


def tune_table(result) -> list[str]:
    """The trials as aligned text lines, the chosen one marked with '*'."""
    lines = [f"  {'learning_rate':>13}  {'epochs':>6}  {'alpha':>8}"
             f"  {'holdout cost':>12}  {'train cost':>12}  status"]
    for trial in result.trials:
        mark = "*" if trial is result.best else " "
        costs = (f"{trial.holdout_cost:>12.6g}  {trial.train_cost:>12.6g}"
                 if trial.status == "ok" else f"{'-':>12}  {'-':>12}")
        lines.append(f"{mark} {trial.learning_rate:>13.4g}  {trial.epochs:>6}"
                     f"  {trial.alpha:>8.3g}  {costs}  {trial.status}")
    return lines


def _draw_plot(log_path, out, title: str | None):
    from streamgd.report.plot import plot_cost_log

    return plot_cost_log(log_path, out, title)


def _plot(args: argparse.Namespace) -> int:
    print(f"wrote {_draw_plot(args.log, args.out, args.title)}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from streamgd.readers import CsvOptions
    from streamgd.report.inspect import format_table, inspect_data

    csv = CsvOptions(delimiter=args.delimiter)
    inspection = inspect_data(_absolute(args.data), args.format, csv)
    if args.json:
        print(json.dumps(inspection.to_dict()))
    else:
        print(format_table(inspection))
    return 0


def _absolute(paths: list[str]) -> list[str]:
    return [str(Path(path).expanduser().resolve()) for path in paths]


def _show(args: argparse.Namespace) -> int:
    from streamgd.report.show import format_model, model_summary

    model = streamgd.load_model(args.model)
    print(json.dumps(model_summary(model)) if args.json else format_model(model))
    return 0


def _comparison(kind: str, training: dict[str, Any]) -> list[str]:
    """Lines setting the model's costs beside the best constant predictor's."""
    constant = training.get("constant")
    if constant is None:
        return []
    name = "mean" if kind == "linear" else "base rate"
    lines = [f"best constant predictor ({name} {constant:.6g}): training cost"
             f" {training['constant_train_cost']:.6g}"]
    if "progressive_cost" in training:
        lines.append(f"progressive cost (epoch 1, each row before its update)"
                     f" {training['progressive_cost']:.6g}")
    if training.get("holdout_cost") is not None:
        lines.append(
            f"holdout cost {training['holdout_cost']:.6g} (epoch"
            f" {training['best_epoch']}) vs {training['constant_holdout_cost']:.6g}"
            f" for the constant, on {training['holdout_rows']:.0f} rows"
        )
    return lines


def _predict(args: argparse.Namespace) -> int:
    rows = streamgd.predict(args.model, args.data, args.out)
    print(f"wrote {rows} predictions to {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    evaluation = streamgd.evaluate(args.model, args.data)
    from streamgd.predict import summary

    report = summary(evaluation)
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:<14} {value:.6g}" if isinstance(value, float)
                  else f"{key:<14} {value}")
    return 0


def _config(args: argparse.Namespace) -> int:
    if args.schema or args.markdown:
        from streamgd import schema

        if args.markdown:
            print(schema.markdown(), end="")
        else:
            print(json.dumps(schema.json_schema(), indent=1))
        return 0
    if args.keys:
        for field in FIELDS:
            print(f"{field.path:<32} {field.default!r:<14} {field.doc}")
        return 0
    config = streamgd.load_config(args.job, args.set)
    import yaml

    print(yaml.safe_dump(config.as_dict(), sort_keys=False), end="")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streamgd",
        description="Out-of-core streaming gradient descent for linear models.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log messages (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar")
    parser.add_argument("--version", action="version",
                        version=f"streamgd {streamgd.__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train the model a YAML job describes")
    train.add_argument("job", nargs="?",
                       help="YAML job (default: embedded flights job)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a job key, e.g. --set optimizer.batch_size=1")
    train.add_argument("--plot", nargs="?", const="", default=None, metavar="PNG",
                       help="draw the cost plot at the end (default: cost.png"
                       " beside the cost log); needs matplotlib")
    train.add_argument("--resume", action="store_true",
                       help="continue from the job's checkpoint, if there is one")
    train.set_defaults(run=_train)

    predict = commands.add_parser("predict", help="stream predictions to a file")
    predict.add_argument("model")
    predict.add_argument("data", nargs="+")
    predict.add_argument("--out", required=True, help=".parquet or .csv")
    predict.set_defaults(run=_predict)

    evaluate = commands.add_parser("evaluate", help="metrics on labelled data")
    evaluate.add_argument("model")
    evaluate.add_argument("data", nargs="+")
    evaluate.add_argument("--json", action="store_true", help="one JSON line")
    evaluate.set_defaults(run=_evaluate)

    inspect = commands.add_parser(
        "inspect", help="schema, row counts and column statistics of data files")
    inspect.add_argument("data", nargs="+", help="files, directories or globs")
    inspect.add_argument("--format", default="auto",
                         choices=("auto", "parquet", "csv"))
    inspect.add_argument("--delimiter", default=",", help="CSV field delimiter")
    inspect.add_argument("--json", action="store_true", help="one JSON document")
    inspect.set_defaults(run=_inspect)

    show = commands.add_parser("show", help="a model's coefficients and training")
    show.add_argument("model", help="model file (model.json)")
    show.add_argument("--json", action="store_true", help="one JSON document")
    show.set_defaults(run=_show)

    plot = commands.add_parser("plot", help="draw a cost log as a PNG (matplotlib)")
    plot.add_argument("log", help="cost log (costs.jsonl)")
    plot.add_argument("--out", default="cost.png", help="PNG to write")
    plot.add_argument("--title", help="figure title (default: the log's name)")
    plot.set_defaults(run=_plot)

    tune = commands.add_parser(
        "tune", help="short runs over a grid of learning rates on a data sample"
    )
    tune.add_argument("job", nargs="?",
                      help="YAML job (default: embedded flights job)")
    tune.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="override a job key, e.g. --set tune.grid_size=5")
    tune.set_defaults(run=_tune)

    config = commands.add_parser("config", help="show the resolved job, or all keys")
    config.add_argument("job", nargs="?")
    config.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    config.add_argument("--keys", action="store_true", help="list every job key")
    config.add_argument("--schema", action="store_true",
                        help="the job's JSON Schema: every key, type, default, meaning")
    config.add_argument("--markdown", action="store_true",
                        help="with --schema: the README's reference table instead")
    config.set_defaults(run=_config)
    for command in commands.choices.values():
        _add_common_options(command)
    return parser


def _add_common_options(command: argparse.ArgumentParser) -> None:
    """-v and -q after the command as well (`streamgd train -v`).

    SUPPRESS: a subcommand that was not given them keeps what came before it.
    """
    command.add_argument("-v", "--verbose", action="count",
                         default=argparse.SUPPRESS, help="more log messages")
    command.add_argument("-q", "--quiet", action="store_true",
                         default=argparse.SUPPRESS, help="no progress bar")


class _MessageHandler(logging.StreamHandler):
    """Log messages on stderr; on a terminal, a half-drawn progress bar is
    cleared first, so the message starts its own line (the bar redraws)."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self.stream, "isatty", lambda: False)():
            self.stream.write("\r\x1b[K")
        super().emit(record)


def _warning_line(message, category, filename, lineno, line=None) -> str:
    """A Python warning as one line, like the log's (no source line quoted)."""
    return f"streamgd: WARNING: {message} ({category.__name__})\n"


def _stdout_gone() -> int:
    """stdout was closed by its reader (`streamgd show ... | head`): stop
    quietly, as a pipeline expects, with 128 + SIGPIPE."""
    # the interpreter flushes stdout once more at exit: point it at /dev/null
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 128 + signal.SIGPIPE


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="streamgd: %(levelname)s: %(message)s",
                        handlers=[_MessageHandler(sys.stderr)])
    formatwarning = warnings.formatwarning
    warnings.formatwarning = _warning_line
    try:
        return _run(args)
    finally:
        warnings.formatwarning = formatwarning


def _run(args: argparse.Namespace) -> int:
    """The command, its errors as one line and an exit status."""
    try:
        return args.run(args)
    except BrokenPipeError:
        return _stdout_gone()
    except TrainingInterrupted as error:
        # 128 + signal number, the shell's convention for a run a signal ended
        print(f"streamgd: {error}", file=sys.stderr)
        return 128 + error.signal_number
    except StreamgdError as error:
        print(f"streamgd: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as interrupt:
        # a signal before any checkpoint could be written: 128 + its number
        number = getattr(interrupt, "signal_number", signal.SIGINT)
        print(f"streamgd: interrupted by {signal.Signals(number).name} before"
              " the command finished: its model or predictions were not written"
              " (files of earlier runs are untouched)", file=sys.stderr)
        return 128 + number


# set once the command's outputs are complete: a signal then only gets a note
# (`console`); `_train` sets it once the model and cost log are written
_COMPLETE = threading.Event()
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def console() -> None:
    """The `streamgd` program: `main`, then the exit.

    The interpreter's shutdown after a command still takes a moment (threads
    joined, about 0.2 s after a training run), and between a training run's
    end and its return there are a few steps more: a signal then must not end a
    command that succeeded with a traceback, status 143, or a message that its
    model was not written. The program's own handlers (`_console_signal`) are
    there from the start, so that `stop_on_signals` puts them back, not
    Python's; `main` alone leaves a caller's handlers as they were.
    """
    _COMPLETE.clear()
    for number in _SIGNALS:
        signal.signal(number, _console_signal)
    status = main()
    if status == 0:
        _COMPLETE.set()
    sys.exit(status)


def _console_signal(number: int, _frame) -> None:
    """Before the outputs are complete, SIGINT and SIGTERM interrupt the
    command (`SignalInterrupt`): a file being written is removed on the way
    out, and the status is 128 + the signal's number; after, the first signal
    is only noted and Python's defaults come back (a shutdown that hangs can
    still be stopped)."""
    if not _COMPLETE.is_set():
        raise SignalInterrupt(number)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    print(f"streamgd: {signal.Signals(number).name} arrived after the command's"
          " outputs were complete; they were kept", file=sys.stderr)


if __name__ == "__main__":
    console()
