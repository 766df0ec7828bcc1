"""HTTP fetching over loopback: limits, redirects, errors and the private-address guard."""

from __future__ import annotations

import gzip
import time

import pytest

from dyadwatch.fetch import FetchError, fetch, make_client


@pytest.fixture
def client():
    with make_client(timeout=2.0, user_agent="dyadwatch-test") as c:
        yield c


def test_ok_and_user_agent(loopback, client) -> None:
    seen = {}

    def route(handler):
        seen["ua"] = handler.headers.get("User-Agent")
        return 200, {"Content-Type": "text/plain"}, b"hello"

    loopback.routes["/x"] = route
    got = fetch(client, f"{loopback.base}/x", max_bytes=100, allow_private=True)
    assert (got.status, got.content, seen["ua"]) == (200, b"hello", "dyadwatch-test")


def test_private_addresses_refused_by_default(loopback, client) -> None:
    loopback.routes["/x"] = (200, {}, b"secret")
    with pytest.raises(FetchError, match="non-public address 127.0.0.1"):
        fetch(client, f"{loopback.base}/x", max_bytes=100)
    assert loopback.hits == []


def test_redirects_followed_and_checked(loopback, client) -> None:
    loopback.routes["/old"] = (301, {"Location": "/new"}, b"")
    loopback.routes["/new"] = (200, {}, b"moved")
    got = fetch(client, f"{loopback.base}/old", max_bytes=100, allow_private=True)
    assert got.url.endswith("/new") and got.content == b"moved"
    loopback.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchError, match="redirect loop"):
        fetch(client, f"{loopback.base}/loop", max_bytes=100, allow_private=True)


def test_http_errors_carry_status(loopback, client) -> None:
    loopback.routes["/gone"] = (410, {}, b"")
    with pytest.raises(FetchError) as info:
        fetch(client, f"{loopback.base}/gone", max_bytes=100, allow_private=True)
    assert info.value.status == 410 and "HTTP 410" in str(info.value)


def test_size_cap_applies_to_decompressed_bytes(loopback, client) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    loopback.routes["/bomb"] = (200, {"Content-Encoding": "gzip"}, bomb)
    with pytest.raises(FetchError, match="limit"):
        fetch(client, f"{loopback.base}/bomb", max_bytes=100_000, allow_private=True)
    loopback.routes["/big"] = (200, {}, b"x" * 5000)
    with pytest.raises(FetchError, match="exceeds"):
        fetch(client, f"{loopback.base}/big", max_bytes=1000, allow_private=True)


def test_unreachable_and_timeout(loopback, client) -> None:
    from tests.conftest import closed_port

    with pytest.raises(FetchError, match="unreachable"):
        fetch(client, f"http://127.0.0.1:{closed_port()}/", max_bytes=100, allow_private=True)

    def slow(handler):
        time.sleep(3)
        return 200, {}, b"late"

    loopback.routes["/slow"] = slow
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(client, f"{loopback.base}/slow", max_bytes=100, allow_private=True)
    assert time.monotonic() - started < 3


def test_local_files_only_when_allowed(tmp_path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(b"<rss/>")
    with make_client() as client:
        assert fetch(client, str(path), max_bytes=100, allow_files=True).content == b"<rss/>"
        with pytest.raises(FetchError, match="file not found"):
            fetch(client, str(tmp_path / "missing.xml"), max_bytes=100, allow_files=True)
        # A link inside a feed is never read from the disk, whatever its form.
        for link in (str(path), f"file://{path}", "file://../../etc/passwd", "ftp://x.example/a"):
            with pytest.raises(FetchError, match="not an http"):
                fetch(client, link, max_bytes=100)


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("100.100.100.200", False),  # carrier-grade NAT; a cloud metadata address lives here
        ("169.254.169.254", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:7f00:1::", False),  # 6to4 around 127.0.0.1
        ("fec0::1", False),
        ("2606:4700::1111", True),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    import ipaddress

    from dyadwatch.fetch import is_public

    assert is_public(ipaddress.ip_address(address)) is public


def test_connection_goes_to_the_checked_address(loopback, monkeypatch) -> None:
    """DNS rebinding: the host resolves to a public address when checked and to loopback
    afterwards; the request must go to the checked address, never to loopback."""
    import socket

    real = socket.getaddrinfo
    answers = iter(["1.2.3.4"] + ["127.0.0.1"] * 10)

    def fake(host, *args, **kwargs):
        if host == "rebind.example":
            ip = next(answers)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    loopback.routes["/secret"] = (200, {}, b"internal-only")
    with make_client(timeout=1.0) as client, pytest.raises(FetchError):
        fetch(
            client, f"http://rebind.example:{loopback.port}/secret", max_bytes=100, total_timeout=2
        )
    assert loopback.hits == []


def test_a_page_may_redirect_back_once(loopback, client) -> None:
    def start(handler):
        if "seen=1" in (handler.headers.get("Cookie") or ""):
            return 200, {}, b"article"
        return 302, {"Location": "/check"}, b""

    loopback.routes["/a"] = start
    loopback.routes["/check"] = (302, {"Location": "/a", "Set-Cookie": "seen=1; Path=/"}, b"")
    got = fetch(client, f"{loopback.base}/a", max_bytes=100, allow_private=True)
    assert got.content == b"article"


def test_proxies_from_the_environment_are_honoured(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal.example:3128")
    with make_client() as proxied:
        assert proxied.dyadwatch_direct is False
        assert proxied._mounts  # httpx built its proxy transport
    monkeypatch.delenv("HTTPS_PROXY")
    for name in ("HTTP_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with make_client() as direct:
        assert direct.dyadwatch_direct is True


def test_utf8_bytes_win_over_a_wrong_single_byte_charset() -> None:
    from dyadwatch.feeds import parse_feed

    body = (
        '<rss version="2.0"><channel><title>Лента</title><item><title>Москва и Киев</title>'
        "<link>https://x.example/1</link></item></channel></rss>"
    ).encode()
    feed = parse_feed(body, "https://x.example/rss", "application/rss+xml; charset=windows-1251")
    assert feed.entries[0].title == "Москва и Киев" and feed.encoding == "utf-8"


def test_gzip_members_and_truncated_gzip(loopback, client) -> None:
    whole = gzip.compress(b"first,") + gzip.compress(b"second")
    loopback.routes["/two"] = (200, {"Content-Encoding": "gzip"}, whole)
    got = fetch(client, f"{loopback.base}/two", max_bytes=100, allow_private=True)
    assert got.content == b"first,second"
    cut = gzip.compress(b"x" * 5000)[:-20]
    loopback.routes["/cut"] = (200, {"Content-Encoding": "gzip"}, cut)
    with pytest.raises(FetchError, match="truncated gzip body"):
        fetch(client, f"{loopback.base}/cut", max_bytes=10_000, allow_private=True)
