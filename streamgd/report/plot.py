"""The cost plot: cost against updates and against wall time, as a PNG.

Two panels share the cost axis: the 10-, 100- and 1000-update moving averages
as lines, the epoch averages (and holdout costs) as marked points. The cost
axis turns logarithmic when the positive costs span more than a factor of ten,
which is when the early fall would otherwise flatten the rest into a line.

matplotlib is an optional extra (`pip install 'streamgd[plot]'`). No pyplot and
no global state: a `Figure` drawn by the Agg canvas, saved atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from streamgd.atomic import atomic_open
from streamgd.errors import ConfigError, MissingExtraError
from streamgd.outputs import check_file_target
from streamgd.report.costs import CostSeries, cost_series, read_cost_log

# a decade or more between the lowest and highest positive cost: log scale
LOG_SCALE_RATIO = 10.0
_MARKED = {"epoch average": "o", "holdout": "s"}
# the noisy short window drawn faint, so the longer averages read on top of it
_LINE_STYLE = {
    "last 10 updates": {"linewidth": 0.7, "alpha": 0.35},
    "last 100 updates": {"linewidth": 1.0, "alpha": 0.8},
    "last 1000 updates": {"linewidth": 1.8},
}


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingExtraError(
            "plotting needs matplotlib: pip install 'streamgd[plot]'"
        ) from None
    return Figure


def plot_cost_log(log: str | Path, out: str | Path, title: str | None = None) -> Path:
    """Draw the cost log `log` into the PNG `out`; return `out`.

    Raises:
        DataError: the log is missing, empty or not a cost log.
        ConfigError: `out` is the log itself (the log would be lost), a folder,
            or in a folder that cannot be written.
        MissingExtraError: matplotlib is not installed.
    """
    if Path(out).resolve() == Path(log).resolve():
        raise ConfigError(
            f"--out {out} is the cost log being plotted: writing the picture there"
            " would destroy the log; choose another name, e.g. cost.png"
        )
    check_file_target(out, "--out")
    if Path(out).suffix.lower() != ".png":
        # a model.json or job YAML named by mistake would become a picture
        raise ConfigError(
            f"--out {out}: the plot is a PNG picture; give a name ending in .png"
        )
    records = read_cost_log(log)
    return plot_records(records, out, title or Path(log).name)


def plot_records(records: list[dict[str, Any]], out: str | Path,
                 title: str = "cost") -> Path:
    """Draw cost-log records into the PNG `out`; return `out`."""
    figure = _figure_class()(figsize=(11, 4.2), dpi=100, layout="constrained")
    by_update, by_time = figure.subplots(1, 2, sharey=True)
    curves = cost_series(records)
    for curve in curves:
        _draw(by_update, curve.update, curve)
        _draw(by_time, curve.elapsed, curve)
    by_update.set_xlabel("updates")
    # records of one block of updates share one write time: vertical steps
    by_time.set_xlabel("wall time (s)")
    by_update.set_ylabel("cost (weighted mean loss + penalty)")
    if _wants_log_scale(curves):
        by_update.set_yscale("log")
    for axes in (by_update, by_time):
        axes.grid(True, which="major", alpha=0.3)
    by_update.legend(loc="upper right", fontsize="small")
    figure.suptitle(title)

    out = Path(out)
    with atomic_open(out, "wb") as stream:
        figure.savefig(stream, format="png")
    return out


def _draw(axes, x: np.ndarray, curve: CostSeries) -> None:
    marker = _MARKED.get(curve.label)
    if marker is None:
        axes.plot(x, curve.cost, label=curve.label, **_LINE_STYLE[curve.label])
    else:
        axes.plot(x, curve.cost, label=curve.label, marker=marker, linestyle="--",
                  linewidth=0.8)


def _wants_log_scale(curves: list[CostSeries]) -> bool:
    costs = np.concatenate([curve.cost for curve in curves]) if curves else []
    positive = np.asarray(costs)[np.asarray(costs) > 0]
    return positive.size > 1 and positive.max() >= LOG_SCALE_RATIO * positive.min()
