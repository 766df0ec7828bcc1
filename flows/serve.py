"""Serve the monitor on its schedule from one command (``dyadwatch serve``).

Prefect's ephemeral mode does not schedule, so when no server is configured
(``PREFECT_API_URL`` unset) a local Prefect server is started first, on 127.0.0.1 with its
own SQLite database, and stopped again when serving ends. Then the monitor deployment is
served from this process: it polls the server for scheduled runs and executes them here.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from dyadwatch.prefect_env import apply_defaults

SERVER_START_TIMEOUT = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalPrefectServer:
    """A ``prefect server start`` subprocess on 127.0.0.1, stopped on exit."""

    def __init__(self, port: int | None = None, log_path: Path | None = None) -> None:
        self.port = port or _free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        home = Path(os.environ.get("PREFECT_HOME", Path.home() / ".prefect")).expanduser()
        self.log_path = log_path or home / "dyadwatch-server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Start the server and wait until its health endpoint answers.

        Its output goes to a log file: a pipe nobody reads fills up and stalls the server
        (and with it the scheduler) as soon as it has logged enough.
        """
        env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
        env.pop("PREFECT_API_URL", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--analytics-off"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise RuntimeError(
                    f"the local Prefect server exited at start-up (log: {self.log_path}):\n{tail}"
                )
            try:
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"the local Prefect server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def serve_schedule(
    config_path: Path, cron: str = "*/15 * * * *", digest_cron: str = "0 7 * * *"
) -> None:
    """Serve the monitor on ``cron``, the digest on ``digest_cron`` and the manual rescore,
    until interrupted."""
    apply_defaults()
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        server = LocalPrefectServer()
        print(
            f"Starting a local Prefect server at {server.api_url} (no PREFECT_API_URL set; "
            f"its log: {server.log_path})…",
            flush=True,
        )
        server.start()
        os.environ["PREFECT_API_URL"] = server.api_url
    else:
        print(f"Using the Prefect server at {os.environ['PREFECT_API_URL']}", flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        # Imported only now: Prefect reads PREFECT_API_URL when it is first imported.
        from prefect import serve

        from flows.digest import digest
        from flows.monitor import monitor
        from flows.rescore import rescore

        parameters = {"config_path": str(config_path)}
        deployments = [
            monitor.to_deployment(
                name="monitor",
                cron=cron,
                parameters=parameters,
                concurrency_limit=1,
                description="Poll the due feeds, flag tracked pairs, send alerts.",
            ),
            digest.to_deployment(
                name="digest",
                cron=digest_cron,
                parameters=parameters,
                concurrency_limit=1,
                description="Send one digest per channel with alerts waiting for it.",
            ),
            rescore.to_deployment(
                name="rescore",
                parameters=parameters,
                concurrency_limit=1,
                description="Re-apply the current gazetteer to the stored corpus (manual).",
            ),
        ]
        print(
            f"Serving dyadwatch-monitor/monitor on '{cron}', dyadwatch-digest/digest on "
            f"'{digest_cron}' and dyadwatch-rescore/rescore (manual) with {config_path}. "
            "Ctrl-C stops.",
            flush=True,
        )
        serve(*deployments)
    except KeyboardInterrupt:
        pass
    finally:
        if server:
            server.stop()
