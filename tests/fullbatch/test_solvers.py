"""The solvers on small numpy objectives: optima, stopping, warnings, errors."""

import numpy as np
import pytest

from streamgd.errors import DivergenceError
from streamgd.fullbatch.objective import Evaluation
from streamgd.fullbatch.solvers import (
    ConvergenceWarning, gradient_descent, lbfgs, line_search_descent,
)


class Quadratic:
    """f(theta) = (theta - target)^T H (theta - target) / 2 (+ l1 ||theta||_1)."""

    def __init__(self, hessian, target, l1=0.0):
        self.hessian, self.target, self.l1 = hessian, target, l1
        self.calls = 0

    def __call__(self, theta):
        self.calls += 1
        delta = theta - self.target
        smooth = 0.5 * float(delta @ self.hessian @ delta)
        cost = smooth + self.l1 * float(np.abs(theta).sum())
        return Evaluation(cost, smooth, self.hessian @ delta, 1.0, 1)

    def prox(self, theta, step):
        return np.sign(theta) * np.maximum(np.abs(theta) - step * self.l1, 0.0)


def _ill_conditioned(spectrum=(1e-3, 0.01, 0.1, 1.0, 10.0)):
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    hessian = basis @ np.diag(spectrum) @ basis.T
    return Quadratic(hessian, rng.normal(size=5))


def _ignore(*args, **kwargs):
    pass


def test_lbfgs_reaches_the_minimum_of_an_ill_conditioned_quadratic():
    """L-BFGS finds the minimiser of a quadratic of condition number 1e4."""
    objective = _ill_conditioned()
    result = lbfgs(objective, np.zeros(5), max_iter=200, tol=1e-14, report=_ignore)
    np.testing.assert_allclose(result.theta, objective.target, rtol=1e-7)
    assert result.stop_reason in ("gradient_norm", "cost_change")


def test_lbfgs_reports_each_iteration_once_from_zero():
    """Iterations are reported 0, 1, 2, ... with the cost at each iterate."""
    objective = _ill_conditioned()
    reports = []
    result = lbfgs(objective, np.zeros(5), max_iter=200, tol=1e-12,
                   report=lambda *args, **_: reports.append(args))
    assert [report[0] for report in reports] == list(range(result.iterations + 1))
    assert reports[-1][1].cost == result.evaluation.cost
    assert reports[0][1].cost == objective(np.zeros(5)).cost


def test_gd_at_one_over_lipschitz_converges_on_a_well_conditioned_quadratic():
    """Fixed-rate descent at rate 1/L stops on the gradient norm at the optimum."""
    objective = Quadratic(np.diag([1.0, 2.0]), np.array([3.0, -1.0]))
    result = gradient_descent(objective, np.zeros(2), 0.5, 500, 1e-10, _ignore)
    np.testing.assert_allclose(result.theta, [3.0, -1.0], rtol=1e-9)
    assert result.stop_reason in ("gradient_norm", "cost_change")


def test_gd_warns_when_it_runs_out_of_iterations():
    """Stopping at max_iter is never silent."""
    objective = _ill_conditioned()
    with pytest.warns(ConvergenceWarning, match="fullbatch.max_iter \\(3\\)"):
        result = gradient_descent(objective, np.zeros(5), 0.05, 3, 1e-12, _ignore)
    assert (result.iterations, result.stop_reason) == (3, "max_iter")
    assert objective.calls == 4


def test_gd_diverges_with_an_error_naming_the_rate():
    """A rate above 2/L makes the cost explode: DivergenceError, rate in it."""
    objective = Quadratic(np.diag([1.0, 10.0]), np.array([1.0, 1.0]))
    with pytest.raises(DivergenceError, match="now 0.5; try 0.05"):
        gradient_descent(objective, np.zeros(2), 0.5, 1000, 0.0, _ignore)


def test_linesearch_recovers_from_a_huge_first_rate():
    """Backtracking from rate 1e6 still converges and never raises the cost."""
    objective = _ill_conditioned(spectrum=(0.1, 0.3, 1.0, 3.0, 10.0))
    costs = []
    result = line_search_descent(
        objective, np.zeros(5), 1e6, 5000, 1e-15,
        report=lambda iteration, evaluation, rate, **_: costs.append(evaluation.cost),
    )
    assert np.all(np.diff(costs) <= 0)
    np.testing.assert_allclose(result.theta, objective.target, rtol=1e-6)


def test_linesearch_with_l1_matches_the_soft_threshold_solution():
    """With H = I the L1 optimum is the soft-thresholded target, zeros exact."""
    objective = Quadratic(np.eye(3), np.array([2.0, -0.3, 0.1]), l1=0.5)
    result = line_search_descent(objective, np.zeros(3), 4.0, 100, 1e-12, _ignore)
    np.testing.assert_allclose(result.theta, [1.5, 0.0, 0.0], atol=1e-12)
    assert result.theta[1] == 0.0 and result.theta[2] == 0.0


def test_linesearch_gives_up_with_a_warning_on_a_non_finite_objective():
    """When no rate lowers the cost (the cost is NaN everywhere), it says so."""

    class Broken(Quadratic):
        def __call__(self, theta):
            evaluation = super().__call__(theta)
            if self.calls == 1:
                return evaluation
            return Evaluation(np.nan, np.nan, evaluation.gradient, 1.0, 1)

    objective = Broken(np.eye(2), np.ones(2))
    with pytest.warns(ConvergenceWarning, match="no rate"):
        result = line_search_descent(objective, np.zeros(2), 1.0, 10, 0.0, _ignore)
    assert result.stop_reason == "line_search"
    np.testing.assert_array_equal(result.theta, np.zeros(2))


def test_lbfgs_out_of_iterations_names_the_keys():
    """Running out of iterations is said in the job's terms, not scipy's."""
    objective = _ill_conditioned()
    with pytest.warns(ConvergenceWarning) as caught:
        result = lbfgs(objective, np.zeros(5), max_iter=2, tol=1e-14,
                       report=_ignore)
    assert result.stop_reason == "max_iter"
    assert [str(w.message) for w in caught] == [
        "lbfgs reached fullbatch.max_iter (2) before fullbatch.tol; the last"
        " iterate is kept: raise fullbatch.max_iter to go on"]
