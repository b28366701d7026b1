"""The training loop, statistics pass, cost log."""

from streamgd.train.job import TrainResult, train

__all__ = ["TrainResult", "train"]
