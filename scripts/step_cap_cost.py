"""What the SGD step cap costs per batch in the compiled kernel.

    python scripts/step_cap_cost.py

Plain SGD, batch 32, constant rate 0.05 on 65,536 standard normal rows with
d = 20 and 100 features: at d + 1 > 1 / 0.05 the trace screen fails on every
batch, so each batch computes its directional cap (`optim.stepcap`), the
worst case. Prints the least time per batch over 20 runs, cap off and on.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamgd.model.linear import LinearParams  # noqa: E402
from streamgd.model.penalties import Penalty  # noqa: E402
from streamgd.optim.kernels import select_kernel  # noqa: E402
from streamgd.optim.schedules import Schedule  # noqa: E402

ROWS, BATCH, REPEATS = 65_536, 32, 20


def _per_batch(kernel, X, y) -> float:
    """Least microseconds per batch over REPEATS runs of the whole block."""
    start = LinearParams(np.zeros(X.shape[1]), 0.0)
    kernel.run(X[:64], y[:64], None, BATCH, start, 0, 0)  # compile
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        kernel.run(X, y, None, BATCH, start, 0, 0)
        times.append(time.perf_counter() - began)
    return min(times) / (ROWS / BATCH) * 1e6


def main() -> None:
    rng = np.random.default_rng(0)
    for d in (20, 100):
        X = rng.normal(size=(ROWS, d))
        y = X.sum(axis=1) + rng.normal(size=ROWS)
        off, on = (
            _per_batch(select_kernel("numba", "sgd", "squared", Penalty(),
                                     np.ones(d, bool), True,
                                     Schedule("constant", 0.05), 1.0, safe), X, y)
            for safe in (False, True)
        )
        print(f"d={d}: {off:.2f} us per batch without the cap, {on:.2f} with it")


if __name__ == "__main__":
    main()
