"""The full-batch engine: gradient passes over partitions, coordinated by dask.

    partitions.py   Parquet row groups and CSV files, read inside dask tasks
    passes.py       per-partition sums (loss, gradient, weight, rows) and
                    statistics, combined by a tree reduction
    gradient.py     loss and gradient sums of a block, column by column
    kernel.py       the compiled loop that scales a column into the margins
    objective.py    cost and gradient of the whole data from a pass's sums
    solvers.py      fixed-rate gradient descent, backtracking line search, L-BFGS
    cluster.py      threaded scheduler, local cluster, or an existing cluster
    engine.py       the driver: statistics pass, iterations, cost log, model
    resume.py       checkpoints of gd and linesearch after each iteration
"""

from streamgd.fullbatch.solvers import ConvergenceWarning

__all__ = ["ConvergenceWarning", "train_fullbatch"]


def train_fullbatch(config, progress=None, resume=False, stop=None):
    """Run a job with optimizer.method batch or sgd+batch (see `engine`)."""
    from streamgd.fullbatch.engine import train_fullbatch as run

    return run(config, progress, resume=resume, stop=stop)
