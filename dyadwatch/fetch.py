"""Fetch bytes over HTTP (or from a configured local file) with hard limits.

Every request has a connect/read timeout, a total time budget shared by all its redirect
hops, a cap on the decompressed body size and a clear User-Agent. Unless the configuration
allows private addresses, every hop's host is resolved once, every address it resolves to
must be public (``is_global``), and the connection goes to that checked address (with the
original Host header and TLS server name), so a DNS answer that changes between the check
and the connection cannot reach an internal service. Redirects are followed by hand so
that every hop is checked.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

MAX_REDIRECTS = 5


class FetchError(Exception):
    """A request that produced no usable body.

    ``reason`` is readable; ``kind`` is one of ``unreachable``, ``timeout``, ``http``,
    ``too large``, ``refused`` or ``file``; ``status`` is the HTTP code when there was one.
    """

    def __init__(
        self, url: str, reason: str, status: int | None = None, kind: str = "unreachable"
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.kind = kind


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


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet, looking inside IPv6 wrappings."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None and not is_public(inner):
                return False
        if ip.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return False
    return ip.is_global and not ip.is_multicast


def resolve_public(url: str) -> str:
    """Resolve the URL's host and return one of its addresses, refusing non-public ones."""
    host = urlsplit(url).hostname
    if not host:
        raise FetchError(url, "URL has no host", kind="refused")
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FetchError(url, f"cannot resolve host {host!r} ({reason})") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in addresses:
        if not is_public(ip):
            raise FetchError(
                url,
                f"refused: {host} resolves to the non-public address {ip} "
                "(set network.allow_private_addresses: true to allow it)",
                kind="refused",
            )
    return str(addresses[0])


def _pinned(url: str, ip: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The URL with its host replaced by the checked address, plus Host header and SNI."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{ip}]" if ":" in ip else ip
    if parts.port:
        netloc += f":{parts.port}"
    host_header = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, {"sni_hostname": host}


def fetch(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    total_timeout: float = 60.0,
    allow_private: bool = False,
    allow_files: bool = False,
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET an http(s) ``url`` and return its body, or raise :class:`FetchError`.

    A local path is read only with ``allow_files`` (feeds the user configured); a link
    found in a feed never reads the disk.
    """
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError as exc:
        raise FetchError(url, f"malformed URL ({exc})", kind="refused") from None
    if scheme not in ("http", "https"):
        if allow_files and scheme in ("", "file"):
            return _read_file(url, max_bytes)
        raise FetchError(
            url, f"refused: not an http(s) URL (scheme {scheme or 'none'!r})", kind="refused"
        )
    started = time.monotonic()
    deadline = started + total_timeout
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(
                current, f"took longer than {total_timeout:g} s in total", kind="timeout"
            )
        target, extra_headers, extensions = current, dict(headers or {}), {}
        if not allow_private:
            target, pinned_headers, extensions = _pinned(current, resolve_public(current))
            extra_headers.update(pinned_headers)
        try:
            request = client.build_request(
                "GET",
                target,
                headers=extra_headers,
                extensions=extensions,
                timeout=httpx.Timeout(
                    min(remaining, client.timeout.read or remaining),
                    connect=min(remaining, client.timeout.connect or remaining),
                ),
            )
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            raise FetchError(current, "timed out", kind="timeout") from None
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
                        kind="http",
                    )
                current = urljoin(current, location)
                if urlsplit(current).scheme not in ("http", "https"):
                    raise FetchError(current, "redirect to a non-HTTP URL refused", kind="refused")
                continue
            if response.status_code >= 400:
                raise FetchError(
                    current,
                    f"HTTP {response.status_code} {response.reason_phrase}",
                    response.status_code,
                    kind="http",
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(
                    current,
                    f"body of {int(declared):,} bytes exceeds the {max_bytes:,}-byte limit",
                    response.status_code,
                    kind="too large",
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
                            kind="too large",
                        )
                    if time.monotonic() > deadline:
                        raise FetchError(
                            current,
                            f"took longer than {total_timeout:g} s in total",
                            response.status_code,
                            kind="timeout",
                        )
                    chunks.append(chunk)
            except httpx.TimeoutException:
                raise FetchError(
                    current, "timed out while reading the body", kind="timeout"
                ) from None
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
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects", kind="http")


def _read_file(url: str, max_bytes: int) -> Fetched:
    path = Path(url[7:] if url.startswith("file://") else url)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise FetchError(
                url,
                f"file of {size:,} bytes exceeds the {max_bytes:,}-byte limit",
                kind="too large",
            )
        return Fetched(url=str(path), status=200, content=path.read_bytes())
    except FileNotFoundError:
        raise FetchError(url, "file not found", kind="file") from None
    except OSError as exc:
        raise FetchError(url, f"cannot read file ({exc.strerror})", kind="file") from None
