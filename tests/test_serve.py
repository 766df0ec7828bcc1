"""`dyadwatch serve` starts its own Prefect server and runs the monitor on its schedule."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest
import sqlite_utils
import yaml

from dyadwatch.demo import DemoSite
from tests.conftest import PROJECT


@pytest.mark.slow
def test_serve_runs_the_monitor_on_schedule_and_stops_cleanly(tmp_path) -> None:
    database = tmp_path / "corpus.db"
    with DemoSite(port=0) as site:
        config = tmp_path / "dyadwatch.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "database": str(database),
                    "seeds": str(PROJECT / "seeds"),
                    "feeds": [{"url": site.feed_url}],
                    "network": {"allow_private_addresses": True},
                }
            )
        )
        env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect-home")}
        env.pop("PREFECT_API_URL", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dyadwatch.cli",
                "serve",
                "--config",
                str(config),
                "--cron",
                "* * * * *",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            deadline = time.monotonic() + 300
            completed = []
            while time.monotonic() < deadline and not completed:
                time.sleep(5)
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                if database.exists():
                    db = sqlite_utils.Database(database)
                    completed = list(db.query("select * from runs where status = 'completed'"))
                    db.close()
            assert completed, "no scheduled run completed within 300 s"
            assert completed[0]["documents_new"] == 14
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                output, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                output, _ = process.communicate()
                pytest.fail(f"serve did not stop on SIGTERM:\n{output[-3000:]}")
    assert "Starting a local Prefect server" in output
    assert process.returncode == 0, output[-3000:]
    # The Prefect server it started is gone with it.
    api = re.search(r"Prefect server at (http://127\.0\.0\.1:\d+/api)", output).group(1)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api}/health", timeout=5)
