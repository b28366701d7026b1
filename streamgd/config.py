"""The YAML job: one declarative table of every key, validated before any data is read.

A job is a nested mapping. Each leaf key is described once in `FIELDS` (type, default,
allowed values, meaning); `load_config` reads a YAML file, applies `--set` overrides,
fills defaults and checks every field, so the later stages trust what they get.
Relative data and output paths are resolved against the YAML file's folder, so a
scheduled job runs the same from any working directory.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import math
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from streamgd.errors import ConfigError
from streamgd.jobyaml import DuplicateKeyError, load_yaml

Check = Callable[[Any], str | None]


@dataclass(frozen=True)
class Field:
    """One leaf key of the job: its dotted path, type, default, and meaning."""

    path: str
    kind: type | tuple[type, ...]
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None
    check: Check | None = None
    nullable: bool = False


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be > 0"


def _non_negative(value: Any) -> str | None:
    return None if value >= 0 else "must be >= 0"


def _unit_interval(value: Any) -> str | None:
    return None if 0 <= value <= 1 else "must be between 0 and 1"


def _below_one(value: Any) -> str | None:
    return None if 0 <= value < 1 else "must be in [0, 1)"


def _open_unit_interval(value: Any) -> str | None:
    return None if 0 < value < 1 else "must be between 0 and 1 (exclusive)"


def _numbers(value: Any) -> bool:
    return all(isinstance(item, (int, float)) and not isinstance(item, bool)
               and math.isfinite(item) for item in value)


def _positive_numbers(value: Any) -> str | None:
    if value and _numbers(value) and min(value) > 0:
        return None
    return "must be a non-empty list of numbers > 0"


def _non_negative_numbers(value: Any) -> str | None:
    if value and _numbers(value) and min(value) >= 0:
        return None
    return "must be a non-empty list of numbers >= 0"


def _positive_ints(value: Any) -> str | None:
    if value and all(isinstance(item, int) and not isinstance(item, bool)
                     and item > 0 for item in value):
        return None
    return "must be a non-empty list of whole numbers > 0"


def _rate_range(value: Any) -> str | None:
    if len(value) == 2 and _numbers(value) and 0 < value[0] < value[1]:
        return None
    return "must be [low, high] with 0 < low < high"


def _decay_factor(value: Any) -> str | None:
    return None if 0 < value <= 1 else "must be in (0, 1]"


def _scheduler_address(value: Any) -> str | None:
    if value.startswith(("tcp://", "tls://", "inproc://")):
        return None
    return "must be a dask scheduler address such as tcp://127.0.0.1:8786"


def _string_list(value: Any) -> str | None:
    if all(isinstance(item, str) for item in value):
        return None
    return "must be a list of strings"


def _path_list(value: Any) -> str | None:
    # one path or a list of them; a number in the list would fail much later,
    # inside pathlib, without naming the key
    return _string_list(value if isinstance(value, list) else [value])


# pyarrow infers the columns from the first block, so a block must hold the
# header line; at 1 byte its parser aborted the whole process
MIN_BLOCK_SIZE = 64
# bytes per CSV block by default: 2 MiB, twice pyarrow's default. A block is
# a chunk of the shuffle, and an epoch's cost per chunk (the shuffle's
# bookkeeping over blocks of 1/64 of a chunk, a visit, a compiled call) is
# paid per 2,600 rows of 20 numbers at 1 MiB: an epoch over 500,000 decoded
# rows took 0.10 s at 1 MiB, 0.07 s at 2 MiB (0.06 s at 4 MiB, where the
# byte-range parse slowed). The CSV job went 0.53 -> 0.46-0.48 s (10 runs in
# turn); pyarrow's streaming reader alone is no faster at 2 MiB
CSV_BLOCK_SIZE = 2 << 20


def _block_size(value: Any) -> str | None:
    if value >= MIN_BLOCK_SIZE:
        return None
    return (f"must be at least {MIN_BLOCK_SIZE} bytes: each block must hold the"
            " header line and a whole row")


NUMBER = (int, float)
FIELDS: tuple[Field, ...] = (
    # data: where the rows come from
    Field("data.paths", (str, list), None,
          "Parquet/CSV file, directory or glob, or a list of them",
          check=_path_list, nullable=True),
    Field("data.format", str, "auto", "file format; auto picks it from the extension",
          choices=("auto", "parquet", "csv")),
    Field("data.features", list, None, "feature columns, in model order",
          check=_string_list, nullable=True),
    Field("data.target", str, None, "target column", nullable=True),
    Field("data.weight", str, None, "optional sample-weight column", nullable=True),
    Field("data.missing", str, "error",
          "what to do with a missing value: error, drop the row, or impute the mean",
          choices=("error", "drop", "impute")),
    Field("data.positive_above", NUMBER, None,
          "logistic only: label is 1 where the target is above this value",
          nullable=True),
    Field("data.empty_files", str, "error",
          "a 0-byte data file is an error, or skipped with a warning",
          choices=("error", "skip")),
    Field("data.cache_dir", str, None,
          "folder for the CSV cache, typed or decoded rows (default: a"
          " temporary folder)",
          nullable=True),
    Field("data.csv.delimiter", str, ",", "CSV field delimiter"),
    Field("data.csv.null_values", list, ["NA", ""], "strings read as missing",
          check=_string_list),
    Field("data.csv.header", bool, True, "the first line names the columns"),
    Field("data.csv.column_names", list, None,
          "column names when the CSV has no header", check=_string_list,
          nullable=True),
    Field("data.csv.newlines_in_values", bool, False,
          "quoted values may contain newlines (slower to parse)"),
    Field("data.csv.block_size", int, CSV_BLOCK_SIZE,
          "bytes per CSV block; a block is one chunk of the shuffle (in a"
          " plain file over 8 MiB, parsed by byte ranges, the last block of"
          " each range is shorter)",
          check=_block_size),
    Field("data.read_ahead", int, 4,
          "chunks read ahead while training and during the statistics pass"
          " of a Parquet job, by up to 2 threads (0: none)",
          check=_non_negative),
    # preprocessing
    Field("preprocess.scaler", str, "standard", "input rescaling",
          choices=("none", "standard", "minmax", "maxabs")),
    # model
    Field("model.type", str, "linear", "linear (squared loss) or logistic (log loss)",
          choices=("linear", "logistic")),
    Field("model.penalty", str, "none", "regularization",
          choices=("none", "l2", "l1", "elasticnet")),
    Field("model.alpha", NUMBER, 1e-4, "penalty strength", check=_non_negative),
    Field("model.l1_ratio", NUMBER, 0.15, "elastic net: share of L1 in the penalty",
          check=_unit_interval),
    Field("model.fit_intercept", bool, True, "learn an intercept"),
    Field("model.init", str, "zero", "initial weights",
          choices=("zero", "random")),
    Field("model.init_scale", NUMBER, 0.01, "std of random initial weights",
          check=_positive),
    Field("model.classes", list, None,
          "logistic: [negative, positive] label values; default from the data",
          nullable=True),
    # optimizer
    Field("optimizer.method", str, "sgd",
          "training engine: streaming SGD, full-batch passes over dask partitions,"
          " or SGD epochs then an L-BFGS polish",
          choices=("sgd", "batch", "sgd+batch")),
    Field("optimizer.learning_rate", NUMBER, None,
          "initial learning rate; null (default): derived from the statistics"
          " pass and printed in the summary: for sgd, asgd, momentum, nesterov"
          " min(1 / (c L + l2), (0.1 + batch_size / 64) / (c T)), L the"
          " largest eigenvalue and T the trace of the scaled rows' E[x x^T],"
          " c 1 (squared) or 1/4"
          " (log loss), x (1 - momentum) for momentum; for the adaptive rules a"
          " fixed default (adagrad 0.5, rmsprop 0.01, adam 0.01, normalized"
          " 0.5), times the target's std for the squared loss", check=_positive,
          nullable=True),
    Field("optimizer.update", str, "sgd",
          "update rule: sgd, momentum, nesterov, adagrad, rmsprop, adam, asgd"
          " (averaged SGD) or normalized (adaptive, scale-invariant: needs no scaler)",
          choices=("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam",
                   "asgd", "normalized")),
    Field("optimizer.momentum", NUMBER, 0.9, "momentum/nesterov: velocity decay mu",
          check=_below_one),
    Field("optimizer.beta1", NUMBER, 0.9, "adam: decay of the gradient average",
          check=_below_one),
    Field("optimizer.beta2", NUMBER, 0.999,
          "adam, rmsprop: decay of the squared-gradient average", check=_below_one),
    Field("optimizer.epsilon", NUMBER, 1e-8,
          "adagrad, rmsprop, adam: added to the root of the squared gradients",
          check=_positive),
    Field("optimizer.average_start", int, None,
          "asgd: updates before iterates enter the average (the model written);"
          " default: one epoch's updates", check=_non_negative, nullable=True),
    Field("optimizer.schedule", str, None,
          "learning-rate schedule; null (default): constant for normalized (its"
          " steps already shrink as 1 / sqrt(t)), invscaling for the other rules",
          choices=("constant", "invscaling", "epoch_decay"), nullable=True),
    Field("optimizer.power_t", NUMBER, 0.25,
          "invscaling: lr / t**power_t at update t (t starts at 1)",
          check=_non_negative),
    Field("optimizer.decay", NUMBER, 0.5,
          "epoch_decay: lr * decay**epoch", check=_decay_factor),
    Field("optimizer.batch_size", int, 32, "rows per update (1 = per-row SGD)",
          check=_positive),
    Field("optimizer.max_epochs", int, 5, "passes over the data at most",
          check=_positive),
    Field("optimizer.tol", NUMBER, 1e-4,
          "stop when the epoch cost improves by less than this (relative)",
          check=_non_negative),
    Field("optimizer.n_iter_no_change", int, 2,
          "epochs without improvement before stopping", check=_positive),
    Field("optimizer.kernel", str, "auto",
          "plain sgd: compiled numba kernel, generic numpy path, or auto"
          " (numba when installed)", choices=("auto", "numba", "numpy")),
    Field("optimizer.divergence_factor", NUMBER, 1e6,
          "diverged when the last 10 updates cost this factor times the first 10",
          check=_positive),
    Field("optimizer.restarts", int, 1,
          "train from this many seeded random starts; keep the best by holdout"
          " cost (by training cost without a holdout)", check=_positive),
    # tune: `streamgd tune JOB`
    Field("tune.sample_rows", int, 100_000,
          "rows of the sample the trials train on", check=_positive),
    Field("tune.learning_rates", list, None,
          "the rates to try; default: tune.grid_size rates log-spaced over"
          " tune.rate_range", check=_positive_numbers, nullable=True),
    Field("tune.rate_range", list, [1e-4, 10.0],
          "lowest and highest rate of the default grid", check=_rate_range),
    Field("tune.grid_size", int, 11, "rates in the default grid", check=_positive),
    Field("tune.epochs", list, None,
          "max_epochs values to try (default: the job's)", check=_positive_ints,
          nullable=True),
    Field("tune.alphas", list, None,
          "penalty strengths to try (default: the job's model.alpha)",
          check=_non_negative_numbers, nullable=True),
    Field("tune.holdout", NUMBER, 0.2,
          "fraction of the sample held out to compare trials, when the job has"
          " no holdout of its own", check=_open_unit_interval),
    Field("tune.out", str, "tuned.yaml",
          "the YAML override of the best settings, inside output.dir"),
    # validation
    Field("validation.holdout", NUMBER, 0.0,
          "fraction of rows held out (by a stable hash of their key) to measure"
          " the model each epoch; 0: none", check=_below_one),
    Field("validation.key", str, None,
          "column whose value keys the holdout hash; default: file name and row",
          nullable=True),
    Field("validation.paths", (str, list), None,
          "separate validation file(s), instead of a hashed holdout",
          check=_path_list, nullable=True),
    Field("validation.progressive", bool, True,
          "report the first epoch's progressive cost (each row predicted before"
          " the update that uses it)"),
    Field("validation.final_pass", bool, False,
          "after training, read the training rows once more to measure the"
          " written model's training cost (the epoch costs average each"
          " update's cost taken before it)"),
    Field("validation.patience", int, 3,
          "with a holdout: stop after this many epochs without improvement and"
          " keep the best model; null: never stop early", check=_positive,
          nullable=True),
    Field("validation.tol", NUMBER, 1e-4,
          "relative holdout improvement that counts for early stopping",
          check=_non_negative),
    # full-batch engine (optimizer.method: batch or sgd+batch)
    Field("fullbatch.solver", str, "lbfgs",
          "full-batch method: fixed-rate gradient descent, gradient descent with a"
          " backtracking line search, or L-BFGS (needs scipy)",
          choices=("gd", "linesearch", "lbfgs")),
    Field("fullbatch.learning_rate", NUMBER, 0.1,
          "gd: the fixed step; linesearch: the first trial step", check=_positive),
    Field("fullbatch.max_iter", int, 100, "full-batch iterations at most",
          check=_positive),
    Field("fullbatch.tol", NUMBER, 1e-8,
          "stop when the gradient norm, or the relative cost change of an"
          " iteration, falls below this", check=_non_negative),
    # dask: where the full-batch passes run
    Field("dask.scheduler", str, None,
          "null: dask's threaded scheduler in this process; tcp://HOST:PORT:"
          " an existing dask cluster", check=_scheduler_address, nullable=True),
    Field("dask.workers", int, None,
          "start a local cluster of this many worker processes on 127.0.0.1",
          check=_positive, nullable=True),
    Field("dask.cache", str, "auto",
          "keep decoded partitions in worker memory between passes: when they"
          " fit in half of it (auto), never, or always",
          choices=("auto", "never", "always")),
    # shuffle
    Field("shuffle.enabled", bool, True, "shuffle chunks and rows each epoch"),
    Field("shuffle.buffer_rows", int, 100_000,
          "rows held in the shuffle buffer (bounds memory)", check=_positive),
    Field("shuffle.block_rows", int, 128,
          "rows shuffled together: each chunk's rows in a random order, then"
          " blocks of this many leave the buffer in a random order (1: a"
          " row-level shuffle, slower)", check=_positive),
    Field("seed", int, 0, "seed of every random choice",
          check=_non_negative),
    # output
    Field("output.dir", str, "streamgd-out", "folder for the model and logs"),
    Field("output.model", str, "model.json", "model file name, inside output.dir"),
    Field("output.cost_log", str, "costs.jsonl",
          "cost log file name, inside output.dir"),
    Field("output.log_every", int, 100, "updates between cost-log records",
          check=_positive),
    # checkpoints: at each epoch's end, and every N updates or T seconds
    Field("checkpoint.enabled", bool, True,
          "write checkpoints, so `train --resume` can continue an interrupted run"),
    Field("checkpoint.every_updates", int, None,
          "also checkpoint after this many updates (at the next chunk's end)",
          check=_positive, nullable=True),
    Field("checkpoint.every_seconds", NUMBER, 300,
          "also checkpoint after this many seconds (at the next chunk's end)",
          check=_positive, nullable=True),
    Field("checkpoint.path", str, None,
          "checkpoint file (default: checkpoint.npz inside output.dir)",
          nullable=True),
)
FIELD_BY_PATH = {field.path: field for field in FIELDS}
SECTIONS = {path.rsplit(".", 1)[0] for path in FIELD_BY_PATH if "." in path}


class Config:
    """A validated job: read a leaf with `config["optimizer.learning_rate"]`.

    Holds the nested mapping with every default filled in and every path made
    absolute; `as_dict()` returns a copy fit for YAML or JSON (the model file keeps
    it as the resolved config).
    """

    def __init__(self, tree: dict[str, Any]) -> None:
        self._tree = tree

    def __getitem__(self, path: str) -> Any:
        node: Any = self._tree
        for part in path.split("."):
            node = node[part]
        return node

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._tree)

    def replace(self, **overrides: Any) -> Config:
        """A copy with dotted keys replaced (`replace(**{"seed": 3})`), validated."""
        tree = self.as_dict()
        for path, value in overrides.items():
            _assign(tree, path, value)
        return Config(_validate(tree))


def default_tree() -> dict[str, Any]:
    """The nested mapping of every key's default."""
    tree: dict[str, Any] = {}
    for field in FIELDS:
        _assign(tree, field.path, copy.deepcopy(field.default))
    return tree


def load_config(
    path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> Config:
    """Read, override and validate a YAML job; with no path, the embedded default.

    Args:
        path: the YAML job file, or None for the job shipped with the package
            (the nycflights13 arrival-delay regression).
        overrides: `key.sub=value` strings; the value is parsed as YAML.

    Raises:
        ConfigError: unreadable YAML, an unknown key, a wrong type or value.
    """
    if path is None:
        source = resources.files("streamgd.data") / "default.yaml"
        text, data_dir, output_dir = source.read_text(), Path(str(source)).parent, None
        label = "the embedded default job"
    else:
        path = Path(path)
        text, data_dir = _read_job(path), path.resolve().parent
        output_dir, label = data_dir, str(path)
    try:
        raw = load_yaml(text) or {}
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_message(label, error)) from None
    if not isinstance(raw, dict):
        shown = repr(raw) if len(repr(raw)) <= 60 else repr(raw)[:57] + "..."
        raise ConfigError(f"{label} must be a mapping of sections, got {shown}")
    return make_config(raw, overrides, data_dir=data_dir, output_dir=output_dir)


def _yaml_message(label: str, error: yaml.YAMLError) -> str:
    """One line: where the YAML breaks (1-based line and column) and why."""
    mark = getattr(error, "problem_mark", None)
    where = "" if mark is None else f", line {mark.line + 1}, column {mark.column + 1}"
    context = getattr(error, "context", None)
    problem = getattr(error, "problem", None) or str(error)
    if isinstance(error, DuplicateKeyError):
        return f"{label}{where}: {problem} ({context})"
    reason = f"{context}: {problem}" if context else problem
    return (f"{label}{where}: not valid YAML ({reason}); check the indentation,"
            " brackets and quotes there")


def _read_job(path: Path) -> str:
    if path.is_dir():
        raise ConfigError(
            f"job file {path} is a folder; give the YAML job file inside it"
        )
    if not path.is_file():
        raise ConfigError(f"job file {path} does not exist")
    if _looks_like_data(path):
        raise ConfigError(
            f"job file {path} looks like a data file, not a job YAML; name it"
            f" in a job's data.paths, or: streamgd train JOB.yaml --set"
            f" data.paths={path}"
        )
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise ConfigError(
            f"job file {path}, line {line}: byte {error.object[error.start]:#x}"
            " is not UTF-8; save the file as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"job file {path} cannot be read ({error.strerror or error})"
        ) from None


DATA_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".gz", ".bz2", ".zst", ".lz4")


def _looks_like_data(path: Path) -> bool:
    """A data file given where the job belongs: by its name, or Parquet's magic."""
    if path.name.lower().endswith(DATA_SUFFIXES):
        return True
    with contextlib.suppress(OSError), open(path, "rb") as stream:
        return stream.read(4) == b"PAR1"
    return False


def make_config(
    mapping: dict[str, Any],
    overrides: list[str] | tuple[str, ...] = (),
    *,
    data_dir: Path | None = None,
    output_dir: Path | None = None,
) -> Config:
    """Validate a job given as a nested mapping (the Python API's entry).

    Relative data paths are resolved against `data_dir` and the output folder
    against `output_dir` (both default to the working directory).
    """
    tree = _merge(default_tree(), mapping, prefix="")
    for override in overrides:
        key, value = parse_override(override)
        _assign(tree, key, value)
    tree = _validate(tree)
    _resolve_paths(tree, data_dir or Path.cwd(), output_dir or Path.cwd())
    return Config(tree)


def _merge(base: dict[str, Any], given: Any, prefix: str) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'the job'} must be a mapping")
    for key, value in given.items():
        path = f"{prefix}{key}"
        if path in FIELD_BY_PATH:
            base[key] = value
        elif path in SECTIONS:
            base[key] = _merge(base[key], value, prefix=f"{path}.")
        else:
            raise ConfigError(_unknown_key_message(path))
    return base


def _unknown_key_message(path: str) -> str:
    if path in SECTIONS:
        first = next(key for key in FIELD_BY_PATH if key.startswith(f"{path}."))
        return (f"{path!r} is a section, not a key: set one of its keys, such as"
                f" {first}=VALUE (`streamgd config --keys` lists them all)")
    known = sorted(FIELD_BY_PATH) + sorted(SECTIONS)
    close = difflib.get_close_matches(path, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {path!r}{hint} (`streamgd config --keys` lists them all)"


def parse_override(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key.sub=value")
    key = key.strip()
    if key not in FIELD_BY_PATH:
        raise ConfigError(_unknown_key_message(key))
    try:
        return key, load_yaml(value)
    except yaml.YAMLError as error:
        raise ConfigError(f"override {text!r}: value is not YAML: {error}") from None


def _assign(tree: dict[str, Any], path: str, value: Any) -> None:
    *sections, leaf = path.split(".")
    for section in sections:
        tree = tree.setdefault(section, {})
    tree[leaf] = value


def _validate(tree: dict[str, Any]) -> dict[str, Any]:
    config = Config(tree)
    for field in FIELDS:
        value = config[field.path]
        if field.kind in (list, (str, list)) and isinstance(value, str):
            value = [value] if field.kind == list else value
            _assign(tree, field.path, value)
        _check_field(field, value)
    _check_across_fields(config)
    return tree


def _check_field(field: Field, value: Any) -> None:
    if value is None:
        if field.nullable:
            return
        raise ConfigError(f"{field.path} is required ({field.doc})")
    kinds = field.kind if isinstance(field.kind, tuple) else (field.kind,)
    # bool is an int in Python; a YAML `true` is never a number here
    wrong_bool = isinstance(value, bool) and bool not in kinds
    if wrong_bool or not isinstance(value, kinds):
        expected = " or ".join(kind.__name__ for kind in kinds)
        raise ConfigError(
            f"{field.path} must be {expected}, got {type(value).__name__} {value!r}"
        )
    # YAML reads .inf and .nan as floats; no number of a job means anything
    # when infinite (an infinite learning rate diverged only at the first step)
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{field.path} must be a finite number, got {value!r} ({field.doc})"
        )
    if field.choices is not None and value not in field.choices:
        raise ConfigError(
            f"{field.path} must be one of {', '.join(map(str, field.choices))};"
            f" got {value!r}"
        )
    problem = field.check(value) if field.check else None
    if problem:
        raise ConfigError(f"{field.path} {problem}, got {value!r}")


def _check_across_fields(config: Config) -> None:
    for path in ("data.paths", "data.features", "data.target"):
        if not config[path]:
            raise ConfigError(f"{path} is required ({FIELD_BY_PATH[path].doc})")
    features = config["data.features"]
    repeated = sorted({name for name in features if features.count(name) > 1})
    if repeated:
        raise ConfigError(f"data.features lists {repeated} more than once")
    for path in ("data.target", "data.weight"):
        if config[path] in features:
            raise ConfigError(
                f"{path} {config[path]!r} is also listed in data.features;"
                " a column cannot be both"
            )
    weight = config["data.weight"]
    if weight is not None and weight == config["data.target"]:
        raise ConfigError(
            f"data.weight {weight!r} is also data.target; a column cannot be both"
        )
    logistic = config["model.type"] == "logistic"
    if config["data.positive_above"] is not None and not logistic:
        raise ConfigError("data.positive_above applies only to model.type: logistic")
    classes = config["model.classes"]
    if classes is not None and (len(classes) != 2 or classes[0] == classes[1]):
        raise ConfigError(f"model.classes must be two distinct values, got {classes}")
    if config["validation.holdout"] > 0 and config["validation.paths"]:
        raise ConfigError(
            "validation.holdout and validation.paths are both set; use one"
        )
    if config["validation.key"] is not None and config["validation.holdout"] == 0:
        raise ConfigError("validation.key needs validation.holdout > 0")
    if config["dask.scheduler"] is not None and config["dask.workers"] is not None:
        raise ConfigError(
            "dask.scheduler and dask.workers are both set: connect to an existing"
            " cluster or start a local one, not both"
        )
    if config["data.csv.column_names"] is None and not config["data.csv.header"]:
        raise ConfigError("data.csv.header is false: give data.csv.column_names")
    _check_output_names(config)
    delimiter = config["data.csv.delimiter"]
    if len(delimiter) != 1 or delimiter in "\r\n\"":
        raise ConfigError(
            f"data.csv.delimiter must be one character other than a quote or a"
            f" line break, got {delimiter!r}"
        )


def _check_output_names(config: Config) -> None:
    # plain names: a separator or '..' would write outside output.dir
    for path in ("output.model", "output.cost_log"):
        name = config[path]
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise ConfigError(
                f"{path} must be a plain file name inside output.dir, got"
                f" {name!r}; set output.dir to write elsewhere"
            )
    if config["output.model"] == config["output.cost_log"]:
        raise ConfigError(
            f"output.model and output.cost_log are both {config['output.model']!r};"
            " the model would overwrite the cost log: give them different names"
        )


def _resolve_paths(tree: dict[str, Any], data_dir: Path, output_dir: Path) -> None:
    data = tree["data"]
    paths = data["paths"] if isinstance(data["paths"], list) else [data["paths"]]
    data["paths"] = [_absolute(path, data_dir) for path in paths]
    validation = tree["validation"]
    if validation["paths"]:
        given = validation["paths"]
        given = given if isinstance(given, list) else [given]
        validation["paths"] = [_absolute(path, data_dir) for path in given]
    if data["cache_dir"] is not None:
        data["cache_dir"] = _absolute(data["cache_dir"], output_dir)
    tree["output"]["dir"] = _absolute(tree["output"]["dir"], output_dir)
    if tree["checkpoint"]["path"] is not None:
        tree["checkpoint"]["path"] = _absolute(tree["checkpoint"]["path"], output_dir)


def _absolute(path: str, base: Path) -> str:
    expanded = Path(path).expanduser()
    return os.path.normpath(expanded if expanded.is_absolute() else base / expanded)
