"""Fetch bytes over HTTP (or from a configured local file) with hard limits.

Every request has a connect/read timeout, a total time budget shared by all its redirect
hops (enforced on every socket read, so a server that trickles its headers or body a byte
at a time is cut off too), a cap on the decompressed body size (decompression is streamed
and stops at the cap, so a gzip bomb costs no memory) and a clear User-Agent. Conditional
requests are supported: a ``304 Not Modified`` comes back as a body-less :class:`Fetched`. Unless the configuration
allows private addresses, every hop's host is resolved once, every address it resolves to
must be public (``is_global``), and the connection goes to that checked address (with the
original Host header and TLS server name), so a DNS answer that changes between the check
and the connection cannot reach an internal service. Redirects are followed by hand so
that every hop is checked.
"""

from __future__ import annotations

import contextvars
import email.utils
import ipaddress
import socket
import time
import urllib.request
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

MAX_REDIRECTS = 5
PERMANENT = {301, 308}
REDIRECTS = {301, 302, 303, 307, 308}

# The monotonic time by which the request running in this thread must be done.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "dyadwatch_fetch_deadline", default=None
)
# Whether the request running in this thread may connect to non-public addresses.
_PRIVATE_OK: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "dyadwatch_private_ok", default=True
)


class FetchError(Exception):
    """A request that produced no usable body.

    ``reason`` is readable; ``kind`` is one of ``unreachable``, ``timeout``, ``http``,
    ``too large``, ``refused`` or ``file``; ``status`` is the HTTP code when there was one.
    """

    def __init__(
        self,
        url: str,
        reason: str,
        status: int | None = None,
        kind: str = "unreachable",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.kind = kind
        self.retry_after = retry_after  # seconds the server asked us to wait (429, 503)

    @property
    def transient(self) -> bool:
        """Whether trying again later may succeed (time-outs, 5xx, 429, refused connections)."""
        if self.kind in ("timeout", "unreachable"):
            return True
        return self.kind == "http" and (self.status in (408, 425, 429) or (self.status or 0) >= 500)


@dataclass
class Fetched:
    """A response body with what is needed to interpret it."""

    url: str
    status: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)
    elapsed: float = 0.0
    # Where a chain of permanent redirects (301/308) from the requested URL ended, if any.
    moved_to: str | None = None
    requests: int = 1

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation stops at the request's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    @staticmethod
    def _budget(timeout: float | None) -> float | None:
        deadline = _DEADLINE.get()
        if deadline is None:
            return timeout
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise httpcore.ReadTimeout("total time budget exhausted")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._budget(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._budget(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, self._budget(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's socket backend, with streams that honour the total deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        # The address check happens here, where the connection is made: the socket goes to
        # the address that was checked (a DNS answer that changes in between cannot reach
        # an internal service), while the URL, the Host header, TLS verification and the
        # pool of kept-alive connections all stay keyed by the host name.
        address = host if _PRIVATE_OK.get() else public_address(host)
        stream = self._inner.connect_tcp(
            address, port, _DeadlineStream._budget(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`_DeadlineBackend` (direct connections only)."""

    def __init__(self, limits: httpx.Limits) -> None:
        context = httpx.create_ssl_context()
        super().__init__(limits=limits, verify=context)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(),
        )


def make_client(
    timeout: float = 20.0, user_agent: str = "dyadwatch", max_connections: int = 32
) -> httpx.Client:
    """An HTTP client with per-phase timeouts; redirects are handled by :func:`fetch`.

    Decompression is done by :func:`fetch` itself (streamed and capped), so the client asks
    for gzip and deflate and leaves bodies as they arrive.
    """
    # As many kept-alive connections as connections: httpcore counts busy ones against the
    # keep-alive limit too, and a lower limit closes connections that are about to be reused.
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    # Behind a proxy configured in the environment, httpx's own transport (which honours
    # it) is used; the proxy resolves names, so addresses are checked before each request.
    direct = not any(k in urllib.request.getproxies() for k in ("http", "https", "all"))
    client = httpx.Client(
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
        headers={"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"},
        transport=_DeadlineTransport(limits) if direct else None,
        limits=limits,
    )
    client.dyadwatch_direct = direct  # type: ignore[attr-defined]
    return client


def is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an address is on the public internet, looking inside IPv6 wrappings."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in (ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None):
            if inner is not None and not is_public(inner):
                return False
        if ip.is_site_local:  # fec0::/10, deprecated but still routed inside some networks
            return False
    return ip.is_global and not ip.is_multicast


def public_address(host: str) -> str:
    """Resolve ``host`` and return one of its addresses, refusing it if any is not public."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise FetchError(host, f"cannot resolve host {host!r} ({reason})") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in addresses:
        if not is_public(ip):
            raise FetchError(
                host,
                f"refused: {host} resolves to the non-public address {ip} "
                "(set network.allow_private_addresses: true to allow it)",
                kind="refused",
            )
    return str(addresses[0])


def resolve_public(url: str) -> str:
    """Resolve the URL's host and return one of its addresses, refusing non-public ones."""
    host = urlsplit(url).hostname
    if not host:
        raise FetchError(url, "URL has no host", kind="refused")
    try:
        return public_address(host)
    except FetchError as exc:
        raise FetchError(url, exc.reason, kind=exc.kind) from None


def fetch(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    total_timeout: float = 60.0,
    allow_private: bool = False,
    allow_files: bool = False,
    headers: dict[str, str] | None = None,
    accept: Iterable[str] | None = None,
) -> Fetched:
    """GET an http(s) ``url`` and return its body, or raise :class:`FetchError`.

    ``headers`` are sent with every hop (``If-None-Match`` and ``If-Modified-Since`` make a
    conditional request: a 304 is returned with an empty body). With ``accept``, a response
    whose Content-Type is not one of those types is refused before its body is read.
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
    token = _DEADLINE.set(deadline)
    private_token = _PRIVATE_OK.set(allow_private)
    try:
        return _fetch(
            client,
            url,
            started,
            deadline,
            total_timeout,
            max_bytes,
            allow_private,
            headers or {},
            set(accept) if accept is not None else None,
        )
    finally:
        _DEADLINE.reset(token)
        _PRIVATE_OK.reset(private_token)


def _fetch(
    client: httpx.Client,
    url: str,
    started: float,
    deadline: float,
    total_timeout: float,
    max_bytes: int,
    allow_private: bool,
    headers: dict[str, str],
    accept: set[str] | None,
) -> Fetched:
    current = url
    moved_to: str | None = None
    permanent = True  # every hop so far was a permanent redirect
    visits = {url: 1}
    for hop in range(MAX_REDIRECTS + 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _overdue(current, total_timeout)
        if not allow_private and not getattr(client, "dyadwatch_direct", False):
            resolve_public(current)  # through a proxy: checked before the request
        try:
            request = client.build_request(
                "GET",
                current,
                headers=headers,
                timeout=httpx.Timeout(
                    min(remaining, client.timeout.read or remaining),
                    connect=min(remaining, client.timeout.connect or remaining),
                ),
            )
            try:
                response = client.send(request, stream=True)
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError):
                # A kept-alive connection the server (or the pool) had just closed: one
                # fresh attempt, as browsers do for idempotent requests.
                response = client.send(request, stream=True)
        except httpx.TimeoutException:
            if time.monotonic() >= deadline:
                raise _overdue(current, total_timeout) from None
            raise FetchError(current, "timed out", kind="timeout") from None
        except httpx.HTTPError as exc:
            raise FetchError(current, f"unreachable ({type(exc).__name__}: {exc})") from None
        except FetchError as exc:  # refused or unresolvable where the connection is made
            raise FetchError(current, exc.reason, kind=exc.kind) from None
        try:
            status = response.status_code
            if status == 304:
                response.read()  # nothing to read, but it lets the connection be reused
                return Fetched(
                    url=current,
                    status=304,
                    content=b"",
                    headers=_lower(response.headers),
                    elapsed=time.monotonic() - started,
                    moved_to=moved_to,
                    requests=hop + 1,
                )
            if status in REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    raise FetchError(
                        current, f"HTTP {status} redirect without Location", status, kind="http"
                    )
                following = urljoin(current, location.strip())
                if urlsplit(following).scheme not in ("http", "https"):
                    raise FetchError(
                        following, "redirect to a non-HTTP URL refused", kind="refused"
                    )
                # A page may send us back once (to set a cookie); a third visit is a loop.
                visits[following] = visits.get(following, 0) + 1
                if visits[following] > 2:
                    raise FetchError(url, f"redirect loop at {following}", status, kind="http")
                permanent = permanent and status in PERMANENT
                if permanent:
                    moved_to = following
                current = following
                continue
            if status >= 400:
                raise FetchError(
                    current,
                    f"HTTP {status} {response.reason_phrase}".strip(),
                    status,
                    kind="http",
                    retry_after=retry_after_seconds(response.headers.get("retry-after"))
                    if status in (429, 503)
                    else None,
                )
            if status != 200:
                raise FetchError(
                    current,
                    f"unexpected HTTP {status} {response.reason_phrase}",
                    status,
                    kind="http",
                )
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if accept is not None and content_type not in accept:
                raise FetchError(
                    current,
                    f"not an accepted content type ({content_type or 'none'})",
                    status,
                    kind="type",
                )
            declared = response.headers.get("content-length", "").strip()
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if declared.isdigit() and int(declared) > max_bytes and encoding == "identity":
                raise FetchError(
                    current,
                    f"body of {int(declared):,} bytes exceeds the {max_bytes:,}-byte limit",
                    status,
                    kind="too large",
                )
            content = _read_body(response, current, encoding, max_bytes, deadline, total_timeout)
            return Fetched(
                url=current,
                status=status,
                content=content,
                headers=_lower(response.headers),
                elapsed=time.monotonic() - started,
                moved_to=moved_to,
                requests=hop + 1,
            )
        finally:
            response.close()
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects", kind="http")


def _overdue(url: str, total_timeout: float, status: int | None = None) -> FetchError:
    """The error of a request that used up its total time budget."""
    return FetchError(url, f"took longer than {total_timeout:g} s in total", status, kind="timeout")


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _read_body(
    response: httpx.Response,
    url: str,
    encoding: str,
    max_bytes: int,
    deadline: float,
    total_timeout: float,
) -> bytes:
    """Read and decompress the body, never holding more than ``max_bytes`` of it."""
    decoder = _Decoder(url, encoding)
    chunks: list[bytes] = []
    raw = size = 0
    too_large = FetchError(
        url, f"body exceeds the {max_bytes:,}-byte limit", response.status_code, kind="too large"
    )
    try:
        for chunk in response.iter_raw():
            raw += len(chunk)
            if raw > max_bytes:
                raise too_large
            data = decoder.feed(chunk, max_bytes - size)
            size += len(data)
            if size > max_bytes:
                raise too_large
            if time.monotonic() > deadline:
                raise _overdue(url, total_timeout, response.status_code)
            chunks.append(data)
    except httpx.TimeoutException:
        if time.monotonic() >= deadline:
            raise _overdue(url, total_timeout) from None
        raise FetchError(url, "timed out while reading the body", kind="timeout") from None
    except httpx.HTTPError as exc:
        raise FetchError(url, f"broken response ({type(exc).__name__}: {exc})") from None
    decoder.finish()
    return b"".join(chunks)


class _Decoder:
    """Streamed gzip/deflate decompression that stops at a size cap."""

    def __init__(self, url: str, encoding: str) -> None:
        self.url = url
        self.encoding = encoding
        if encoding in ("gzip", "x-gzip"):
            self._zlib: Any = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
            self._first = True
        elif encoding in ("identity", ""):
            self._zlib = None
        else:
            raise FetchError(url, f"unsupported Content-Encoding {encoding!r}", kind="unreachable")

    def feed(self, chunk: bytes, room: int) -> bytes:
        """Decompress a chunk, producing at most ``room + 1`` bytes (one more than fits
        tells the caller the cap is exceeded)."""
        if self._zlib is None:
            return chunk
        out = b""
        data = chunk
        while data:
            try:
                out += self._zlib.decompress(data, room - len(out) + 1)
            except zlib.error as exc:
                if self.encoding == "deflate" and getattr(self, "_first", False) and not out:
                    # Some servers send raw deflate without the zlib header.
                    self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._first = False
                    continue
                raise FetchError(self.url, f"broken {self.encoding} body ({exc})") from None
            self._first = False
            if len(out) > room:
                break
            if self._zlib.eof and self._zlib.unused_data and self.encoding != "deflate":
                # Another gzip member follows (concatenated gzip files are valid gzip).
                data = self._zlib.unused_data
                self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                break
        return out

    def finish(self) -> None:
        """Refuse a compressed body that ended before its compressed stream did."""
        if self._zlib is not None and not self._zlib.eof:
            raise FetchError(self.url, f"truncated {self.encoding} body", kind="unreachable")


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


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
