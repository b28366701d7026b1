"""Optimizers with explicit state, and learning-rate schedules."""

from streamgd.optim.schedules import Schedule
from streamgd.optim.sgd import SGD, SGDState

__all__ = ["SGD", "SGDState", "Schedule"]
