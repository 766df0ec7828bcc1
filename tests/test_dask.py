"""The monitor flow with its tasks on a Dask cluster (a LocalCluster standing in for one)."""

from __future__ import annotations

import pytest

from dyadwatch.demo import DemoSite
from tests.conftest import demo_settings

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


def test_flow_runs_its_tasks_on_dask(tmp_path, write_config) -> None:
    distributed = pytest.importorskip("distributed")
    import sqlite_utils

    from flows.monitor import monitor

    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        DemoSite(port=0) as site,
    ):
        path = write_config(
            demo_settings(site, tmp_path / "dask.db", runner=cluster.scheduler_address)
        )
        with distributed.get_task_stream(client) as stream:
            summary = monitor(config_path=str(path), force=True)
        keys = [t["key"] for t in stream.data]
    assert summary["feeds_failed"] == 0 and summary["documents_new"] == 14
    assert any("poll_feeds" in str(k) for k in keys), keys
    assert sum("fetch_articles" in str(k) for k in keys) == 2  # 14 articles, batches of 8
    db = sqlite_utils.Database(tmp_path / "dask.db")
    assert db.table("documents").count == 16  # 14 articles and the 2 seeds, written here
    assert db.execute("select count(*) from pair_flags where tracked = 1").fetchone()[0] > 0
