"""The training loop, statistics pass, cost log."""

from streamgd.train.loop import TrainResult, train

__all__ = ["TrainResult", "train"]
