"""Shared fixtures: a private Prefect home and test server, loopback HTTP servers, temp corpora.

Nothing here touches the internet: every feed, page and webhook is served on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

# Prefect reads its settings when first imported: point it at a throwaway home first.
_PREFECT_HOME = tempfile.mkdtemp(prefix="dyadwatch-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")

PROJECT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One Prefect test server for the whole session (starting one costs 15-30 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


class Loopback:
    """A tiny HTTP server on 127.0.0.1 with routes set by each test.

    A route maps a path to ``(status, headers, body)`` or to a callable returning that.
    POSTs to any path are recorded in ``posts``.
    """

    def __init__(self, port: int = 0) -> None:
        self.routes: dict[str, Any] = {}
        self.posts: list[tuple[str, Any]] = []
        self.hits: list[str] = []
        loop = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                loop.hits.append(self.path)
                route = loop.routes.get(self.path)
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found")
                    return
                status, headers, body = route(self) if callable(route) else route
                if isinstance(body, str):
                    body = body.replace("{base}", loop.base).encode("utf-8")
                self._send(status, headers, body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    loop.posts.append((self.path, json.loads(body)))
                except ValueError:
                    loop.posts.append((self.path, body))
                self._send(200, {"Content-Type": "application/json"}, b"{}")

            def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    yield server
    server.close()


def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a YAML config into a temp folder; returns its path."""

    def write(data: dict[str, Any] | str, name: str = "dyadwatch.yaml") -> Path:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
        return path

    return write


def demo_settings(site: Any, database: Path, **extra: Any) -> dict[str, Any]:
    """Configuration for a run against a DemoSite: its feed, the project's seeds, loopback
    allowed; ``extra`` keys are added (alerts, feeds to put first, …)."""
    settings: dict[str, Any] = {
        "database": str(database),
        "seeds": str(PROJECT / "seeds"),
        "feeds": [{"url": site.feed_url}],
        "network": {"allow_private_addresses": True},
    }
    settings.update(extra)
    return settings


@pytest.fixture(scope="session")
def build_pure() -> Callable[[dict[str, Any]], Any]:
    """Builds a gazetteer as the package does where it was built without its compiled part:
    searched with automata of bytes (ahocorasick-rs's) and the Python reference."""
    import dyadwatch.actors as actors
    import dyadwatch.automata as automata

    def build(data: dict[str, Any]) -> Any:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(actors, "TextSearch", None)
            patch.setattr(automata, "_Compiled", None)
            gazetteer = actors.Gazetteer(data)
        assert gazetteer._search is None and gazetteer._cased.search is not None
        return gazetteer

    return build


@pytest.fixture(scope="session")
def pure_gazetteer(build_pure: Callable[[dict[str, Any]], Any]) -> Any:
    """The shipped gazetteer, built by ``build_pure``."""
    source = PROJECT / "dyadwatch" / "gazetteer.yaml"
    return build_pure(yaml.safe_load(source.read_text(encoding="utf-8")))
