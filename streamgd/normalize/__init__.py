"""Running feature statistics, and the scalers fitted to them.

`moments` keeps per-feature count, mean, variance and extrema, mergeable across
chunks; `scalers` maps features to a common range and maps the weights learned
there back to original units.
"""

from streamgd.normalize.moments import RunningStats, StatisticsOverflow
from streamgd.normalize.scalers import SCALERS, Scaler

__all__ = ["SCALERS", "RunningStats", "Scaler", "StatisticsOverflow"]
