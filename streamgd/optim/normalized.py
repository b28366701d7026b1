"""The normalized adaptive update: invariant to each feature's scale, learned online.

Raw features in very different units (minutes, miles, months) train with no
normalization pass. Written from Ross, Mineiro and Langford, "Normalized online
learning" (UAI 2013), Algorithm NAG, adapted to mini-batches:

    observe a batch:
      s_i <- max(s_i, max over rows |x_i|)        the scale seen so far
      w_i <- w_i * s_old_i / s_i  when s_i grew   keeps w_i s_i, the weight on the
                                                  normalized feature, unchanged
      N <- N + sum over rows of sum_i x_i^2 / s_i^2     t <- t + rows
    update with the batch gradient g:
      G_i <- G_i + g_i^2
      w_i <- prox(w_i - lr sqrt(t / N) g_i / (s_i sqrt(G_i)))

The scaled step g_i / (s_i sqrt(G_i)) has the units of 1 / x_i, as the weight
does, so multiplying a feature by any constant leaves the predictions unchanged;
sqrt(t / N) undoes the growth of the step with the number of features in use.
The intercept is the constant feature 1 (scale 1, always in use). Rows count by
their sample weight in t and N. A feature not yet seen non-zero (s_i = 0), or
whose gradients have all been 0, does not move. Vowpal Wabbit's default update
(adaptive, normalized, invariant) is built on the same paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamgd.model.linear import BatchGradient, LinearParams
from streamgd.model.penalties import Penalty
from streamgd.optim.base import Hooks, active_gradient, step_params


@dataclass(frozen=True)
class NormalizedState:
    """scale: float64 (n_features,), the largest |x_i| seen; squared_gradients:
    float64 (n_features,), the sum G; rows_seen: t (weighted); normalizer: N."""

    scale: np.ndarray
    squared_gradients: np.ndarray
    intercept_squared_gradient: float = 0.0
    rows_seen: float = 0.0
    normalizer: float = 0.0
    update_count: int = 0


@dataclass(frozen=True)
class Normalized(Hooks):
    """Attributes: penalty, active, fit_intercept as for `SGD`."""

    penalty: Penalty
    active: np.ndarray
    fit_intercept: bool = True
    observes_inputs = True

    def init(self, n_features: int) -> NormalizedState:
        return NormalizedState(np.zeros(n_features), np.zeros(n_features))

    def observe(
        self,
        X: np.ndarray,
        sample_weight: np.ndarray | None,
        state: NormalizedState,
        params: LinearParams,
    ) -> tuple[LinearParams, NormalizedState]:
        """Track the scales before the batch is predicted; rescale grown weights.

        X: float64 (n_rows, n_features); sample_weight: float64 (n_rows,) or None.
        """
        # grow the scales, and shrink the weights of grown features to match
        batch_scale = np.where(self.active, np.abs(X).max(axis=0, initial=0.0), 0.0)
        scale = np.maximum(state.scale, batch_scale)
        grown = (scale > state.scale) & (state.scale > 0)
        ratio = np.divide(state.scale, scale, out=np.ones_like(scale), where=grown)
        weights = np.where(grown, params.weights * ratio, params.weights)

        # accumulate the rows' normalized squared norms
        # x / s, not x * (1 / s): 1 / s overflows for a subnormal scale
        ratios = np.divide(X, scale, out=np.zeros_like(X), where=scale > 0)
        norms = (ratios**2).sum(axis=1) + float(self.fit_intercept)
        if sample_weight is None:
            rows, mass = float(len(norms)), float(norms.sum())
        else:
            rows, mass = float(sample_weight.sum()), float(norms @ sample_weight)
        return LinearParams(weights, params.intercept), NormalizedState(
            scale, state.squared_gradients, state.intercept_squared_gradient,
            state.rows_seen + rows, state.normalizer + mass, state.update_count,
        )

    def update(
        self,
        gradient: BatchGradient,
        state: NormalizedState,
        params: LinearParams,
        learning_rate: float,
    ) -> tuple[LinearParams, NormalizedState]:
        # accumulate the squared gradients
        g, g_intercept = active_gradient(gradient, self.active), gradient.intercept
        squared = state.squared_gradients + g * g
        intercept_squared = state.intercept_squared_gradient + g_intercept**2

        # per-coordinate rates lr sqrt(t / N) / (s_i sqrt(G_i)); 0 where undefined
        overall = learning_rate
        if state.normalizer > 0:
            overall *= np.sqrt(state.rows_seen / state.normalizer)
        denominator = state.scale * np.sqrt(squared)
        rate = np.divide(
            overall, denominator, out=np.zeros_like(denominator),
            where=denominator > 0,
        )
        intercept_rate = (
            overall / np.sqrt(intercept_squared) if intercept_squared > 0 else 0.0
        )
        new = step_params(params, rate * g, intercept_rate * g_intercept, rate, self)
        return new, NormalizedState(
            state.scale, squared, float(intercept_squared), state.rows_seen,
            state.normalizer, state.update_count + 1,
        )
