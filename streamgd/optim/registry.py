"""The job's `optimizer.update` key to an optimizer object."""

from __future__ import annotations

import numpy as np

from streamgd.config import FIELD_BY_PATH, Config
from streamgd.model.penalties import Penalty
from streamgd.optim.adagrad import AdaGrad
from streamgd.optim.adam import Adam
from streamgd.optim.averaged import AveragedSGD
from streamgd.optim.base import Optimizer
from streamgd.optim.momentum import Momentum
from streamgd.optim.normalized import Normalized
from streamgd.optim.rmsprop import RMSProp
from streamgd.optim.sgd import SGD

UPDATES: tuple[str, ...] = FIELD_BY_PATH["optimizer.update"].choices or ()


def make_optimizer(
    config: Config, penalty: Penalty, active: np.ndarray, updates_per_epoch: int
) -> Optimizer:
    """The optimizer a job asks for.

    Args:
        penalty: the model's penalty (its L1 part becomes the proximal step).
        active: bool (n_features,); False freezes a (constant) feature's weight.
        updates_per_epoch: where averaged SGD starts averaging unless the job
            says otherwise (early iterates, far from the optimum, would weigh
            on the mean for a long time).
    """
    kind = config["optimizer.update"]
    fit_intercept = config["model.fit_intercept"]
    common = {"penalty": penalty, "active": active, "fit_intercept": fit_intercept}
    epsilon = config["optimizer.epsilon"]
    if kind in ("momentum", "nesterov"):
        return Momentum(
            **common, momentum=config["optimizer.momentum"],
            nesterov=kind == "nesterov",
        )
    if kind == "adagrad":
        return AdaGrad(**common, epsilon=epsilon)
    if kind == "rmsprop":
        return RMSProp(**common, beta2=config["optimizer.beta2"], epsilon=epsilon)
    if kind == "adam":
        return Adam(
            **common, beta1=config["optimizer.beta1"],
            beta2=config["optimizer.beta2"], epsilon=epsilon,
        )
    if kind == "asgd":
        start = config["optimizer.average_start"]
        start = updates_per_epoch if start is None else start
        return AveragedSGD(**common, average_start=start)
    if kind == "normalized":
        return Normalized(**common)
    return SGD(**common)
