"""When a run stops, and when it has diverged: the rules on the epoch costs.

    starting cost   weighted mean cost of the first BASELINE_UPDATES updates,
                    taken before a bad learning rate has had time to blow it up
    diverged        the epoch cost stands STARTING_FACTOR times above the
                    starting cost, or it rose in each of the last RISING_EPOCHS
                    epochs to EPOCH_FACTOR times the best epoch cost
    converged       for `n_iter_no_change` epochs the cost improved by less
                    than tol and stayed within tol of the best: it settled
    no_improvement  for `n_iter_no_change` epochs it improved by less than tol
                    but did not settle (it rose or wandered above the best)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from streamgd.train.state import Monitor

BASELINE_UPDATES = 10
# an epoch whose average is 100 times the cost of the weights training started
# from made the model far worse than not training at all
STARTING_FACTOR = 100.0
# SGD noise moves the epoch average by a few percent to a few times at most;
# two rises in a row ending ten times above the best is a slow blow-up
EPOCH_FACTOR = 10.0
RISING_EPOCHS = 2
PROGRESS_MARGIN = 1e-9


def starting_cost(costs: np.ndarray, weights: np.ndarray) -> float | None:
    """Weighted mean of the first BASELINE_UPDATES update costs; None if none.

    Args:
        costs, weights: float64 arrays of shape (n_updates,), the first updates
            of the run in order.
    """
    costs, weights = costs[:BASELINE_UPDATES], weights[:BASELINE_UPDATES]
    total = float(weights.sum())
    return float(costs @ weights) / total if total > 0 else None


def epoch_divergence(monitor: Monitor, cost: float) -> str | None:
    """Why an epoch of averaged cost `cost` shows divergence, or None.

    `monitor` is the state before the epoch is recorded.
    """
    start = monitor.first_cost
    if not np.isfinite(cost):
        return "the epoch cost is not finite"
    if start is not None and start > 0 and cost > STARTING_FACTOR * start:
        return (f"the epoch cost {cost:.4g} is over {STARTING_FACTOR:g} times"
                f" the starting cost {start:.4g}")
    recent = (*monitor.epoch_costs[-RISING_EPOCHS:], cost)
    rising = len(recent) == RISING_EPOCHS + 1 and all(
        later > earlier for earlier, later in zip(recent, recent[1:])
    )
    if rising and cost > EPOCH_FACTOR * monitor.best_cost > 0:
        return (f"the epoch cost rose {RISING_EPOCHS} epochs in a row to {cost:.4g},"
                f" over {EPOCH_FACTOR:g} times the best epoch cost"
                f" {monitor.best_cost:.4g}")
    return None


def judge_epoch(monitor: Monitor, cost: float, tol: float, patience: int) -> Monitor:
    """The monitor once an epoch of averaged cost `cost` is recorded.

    The epoch is stale when it improved on the best cost by less than `tol`
    (relative). After `patience` stale epochs the run stops: "converged" when
    those epochs all stayed within `tol` of the best, else "no_improvement".
    """
    best = monitor.best_cost
    stale = monitor.n_stale + 1 if cost > best - tol * abs(best) else 0
    best = min(best, cost)
    costs = (*monitor.epoch_costs, cost)
    reason = monitor.stop_reason
    if stale >= patience:
        settled = all(
            abs(recent - best) <= tol * abs(best) for recent in costs[-stale:]
        )
        reason = "converged" if settled else "no_improvement"
    return replace(monitor, epoch_costs=costs, best_cost=best, n_stale=stale,
                   stop_reason=reason)


def _reference(monitor: Monitor) -> tuple[str, float | None]:
    costs = monitor.epoch_costs
    if len(costs) > 1:
        return "the first epoch's cost", costs[0]
    if monitor.continued:
        # a trained model's first updates cost what its epoch does: no yardstick
        return "no reference", None
    return "the starting cost", monitor.first_cost


def progress_reference(monitor: Monitor) -> str:
    """What `made_progress` compared with, in words: "the starting cost 12.5"."""
    name, value = _reference(monitor)
    return f"{name} {value:.6g}" if value is not None else name


def made_progress(monitor: Monitor) -> bool:
    """True when the final epoch cost is clearly below the reference.

    The reference is the first epoch's cost after several epochs, else the
    starting cost (none for a run that continued trained weights). A run with
    no epoch or no reference counts as progress.
    """
    _, reference = _reference(monitor)
    costs = monitor.epoch_costs
    if not costs or reference is None or reference == 0:
        return True
    # shuffled sums of equal costs differ in the last bits: not progress
    return costs[-1] < reference - PROGRESS_MARGIN * abs(reference)
