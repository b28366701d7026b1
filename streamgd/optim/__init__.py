"""Optimizers with explicit state, and learning-rate schedules."""

from streamgd.optim.adagrad import AdaGrad, AdaGradState
from streamgd.optim.adam import Adam, AdamState
from streamgd.optim.averaged import AveragedSGD, AveragedSGDState
from streamgd.optim.base import Optimizer
from streamgd.optim.momentum import Momentum, MomentumState
from streamgd.optim.normalized import Normalized, NormalizedState
from streamgd.optim.registry import UPDATES, make_optimizer
from streamgd.optim.rmsprop import RMSProp, RMSPropState
from streamgd.optim.schedules import Schedule
from streamgd.optim.sgd import SGD, SGDState

__all__ = [
    "AdaGrad", "AdaGradState", "Adam", "AdamState", "AveragedSGD",
    "AveragedSGDState", "Momentum", "MomentumState", "Normalized",
    "NormalizedState", "Optimizer", "RMSProp", "RMSPropState", "SGD", "SGDState",
    "Schedule", "UPDATES", "make_optimizer",
]
