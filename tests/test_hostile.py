"""Hostile servers on 127.0.0.1: every case ends in a recorded failure or a clean parse,
never a crash, a hang or a memory blow-up.

The fault server speaks raw HTTP over a socket so that it can misbehave in ways a normal
server cannot: trickle its headers, stall, lie about lengths, close mid-body.
"""

from __future__ import annotations

import functools
import gzip
import io
import socket
import socketserver
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from dyadwatch import fetch as fetch_module
from dyadwatch.config import parse_config
from dyadwatch.fetch import make_client
from dyadwatch.polling import FeedState, poll_one, schedule

TOTAL_S = 1.5  # the whole-request budget in these tests (fetch.timeout 0.5 s × 3)

RSS = (
    b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Fault Wire</title>'
    b"<item><title>Envoys meet again</title><link>/a/1</link><guid>f-1</guid></item>"
    b"</channel></rss>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + b"".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(9)
    )
    + b']><rss version="2.0"><channel><title>Laughs</title><item><title>&j;</title>'
    b"<link>https://x.example/1</link></item></channel></rss>"
)
CYRILLIC_TITLE = "Москва и Киев обменялись пленными"
CP1251_FEED = (
    '<rss version="2.0"><channel><title>Лента</title><item><title>'
    + CYRILLIC_TITLE
    + "</title><link>https://x.example/ru/1</link><description>Переговоры в Стамбуле "
    "продолжились во вторник, сообщили обе стороны.</description></item></channel></rss>"
).encode("cp1251")


@functools.cache
def _bomb() -> bytes:
    """200 MB of zeros in about 200 KB of gzip."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as packed:
        block = b"\0" * 1_000_000
        for _ in range(200):
            packed.write(block)
    return out.getvalue()


def _head(status: str, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _send(sock: socket.socket, status: str, headers: dict[str, str], body: bytes) -> None:
    sock.sendall(_head(status, {**headers, "Content-Length": str(len(body))}) + body)


def _trickle(sock: socket.socket, data: bytes, every: float) -> None:
    for i in range(len(data)):
        sock.sendall(data[i : i + 1])
        time.sleep(every)


BEHAVIOURS: dict[str, Callable[[socket.socket, str], None]] = {
    "/ok": lambda s, base: _send(s, "200 OK", {"Content-Type": "application/rss+xml"}, RSS),
    "/trickle-headers": lambda s, base: _trickle(
        s, b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 400, 0.05
    ),
    "/trickle-body": lambda s, base: (
        s.sendall(_head("200 OK", {"Content-Length": "400"})),
        _trickle(s, RSS.ljust(400), 0.05),
    ),
    "/stall": lambda s, base: time.sleep(5),
    "/close": lambda s, base: None,
    "/short-body": lambda s, base: s.sendall(
        _head("200 OK", {"Content-Length": "5000", "Content-Type": "application/rss+xml"})
        + RSS[:100]
    ),
    "/loop-a": lambda s, base: _send(s, "302 Found", {"Location": "/loop-b"}, b""),
    "/loop-b": lambda s, base: _send(s, "302 Found", {"Location": f"{base}/loop-a"}, b""),
    "/declared-huge": lambda s, base: s.sendall(_head("200 OK", {"Content-Length": "50000000"})),
    "/endless": lambda s, base: (
        s.sendall(_head("200 OK", {"Transfer-Encoding": "chunked"})),
        [s.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n") for _ in range(400)],
    ),
    "/gzip-bomb": lambda s, base: _send(s, "200 OK", {"Content-Encoding": "gzip"}, _bomb()),
    "/broken-gzip": lambda s, base: _send(
        s, "200 OK", {"Content-Encoding": "gzip"}, b"\x1f\x8b\x08\x00garbage-not-deflate"
    ),
    "/entity-bomb": lambda s, base: _send(
        s, "200 OK", {"Content-Type": "application/xml"}, BILLION_LAUGHS
    ),
    "/truncated-xml": lambda s, base: _send(
        s, "200 OK", {"Content-Type": "application/rss+xml"}, RSS[: RSS.index(b"</item>")]
    ),
    "/html": lambda s, base: _send(
        s, "200 OK", {"Content-Type": "text/html"}, b"<!doctype html><title>Hi</title><p>News"
    ),
    "/empty": lambda s, base: _send(s, "200 OK", {"Content-Type": "application/rss+xml"}, b""),
    "/binary": lambda s, base: _send(
        s, "200 OK", {"Content-Type": "application/octet-stream"}, bytes(range(256)) * 64
    ),
    "/lying-charset": lambda s, base: _send(
        s, "200 OK", {"Content-Type": "application/rss+xml; charset=utf-8"}, CP1251_FEED
    ),
    "/leading-space": lambda s, base: _send(
        s, "200 OK", {"Content-Type": "application/rss+xml"}, b"\n\n   " + RSS
    ),
    "/report.pdf": lambda s, base: (
        s.sendall(
            _head("200 OK", {"Content-Type": "application/pdf", "Content-Length": "9999999"})
        ),
        _trickle(s, b"%PDF-1.7" * 100, 0.05),
    ),
    "/404": lambda s, base: _send(s, "404 Not Found", {}, b"no"),
    "/500": lambda s, base: _send(s, "500 Internal Server Error", {}, b"oops"),
    "/429": lambda s, base: _send(s, "429 Too Many Requests", {"Retry-After": "7200"}, b""),
    "/503": lambda s, base: _send(
        s,
        "503 Service Unavailable",
        {
            "Retry-After": (datetime.now(UTC) + timedelta(hours=3)).strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            )
        },
        b"",
    ),
    "/410": lambda s, base: _send(s, "410 Gone", {}, b""),
    "/to-internal": lambda s, base: _send(
        s,
        "301 Moved Permanently",
        {"Location": f"http://127.0.0.2:{base.rsplit(':', 1)[1]}/ok"},
        b"",
    ),
}


class FaultServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class FaultHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
            path = data.split(b" ", 2)[1].decode()
            BEHAVIOURS.get(path, lambda s, b: _send(s, "404 Not Found", {}, b""))(
                sock, self.server.base
            )
        except OSError:
            pass  # the client gave up: that is the point of most of these cases


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    import threading

    _bomb()  # built once, before any client is waiting for it
    server = FaultServer(("127.0.0.1", 0), FaultHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def config():
    return parse_config(
        {
            "seeds": None,
            "network": {"allow_private_addresses": True},
            "fetch": {"timeout": 0.5, "max_feed_bytes": 1_000_000},
        }
    )


def _poll(config, url: str):
    state = FeedState(feed_id=1, config_url=url, url=url)
    with make_client(config.fetch.timeout, config.fetch.user_agent) as client:
        started = time.monotonic()
        poll = poll_one(state, config, client)
        return poll, time.monotonic() - started


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/trickle-headers", "timeout", "in total"),
        ("/trickle-body", "timeout", "in total"),
        ("/stall", "timeout", "timed out"),
        ("/close", "unreachable", "unreachable"),
        ("/short-body", "unreachable", "broken response"),
        ("/loop-a", "http 302", "redirect loop"),
        ("/declared-huge", "too large", "50,000,000 bytes exceeds"),
        ("/endless", "too large", "exceeds the 1,000,000-byte limit"),
        ("/gzip-bomb", "too large", "exceeds the 1,000,000-byte limit"),
        ("/broken-gzip", "unreachable", "broken gzip body"),
        ("/html", "parse error", "not a feed"),
        ("/empty", "parse error", "empty body"),
        ("/binary", "parse error", "binary body"),
        ("/404", "http 404", "HTTP 404"),
        ("/500", "http 500", "HTTP 500"),
    ],
)
def test_failures_are_recorded_quickly(faults, config, path, status, message) -> None:
    poll, elapsed = _poll(config, faults.base + path)
    assert not poll.ok
    assert poll.status == status
    assert message in poll.error and faults.base in poll.error  # names the URL at fault
    assert elapsed < TOTAL_S + 1.0, f"{path} took {elapsed:.1f} s"


@pytest.mark.parametrize(
    ("path", "titles", "warned"),
    [
        ("/ok", ["Envoys meet again"], False),
        ("/truncated-xml", ["Envoys meet again"], True),
        ("/lying-charset", [CYRILLIC_TITLE], False),
        ("/leading-space", ["Envoys meet again"], False),
    ],
)
def test_odd_but_usable_feeds_parse_cleanly(faults, config, path, titles, warned) -> None:
    poll, _ = _poll(config, faults.base + path)
    assert poll.ok, poll.error
    assert [e.title for e in poll.entries] == titles
    assert (poll.error is not None) is warned
    if path == "/ok":
        assert poll.entries[0].link == f"{faults.base}/a/1"  # relative link made absolute


def test_entity_bomb_is_not_expanded(faults, config) -> None:
    tracemalloc.start()
    poll, elapsed = _poll(config, faults.base + "/entity-bomb")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < TOTAL_S + 1.0
    assert peak < 50_000_000
    assert all(len(e.title) < 10_000 for e in poll.entries)
    assert poll.ok or poll.status == "parse error"


def test_gzip_bomb_costs_no_memory(faults, config) -> None:
    tracemalloc.start()
    poll, _ = _poll(config, faults.base + "/gzip-bomb")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert poll.status == "too large"
    assert peak < 10 * config.fetch.max_feed_bytes  # 200 MB inflated, never held


@pytest.mark.parametrize(("path", "hours"), [("/429", 2), ("/503", 3)])
def test_retry_after_is_honoured(faults, config, path, hours) -> None:
    poll, _ = _poll(config, faults.base + path)
    assert poll.retry_after == pytest.approx(hours * 3600, abs=5)
    now = datetime.now(UTC)
    row = schedule(FeedState(1, poll.url, poll.url), poll, config.polling, now)
    assert row["consecutive_failures"] == 1
    wait = datetime.fromisoformat(row["next_poll"]) - now
    assert wait >= timedelta(hours=hours) - timedelta(seconds=5)


def test_gone_disables_the_feed(faults, config) -> None:
    poll, _ = _poll(config, faults.base + "/410")
    row = schedule(FeedState(1, poll.url, poll.url), poll, config.polling, datetime.now(UTC))
    assert row["enabled"] == 0 and "410" in row["disabled_reason"]


def test_redirect_to_an_internal_address_is_refused(faults, config, monkeypatch) -> None:
    """127.0.0.1 plays a public host; its redirect to 127.0.0.2 plays an internal service."""
    import ipaddress

    monkeypatch.setattr(
        fetch_module, "is_public", lambda ip: ip == ipaddress.ip_address("127.0.0.1")
    )
    strict = parse_config({"seeds": None, "fetch": {"timeout": 0.5}})
    poll, _ = _poll(strict, faults.base + "/to-internal")
    assert poll.status == "refused"
    assert "127.0.0.2" in poll.error and "non-public" in poll.error
    direct, _ = _poll(strict, faults.base + "/ok")  # the "public" host itself is fine
    assert direct.ok


def test_pages_that_are_not_html_are_not_downloaded(faults, config) -> None:
    from dyadwatch.feeds import Entry
    from dyadwatch.pipeline import fetch_article

    entry = Entry(
        guid="p-1",
        link=faults.base + "/report.pdf",
        title="Annual report on Russian-Iranian trade",
        summary="The report counts Iranian drones sold to Russia.",
        published=None,
    )
    started = time.monotonic()
    with make_client(config.fetch.timeout) as client:
        doc = fetch_article(entry, config, client)
    assert time.monotonic() - started < 1.0  # the trickled body was never read
    assert doc["text_source"] == "summary"
    assert "not an accepted content type (application/pdf)" in doc["fetch_error"]
    assert doc["text"].startswith("Annual report on Russian-Iranian trade")
