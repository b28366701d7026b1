"""The written model's cost over the training rows: one more read after training.

The epoch costs of a streaming run are averages of the updates' costs, each
taken on its batch before the update: a measure of the path, not of the model
written at its end. With `validation.final_pass: true` the run reads the
training rows once more (the hashed holdout's rows left out, as in training)
and measures the written parameters on them: the weighted mean loss plus the
penalty, the objective the epochs lower. `streamgd evaluate` gives the same
loss later on any data.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamgd.config import Config
from streamgd.model.penalties import Penalty
from streamgd.model.saved import TrainedModel
from streamgd.readers import Source
from streamgd.readers.ahead import read_chunk
from streamgd.readers.decode import Chunk
from streamgd.validate.holdout import holdout_fraction_of


def training_cost(
    model: TrainedModel, config: Config, decoder, source: Source
) -> float:
    """Weighted mean loss of `model` on the training rows, plus its penalty.

    Args:
        model: the model as it will be written (its scaler and parameters).
        config: the job (holdout fraction and key, penalty).
        decoder: the statistics pass's decoder (labels, impute values).
        source: the training data.
    """
    fraction, key = config["validation.holdout"], config["validation.key"]
    total = weight = 0.0
    for ref in source.chunks:
        # decoded as training did (the rows a CSV source kept decoded, if so:
        # then there is no holdout and no table); the hashed holdout stays out
        _, table, chunk = read_chunk(source, decoder, ref)
        if chunk.n_rows and fraction > 0:
            keep = ~holdout_fraction_of(table, ref, chunk.kept, key, fraction)
            chunk = Chunk(chunk.X[keep], chunk.y[keep],
                          None if chunk.weight is None else chunk.weight[keep])
        if chunk.n_rows == 0:
            continue
        margins = model.params.margin(model.scaler.transform(chunk.X))
        losses, _ = model.loss.value_and_slope(margins, chunk.y)
        sample = np.ones(len(losses)) if chunk.weight is None else chunk.weight
        total += float(losses @ sample)
        weight += float(sample.sum())
    penalty = Penalty.of(config["model.penalty"], config["model.alpha"],
                         config["model.l1_ratio"])
    return total / weight + float(penalty.value(model.params.weights))


def with_training_cost(
    model: TrainedModel, config: Config, decoder, source: Source
) -> TrainedModel:
    """`model` with `training["train_cost"]` measured by `training_cost`."""
    cost = training_cost(model, config, decoder, source)
    return replace(model, training={**model.training, "train_cost": cost})
