"""The statistics pass: one streaming read before training.

It checks every value (so a bad file fails before any update is made), learns the
class labels of a logistic model, counts rows kept and dropped, and accumulates the
normalization statistics chunk by chunk. With `data.missing: impute` the feature
means found here become the values filled in during training.
"""

from __future__ import annotations

import logging
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from streamgd.config import Config
from streamgd.errors import DataError, NonFiniteValueError
from streamgd.model.labels import Key, LabelMap, collect_classes
from streamgd.normalize import RunningStats, Scaler
from streamgd.normalize.comoments import Comoments, largest_curvature
from streamgd.normalize.moments import StatisticsOverflow
from streamgd.readers import ColumnPlan, Source, open_source, resolve_files
from streamgd.readers.ahead import read_tables
from streamgd.readers.chunks import ChunkRef
from streamgd.readers.decode import Chunk, Decoder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """What the statistics pass learned.

    Attributes:
        decoder: decodes chunks for training (labels and impute values set).
        stats: running statistics of the features, over the rows kept.
        scaler: the job's scaler fitted to `stats`.
        n_rows: rows kept for training; n_dropped: rows dropped (missing values).
        constant: names of constant feature columns (weights held at 0).
        mean_weight: mean sample weight of the rows kept; 1.0 when unweighted.
            The engine scales each step by its batch's weight over that of an
            average batch, so that sample weights count at any batch size.
        baseline_cost: the cost of the all-zero model over the rows kept
            (weighted mean of y^2 / 2 for the squared loss, log 2 for the log
            loss); the least scale the divergence checks compare costs with.
        largest_curvature: the largest eigenvalue of E[x x^T] over the scaled
            rows (intercept included), or None when it was not measured (see
            `normalize.comoments`); sets the default learning rate.
        target_scale: the root mean square of the target's deviation from its
            mean (squared loss), or None; sets the adaptive rules' default rates.
    """

    decoder: Decoder
    stats: RunningStats
    scaler: Scaler
    n_rows: int
    n_dropped: int
    constant: list[str]
    mean_weight: float = 1.0
    baseline_cost: float = 0.0
    largest_curvature: float | None = None
    target_scale: float | None = None


@dataclass(frozen=True)
class PreparedSummary:
    """What a checkpoint keeps of the statistics pass, so a resume skips it.

    Attributes:
        stats: running statistics of the features over the rows kept.
        labels: the label mapping of a logistic model, or None.
        impute_values: float64 (n_features,) fill values under impute, or None.
        n_rows, n_dropped: rows kept and dropped.
        constant: names of the constant feature columns.
        mean_weight: mean sample weight of the rows kept (1.0 unweighted).
        baseline_cost: the zero model's cost over the rows kept.
        largest_curvature, target_scale: as in `Prepared`.
        chunk_layout: how the training source was cut into chunks
            (`checkpoint.fingerprint.chunk_layout`), or None if not known.
    """

    stats: RunningStats
    labels: LabelMap | None
    impute_values: np.ndarray | None
    n_rows: int
    n_dropped: int
    constant: tuple[str, ...]
    mean_weight: float
    baseline_cost: float
    largest_curvature: float | None = None
    target_scale: float | None = None
    chunk_layout: str | None = None

    @classmethod
    def of(cls, prepared: Prepared, chunk_layout: str | None = None
           ) -> PreparedSummary:
        decoder = prepared.decoder
        return cls(prepared.stats, decoder.labels, decoder.impute_values,
                   prepared.n_rows, prepared.n_dropped, tuple(prepared.constant),
                   prepared.mean_weight, prepared.baseline_cost,
                   prepared.largest_curvature, prepared.target_scale, chunk_layout)

    def restore(self, config: Config, plan: ColumnPlan) -> Prepared:
        """The `Prepared` of the pass this summary was taken from."""
        decoder = decoder_for(config, plan)
        decoder.labels, decoder.impute_values = self.labels, self.impute_values
        scaler = Scaler.fit(config["preprocess.scaler"], self.stats,
                            center=config["model.fit_intercept"])
        return Prepared(decoder, self.stats, scaler, self.n_rows, self.n_dropped,
                        list(self.constant), self.mean_weight, self.baseline_cost,
                        self.largest_curvature, self.target_scale)


def decoder_for(config: Config, plan: ColumnPlan) -> Decoder:
    """A decoder with the job's policies; labels still unknown unless thresholded."""
    labels = None
    if config["data.positive_above"] is not None:
        labels = LabelMap(threshold_value=float(config["data.positive_above"]))
    return Decoder(
        features=list(config["data.features"]), plan=plan,
        weight=config["data.weight"], missing=config["data.missing"], labels=labels,
    )


def prepare(config: Config, source: Source, plan: ColumnPlan,
            progress: Any = None) -> Prepared:
    """Read every chunk once, in file order; see the module docstring.

    A `progress` object with a `statistics_rows(rows_read)` method is told the
    rows read (dropped ones included) after each chunk; others are left alone.

    Raises:
        DataError: a bad value (naming file, column, row), too few classes, or
            no row left to train on.
    """
    statistics = StatisticsPass(config, plan, progress)
    _read_all(config, source, statistics)
    return statistics.finish()


def _read_all(config: Config, source: Source, statistics: StatisticsPass) -> None:
    """Every chunk into the pass, in file order, the next ones read meanwhile
    in `data.read_ahead` chunks ahead (the same tables, so the same bits):
    2M rows of 20 Parquet columns took 0.34 s to read and 0.73 s to add."""
    with closing(read_tables(source, source.chunks, config["data.read_ahead"])
                 ) as tables:
        for ref, table in tables:
            statistics.add(ref, table)


def open_and_prepare(
    config: Config, plan: ColumnPlan, progress: Any = None
) -> tuple[Source, Prepared]:
    """The job's source, and its statistics pass done as early as it can be.

    A CSV source hands each block to the pass as it parses it, before writing
    it to its cache: the pass then needs no second read of the data. When the
    pass's decoding is final (`keeps_decoded`), the source also keeps the
    decoded chunks for the epochs. A Parquet source is read once more, as by
    `prepare`. The source is closed if the pass fails; otherwise the caller
    closes it.
    """
    statistics = StatisticsPass(config, plan, progress)
    decoded_by = statistics.decoder if keeps_decoded(config, statistics) else None
    source = open_source(config, plan, observe=statistics.add,
                         decoded_by=decoded_by)
    try:
        if statistics.n_chunks < len(source.chunks):  # the source did not observe
            _read_all(config, source, statistics)
        return source, statistics.finish()
    except BaseException:
        source.close()
        raise


def keeps_decoded(config: Config, statistics: StatisticsPass) -> bool:
    """Whether the chunks the pass decodes are those the epochs train on.

    Not when the pass learns what decoding needs (the classes of a text target,
    the means `data.missing: impute` fills in: `finish_preparation` sets them
    on the decoder), nor when the epochs need the table itself (the rows
    `validation.holdout` draws by key).
    """
    return (not statistics.needs_classes and config["data.missing"] != "impute"
            and config["validation.holdout"] == 0)


class StatisticsPass:
    """The statistics pass, fed one chunk at a time (`add`), then `finish`ed."""

    def __init__(self, config: Config, plan: ColumnPlan, progress: Any = None):
        self.config, self.plan = config, plan
        self.decoder = decoder_for(config, plan)
        self.needs_classes = (config["model.type"] == "logistic"
                              and not plan.target_numeric)
        self.linear = config["model.type"] == "linear"
        self.stats = RunningStats.empty(len(self.decoder.features))
        self.comoments = Comoments.empty(len(self.decoder.features))
        self.target = RunningStats.empty(1)
        self.classes: set[Key] = set()
        self.n_rows = self.n_dropped = self.n_chunks = 0
        self.mean_weight = 1.0
        self.squares = np.zeros(2)  # sum of s * y^2 / 2 and of s (baseline cost)
        self.files: dict[str, None] = {}
        self.report = getattr(progress, "statistics_rows", None)
        # rows labelled 1 by data.positive_above; rows validation.holdout takes
        self.thresholded = self.decoder.labels is not None
        self.positives = self.held_out = 0

    def add(self, ref: ChunkRef, table: pa.Table) -> Chunk:
        """Check one chunk and add it to the counts and statistics; its rows
        as decoded (without the target when the classes are still unknown).

        Raises:
            DataError: a bad value, naming file, column, row (and line).
        """
        target = self.plan.target
        if self.needs_classes:
            collect_classes(table.column(target), target, self.classes, ref)
        # a numeric target is decoded, so NaN, inf and overflow fail here
        chunk = self.decoder.decode(table, ref, with_target=not self.needs_classes)
        if self.linear:
            check_target_magnitude(chunk, ref, target)
        self.stats = update_statistics(self.stats, chunk, ref, self.decoder.features)
        self.comoments = self.comoments.update(chunk.X)
        if self.linear:
            self.squares += _half_squares(chunk)
            self.target = self.target.update(chunk.y[:, None])
        if self.thresholded:
            self.positives += count_positives(chunk)
        if self.config["validation.holdout"] > 0 and chunk.n_rows:
            self.held_out += _count_held_out(self.config, table, ref, chunk)
        if chunk.weight is not None and chunk.n_rows:
            self.mean_weight = _running_mean(self.mean_weight, self.n_rows, chunk,
                                             ref, self.config)
        self.n_rows += chunk.n_rows
        self.n_dropped += chunk.n_dropped
        self.n_chunks += 1
        self.files[ref.file] = None
        if self.report is not None:
            self.report(self.n_rows + self.n_dropped)
        return chunk

    def finish(self) -> Prepared:
        """What the pass learned; see `finish_preparation`."""
        config = self.config
        # header-only files have no chunk, but an error about them must name them
        files = sorted(self.files) or [
            file.path
            for file in resolve_files(config["data.paths"], config["data.format"])
        ]
        squares = self.squares
        baseline = (squares[0] / squares[1] if self.linear and squares[1] > 0
                    else np.log(2.0))
        target_scale = (float(self.target.std[0])
                        if self.linear and self.target.count[0] else None)
        prepared = finish_preparation(
            config, self.decoder, self.stats,
            self.classes if self.needs_classes else None, self.n_rows,
            self.n_dropped, files, self.mean_weight, float(baseline),
            self.comoments, target_scale, self.positives,
        )
        _check_rows_left_to_train(config, self.n_rows, self.held_out, files)
        return prepared


def _count_held_out(config: Config, table: Any, ref: ChunkRef, chunk: Chunk) -> int:
    """Rows of a decoded chunk that `validation.holdout` holds out."""
    # imported here: streamgd.validate imports this module
    from streamgd.validate.holdout import holdout_fraction_of

    held = holdout_fraction_of(table, ref, chunk.kept, config["validation.key"],
                               config["validation.holdout"])
    return int(np.count_nonzero(held))


def _check_rows_left_to_train(
    config: Config, n_rows: int, held_out: int, files: list[str]
) -> None:
    """Refuse a holdout that leaves no row to train on.

    Raises:
        DataError: naming the fraction and the counts.
    """
    if config["validation.holdout"] == 0 or held_out < n_rows:
        return
    raise DataError(
        f"no training rows left after the holdout: validation.holdout"
        f" {config['validation.holdout']:g} holds out all {n_rows} rows kept"
        f" ({held_out} held out, 0 left to train on); lower validation.holdout",
        file=", ".join(files) or None,
    )


def finish_preparation(
    config: Config, decoder: Decoder, stats: RunningStats, classes: set[Key] | None,
    n_rows: int, n_dropped: int, files: list[str], mean_weight: float = 1.0,
    baseline_cost: float = 0.0, comoments: Comoments | None = None,
    target_scale: float | None = None, positives: int | None = None,
) -> Prepared:
    """What a statistics pass learned, made ready for training.

    Sets the decoder's labels (from the classes seen, when given) and impute
    values, reports constant columns, fits the scaler. Shared by the streaming
    engine and the full-batch engine, whose pass runs in dask tasks.
    `positives` counts the kept rows labelled 1 by `data.positive_above`.

    Raises:
        DataError: too few classes (a threshold leaving one class included),
            or no row left to train on.
    """
    features = decoder.features
    if classes is not None:
        decoder.labels = LabelMap.from_classes(
            set(classes), config["model.classes"], decoder.plan.target
        )
    if n_rows == 0:
        raise DataError(
            f"no rows to train on ({n_dropped} dropped for missing values)",
            file=", ".join(files) or None,
        )
    _check_weights_not_all_zero(config, mean_weight, files)
    if positives is not None and decoder.labels is not None:
        _check_threshold_splits(config, positives, n_rows, files)
    if config["data.missing"] == "impute":
        _check_every_feature_has_values(stats, features, files)
        decoder.impute_values = stats.mean.copy()
    constant = [name for name, flag in zip(features, stats.constant) if flag]
    for name in constant:
        log.warning("feature %r is constant: left unscaled, weight held at 0", name)
    _warn_if_scales_differ(config, stats, features)
    if n_dropped:
        log.info("dropped %d rows with missing values", n_dropped)
    scaler = Scaler.fit(config["preprocess.scaler"], stats,
                        center=config["model.fit_intercept"])
    curvature = largest_curvature(
        comoments, scaler.shift, scaler.scale, ~stats.constant & (stats.count > 0),
        config["model.fit_intercept"],
    )
    return Prepared(
        decoder, stats, scaler, n_rows, n_dropped, constant, mean_weight,
        baseline_cost, curvature, target_scale,
    )


# unscaled features whose deviations differ by more than this factor get a
# warning: one learning rate cannot suit them all
SCALE_SPREAD_LIMIT = 1e3


def _warn_if_scales_differ(
    config: Config, stats: RunningStats, features: list[str]
) -> None:
    """Warn once when, with preprocess.scaler none, the features' standard
    deviations differ by more than SCALE_SPREAD_LIMIT (SGD then may report
    convergence far from the best fit)."""
    if config["preprocess.scaler"] != "none":
        return
    std = stats.std
    varying = np.flatnonzero((stats.count > 0) & ~stats.constant & (std > 0))
    if len(varying) < 2:
        return
    smallest = varying[np.argmin(std[varying])]
    largest = varying[np.argmax(std[varying])]
    factor = std[largest] / std[smallest]
    if factor <= SCALE_SPREAD_LIMIT:
        return
    fix = "set preprocess.scaler: standard"
    if config["optimizer.method"] == "sgd":
        fix += " or optimizer.update: normalized"
    log.warning(
        "preprocess.scaler is none and the features' standard deviations differ"
        " by a factor of %.3g (%r: %.3g, %r: %.3g): one learning rate cannot"
        " suit both, and training may stop far from the best fit; %s",
        factor, features[smallest], std[smallest], features[largest],
        std[largest], fix,
    )


def _half_squares(chunk: Chunk) -> np.ndarray:
    """[sum of s * y^2 / 2, sum of s] over a chunk; s = 1 without weights.

    A target beyond 1e154 makes the sum infinite: the baseline is then no
    bound at all, and only the non-finite checks watch for divergence.
    """
    weight = np.ones(chunk.n_rows) if chunk.weight is None else chunk.weight
    with np.errstate(over="ignore"):
        return np.array([0.5 * weight @ np.square(chunk.y), weight.sum()])


def _running_mean(
    mean: float, n_before: int, chunk: Chunk, ref: ChunkRef, config: Config
) -> float:
    """The mean sample weight once `chunk` is added to `n_before` earlier rows."""
    with np.errstate(over="ignore"):
        chunk_mean = float(np.mean(chunk.weight))
    if not np.isfinite(chunk_mean):
        raise NonFiniteValueError(
            "sample weights so large that their mean overflows float64;"
            " divide the weight column by a power of ten",
            file=ref.file, column=config["data.weight"],
        )
    if n_before == 0:
        return chunk_mean
    return mean + (chunk_mean - mean) * (chunk.n_rows / (n_before + chunk.n_rows))


def update_statistics(
    stats: RunningStats, chunk: Chunk, ref: ChunkRef, features: list[str]
) -> RunningStats:
    """`stats` extended by a decoded chunk; an overflow becomes a located error."""
    try:
        return stats.update(chunk.X)
    except StatisticsOverflow as overflow:
        row = None
        if overflow.row is not None and chunk.kept is not None:
            row = ref.first_row + int(chunk.kept[overflow.row])
        elif overflow.row is not None:
            row = ref.first_row + overflow.row
        line = None
        if row is not None and ref.first_line is not None:
            line = ref.first_line + row - ref.first_row
        raise NonFiniteValueError(
            "values so large that their mean or variance overflows float64;"
            " rescale the column before training (divide it by a power of ten)",
            file=ref.file, column=features[overflow.feature], row=row, line=line,
        ) from None


# the squared loss (prediction - target)^2 / 2 overflows float64 near 1.3e154;
# a margin leaves room for the prediction and the batch sums
TARGET_LIMIT = 1e150


def check_target_magnitude(chunk: Chunk, ref: ChunkRef, target: str) -> None:
    """Refuse a regression target whose squared loss would overflow float64.

    Raises:
        NonFiniteValueError: naming the file, column, row and line.
    """
    too_large = np.abs(chunk.y) > TARGET_LIMIT
    if not too_large.any():
        return
    index = int(np.argmax(too_large))
    row = ref.first_row + (index if chunk.kept is None else int(chunk.kept[index]))
    line = None if ref.first_line is None else ref.first_line + row - ref.first_row
    raise NonFiniteValueError(
        f"target {float(chunk.y[index])!r} is beyond {TARGET_LIMIT:g}: its"
        " squared loss overflows float64; rescale the target (divide it by a"
        " power of ten)",
        file=ref.file, column=target, row=row, line=line,
    )


def count_positives(chunk: Chunk) -> int:
    """Rows of a decoded chunk labelled 1 (its target above the threshold)."""
    return int(np.count_nonzero(chunk.y > 0.5))


def _check_threshold_splits(
    config: Config, positives: int, n_rows: int, files: list[str]
) -> None:
    """Refuse a `data.positive_above` that puts every row in one class.

    Raises:
        DataError: naming the threshold and the rows on each side of it.
    """
    threshold = config["data.positive_above"]
    if threshold is None or 0 < positives < n_rows:
        return
    raise DataError(
        f"data.positive_above {threshold:g} leaves one class: {positives} of"
        f" {n_rows} rows have a target above it, {n_rows - positives} at or"
        " below; a logistic model needs both classes: choose a threshold"
        " inside the target's range",
        file=", ".join(files) or None, column=config["data.target"],
    )


def _check_weights_not_all_zero(
    config: Config, mean_weight: float, files: list[str]
) -> None:
    if config["data.weight"] is not None and mean_weight == 0.0:
        raise DataError(
            "every sample weight is 0, so no row counts and nothing can be"
            " learned; check the weight column or unset data.weight",
            file=", ".join(files) or None, column=config["data.weight"],
        )


def _check_every_feature_has_values(
    stats: RunningStats, features: list[str], files: list[str]
) -> None:
    empty = [name for name, count in zip(features, stats.count) if count == 0]
    if empty:
        raise DataError(
            "no value at all (every row is missing), so data.missing: impute"
            " has no mean to fill in; remove the column from data.features",
            file=", ".join(files) or None, column=", ".join(empty),
        )
