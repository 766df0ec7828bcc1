"""Fetch bytes over HTTP (or from a local file) with hard limits.

Every request has a connect/read timeout and a total time cap (a server that trickles
bytes cannot hold a run), a cap on the decompressed body size, a clear User-Agent, and a
refusal to talk to private, loopback or link-local addresses unless the configuration
allows it. Redirects are followed by hand so that every hop is checked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx

MAX_REDIRECTS = 5


class FetchError(Exception):
    """A request that produced no usable body; ``reason`` is readable, ``status`` the HTTP code."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status


@dataclass
class Fetched:
    """A response body with what is needed to interpret it."""

    url: str
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


def make_client(timeout: float = 20.0, user_agent: str = "dyadwatch") -> httpx.Client:
    """An HTTP client with per-phase timeouts; redirects are handled by :func:`fetch`."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
    )


def _is_private(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_address(url: str) -> None:
    """Refuse URLs whose host resolves to a private, loopback or otherwise internal address."""
    host = urlparse(url).hostname
    if not host:
        raise FetchError(url, "URL has no host")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(url, f"cannot resolve host {host!r} ({exc.strerror})") from None
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%")[0])
        if _is_private(ip):
            raise FetchError(
                url,
                f"refused: {host} resolves to the private address {ip} "
                "(set network.allow_private_addresses: true to allow it)",
            )


def fetch(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    total_timeout: float = 60.0,
    allow_private: bool = False,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET ``url`` (or read a local file) and return its body, or raise :class:`FetchError`."""
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("http", "https"):
        return _read_file(url, max_bytes)
    started = time.monotonic()
    deadline = started + total_timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if not allow_private:
            check_address(current)
        try:
            request = client.build_request("GET", current, headers=headers)
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchError(current, "timed out") from None
        except httpx.HTTPError as exc:
            raise FetchError(current, f"unreachable ({type(exc).__name__}: {exc})") from None
        try:
            if response.is_redirect:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(
                        current,
                        f"HTTP {response.status_code} redirect without Location",
                        response.status_code,
                    )
                current = urljoin(current, location)
                if urlparse(current).scheme not in ("http", "https"):
                    raise FetchError(current, "redirect to a non-HTTP URL refused")
                continue
            if response.status_code >= 400:
                raise FetchError(
                    current,
                    f"HTTP {response.status_code} {response.reason_phrase}",
                    response.status_code,
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    current,
                    f"body of {int(declared):,} bytes exceeds the {max_bytes:,}-byte limit",
                    response.status_code,
                )
            chunks: list[bytes] = []
            size = 0
            try:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(
                            current,
                            f"body exceeds the {max_bytes:,}-byte limit",
                            response.status_code,
                        )
                    if time.monotonic() > deadline:
                        raise FetchError(
                            current,
                            f"took longer than {total_timeout:g} s in total",
                            response.status_code,
                        )
                    chunks.append(chunk)
            except httpx.TimeoutException:
                raise FetchError(current, "timed out while reading the body") from None
            except httpx.HTTPError as exc:
                raise FetchError(
                    current, f"broken response ({type(exc).__name__}: {exc})"
                ) from None
            return Fetched(
                url=current,
                status=response.status_code,
                content=b"".join(chunks),
                headers={k.lower(): v for k, v in response.headers.items()},
                elapsed=time.monotonic() - started,
            )
        finally:
            response.close()
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects")


def _read_file(url: str, max_bytes: int) -> Fetched:
    path = Path(url[7:] if url.startswith("file://") else url)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(url, f"file of {size:,} bytes exceeds the {max_bytes:,}-byte limit")
        return Fetched(url=str(path), status=200, content=path.read_bytes())
    except FileNotFoundError:
        raise FetchError(url, "file not found") from None
    except OSError as exc:
        raise FetchError(url, f"cannot read file ({exc.strerror})") from None
