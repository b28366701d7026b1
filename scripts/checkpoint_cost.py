"""How much a checkpoint costs: its size and the time to write it.

    python scripts/checkpoint_cost.py [--epochs N] [--set KEY=VALUE ...]

Trains the embedded flights job with a checkpoint at every chunk boundary and
prints the number of checkpoints, the median time to write one, and the size of
a mid-epoch checkpoint (which holds the shuffle buffer's rows) and of an
epoch-end one (the buffer is empty then).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import streamgd
from streamgd.train import checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()

    # time every save, and note its size and whether it falls mid-epoch
    seconds, sizes = [], []
    save = checkpoints.Checkpointer.save

    def timed(self, engine):
        started = time.perf_counter()
        save(self, engine)
        seconds.append(time.perf_counter() - started)
        sizes.append((os.path.getsize(self.path), engine.position.n_chunks_done > 0))

    checkpoints.Checkpointer.save = timed
    with tempfile.TemporaryDirectory() as folder:
        streamgd.train(None, [f"optimizer.max_epochs={args.epochs}",
                              "checkpoint.every_updates=1",
                              f"output.dir={folder}", *args.set])

    mid_epoch = [size for size, inside in sizes if inside]
    epoch_end = [size for size, inside in sizes if not inside]
    print(f"{len(seconds)} checkpoints, median"
          f" {1000 * statistics.median(seconds):.1f} ms to write;"
          f" mid-epoch {max(mid_epoch) / 1e6:.2f} MB,"
          f" epoch end {max(epoch_end) / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
