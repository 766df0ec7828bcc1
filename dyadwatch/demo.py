"""The bundled offline demo: a small news site and an alert receiver on 127.0.0.1.

``dyadwatch demo`` serves ``demo_site/`` (an RSS feed and article pages written for this
project), runs the real monitoring flow against it, and delivers the alerts to a JSON
webhook served by the same process, so the whole path works with no internet.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any

PREFERRED_PORT = 8931  # a stable port keeps the demo feed's URL the same across runs


def site_root() -> Path:
    """The folder holding the demo site's feed template and pages."""
    return Path(str(resources.files("dyadwatch") / "demo_site"))


class DemoSite:
    """Serve the demo site and collect the alerts posted to ``/alerts``."""

    def __init__(self, root: Path | None = None, port: int | None = None) -> None:
        self.root = root or site_root()
        self.alerts: list[dict[str, Any]] = []
        self.requests: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet console
                pass

            def do_GET(self) -> None:
                site.requests.append(self.path)
                path = self.path.split("?", 1)[0]
                if path in ("/", "/feed.xml", "/rss"):
                    body = (
                        (site.root / "feed.xml")
                        .read_text(encoding="utf-8")
                        .replace("{base}", site.base)
                    )
                    data = body.encode("utf-8")
                    etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
                    if self.headers.get("If-None-Match") == etag:
                        self._send(304, "application/rss+xml; charset=utf-8", b"", etag)
                    else:
                        self._send(200, "application/rss+xml; charset=utf-8", data, etag)
                    return
                target = (site.root / path.lstrip("/")).resolve()
                if (
                    path.startswith("/articles/")
                    and target.is_file()
                    and site.root.resolve() in target.parents
                ):
                    self._send(200, "text/html; charset=utf-8", target.read_bytes())
                else:
                    self._send(404, "text/plain", b"not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if self.path.split("?", 1)[0] == "/alerts":
                    try:
                        site.alerts.append(json.loads(body or b"{}"))
                    except ValueError:
                        site.alerts.append({"raw": body.decode("utf-8", "replace")})
                    self._send(200, "application/json", b'{"ok": true}')
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(
                self, status: int, content_type: str, body: bytes, etag: str | None = None
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = self._bind(Handler, port)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def _bind(handler: type[BaseHTTPRequestHandler], port: int | None) -> ThreadingHTTPServer:
        for candidate in [port] if port is not None else [PREFERRED_PORT, 0]:
            try:
                return ThreadingHTTPServer(("127.0.0.1", candidate), handler)
            except OSError:
                continue
        return ThreadingHTTPServer(("127.0.0.1", 0), handler)

    @property
    def feed_url(self) -> str:
        return f"{self.base}/feed.xml"

    @property
    def alert_url(self) -> str:
        return f"json://127.0.0.1:{self.port}/alerts"

    def __enter__(self) -> DemoSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def demo_config(site: DemoSite, database: Path, seeds: Path | None) -> dict[str, Any]:
    """The configuration the demo runs with, as it would be written in YAML."""
    config: dict[str, Any] = {
        "database": str(database.resolve()),
        "feeds": [{"url": site.feed_url, "name": "The Demo Gazette"}],
        "alerts": [{"apprise": site.alert_url}],
        "network": {"allow_private_addresses": True},
    }
    config["seeds"] = str(seeds.resolve()) if seeds else None
    return config
