"""Choosing the learning rate (and epochs, penalties) by short runs on a sample."""

from streamgd.tune.search import Trial, TuneResult, tune

__all__ = ["Trial", "TuneResult", "tune"]
