"""The cost log's sums over one block of updates: one compiled pass, or numpy.

For each block the cost log needs, at every update that is a multiple of
`log_every`, the weighted mean cost of the last 10, 100 and 1000 updates and of
the epoch so far, and the rows seen; then the tail of costs and weights the next
block's windows reach back into, and the epoch's sums. At batch size 1 a block
holds tens of thousands of updates and only a few dozen records, yet numpy must
build every running sum in full: concatenated copies and five cumulative sums
per block. On the 2M-row benchmark file at batch size 1 that took 0.115 s of
the engine thread's CPU per epoch against 0.17 s for the SGD kernel; the
compiled pass takes 0.004 s, the records built from it 0.02 s (cProfile timed
by `time.thread_time`).

    numpy     the sums in full (`np.cumsum`), then read at the record updates
    compiled  one numba loop over the block: the same running sums, added in
              the same order, kept in a ring of the last 1024 prefix sums;
              only the records are written out

Both give the same bits, as the cost log's records must not depend on whether
numba is installed (a run resumed without it continues the same log): a
cumulative sum adds left to right, one element after the other, and the loop
does exactly those additions, starting each sum from its first element as
`np.cumsum` does (0.0 + x is not x when x is -0.0). The sums begin again at
the tail of each block, so a window's sum depends on where blocks begin; the
engine logs one block per visit, which a resumed run repeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from streamgd.optim.jitcache import cached_njit

try:
    import numba
except ImportError:  # the `fast` extra is optional
    numba = None

WINDOWS = (10, 100, 1000)
# the prefix sums a window reaches back to: a power of two past the longest
_RING_SIZE = 1 << int(WINDOWS[-1]).bit_length()
_WINDOW_LENGTHS = np.array(WINDOWS, dtype=np.int64)


@dataclass(frozen=True)
class BlockSums:
    """What one block of updates adds to the cost log.

    Attributes:
        positions: intp array (n_records,), the block's updates (0-based) whose
            number is a multiple of log_every.
        averages: float64 array (n_records, 4), at each of them: the weighted
            mean cost of the last 10, 100 and 1000 updates and of the epoch so
            far (NaN over zero weight).
        rows_seen: float64 array (n_records,), rows seen up to each.
        tail_cost, tail_weight: float64 arrays (<= 999,), the last updates'
            costs and total weights, which the next block's windows need.
        epoch_sums: float64 array (2,), the epoch's weighted cost sum and
            weight sum after the block.
        rows_seen_after: rows seen after the block.
    """

    positions: np.ndarray
    averages: np.ndarray
    rows_seen: np.ndarray
    tail_cost: np.ndarray
    tail_weight: np.ndarray
    epoch_sums: np.ndarray
    rows_seen_after: int


def block_sums(
    tail_cost: np.ndarray, tail_weight: np.ndarray, costs: np.ndarray,
    weights: np.ndarray, rows: np.ndarray, epoch_sums: np.ndarray,
    rows_seen: int, update_count: int, log_every: int,
) -> BlockSums:
    """The sums of a block, compiled when numba is installed (same bits).

    Args:
        tail_cost, tail_weight: the previous block's `BlockSums` tails (empty
            at the start of a run).
        costs, weights, rows: float64 arrays (n_updates,), the block's update
            costs, total sample weights and rows; n_updates > 0.
        epoch_sums: float64 array (2,), the epoch's sums before the block.
        rows_seen, update_count: rows and updates before the block.
        log_every: updates between records.
    """
    compute = numpy_block_sums if numba is None else compiled_block_sums
    return compute(tail_cost, tail_weight, costs, weights, rows, epoch_sums,
                   rows_seen, update_count, log_every)


def numpy_block_sums(
    tail_cost: np.ndarray, tail_weight: np.ndarray, costs: np.ndarray,
    weights: np.ndarray, rows: np.ndarray, epoch_sums: np.ndarray,
    rows_seen: int, update_count: int, log_every: int,
) -> BlockSums:
    """`block_sums` by numpy: every running sum in full (the reference)."""
    # prefix sums over the tail and the block; the epoch's over the block
    full_cost = np.concatenate([tail_cost, costs])
    full_weight = np.concatenate([tail_weight, weights])
    cost_sums = np.concatenate([[0.0], np.cumsum(full_cost * full_weight)])
    weight_sums = np.concatenate([[0.0], np.cumsum(full_weight)])
    epoch_costs = epoch_sums[0] + np.cumsum(costs * weights)
    epoch_weights = epoch_sums[1] + np.cumsum(weights)
    rows_seen_to = rows_seen + np.cumsum(rows)

    # read at the updates that are multiples of log_every
    first = update_count + 1
    positions = np.flatnonzero(np.arange(first, first + len(costs)) % log_every == 0)
    ends = len(tail_cost) + positions + 1
    averages = np.empty((len(positions), len(WINDOWS) + 1))
    for column, window in enumerate(WINDOWS):
        starts = np.maximum(0, ends - window)
        averages[:, column] = _ratios(cost_sums[ends] - cost_sums[starts],
                                      weight_sums[ends] - weight_sums[starts])
    averages[:, -1] = _ratios(epoch_costs[positions], epoch_weights[positions])

    keep = WINDOWS[-1] - 1
    return BlockSums(
        positions, averages, rows_seen_to[positions], full_cost[-keep:],
        full_weight[-keep:], np.array([epoch_costs[-1], epoch_weights[-1]]),
        int(rows_seen_to[-1]),
    )


def compiled_block_sums(
    tail_cost: np.ndarray, tail_weight: np.ndarray, costs: np.ndarray,
    weights: np.ndarray, rows: np.ndarray, epoch_sums: np.ndarray,
    rows_seen: int, update_count: int, log_every: int,
) -> BlockSums:
    """`block_sums` in one pass of `_sum_block` (plain Python without numba:
    slow, but the same additions)."""
    costs, weights, rows = (np.ascontiguousarray(column, dtype=np.float64)
                            for column in (costs, weights, rows))
    tail_cost, tail_weight = (np.ascontiguousarray(column, dtype=np.float64)
                              for column in (tail_cost, tail_weight))

    # what the pass writes is allocated here: its records' count is known, and
    # the next block's tail is the last 999 updates
    first = update_count + 1
    n_records = (first + len(costs) - 1) // log_every - (first - 1) // log_every
    positions = np.empty(n_records, dtype=np.intp)
    averages = np.empty((n_records, len(WINDOWS) + 1))
    seen = np.empty(n_records)
    n_kept = min(WINDOWS[-1] - 1, len(tail_cost) + len(costs))
    kept_cost, kept_weight = np.empty(n_kept), np.empty(n_kept)
    after = np.empty(3)
    _sum_block(tail_cost, tail_weight, costs, weights, rows, _WINDOW_LENGTHS,
               float(epoch_sums[0]), float(epoch_sums[1]), float(rows_seen),
               first, log_every, _RING_SIZE, positions, averages, seen,
               kept_cost, kept_weight, after)
    return BlockSums(positions, averages, seen, kept_cost, kept_weight,
                     after[:2].copy(), int(after[2]))


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """numerators / denominators where the denominator is positive, else NaN."""
    out = np.full(len(numerators), np.nan)
    # infinite costs (a diverging run) give inf - inf: NaN, as they should
    with np.errstate(invalid="ignore"):
        np.divide(numerators, denominators, out=out, where=denominators > 0)
    return out


# --- the compiled pass -----------------------------------------------------------
#
# Plain Python over scalars and 1-d arrays, so that the same source runs
# uncompiled (slowly) when numba is absent: `_jit` is then the identity.


def _jit(function):
    if numba is None:
        return function
    # fastmath off: no reassociated or fused additions, the bits must match.
    # The GIL is kept: a pass takes about 0.2 ms, and once a reading thread
    # has taken the GIL the engine may wait a switch interval (5 ms) for it
    # back. For that reason too the pass copies the tail itself: numpy
    # releases the GIL to copy more than 500 elements, and a copy of 999 took
    # 0.3 ms in the engine's thread against the two reading threads
    return cached_njit(numba, function, fastmath=False)


@_jit
def _ratio(numerator, denominator):
    return numerator / denominator if denominator > 0.0 else math.nan


@_jit
def _sum_block(tail_cost, tail_weight, costs, weights, rows, windows, epoch_cost,
               epoch_weight, rows_seen, first, log_every, ring_size, positions,
               averages, seen, kept_cost, kept_weight, after):
    # the prefix sums over the tail then the block (as np.cumsum adds them);
    # prefix i sits at ring[i % ring_size], prefix 0 being 0.0
    n_tail, n_windows = tail_cost.shape[0], windows.shape[0]
    ring_cost, ring_weight = np.zeros(ring_size), np.zeros(ring_size)
    mask = ring_size - 1
    cost_sum, weight_sum = 0.0, 0.0
    for i in range(n_tail):
        product = tail_cost[i] * tail_weight[i]
        if i == 0:
            cost_sum, weight_sum = product, tail_weight[0]
        else:
            cost_sum, weight_sum = cost_sum + product, weight_sum + tail_weight[i]
        ring_cost[(i + 1) & mask], ring_weight[(i + 1) & mask] = cost_sum, weight_sum

    # the block: a countdown to the next multiple of log_every, as an integer
    # remainder per update cost more than the sums
    block_cost, block_weight, block_rows = 0.0, 0.0, 0.0
    until_record = log_every - (first - 1) % log_every
    n_records = 0
    for k in range(costs.shape[0]):
        i = n_tail + k
        product = costs[k] * weights[k]
        if i == 0:
            cost_sum, weight_sum = product, weights[0]
        else:
            cost_sum, weight_sum = cost_sum + product, weight_sum + weights[k]
        ring_cost[(i + 1) & mask], ring_weight[(i + 1) & mask] = cost_sum, weight_sum
        # the block's own sums, which the epoch's and the rows' start from
        if k == 0:
            block_cost, block_weight, block_rows = product, weights[0], rows[0]
        else:
            block_cost += product
            block_weight += weights[k]
            block_rows += rows[k]
        until_record -= 1
        if until_record > 0:
            continue

        # a record: each window's sum is a difference of two prefix sums
        until_record = log_every
        end = i + 1
        for column in range(n_windows):
            start = max(0, end - windows[column]) & mask
            averages[n_records, column] = _ratio(cost_sum - ring_cost[start],
                                                 weight_sum - ring_weight[start])
        averages[n_records, n_windows] = _ratio(epoch_cost + block_cost,
                                                epoch_weight + block_weight)
        seen[n_records] = rows_seen + block_rows
        positions[n_records] = k
        n_records += 1
    after[0], after[1] = epoch_cost + block_cost, epoch_weight + block_weight
    after[2] = rows_seen + block_rows

    # the last updates of the tail then the block, for the next block
    n_kept = kept_cost.shape[0]
    for j in range(n_kept):
        i = n_tail + costs.shape[0] - n_kept + j
        if i < n_tail:
            kept_cost[j], kept_weight[j] = tail_cost[i], tail_weight[i]
        else:
            kept_cost[j], kept_weight[j] = costs[i - n_tail], weights[i - n_tail]
