"""A dask LocalCluster on 127.0.0.1, started and stopped by the tests that use it."""

import pytest


@pytest.fixture(scope="module")
def local_cluster():
    """Two in-process workers of one thread each, reached over TCP on 127.0.0.1.

    In-process workers start in a fraction of a second; the tasks still travel
    through the scheduler as they would to a remote cluster. Module scope: the
    cluster's threads draw from the `random` module, which hypothesis reports as
    a flaky strategy if they are still running during a property test. The
    HTTP server takes any free port: 8787 may be held by another cluster, and
    the warning that says so is an error here.
    """
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      host="127.0.0.1", protocol="tcp",
                      dashboard_address="127.0.0.1:0") as cluster:
        yield cluster.scheduler_address
