"""Tasks of a pass run where they are asked to, and come back in group order."""

from streamgd.fullbatch.cluster import Cluster


def _where_and_what(group, offset):
    """The address of the worker running this task, and the group's sum."""
    from distributed import get_worker

    return get_worker().address, sum(group) + offset


def test_map_groups_keeps_group_order_and_named_workers(local_cluster):
    """Groups named to either worker, interleaved with groups free to run
    anywhere: each result is its own group's, in the order of the groups, and
    each named group ran on its worker."""
    from distributed import Client

    with Client(local_cluster, set_as_default=False) as client:
        first, second = sorted(client.scheduler_info()["workers"])
        groups = [[k, 10 * k] for k in range(7)]
        workers = [first, None, second, first, None, second, second]
        results = Cluster(client).map_groups(_where_and_what, groups, 0.5,
                                             workers=workers)
    assert [total for _, total in results] == [11 * k + 0.5 for k in range(7)]
    for (address, _), where in zip(results, workers):
        assert where is None or address == where


def _diagnostics_settings():
    import dask

    from streamgd.fullbatch.cluster import QUIET_DIAGNOSTICS

    return {key: dask.config.get(key) for key in QUIET_DIAGNOSTICS}


def test_a_local_cluster_starts_with_quiet_diagnostics(tmp_path):
    """The workers of the cluster a job starts run without the sampling
    profiler and with a slow tick; this process's dask settings stay as
    they were, during the job and after."""
    from streamgd.config import make_config
    from streamgd.fullbatch.cluster import QUIET_DIAGNOSTICS, open_cluster

    before = _diagnostics_settings()
    assert before != QUIET_DIAGNOSTICS  # dask's defaults differ
    config = make_config({"data": {"paths": str(tmp_path / "none.parquet"),
                                   "features": ["a"], "target": "y"},
                          "optimizer": {"method": "batch"},
                          "output": {"dir": str(tmp_path)},
                          "dask": {"workers": 1}})
    with open_cluster(config) as cluster:
        in_workers = cluster.client.run(_diagnostics_settings)
        assert _diagnostics_settings() == before
    assert list(in_workers.values()) == [QUIET_DIAGNOSTICS]
    assert _diagnostics_settings() == before
