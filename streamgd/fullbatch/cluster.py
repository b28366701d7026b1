"""Where the passes run: dask's threaded scheduler, a local cluster, or a remote one.

    dask.scheduler: null, dask.workers: null   threads of this process (no set-up)
    dask.workers: N                            a LocalCluster of N worker processes
                                               on 127.0.0.1, closed with the job
    dask.scheduler: tcp://HOST:PORT            a client of an existing cluster,
                                               which is left running

The data files must be readable at the same paths from every worker.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import dask
import psutil
from dask import delayed

from streamgd.config import Config
from streamgd.errors import ConfigError

log = logging.getLogger(__name__)


class Cluster:
    """Computes dask values on the job's scheduler.

    Args:
        client: a `distributed.Client`, or None for the threaded scheduler.
    """

    def __init__(self, client: Any | None = None) -> None:
        self.client = client
        self._n_slots: int | None = None

    @property
    def name(self) -> str:
        return "threads" if self.client is None else str(self.client.scheduler.address)

    def compute(self, value: Any) -> Any:
        """The value of one dask object."""
        if self.client is None:
            with _one_blas_thread():
                (result,) = dask.compute(value, scheduler="threads")
            return result
        return self.client.compute(value).result()

    @property
    def n_slots(self) -> int:
        """Tasks that can run at once: the workers' threads, or this machine's
        cores for the threaded scheduler (its pool's size).

        Asked of the scheduler once (a round trip per pass otherwise); workers
        that join later get tasks anyway, only the grouping ignores them.
        """
        if self._n_slots is None:
            if self.client is None:
                self._n_slots = os.cpu_count() or 1
            else:
                info = self.client.scheduler_info(n_workers=-1)["workers"]
                self._n_slots = max(1, sum(worker.get("nthreads", 1)
                                           for worker in info.values()))
        return self._n_slots

    def keep(self, function: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """function(item) of each item, kept where it was computed: values in
        this process for the threaded scheduler, futures in worker memory
        otherwise (computed in the background; errors surface when used)."""
        if self.client is None:
            with _one_blas_thread():
                tasks = [delayed(function, pure=False)(item) for item in items]
                return list(dask.compute(*tasks, scheduler="threads"))
        return list(self.client.map(function, items, pure=False))

    def holders(self, kept: list[Any]) -> list[str | None]:
        """The worker holding each value of `keep` (None: this process)."""
        if self.client is None:
            return [None] * len(kept)
        for future in kept:
            if future.exception() is not None:  # waits for the value
                future.result()  # raises the task's error here
        where = self.client.who_has(kept)
        return [min(where[future.key], default=None) for future in kept]

    def map_groups(
        self, function: Callable[..., Any], groups: list[list[Any]], *args: Any,
        workers: list[str | None] | None = None,
    ) -> list[Any]:
        """function(group, *args) for each group, one task each, in order.

        Args:
            groups: lists of items: plain values, or values of `keep` (a group
                of kept values should live on one worker: see `holders`).
            workers: for each group, the worker to run it on (None: any).
        """
        if self.client is None:
            with _one_blas_thread():
                tasks = [delayed(function, pure=False)(group, *args)
                         for group in groups]
                return list(dask.compute(*tasks, scheduler="threads"))
        # one `map` call per worker named, not one `submit` per group: each
        # call is a message the client batches (10 ms apart), and a pass of 4
        # groups waited for them: 4 no-op tasks took 20-22 ms by `submit`, 12
        # ms by one `map` (measured, 2 workers, load 3.5)
        by_worker: dict[str | None, list[int]] = {}
        for index, where in enumerate(workers or [None] * len(groups)):
            by_worker.setdefault(where, []).append(index)
        futures: list[Any] = [None] * len(groups)
        for where, indices in by_worker.items():
            mapped = self.client.map(
                function, [groups[i] for i in indices],
                *([arg] * len(indices) for arg in args), pure=False,
                workers=None if where is None else [where])
            for index, future in zip(indices, mapped):
                futures[index] = future
        return self.client.gather(futures)

    def memory_bytes(self) -> int:
        """Memory the workers may use: their limits, or what this machine has free."""
        if self.client is None:
            return int(psutil.virtual_memory().available)
        workers = self.client.scheduler_info(n_workers=-1)["workers"].values()
        limits = [worker.get("memory_limit") or 0 for worker in workers]
        if not all(limits):
            return int(psutil.virtual_memory().available)
        return int(sum(limits))


@contextmanager
def _one_blas_thread() -> Iterator[None]:
    """One BLAS thread per task while dask's threads run the tasks.

    Each task's products (X @ w, X.T @ slopes) would otherwise start OpenBLAS's
    own threads on top of dask's: measured here on 2 busy cores, X.T @ slopes
    over 65,536 x 8 took 5-7 ms that way and 0.4 ms with one BLAS thread. dask's
    worker processes already start with one BLAS thread. Without threadpoolctl
    (the `fullbatch` extra) the limit is not applied.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextmanager
def open_cluster(config: Config) -> Iterator[Cluster]:
    """The job's scheduler for the duration of a run; see the module docstring."""
    address, workers = config["dask.scheduler"], config["dask.workers"]
    if address is None and workers is None:
        yield Cluster()
        return

    from distributed import Client

    if address is not None:
        with _connect(address) as client:
            log.info("connected to the dask cluster at %s", address)
            yield Cluster(client)
        return
    with (
        _cluster_chatter_silenced(),
        _local_cluster(workers) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        log.info("started a local dask cluster of %d workers at %s", workers,
                 cluster.scheduler_address)
        yield Cluster(client)


# dask's diagnostics that only feed a dashboard, turned down in the cluster a
# job starts for itself: each worker's sampling profiler (a stack sample every
# 10 ms) and every process's event-loop tick (every 20 ms). On 2 cores a
# cluster of 2 idle workers used 85-120 ms of CPU per second with them, 26
# with these settings; a 2M-row gradient pass took 247-259 ms of worker CPU
# instead of 303-309 and 135-143 ms instead of 181-182 (load 1.7-2.2). A tick
# still reports an event loop blocked for more than 3 s (`tick.limit`).
QUIET_DIAGNOSTICS = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
}


@contextmanager
def _local_cluster(workers: int) -> Iterator[Any]:
    """A LocalCluster of `workers` processes on 127.0.0.1, closed on exit.

    `QUIET_DIAGNOSTICS` applies while it starts: the scheduler reads it then, and
    the nannies hand it to the worker processes they spawn; this process's own
    dask configuration is left as it was.
    """
    from distributed import LocalCluster

    # one thread per worker process: numpy and pyarrow release the GIL, but a
    # count of processes is what the job asked for
    with dask.config.set(QUIET_DIAGNOSTICS):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                host="127.0.0.1", dashboard_address="127.0.0.1:0")
    with cluster:
        yield cluster


@contextmanager
def _cluster_chatter_silenced() -> Iterator[None]:
    """Keep distributed's INFO records (workers starting and closing) out of the
    job's log while a local cluster lives and closes.

    LocalCluster silences them itself but restores the level before it closes,
    so its shutdown would print a dozen lines after every job.
    """
    logger = logging.getLogger("distributed")
    old_level = logger.level
    logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(old_level)


def _connect(address: str):
    """A client of the dask cluster at `address` (`dask.scheduler`).

    Raises:
        ConfigError: nothing answers at `address` within dask's connect timeout.
    """
    from distributed import Client

    try:
        return Client(address, set_as_default=False)
    except OSError as error:
        raise ConfigError(
            f"dask.scheduler: cannot reach a dask scheduler at {address} ({error});"
            " check that the cluster is running and the address, or leave"
            " dask.scheduler unset to train on this machine"
        ) from None
