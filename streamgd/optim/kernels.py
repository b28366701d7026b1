"""A compiled SGD kernel: every update of a block of rows in one call.

The generic path (`model.linear.batch_gradient` then `optim.sgd.SGD.update`)
pays a few microseconds of Python per batch; at batch size 1 that is the whole
cost, about 40 times the time to read the row. This kernel runs the same
arithmetic over all batches of a block in one numba-compiled loop that releases
the GIL, and hands back the per-update costs, sample-weight totals, row counts
and learning rates the cost log needs.

    per batch:   z = X w + b;  l, s = loss(z, y) (times the sample weights)
                 cost = sum l / W + l2/2 |w|^2 + l1 |w|_1      W = sum of weights
                 g = X^T s / W + l2 w;   g_b = sum s / W
                 w <- prox_l1(w - r g)  (inactive weights kept);  b <- b - r g_b
                 r = lr x W / (n_batch_rows x mean weight)  (the batch's weight
                 share; exactly lr without sample weights), lr from the
                 schedule at update t = count + 1; with safe steps, r is at
                 most the batch's cap (`optim.stepcap`: a step that cannot
                 pass the batch's minimum along the gradient)

Plain SGD (`optimizer.update: sgd`) with every penalty and schedule is covered;
any other optimizer takes the generic path. `optimizer.kernel` chooses: `numba`
(an error when numba is not installed), `numpy` (the generic path) or `auto`
(numba when it is installed and the optimizer is plain SGD).

The two paths agree to rounding, not bit for bit: numpy sums a batch pairwise
and hands X w and X^T s to BLAS, whose order of additions differs from the
kernel's (a row's margin in four interleaved parts, the rest left to right).
The tests compare them at a relative tolerance of 1e-9 after several epochs.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from streamgd.errors import ConfigError
from streamgd.model.linear import LinearParams
from streamgd.model.losses import LogLoss, SquaredLoss
from streamgd.model.penalties import Penalty
from streamgd.optim.jitcache import cached_njit
from streamgd.optim.schedules import Schedule

log = logging.getLogger(__name__)

KERNELS = ("auto", "numba", "numpy")
_LOSS_CODES = {"squared": 0, "log": 1}
_SCHEDULE_CODES = {"constant": 0, "invscaling": 1, "epoch_decay": 2}
# the largest d2l/dz2 of each loss, for the safe rate
_CURVATURES = {loss.name: loss.curvature for loss in (SquaredLoss(), LogLoss())}

try:
    import numba
except ImportError:  # the `fast` extra is optional
    numba = None


@dataclass(frozen=True)
class BlockUpdates:
    """What one block's updates did.

    Attributes:
        params: the parameters after the last update.
        update_count: updates applied so far, this block's included.
        costs, totals, rows, learning_rates, penalties: float64 arrays, one
            entry per update: the batch cost before the update, its total
            sample weight, its rows, the rate used and the penalty's value
            (the part of the cost that is not loss).
        diverged: the last update's cost or intercept is not finite; the
            updates stop there.
        capped: steps cut to their batch's cap (`optim.stepcap`).
    """

    params: LinearParams
    update_count: int
    costs: np.ndarray
    totals: np.ndarray
    rows: np.ndarray
    learning_rates: np.ndarray
    penalties: np.ndarray
    diverged: bool
    capped: int = 0


@dataclass(frozen=True)
class SGDKernel:
    """The compiled plain-SGD step over whole blocks, for one job.

    Attributes:
        loss_name: `squared` or `log`.
        penalty: its l2 part enters the gradient, its l1 part the prox step.
        active: bool array (n_features,); False freezes a weight.
        fit_intercept: False keeps the intercept where it is.
        schedule: the learning-rate schedule.
        mean_weight: mean sample weight over the data (1.0 when unweighted).
        safe_steps: cap each step at the batch's safe rate (see
            `optim.stepcap`; on whenever the inputs are scaled).
    """

    loss_name: str
    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool
    schedule: Schedule
    mean_weight: float = 1.0
    safe_steps: bool = False

    def run(
        self,
        X: np.ndarray,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        batch_size: int,
        params: LinearParams,
        update_count: int,
        epoch: int,
        rows: np.ndarray | None = None,
    ) -> BlockUpdates:
        """Every batch of a block's rows, `batch_size` rows at a time, in order.

        Args:
            X: float64 (n_rows, n_features), C-contiguous; y: float64 (n_rows,);
            sample_weight: float64 (n_rows,) or None.
            rows: intp array, the rows of X to visit, in order; None visits
                every row once, in order. The last batch may be short.
        """
        if rows is None:
            rows = np.arange(len(y), dtype=np.intp)
        n_batches = -(-len(rows) // batch_size)
        out = np.empty((5, n_batches))
        weights = np.array(params.weights, dtype=np.float64, copy=True)
        state = np.array([params.intercept, float(update_count), 0.0])
        schedule = self.schedule
        done, diverged = _sgd_rows(
            np.ascontiguousarray(X), y,
            np.empty(0) if sample_weight is None else sample_weight,
            sample_weight is not None, rows, batch_size, weights,
            state, self.active,
            self.fit_intercept, _LOSS_CODES[self.loss_name], self.penalty.l2,
            self.penalty.l1, _SCHEDULE_CODES[schedule.kind], schedule.initial,
            schedule.power_t, schedule.initial * schedule.decay**epoch,
            self.mean_weight, self.safe_steps, _CURVATURES[self.loss_name], out,
        )
        return BlockUpdates(
            LinearParams(weights, float(state[0])), int(state[1]),
            out[0, :done], out[1, :done], out[2, :done], out[3, :done],
            out[4, :done], bool(diverged), int(state[2]),
        )


def select_kernel(
    choice: str, update: str, loss_name: str, penalty: Penalty,
    active: np.ndarray, fit_intercept: bool, schedule: Schedule,
    mean_weight: float = 1.0,
    safe_steps: bool = False,
) -> SGDKernel | None:
    """The compiled kernel the job asks for, or None for the generic path.

    Raises:
        ImportError: `optimizer.kernel: numba` without numba installed.
        ConfigError: `optimizer.kernel: numba` with an optimizer the
            kernel does not implement.
    """
    if choice == "numpy":
        return None
    if choice == "numba" and numba is None:
        raise ImportError(
            "optimizer.kernel: numba needs numba; install it with"
            " pip install 'streamgd[fast]', or set optimizer.kernel: auto"
        )
    if choice == "numba" and update != "sgd":
        raise ConfigError(
            f"optimizer.kernel: numba implements optimizer.update: sgd only, not"
            f" {update!r}; set optimizer.kernel: auto or numpy"
        )
    if numba is None or update != "sgd":
        log.debug("generic numpy path (numba: %s, update: %s)", numba, update)
        return None
    return SGDKernel(loss_name, penalty, active, fit_intercept, schedule,
                     mean_weight, safe_steps)


# --- the compiled loop ---------------------------------------------------------
#
# Written as plain Python over scalars and 1-d arrays, so that the same source
# runs uncompiled (slowly) when numba is absent: `_jit` is then the identity.


def _jit(function=None, **options):
    if function is None:
        return lambda function: _jit(function, **options)
    if numba is None:
        return function
    # cached between runs outside the package (see `optim.jitcache`)
    return cached_njit(numba, function, nogil=True, fastmath=False, **options)


@_jit
def _log_loss(z, y):
    # numpy's logaddexp(0, z), branch for branch, then minus y z
    if z == 0.0:
        softplus = math.log(2.0)
    elif z > 0.0:
        softplus = z + math.log1p(math.exp(-z))
    else:
        softplus = math.log1p(math.exp(z))
    return softplus - y * z


@_jit
def _loss_and_slope(code, z, y):
    if code == 0:
        residual = z - y
        return 0.5 * residual * residual, residual
    return _log_loss(z, y), 0.5 * (1.0 + math.tanh(0.5 * z)) - y


@_jit
def _rate(code, initial, power_t, epoch_rate, update):
    if code == 1:
        return initial / _power(float(update), power_t)
    if code == 2:
        return epoch_rate
    return initial


@_jit
def _penalty_value(weights, l2, l1):
    squares, absolutes = 0.0, 0.0
    for j in range(weights.shape[0]):
        squares += weights[j] * weights[j]
        absolutes += abs(weights[j])
    return 0.5 * l2 * squares + l1 * absolutes


@_jit
def _power(base, exponent):
    # `optim.schedules._power`, compiled (written again here: numba's cache
    # would not see a change to a function of another file). pow cost a
    # quarter of a per-row update at 20 features; two square roots far less
    if exponent == 0.5:
        return math.sqrt(base)
    if exponent == 0.25:
        return math.sqrt(math.sqrt(base))
    return base**exponent


@_jit(inline="always")
def _margin_and_norm(X, row, weights, with_norm):
    # sum_j X[row, j] w_j and, if asked, sum_j X[row, j]^2, each summed in four
    # interleaved parts: one running sum is a chain of dependent additions that
    # a per-row update waits on, four are a quarter as long
    n_features = X.shape[1]
    head = n_features - n_features % 4
    z0, z1, z2, z3 = 0.0, 0.0, 0.0, 0.0
    q0, q1, q2, q3 = 0.0, 0.0, 0.0, 0.0
    for j in range(0, head, 4):
        a0, a1, a2, a3 = X[row, j], X[row, j + 1], X[row, j + 2], X[row, j + 3]
        z0 += a0 * weights[j]
        z1 += a1 * weights[j + 1]
        z2 += a2 * weights[j + 2]
        z3 += a3 * weights[j + 3]
        if with_norm:
            q0 += a0 * a0
            q1 += a1 * a1
            q2 += a2 * a2
            q3 += a3 * a3
    for j in range(head, n_features):
        z0 += X[row, j] * weights[j]
        if with_norm:
            q0 += X[row, j] * X[row, j]
    return (z0 + z1) + (z2 + z3), (q0 + q1) + (q2 + q3)


@_jit
def _directional_cap(X, sample_weight, weighted, rows, first, stop, total,
                     gradient, weights, active, l2, fit_intercept, slope_sum,
                     curvature):
    # optim.stepcap.directional_cap over the batch's rows rows[first:stop]
    n_features = X.shape[1]
    direction = np.zeros(n_features)
    length = 0.0
    for j in range(n_features):
        if active[j]:
            direction[j] = gradient[j] / total + l2 * weights[j]
            length += direction[j] * direction[j]
    along_intercept = slope_sum / total if fit_intercept else 0.0
    length += along_intercept * along_intercept
    bend = 0.0
    for i in range(first, stop):
        row = rows[i]
        along = along_intercept
        for j in range(n_features):
            along += X[row, j] * direction[j]
        square = along * along
        bend += square * sample_weight[row] if weighted else square
    bend = curvature * bend / total
    return length / bend if bend > 0.0 else math.inf


@_jit
def _sgd_rows(X, y, sample_weight, weighted, rows, batch_size, weights, state,
              active, fit_intercept, loss_code, l2, l1, schedule_code, initial,
              power_t, epoch_rate, mean_weight, safe_steps, curvature, out):
    # the rows X[rows[0]], X[rows[1]], ..., batch_size at a time
    n_features, n_rows = X.shape[1], rows.shape[0]
    gradient = np.zeros(n_features)
    intercept, update_count = state[0], int(state[1])
    has_penalty = l2 != 0.0 or l1 != 0.0
    done, first = 0, 0
    loss_sum, slope_sum, total, norms = 0.0, 0.0, 0.0, 0.0
    for i in range(n_rows):
        row = rows[i]

        # loss and gradient of the row, at the parameters before the update
        z, norm = _margin_and_norm(X, row, weights, safe_steps)
        z += intercept
        loss, slope = _loss_and_slope(loss_code, z, y[row])
        if weighted:
            loss, slope = loss * sample_weight[row], slope * sample_weight[row]
            total += sample_weight[row]
            norms += sample_weight[row] * norm
        else:
            total += 1.0
            norms += norm
        loss_sum += loss
        slope_sum += slope
        for j in range(n_features):
            gradient[j] += X[row, j] * slope
        if i + 1 - first < batch_size and i + 1 < n_rows:
            continue

        # the batch is whole (or the last): one update, unless it weighs 0
        if total != 0.0:
            penalty = _penalty_value(weights, l2, l1) if has_penalty else 0.0
            rate = _rate(schedule_code, initial, power_t, epoch_rate,
                         update_count + 1)

            # the step rate: the weight share, capped (see optim.stepcap)
            step_rate = rate * (total / ((i + 1 - first) * mean_weight))
            trace = norms / total + (1.0 if fit_intercept else 0.0)
            if safe_steps and trace > 0.0 and step_rate * curvature * trace > 1.0:
                cap = _directional_cap(X, sample_weight, weighted, rows, first,
                                       i + 1, total, gradient, weights, active,
                                       l2, fit_intercept, slope_sum, curvature)
                if step_rate > cap:
                    step_rate = cap
                    state[2] += 1.0

            intercept = _step(weights, gradient, intercept, slope_sum, total,
                              step_rate, active, fit_intercept, l2, l1)
            update_count += 1
            cost = loss_sum / total + penalty
            out[0, done], out[1, done] = cost, total
            out[2, done], out[3, done] = i + 1 - first, rate
            out[4, done] = penalty
            done += 1
            if not (math.isfinite(cost) and math.isfinite(intercept)):
                state[0], state[1] = intercept, update_count
                return done, True
        gradient[:] = 0.0
        first = i + 1
        loss_sum, slope_sum, total, norms = 0.0, 0.0, 0.0, 0.0
    state[0], state[1] = intercept, update_count
    return done, False


@_jit(inline="always")
def _step(weights, gradient, intercept, slope_sum, total, step_rate, active,
          fit_intercept, l2, l1):
    # the gradient step, then the L1 prox; returns the new intercept. The
    # gradient is divided by the batch's total in a loop of its own, and not
    # at all for a total of 1 (every unweighted row at batch size 1): 20
    # divisions cost per-row SGD 15% of its time at 20 features. Without L1
    # the step's loop has no branch but `active`'s and runs as vector code.
    if total != 1.0:
        for j in range(weights.shape[0]):
            gradient[j] /= total
    if l1 == 0.0:
        for j in range(weights.shape[0]):
            if active[j]:
                weights[j] -= step_rate * (gradient[j] + l2 * weights[j])
    else:
        shrink = step_rate * l1
        for j in range(weights.shape[0]):
            if not active[j]:
                continue
            value = weights[j] - step_rate * (gradient[j] + l2 * weights[j])
            weights[j] = math.copysign(max(abs(value) - shrink, 0.0), value)
    if fit_intercept:
        intercept -= step_rate * (slope_sum / total)
    return intercept


@_jit
def write_rows(X, y, sample_weight, weighted, order, has_order, shift, scale,
               starts, lengths, out_X, out_y, out_weight):
    """Rows of a chunk, scaled, in `order`, into the store's segments in turn.

    The one pass over a chunk between decoding and training (see
    `stream.store`): (x - shift) / scale rounds as numpy's two steps do.
    """
    n_features = X.shape[1]
    source = 0
    for segment in range(starts.shape[0]):
        for slot in range(starts[segment], starts[segment] + lengths[segment]):
            row = order[source] if has_order else source
            source += 1
            for j in range(n_features):
                out_X[slot, j] = (X[row, j] - shift[j]) / scale[j]
            out_y[slot] = y[row]
            if weighted:
                out_weight[slot] = sample_weight[row]


@_jit
def scatter_rows(X, y, sample_weight, weighted, order, shift, scale, starts,
                 block_rows, out_X, out_y, out_weight):
    """What `write_rows` writes for whole blocks of `block_rows` (the last may
    be short), reading the chunk in row order and writing each row to its
    place: stores of rows wait in the write buffer where loads of rows in a
    random order stall, 15-25% faster here on 65,536-row chunks."""
    n_rows, n_features = X.shape
    position = np.empty(n_rows, dtype=np.intp)
    for k in range(n_rows):
        position[order[k]] = k
    for row in range(n_rows):
        k = position[row]
        slot = starts[k // block_rows] + k % block_rows
        for j in range(n_features):
            out_X[slot, j] = (X[row, j] - shift[j]) / scale[j]
        out_y[slot] = y[row]
        if weighted:
            out_weight[slot] = sample_weight[row]


# source rows per pass over the columns in `scatter_columns`: the tile's values
# of every column and its destination rows stay in the first-level cache
_TILE_ROWS = 64


@_jit
def scatter_columns(columns, y, sample_weight, weighted, order, has_order, shift,
                    scale, starts, block_rows, out_X, out_y, out_weight):
    """What `scatter_rows` writes, read from a chunk's columns (a tuple of 1-d
    arrays) instead of a row-major matrix: the transposition is done in the
    same pass, a tile of rows at a time, so no row-major copy of the chunk is
    made. Without an order (`has_order` False) rows keep the chunk's order."""
    n_rows = y.shape[0]
    position = np.empty(n_rows, dtype=np.intp)
    for k in range(n_rows):
        if has_order:
            position[order[k]] = k
        else:
            position[k] = k
    slots = np.empty(_TILE_ROWS, dtype=np.intp)
    for first in range(0, n_rows, _TILE_ROWS):
        stop = min(first + _TILE_ROWS, n_rows)
        for row in range(first, stop):
            k = position[row]
            slot = starts[k // block_rows] + k % block_rows
            slots[row - first] = slot
            out_y[slot] = y[row]
            if weighted:
                out_weight[slot] = sample_weight[row]
        for j in range(len(columns)):
            column, column_shift, column_scale = columns[j], shift[j], scale[j]
            for row in range(first, stop):
                value = (column[row] - column_shift) / column_scale
                out_X[slots[row - first], j] = value
