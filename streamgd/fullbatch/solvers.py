"""Full-batch solvers: each iteration costs one or more passes over the data.

    gd          theta <- prox(theta - learning_rate * gradient), a fixed rate (the
                textbook procedure; the prox is the identity without L1)
    linesearch  the same step with the rate found by backtracking: halve it until
                the sufficient-decrease condition of proximal gradient descent
                holds (Beck and Teboulle 2009, FISTA paper, section 4), then try
                twice the accepted rate at the next iteration
    lbfgs       scipy's L-BFGS-B driver (limited-memory quasi-Newton with a
                Wolfe line search); smooth objectives only

Stopping: the gradient norm (for gd and linesearch the norm of the gradient
mapping, (theta - theta_new) / rate, which is the gradient without L1) at most
`tol`, or a relative cost change |f_old - f_new| / max(|f_old|, |f_new|) at
most `tol`, or `max_iter` iterations, which warns with `ConvergenceWarning`.
scipy's relative change divides by max(|f_old|, |f_new|, 1) instead.

Every solver reports each iterate (iteration 0 is the start) with the step that
reached it, so the engine can write the cost log and checkpoint. gd and
linesearch can start from a checkpointed iterate (`Start`): the rest of the run
is then that of the uninterrupted one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import numpy as np

from streamgd.errors import DivergenceError
from streamgd.fullbatch.objective import Evaluation

# report(iteration, evaluation, step, theta=iterate)
Report = Callable[..., None]

# halvings of the rate before a line search gives up: 2 ** -60 ~ 1e-18
MAX_BACKTRACKS = 60


class ConvergenceWarning(UserWarning):
    """A solver stopped before its tolerance was met (max_iter, line search)."""


class Objective(Protocol):
    def __call__(self, theta: np.ndarray) -> Evaluation: ...

    def prox(self, theta: np.ndarray, step: float) -> np.ndarray: ...


@dataclass(frozen=True)
class Start:
    """Where a resumed gd or linesearch run goes on: after `iteration`, with
    `rate` to try first and `first_cost`, the cost at iteration 0."""

    iteration: int
    rate: float
    first_cost: float


@dataclass(frozen=True)
class SolverResult:
    """The last iterate: parameters, evaluation, iterations, why it stopped.

    stop_reason is one of gradient_norm, cost_change, max_iter, line_search.
    """

    theta: np.ndarray
    evaluation: Evaluation
    iterations: int
    stop_reason: str


def gradient_descent(
    objective: Objective, theta: np.ndarray, learning_rate: float, max_iter: int,
    tol: float, report: Report, divergence_factor: float = 1e6,
    start: Start | None = None,
) -> SolverResult:
    """Fixed-rate (proximal) gradient descent; one pass per iteration.

    Raises:
        DivergenceError: the cost became non-finite or exceeded
            `divergence_factor` times the first cost.
    """
    evaluation = objective(theta)
    if start is None:
        report(0, evaluation, float("nan"), theta=theta)
        start = Start(0, learning_rate, evaluation.cost)
    first_cost = start.first_cost
    for iteration in range(start.iteration + 1, max_iter + 1):
        new_theta = objective.prox(theta - learning_rate * evaluation.gradient,
                                   learning_rate)
        new_evaluation = objective(new_theta)
        _check_divergence(new_evaluation.cost, first_cost, divergence_factor,
                          learning_rate, iteration)
        report(iteration, new_evaluation, learning_rate, theta=new_theta)

        # stopping tests on the step just taken
        reason = _stop_reason(theta, new_theta, learning_rate, evaluation.cost,
                              new_evaluation.cost, tol)
        theta, evaluation = new_theta, new_evaluation
        if reason:
            return SolverResult(theta, evaluation, iteration, reason)
    return _ran_out(theta, evaluation, max_iter, "gd")


def line_search_descent(
    objective: Objective, theta: np.ndarray, learning_rate: float, max_iter: int,
    tol: float, report: Report, start: Start | None = None,
) -> SolverResult:
    """Proximal gradient descent with a backtracking line search.

    Each iteration runs one pass per trial rate; the accepted rate doubles as
    the first trial of the next iteration, so a rate too small at the start
    recovers in a few iterations.
    """
    evaluation = objective(theta)
    if start is None:
        report(0, evaluation, float("nan"), theta=theta)
        start = Start(0, learning_rate, evaluation.cost)
    rate = start.rate
    for iteration in range(start.iteration + 1, max_iter + 1):
        found = _backtrack(objective, theta, evaluation, rate)
        if found is None:
            _warn(f"linesearch stopped at iteration {iteration}: no rate down to"
                  f" {rate * 2.0**-MAX_BACKTRACKS:.3g} decreased the cost")
            return SolverResult(theta, evaluation, iteration - 1, "line_search")
        new_theta, new_evaluation, rate = found
        report(iteration, new_evaluation, rate, theta=new_theta)

        reason = _stop_reason(theta, new_theta, rate, evaluation.cost,
                              new_evaluation.cost, tol)
        theta, evaluation, rate = new_theta, new_evaluation, 2.0 * rate
        if reason:
            return SolverResult(theta, evaluation, iteration, reason)
    return _ran_out(theta, evaluation, max_iter, "linesearch")


def _backtrack(
    objective: Objective, theta: np.ndarray, evaluation: Evaluation, rate: float
) -> tuple[np.ndarray, Evaluation, float] | None:
    """The first halving of `rate` that passes the sufficient-decrease test."""
    for _ in range(MAX_BACKTRACKS):
        candidate = objective.prox(theta - rate * evaluation.gradient, rate)
        step = candidate - theta
        trial = objective(candidate)
        # smooth_cost(candidate) <= quadratic upper model of the smooth part; a
        # non-finite trial cost fails the comparison and halves the rate
        bound = (evaluation.smooth_cost + float(evaluation.gradient @ step)
                 + float(step @ step) / (2.0 * rate))
        if trial.smooth_cost <= bound:
            return candidate, trial, rate
        rate /= 2.0
    return None


def lbfgs(
    objective: Objective, theta: np.ndarray, max_iter: int, tol: float,
    report: Report, memory: int = 10,
) -> SolverResult:
    """L-BFGS through `scipy.optimize.minimize(method="L-BFGS-B")`.

    About one pass per iteration (more when the line search needs them).

    Raises:
        ImportError: scipy is not installed (the `fullbatch` extra).
    """
    minimize = _scipy_minimize()
    seen = _LastEvaluations(objective)
    report(0, seen(theta), float("nan"), theta=theta)
    iterations = 0

    def on_iteration(intermediate_result: Any) -> None:
        nonlocal iterations
        iterations += 1
        report(iterations, seen(intermediate_result.x), float("nan"),
               theta=intermediate_result.x)

    result = minimize(
        seen.cost_and_gradient, theta, jac=True, method="L-BFGS-B",
        callback=on_iteration,
        options={"maxiter": max_iter, "maxfun": 20 * max_iter + 20, "gtol": tol,
                 "ftol": tol, "maxcor": memory},
    )
    reason = _lbfgs_reason(result)
    if reason == "max_iter":
        _warn(f"lbfgs reached fullbatch.max_iter ({max_iter}) before"
              " fullbatch.tol; the last iterate is kept: raise"
              " fullbatch.max_iter to go on")
    elif reason == "line_search":
        _warn(f"lbfgs stopped after {result.nit} iterations: its line search"
              f" found no lower cost ({result.message}); the model may already"
              " be as good as float64 allows: check the cost log")
    return SolverResult(result.x, seen(result.x), int(result.nit), reason)


class _LastEvaluations:
    """The objective, remembering its last few points: scipy's callback and
    result name points already evaluated, and each evaluation is a pass."""

    def __init__(self, objective: Objective, keep: int = 4) -> None:
        self.objective = objective
        self.keep = keep
        self._recent: dict[bytes, Evaluation] = {}

    def __call__(self, theta: np.ndarray) -> Evaluation:
        key = np.asarray(theta, dtype=np.float64).tobytes()
        if key not in self._recent:
            self._recent[key] = self.objective(np.array(theta, dtype=np.float64))
            while len(self._recent) > self.keep:
                del self._recent[next(iter(self._recent))]
        return self._recent[key]

    def cost_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        evaluation = self(theta)
        return evaluation.smooth_cost, evaluation.gradient


def _scipy_minimize() -> Callable[..., Any]:
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise ImportError(
            "fullbatch.solver: lbfgs needs scipy; install streamgd[fullbatch]"
            " or choose fullbatch.solver: linesearch"
        ) from None
    return minimize


def _lbfgs_reason(result: Any) -> str:
    message = str(result.message).upper()
    if result.status == 0:
        return "gradient_norm" if "GRADIENT" in message else "cost_change"
    if result.status == 1:
        return "max_iter"
    return "line_search"


def _stop_reason(
    theta: np.ndarray, new_theta: np.ndarray, rate: float, cost: float,
    new_cost: float, tol: float,
) -> str | None:
    gradient_norm = float(np.linalg.norm(theta - new_theta)) / rate
    if gradient_norm <= tol:
        return "gradient_norm"
    scale = max(abs(cost), abs(new_cost), np.finfo(float).tiny)
    if abs(cost - new_cost) <= tol * scale:
        return "cost_change"
    return None


def _ran_out(
    theta: np.ndarray, evaluation: Evaluation, max_iter: int, solver: str
) -> SolverResult:
    _warn(f"{solver} reached fullbatch.max_iter ({max_iter}) before fullbatch.tol;"
          " raise max_iter, or try fullbatch.solver: lbfgs")
    return SolverResult(theta, evaluation, max_iter, "max_iter")


def _warn(message: str) -> None:
    warnings.warn(message, ConvergenceWarning, stacklevel=3)


def _check_divergence(
    cost: float, first_cost: float, factor: float, learning_rate: float,
    iteration: int,
) -> None:
    if np.isfinite(cost) and cost <= factor * max(first_cost, np.finfo(float).tiny):
        return
    raise DivergenceError(
        f"full-batch gradient descent diverged at iteration {iteration}: the cost"
        f" reached {cost:.4g} (first cost {first_cost:.4g}); lower"
        f" fullbatch.learning_rate (now {learning_rate:g}; try"
        f" {learning_rate / 10:g}) or set fullbatch.solver: linesearch."
        " No model was written."
    )
