"""prefect.yaml deploys with Prefect's own CLI against a real Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from flows.serve import LocalPrefectServer
from tests.conftest import PROJECT


@pytest.mark.slow
def test_prefect_deploy_all(tmp_path) -> None:
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "home")}
    env.pop("PREFECT_API_URL", None)
    os.environ["PREFECT_HOME"], saved = str(tmp_path / "home"), os.environ["PREFECT_HOME"]
    server = LocalPrefectServer()
    try:
        server.start()
        env["PREFECT_API_URL"] = server.api_url

        def prefect(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "prefect", *args],
                cwd=PROJECT,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )

        created = prefect("work-pool", "create", "local", "--type", "process")
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = prefect("--no-prompt", "deploy", "--all")
        assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]

        deployments = {
            d["name"]: d for d in httpx.post(f"{server.api_url}/deployments/filter", json={}).json()
        }
        assert sorted(deployments) == ["digest", "monitor", "rescore"]
        monitor, digest, rescore = (deployments[n] for n in ("monitor", "digest", "rescore"))
        assert monitor["entrypoint"] == "flows/monitor.py:monitor"
        assert monitor["parameters"] == {"config_path": "dyadwatch.yaml", "force": False}
        assert [s["schedule"]["cron"] for s in monitor["schedules"]] == ["*/15 * * * *"]
        assert digest["entrypoint"] == "flows/digest.py:digest"
        assert digest["parameters"] == {"config_path": "dyadwatch.yaml"}
        assert [s["schedule"]["cron"] for s in digest["schedules"]] == ["0 7 * * *"]
        assert rescore["entrypoint"] == "flows/rescore.py:rescore"
        assert rescore["schedules"] == []  # run by hand
        assert rescore["parameters"] == {
            "config_path": "dyadwatch.yaml",
            "dry_run": False,
            "alerts": False,
        }
        for deployment in deployments.values():
            # No overlapping runs: a limit of one, and a run that would collide is cancelled.
            assert deployment["global_concurrency_limit"]["limit"] == 1
            assert deployment["concurrency_options"]["collision_strategy"] == "CANCEL_NEW"
            assert deployment["work_pool_name"] == "local"
    finally:
        server.stop()
        os.environ["PREFECT_HOME"] = saved
